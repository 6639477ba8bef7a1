// CSE robustness after the rewrite: the exp recomputed in the backward
// survives finalization, canonicalization and CSE as a second exp (it reads
// the barrier's result). Without barriers CSE merges it back into the
// forward exp, which is what the barrier prevents.
// RUN: remat-opt %s -remat-apply-checkpoints -remat-finalize -canonicalize -cse \
// RUN: | FileCheck %s
// RUN: remat-opt %s -remat-apply-checkpoints -remat-finalize=barriers=false \
// RUN:     -canonicalize -cse | FileCheck %s --check-prefix=MERGED

// CHECK-LABEL: func.func @step
// CHECK: math.exp %arg0
// CHECK: %[[B:.*]] = remat.barrier %arg0
// CHECK: math.exp %[[B]]
// MERGED-LABEL: func.func @step
// MERGED-COUNT-1: math.exp
// MERGED-NOT: math.exp
func.func @step(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = remat.checkpoint(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %0 = math.exp %a : tensor<4xf32>
    remat.yield %0 : tensor<4xf32>
  }
  %t = math.tanh %e : tensor<4xf32>
  %g = remat.backward(%e) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%be: tensor<4xf32>):
    %s = arith.mulf %be, %be : tensor<4xf32>
    remat.yield %s : tensor<4xf32>
  }
  return %t, %g : tensor<4xf32>, tensor<4xf32>
}
