// RUN: remat-opt %s | remat-opt | FileCheck %s
// RUN: remat-opt %s --mlir-print-op-generic | remat-opt | FileCheck %s

// A checkpoint region with the default policy prints without a policy.
// CHECK-LABEL: func.func @checkpoint_default
// CHECK: %[[R:.*]] = remat.checkpoint(%{{.*}}) : (tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<4xf32>):
// CHECK-NEXT: %[[E:.*]] = math.exp %[[A]] : tensor<4xf32>
// CHECK-NEXT: remat.yield %[[E]] : tensor<4xf32>
func.func @checkpoint_default(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = remat.checkpoint(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %e = math.exp %a : tensor<4xf32>
    remat.yield %e : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// Every policy kind round-trips, names keep their order.
// CHECK-LABEL: func.func @policies
// CHECK: remat.checkpoint(%{{.*}}) policy(#remat.policy<nothing>)
// CHECK: remat.checkpoint(%{{.*}}) policy(#remat.policy<dots>)
// CHECK: remat.checkpoint(%{{.*}}) policy(#remat.policy<names = ["b.q", "a.k"]>)
// CHECK: remat.checkpoint(%{{.*}}) policy(#remat.policy<everything>)
func.func @policies(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = remat.checkpoint(%x) policy(#remat.policy<nothing>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  %1 = remat.checkpoint(%0) policy(#remat.policy<dots>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  %2 = remat.checkpoint(%1) policy(#remat.policy<names = ["b.q", "a.k"]>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  %3 = remat.checkpoint(%2) policy(#remat.policy<everything>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %3 : tensor<4xf32>
}

// A checkpoint with several inputs and results, including an inner value
// yielded for the backward pass, and one with no inputs.
// CHECK-LABEL: func.func @multi
// CHECK: %{{.*}}:2 = remat.checkpoint(%{{.*}}, %{{.*}}) policy(#remat.policy<dots>) : (tensor<2x3xf32>, tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK: remat.checkpoint() : () -> tensor<2xf32>
func.func @multi(%x: tensor<2x3xf32>, %w: tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2xf32>) {
  %y:2 = remat.checkpoint(%x, %w) policy(#remat.policy<dots>) : (tensor<2x3xf32>, tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  ^bb0(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>):
    %init = tensor.empty() : tensor<2x4xf32>
    %mm = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<3x4xf32>) outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
    %t = math.tanh %mm : tensor<2x4xf32>
    remat.yield %t, %mm : tensor<2x4xf32>, tensor<2x4xf32>
  }
  %c = remat.checkpoint() : () -> tensor<2xf32> {
    %k = arith.constant dense<1.0> : tensor<2xf32>
    remat.yield %k : tensor<2xf32>
  }
  return %y#0, %y#1, %c : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2xf32>
}

// A backward region reads saved values and seeds and yields gradients.
// CHECK-LABEL: func.func @backward
// CHECK: %{{.*}}:2 = remat.backward(%{{.*}}, %{{.*}}) : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT: ^bb0(%[[S:.*]]: tensor<4xf32>, %[[G:.*]]: tensor<4xf32>):
// CHECK: remat.yield %{{.*}}, %[[G]] : tensor<4xf32>, tensor<4xf32>
func.func @backward(%s: tensor<4xf32>, %seed: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %g:2 = remat.backward(%s, %seed) : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    %d = arith.mulf %a, %b : tensor<4xf32>
    remat.yield %d, %b : tensor<4xf32>, tensor<4xf32>
  }
  return %g#0, %g#1 : tensor<4xf32>, tensor<4xf32>
}

// A backward region with no results (nothing to differentiate) is legal.
// CHECK-LABEL: func.func @backward_empty
// CHECK: remat.backward(%{{.*}}) : (tensor<4xf32>) -> () {
// CHECK: remat.yield
func.func @backward_empty(%s: tensor<4xf32>) {
  remat.backward(%s) : (tensor<4xf32>) -> () {
  ^bb0(%a: tensor<4xf32>):
    remat.yield
  }
  return
}

// Names and barriers on tensors, scalars and memrefs.
// CHECK-LABEL: func.func @name_barrier
// CHECK: %[[N:.*]] = remat.name "blocks.0.attn.q" %{{.*}} : tensor<2x8xf32>
// CHECK: %[[B:.*]]:3 = remat.barrier %[[N]], %{{.*}}, %{{.*}} : tensor<2x8xf32>, f32, memref<4xf32>
// CHECK: remat.barrier %{{.*}} : tensor<2x8xf32>
func.func @name_barrier(%t: tensor<2x8xf32>, %f: f32, %m: memref<4xf32>) -> (tensor<2x8xf32>, f32, memref<4xf32>, tensor<2x8xf32>) {
  %n = remat.name "blocks.0.attn.q" %t : tensor<2x8xf32>
  %b:3 = remat.barrier %n, %f, %m : tensor<2x8xf32>, f32, memref<4xf32>
  %c = remat.barrier %b#0 : tensor<2x8xf32>
  return %b#0, %b#1, %b#2, %c : tensor<2x8xf32>, f32, memref<4xf32>, tensor<2x8xf32>
}

// The chunked cross-entropy and its gradient round-trip.
// CHECK-LABEL: func.func @linear_cross_entropy
// CHECK: %{{.*}}, %[[LSE:.*]] = remat.linear_cross_entropy %{{.*}}, %{{.*}}, %{{.*}} {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xbf16>, tensor<32x8xbf16>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
// CHECK: remat.linear_cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[LSE]], %{{.*}}, %{{.*}} {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xbf16>, tensor<32x8xbf16>, tensor<16xi64>, tensor<16xf32>, tensor<f32>, tensor<f32> -> tensor<16x8xbf16>, tensor<32x8xbf16>
func.func @linear_cross_entropy(%x: tensor<16x8xbf16>, %w: tensor<32x8xbf16>,
                                %t: tensor<16xi64>, %g: tensor<f32>,
                                %n: tensor<f32>)
    -> (tensor<f32>, tensor<16x8xbf16>, tensor<32x8xbf16>) {
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xbf16>, tensor<32x8xbf16>, tensor<16xi64>
      -> tensor<f32>, tensor<16xf32>
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %lse, %g, %n
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xbf16>, tensor<32x8xbf16>, tensor<16xi64>, tensor<16xf32>,
        tensor<f32>, tensor<f32> -> tensor<16x8xbf16>, tensor<32x8xbf16>
  return %sum, %dx, %dw : tensor<f32>, tensor<16x8xbf16>, tensor<32x8xbf16>
}

// CHECK-LABEL: func.func @attention
// CHECK: %[[OUT:.*]], %[[LSE:.*]] = remat.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<8x8xi1>) seed(%{{.*}} : tensor<i64>) attributes {block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.250000e+00 : f64, mask_map = #{{.*}}, scale = 5.000000e-01 : f64} : tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16> -> tensor<2x2x8x4xbf16>, tensor<2x2x8xf32> {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: i64):
// CHECK:   remat.yield %{{.*}} : i1
// CHECK: remat.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[OUT]], %[[LSE]], %{{.*}} attributes {block_k = 8 : i64, block_q = 2 : i64, scale = 5.000000e-01 : f64} : tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8xf32>, tensor<2x2x8x4xbf16> -> tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>
func.func @attention(%q: tensor<2x2x8x4xbf16>, %k: tensor<2x2x8x4xbf16>,
                     %v: tensor<2x2x8x4xbf16>, %m: tensor<8x8xi1>,
                     %seed: tensor<i64>, %do: tensor<2x2x8x4xbf16>)
    -> (tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>) {
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xi1>)
      seed(%seed : tensor<i64>) attributes {
        block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64}
      : tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>
      -> tensor<2x2x8x4xbf16>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %out, %lse, %do
      attributes {block_k = 8 : i64, block_q = 2 : i64, scale = 0.5 : f64}
      : tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>,
        tensor<2x2x8x4xbf16>, tensor<2x2x8xf32>, tensor<2x2x8x4xbf16>
      -> tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>
  return %out, %dq : tensor<2x2x8x4xbf16>, tensor<2x2x8x4xbf16>
}

