// RUN: remat-opt %s -remat-lower-to-llvm | FileCheck %s --check-prefix=TRACK
// RUN: remat-opt %s -remat-lower-to-llvm=track-allocations=false | FileCheck %s --check-prefix=MALLOC
// RUN: remat-opt %s -remat-lower-to-llvm=cse=false | FileCheck %s
// RUN: remat-opt %s -remat-lower-to-llvm="cse=false free-after-last-use=false" | FileCheck %s --check-prefix=ENDOFBLOCK

// The pipeline leaves only LLVM dialect; heap buffers go through the
// tracking allocator unless track-allocations=false. A chain of three
// transposing ops, each into its own buffer (cse=false keeps their
// tensor.empty ops apart): with free-after-last-use each buffer is freed as
// soon as the next op has read it; without, at the end of the function.

// TRACK-NOT: remat.
// TRACK-NOT: memref.
// TRACK-NOT: linalg.
// TRACK: llvm.func @_mlir_memref_to_llvm_aligned_alloc
// TRACK: llvm.func @step

// MALLOC-NOT: _mlir_memref_to_llvm
// MALLOC: llvm.call @aligned_alloc
// MALLOC: llvm.call @free

// CHECK-LABEL: llvm.func @step
// CHECK: llvm.call @_mlir_memref_to_llvm_aligned_alloc
// CHECK: llvm.call @_mlir_memref_to_llvm_aligned_alloc
// CHECK: llvm.call @_mlir_memref_to_llvm_free
// CHECK: llvm.call @_mlir_memref_to_llvm_aligned_alloc
// CHECK: llvm.call @_mlir_memref_to_llvm_free
// CHECK: llvm.return

// ENDOFBLOCK-LABEL: llvm.func @step
// ENDOFBLOCK: llvm.call @_mlir_memref_to_llvm_aligned_alloc
// ENDOFBLOCK-NOT: llvm.call @_mlir_memref_to_llvm_free
// ENDOFBLOCK: llvm.call @_mlir_memref_to_llvm_aligned_alloc
// ENDOFBLOCK-NOT: llvm.call @_mlir_memref_to_llvm_free
// ENDOFBLOCK: llvm.call @_mlir_memref_to_llvm_aligned_alloc
// ENDOFBLOCK: llvm.call @_mlir_memref_to_llvm_free
// ENDOFBLOCK: llvm.call @_mlir_memref_to_llvm_free
// ENDOFBLOCK: llvm.return

#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
func.func @step(%x: tensor<8x8xf32>, %seed: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>) {
  %c = arith.constant 1.0 : f32
  %e0 = tensor.empty() : tensor<8x8xf32>
  %e = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<8x8xf32>) outs(%e0 : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  %l0 = tensor.empty() : tensor<8x8xf32>
  %l = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%e : tensor<8x8xf32>) outs(%l0 : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  %k0 = tensor.empty() : tensor<8x8xf32>
  %k = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%l : tensor<8x8xf32>) outs(%k0 : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  %g = remat.backward(%seed) : (tensor<8x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%sd: tensor<8x8xf32>):
    %m = arith.mulf %sd, %sd : tensor<8x8xf32>
    remat.yield %m : tensor<8x8xf32>
  }
  return %k, %g : tensor<8x8xf32>, tensor<8x8xf32>
}
