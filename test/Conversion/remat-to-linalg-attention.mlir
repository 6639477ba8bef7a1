// RUN: remat-opt %s -convert-remat-to-linalg | FileCheck %s
// RUN: remat-opt %s -remat-bufferize | FileCheck %s --check-prefix=BUF

// Attention over 8 queries and 8 keys (depth 4) in blocks of 4x4, with a
// causal mask and a dropout keep region. The forward: loops over batches,
// heads and blocks of queries, then an inner loop over key blocks carrying
// the row max, the row sum and the f32 output accumulator (the online
// softmax). The keep region is inlined into the generic that applies it.
// Nothing 8x8 (scores-sized) is ever made.
// CHECK-LABEL: func.func @attention
// CHECK-NOT: x8x8xf32
// CHECK: scf.for {{.*}} -> (tensor<2x2x8x4xf32>, tensor<2x2x8xf32>)
// CHECK: scf.for {{.*}} -> (tensor<2x2x8x4xf32>, tensor<2x2x8xf32>)
// CHECK: scf.for {{.*}} -> (tensor<2x2x8x4xf32>, tensor<2x2x8xf32>)
// CHECK: tensor.extract_slice %{{.*}} [1, 1, 4, 4] [1, 1, 1, 1] : tensor<2x2x8x4xf32> to tensor<4x4xf32>
// CHECK: scf.for {{.*}} -> (tensor<4xf32>, tensor<4xf32>, tensor<4x4xf32>)
// CHECK: tensor.extract %{{.*}} : tensor<8x8xi1>
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.index 0
// CHECK: arith.cmpi ult
// CHECK: arith.uitofp
// CHECK: scf.yield %{{.*}}, %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xf32>, tensor<4x4xf32>
// CHECK: arith.divf
// CHECK: math.log
//
// The gradient: per batch and head, delta (8 floats) and the f32 dq
// accumulator, then key blocks outside and query blocks inside carrying
// dq, dk and dv; the probabilities are recomputed from lse.
// CHECK-NOT: x8x8xf32
// CHECK: scf.for {{.*}} -> (tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>)
// CHECK: scf.for {{.*}} -> (tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>)
// CHECK: scf.for {{.*}} -> (tensor<8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>)
// CHECK: scf.for {{.*}} -> (tensor<8x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
// CHECK: math.exp
// CHECK: arith.cmpi ult
// CHECK-NOT: x8x8xf32
// CHECK: return
//
// After bufferization the largest score buffer is a 4x4 block.
// BUF-LABEL: func.func @attention
// BUF-NOT: memref<{{[0-9x]*}}8x8xf32
// BUF: memref.alloc() {{.*}}: memref<4x4xf32>
// BUF-NOT: memref<{{[0-9x]*}}8x8xf32
// BUF: return
func.func @attention(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>,
                     %v: tensor<2x2x8x4xf32>, %m: tensor<8x8xi1>,
                     %seed: tensor<i64>, %do: tensor<2x2x8x4xf32>)
    -> (tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
        tensor<2x2x8x4xf32>) {
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xi1>)
      seed(%seed : tensor<i64>) attributes {
        block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %out, %lse, %do
      mask(%m : tensor<8x8xi1>) seed(%seed : tensor<i64>) attributes {
        block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
        tensor<2x2x8x4xf32>, tensor<2x2x8xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return %out, %dq, %dk, %dv : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
                               tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
}