// Offload and reload round-trip; the memory space attribute prints in its
// short form.
// CHECK-LABEL: func.func @offload
// CHECK: %[[H:.*]] = remat.offload %{{.*}} : tensor<4x8xf32>
// CHECK: remat.backward(%[[H]], %{{.*}})
// CHECK: ^bb0(%[[HA:.*]]: tensor<4x8xf32>, %{{.*}}: tensor<4x8xf32>):
// CHECK-NEXT: remat.reload %[[HA]] : tensor<4x8xf32>
func.func @offload(%x: tensor<4x8xf32>, %seed: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = arith.mulf %x, %x : tensor<4x8xf32>
  %h = remat.offload %y : tensor<4x8xf32>
  %dx = remat.backward(%h, %seed) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%hy: tensor<4x8xf32>, %g: tensor<4x8xf32>):
    %y2 = remat.reload %hy : tensor<4x8xf32>
    %d = arith.mulf %y2, %g : tensor<4x8xf32>
    remat.yield %d : tensor<4x8xf32>
  }
  return %dx : tensor<4x8xf32>
}

// CHECK-LABEL: func.func @host_memref
// CHECK-SAME: memref<4xf32, #remat.memory_space<host>>
func.func @host_memref(%m: memref<4xf32, #remat.memory_space<host>>) {
  return
}
