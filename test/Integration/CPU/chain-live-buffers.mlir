// RUN: remat-opt %s -remat-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils,%remat_runtime \
// RUN: | FileCheck %s
// RUN: remat-opt %s -remat-lower-to-llvm=free-after-last-use=false \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils,%remat_runtime \
// RUN: | FileCheck %s --check-prefix=ENDOFBLOCK

// A straight-line chain of N transposing ops (which cannot run in place),
// each into a fresh 32x32xf32 buffer of 4096 bytes, for N = 8 and N = 16.
// Freed after its last use, each buffer dies when the next op has read it:
// two buffers are live at any time, whatever N is (O(1)). Freed at the end
// of the block, as upstream deallocation does, every buffer stays live and
// the peak grows with N (O(N)).

// CHECK: tensor 8: 9 9
// CHECK-NEXT: remat-heap: peak_bytes=8192 peak_buffers=2
// CHECK-NEXT: tensor 16: 17 17
// CHECK-NEXT: remat-heap: peak_bytes=8192 peak_buffers=2

// ENDOFBLOCK: tensor 8: 9 9
// ENDOFBLOCK-NEXT: remat-heap: peak_bytes=20480 peak_buffers=5
// ENDOFBLOCK-NEXT: tensor 16: 17 17
// ENDOFBLOCK-NEXT: remat-heap: peak_bytes=40960 peak_buffers=10

#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>

func.func @chain8(%x: tensor<32x32xf32>) -> tensor<32x32xf32> {
  %c = arith.constant 1.0 : f32
  %e0 = tensor.empty() : tensor<32x32xf32>
  %v0 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<32x32xf32>) outs(%e0 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e1 = tensor.empty() : tensor<32x32xf32>
  %v1 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v0 : tensor<32x32xf32>) outs(%e1 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e2 = tensor.empty() : tensor<32x32xf32>
  %v2 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v1 : tensor<32x32xf32>) outs(%e2 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e3 = tensor.empty() : tensor<32x32xf32>
  %v3 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v2 : tensor<32x32xf32>) outs(%e3 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e4 = tensor.empty() : tensor<32x32xf32>
  %v4 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v3 : tensor<32x32xf32>) outs(%e4 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e5 = tensor.empty() : tensor<32x32xf32>
  %v5 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v4 : tensor<32x32xf32>) outs(%e5 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e6 = tensor.empty() : tensor<32x32xf32>
  %v6 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v5 : tensor<32x32xf32>) outs(%e6 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e7 = tensor.empty() : tensor<32x32xf32>
  %v7 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v6 : tensor<32x32xf32>) outs(%e7 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  return %v7 : tensor<32x32xf32>
}

func.func @chain16(%x: tensor<32x32xf32>) -> tensor<32x32xf32> {
  %c = arith.constant 1.0 : f32
  %e0 = tensor.empty() : tensor<32x32xf32>
  %v0 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<32x32xf32>) outs(%e0 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e1 = tensor.empty() : tensor<32x32xf32>
  %v1 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v0 : tensor<32x32xf32>) outs(%e1 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e2 = tensor.empty() : tensor<32x32xf32>
  %v2 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v1 : tensor<32x32xf32>) outs(%e2 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e3 = tensor.empty() : tensor<32x32xf32>
  %v3 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v2 : tensor<32x32xf32>) outs(%e3 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e4 = tensor.empty() : tensor<32x32xf32>
  %v4 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v3 : tensor<32x32xf32>) outs(%e4 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e5 = tensor.empty() : tensor<32x32xf32>
  %v5 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v4 : tensor<32x32xf32>) outs(%e5 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e6 = tensor.empty() : tensor<32x32xf32>
  %v6 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v5 : tensor<32x32xf32>) outs(%e6 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e7 = tensor.empty() : tensor<32x32xf32>
  %v7 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v6 : tensor<32x32xf32>) outs(%e7 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e8 = tensor.empty() : tensor<32x32xf32>
  %v8 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v7 : tensor<32x32xf32>) outs(%e8 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e9 = tensor.empty() : tensor<32x32xf32>
  %v9 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v8 : tensor<32x32xf32>) outs(%e9 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e10 = tensor.empty() : tensor<32x32xf32>
  %v10 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v9 : tensor<32x32xf32>) outs(%e10 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e11 = tensor.empty() : tensor<32x32xf32>
  %v11 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v10 : tensor<32x32xf32>) outs(%e11 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e12 = tensor.empty() : tensor<32x32xf32>
  %v12 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v11 : tensor<32x32xf32>) outs(%e12 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e13 = tensor.empty() : tensor<32x32xf32>
  %v13 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v12 : tensor<32x32xf32>) outs(%e13 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e14 = tensor.empty() : tensor<32x32xf32>
  %v14 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v13 : tensor<32x32xf32>) outs(%e14 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  %e15 = tensor.empty() : tensor<32x32xf32>
  %v15 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v14 : tensor<32x32xf32>) outs(%e15 : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  return %v15 : tensor<32x32xf32>
}

func.func private @rematPrintHeapStats()
func.func private @rematHeapResetPeak()
func.func private @rematPrintTensorF32(i64, tensor<*xf32>) attributes {llvm.emit_c_interface}

func.func @run(%n: i64, %r: tensor<32x32xf32>) {
  %s = tensor.extract_slice %r[0, 0] [1, 2] [1, 1] : tensor<32x32xf32> to tensor<2xf32>
  %u = tensor.cast %s : tensor<2xf32> to tensor<*xf32>
  call @rematPrintTensorF32(%n, %u) : (i64, tensor<*xf32>) -> ()
  call @rematPrintHeapStats() : () -> ()
  return
}

func.func @main() {
  %ones = arith.constant dense<1.0> : tensor<32x32xf32>
  %c8 = arith.constant 8 : i64
  %c16 = arith.constant 16 : i64
  call @rematHeapResetPeak() : () -> ()
  %r8 = call @chain8(%ones) : (tensor<32x32xf32>) -> tensor<32x32xf32>
  call @run(%c8, %r8) : (i64, tensor<32x32xf32>) -> ()
  call @rematHeapResetPeak() : () -> ()
  %r16 = call @chain16(%ones) : (tensor<32x32xf32>) -> tensor<32x32xf32>
  call @run(%c16, %r16) : (i64, tensor<32x32xf32>) -> ()
  return
}
