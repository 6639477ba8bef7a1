// RUN: remat-opt %s -one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s

// A barrier bufferizes to a barrier on the same buffer: an alias, with no
// allocation and no copy.
// CHECK-LABEL: func.func @barrier_alias
// CHECK-SAME: (%[[X:.*]]: memref<4xf32{{.*}}>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.copy
// CHECK: %[[B:.*]] = remat.barrier %[[X]] : memref<4xf32
// CHECK: linalg.generic {{.*}} ins(%[[B]] : memref<4xf32{{.*}}>) outs(%[[O:.*]] : memref<4xf32>)
func.func @barrier_alias(%x: tensor<4xf32>) -> tensor<4xf32> {
  %b = remat.barrier %x : tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%b : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = math.exp %in : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// Non-tensor operands pass through unchanged.
// CHECK-LABEL: func.func @mixed
// CHECK: remat.barrier %{{.*}}, %{{.*}} : memref<2xf32{{.*}}>, f32
func.func @mixed(%x: tensor<2xf32>, %f: f32) -> (tensor<2xf32>, f32) {
  %b:2 = remat.barrier %x, %f : tensor<2xf32>, f32
  return %b#0, %b#1 : tensor<2xf32>, f32
}
