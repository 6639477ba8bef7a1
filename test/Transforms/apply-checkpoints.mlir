// RUN: remat-opt %s -split-input-file -remat-apply-checkpoints | FileCheck %s

// `nothing`: only the checkpoint's input is saved; exp and tanh are cloned
// into the backward just before their first uses, tanh reading the clone of
// exp.
// CHECK-LABEL: func.func @nothing
// CHECK-NOT: remat.checkpoint
// CHECK: %[[E:.*]] = math.exp %[[X:.*]] : tensor<4xf32>
// CHECK: %[[T:.*]] = math.tanh %[[E]] : tensor<4xf32>
// CHECK: remat.backward(%[[X]]) : (tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<4xf32>):
// CHECK-NEXT: %[[C:.*]] = arith.constant
// CHECK-NEXT: %[[E2:.*]] = math.exp %[[A]]
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[E2]], %[[C]]
// CHECK-NEXT: %[[T2:.*]] = math.tanh %[[E2]]
// CHECK-NEXT: arith.addf %[[M]], %[[T2]]
func.func @nothing(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e, %t = remat.checkpoint(%x) policy(#remat.policy<nothing>)
      : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>):
    %0 = math.exp %a : tensor<4xf32>
    %1 = math.tanh %0 : tensor<4xf32>
    remat.yield %0, %1 : tensor<4xf32>, tensor<4xf32>
  }
  %g = remat.backward(%e, %t) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%be: tensor<4xf32>, %bt: tensor<4xf32>):
    %c = arith.constant dense<2.0> : tensor<4xf32>
    %m = arith.mulf %be, %c : tensor<4xf32>
    %s = arith.addf %m, %bt : tensor<4xf32>
    remat.yield %s : tensor<4xf32>
  }
  return %t, %g : tensor<4xf32>, tensor<4xf32>
}

// -----

// The default policy is `nothing`.
// CHECK-LABEL: func.func @default_policy
// CHECK: remat.backward(%arg0) : (tensor<4xf32>)
// CHECK: math.exp
func.func @default_policy(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = remat.checkpoint(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %0 = math.exp %a : tensor<4xf32>
    remat.yield %0 : tensor<4xf32>
  }
  %g = remat.backward(%e) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%be: tensor<4xf32>):
    remat.yield %be : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}

// -----

// `dots`: the matmul result stays saved; the tanh on it is recomputed from
// it. The matmul's fill init is not read by the backward.
// CHECK-LABEL: func.func @dots
// CHECK: %[[MM:.*]] = linalg.matmul
// CHECK: remat.backward(%[[MM]]) : (tensor<2x2xf32>) -> tensor<2x2xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<2x2xf32>):
// CHECK-NEXT: math.tanh %[[A]]
// CHECK-NOT: linalg.matmul
func.func @dots(%x: tensor<2x2xf32>, %w: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %mm, %t = remat.checkpoint(%x, %w) policy(#remat.policy<dots>)
      : (tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>) {
  ^bb0(%a: tensor<2x2xf32>, %b: tensor<2x2xf32>):
    %z = arith.constant 0.0 : f32
    %e = tensor.empty() : tensor<2x2xf32>
    %f = linalg.fill ins(%z : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
    %0 = linalg.matmul ins(%a, %b : tensor<2x2xf32>, tensor<2x2xf32>) outs(%f : tensor<2x2xf32>) -> tensor<2x2xf32>
    %1 = math.tanh %0 : tensor<2x2xf32>
    remat.yield %0, %1 : tensor<2x2xf32>, tensor<2x2xf32>
  }
  %g = remat.backward(%mm, %t) : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32> {
  ^bb0(%bm: tensor<2x2xf32>, %bt: tensor<2x2xf32>):
    %s = arith.addf %bt, %bm : tensor<2x2xf32>
    remat.yield %s : tensor<2x2xf32>
  }
  return %g : tensor<2x2xf32>
}

// -----

// `names`: the tagged value is saved (through its remat.name), the other one
// is recomputed from it.
// CHECK-LABEL: func.func @names
// CHECK: %[[N:.*]] = remat.name "keep" %{{.*}} : tensor<4xf32>
// CHECK: remat.backward(%[[N]]) : (tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<4xf32>):
// CHECK-NEXT: math.tanh %[[A]]
// CHECK-NOT: math.exp
func.func @names(%x: tensor<4xf32>) -> tensor<4xf32> {
  %n, %t = remat.checkpoint(%x) policy(#remat.policy<names = ["keep"]>)
      : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>):
    %0 = math.exp %a : tensor<4xf32>
    %1 = remat.name "keep" %0 : tensor<4xf32>
    %2 = math.tanh %1 : tensor<4xf32>
    remat.yield %1, %2 : tensor<4xf32>, tensor<4xf32>
  }
  %g = remat.backward(%n, %t) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%bn: tensor<4xf32>, %bt: tensor<4xf32>):
    %s = arith.addf %bt, %bn : tensor<4xf32>
    remat.yield %s : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}

// -----

// `everything`: the checkpoint is off; it is inlined and the saved set is
// unchanged.
// CHECK-LABEL: func.func @everything
// CHECK: %[[E:.*]] = math.exp
// CHECK: remat.backward(%[[E]])
// CHECK-NOT: math.exp
func.func @everything(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = remat.checkpoint(%x) policy(#remat.policy<everything>)
      : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %0 = math.exp %a : tensor<4xf32>
    remat.yield %0 : tensor<4xf32>
  }
  %g = remat.backward(%e) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%be: tensor<4xf32>):
    %s = arith.addf %be, %be : tensor<4xf32>
    remat.yield %s : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}

// -----

// Two residuals share an unsaved producer: it is cloned once, before the
// first use, and the value outside any checkpoint stays saved.
// CHECK-LABEL: func.func @shared
// CHECK: %[[Y:.*]] = math.sin
// CHECK: remat.backward(%[[Y]], %arg0) : (tensor<4xf32>, tensor<4xf32>)
// CHECK-NEXT: ^bb0(%[[BY:.*]]: tensor<4xf32>, %[[BX:.*]]: tensor<4xf32>):
// CHECK-COUNT-1: math.exp %[[BX]]
// CHECK-NOT: math.exp
// CHECK: remat.yield
func.func @shared(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = math.sin %x : tensor<4xf32>
  %p, %q = remat.checkpoint(%x) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>):
    %0 = math.exp %a : tensor<4xf32>
    %1 = math.tanh %0 : tensor<4xf32>
    %2 = math.cos %0 : tensor<4xf32>
    remat.yield %1, %2 : tensor<4xf32>, tensor<4xf32>
  }
  %g = remat.backward(%y, %p, %q) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%by: tensor<4xf32>, %bp: tensor<4xf32>, %bq: tensor<4xf32>):
    %s = arith.addf %by, %bp : tensor<4xf32>
    %t = arith.addf %s, %bq : tensor<4xf32>
    remat.yield %t : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}
