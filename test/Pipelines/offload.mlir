// An offloaded value, from the tensor program to the LLVM dialect, run on
// the CPU runtime.
//
// The memory model counts the host copy in a host arena of its own, not in
// the device timeline; the reload is a device buffer from the backward's
// use on.
// RUN: remat-opt %s -remat-test-print-liveness -o /dev/null | FileCheck %s --check-prefix=MODEL
// MODEL:      buffer {{.*}}: host bytes=128 live=[1, 4]
// MODEL:      peak=256
// MODEL:      host=128 host_peak=128
//
// Bufferization: the offload is an allocation in host memory and a copy;
// the reload a device allocation and a copy. The analysis of the
// bufferized program counts the same.
// RUN: remat-opt %s -remat-bufferize | FileCheck %s --check-prefix=BUF
// BUF:      %[[H:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x8xf32, #remat.memory_space<host>>
// BUF-NEXT: memref.copy %{{.*}}, %[[H]] : memref<4x8xf32> to memref<4x8xf32, #remat.memory_space<host>>
// BUF:      %[[D:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x8xf32>
// BUF-NEXT: memref.copy %[[H]], %[[D]] : memref<4x8xf32, #remat.memory_space<host>> to memref<4x8xf32>
// BUF:      memref.dealloc %[[H]] : memref<4x8xf32, #remat.memory_space<host>>
// RUN: remat-opt %s -remat-bufferize -remat-test-print-liveness -o /dev/null | FileCheck %s --check-prefix=BUFMODEL
// BUFMODEL: peak=256
// BUFMODEL: host=128 host_peak=128
//
// -remat-lower-host-memory sends the host allocation to the runtime's host
// arena and drops the memory space.
// RUN: remat-opt %s -remat-bufferize -remat-lower-host-memory | FileCheck %s --check-prefix=LOWER
// LOWER:      func.func private @rematHostAllocNext()
// LOWER:      call @rematHostAllocNext() : () -> ()
// LOWER-NEXT: memref.alloc() {alignment = 64 : i64} : memref<4x8xf32>
// LOWER-NOT:  #remat.memory_space
//
// On the GPU path, -remat-gpu-device-memory allocates the host copy as
// pinned host memory (gpu.alloc host_shared) and copies it with gpu.memcpy;
// -remat-lower-host-memory=gpu=true then only drops the memory space, and
// reports a host allocation left as a memref.alloc.
// RUN: remat-opt %s -remat-bufferize -remat-gpu-device-memory \
// RUN:   -remat-lower-host-memory=gpu=true | FileCheck %s --check-prefix=GPU
// GPU:      %[[H:.*]] = gpu.alloc host_shared () : memref<4x8xf32>
// GPU-NEXT: gpu.memcpy %[[H]], %{{.*}} : memref<4x8xf32>, memref<4x8xf32>
// GPU-NOT:  rematHostAllocNext
// RUN: not remat-opt %s -remat-bufferize -remat-lower-host-memory=gpu=true \
// RUN:   -o /dev/null 2>&1 | FileCheck %s --check-prefix=LEFT
// LEFT: error: remat: a host-memory allocation is left for the GPU lowering (1 in all); -remat-gpu-device-memory allocates them first
//
// On the CPU runtime, the host arena's figures are printed apart: the
// device heap's peak is that of the model.
// RUN: remat-opt %s -remat-lower-to-llvm | %run_main | FileCheck %s --check-prefix=EXEC
// EXEC-DAG: tensor 0: 24 24 24 24
// EXEC-DAG: remat-heap: peak_bytes={{[0-9]+}} {{.*}} phase_peak_bytes=256
// EXEC-DAG: remat-host: peak_bytes=128 peak_buffers=1 live_bytes=0 live_buffers=0 allocations=1 phase_peak_bytes=128

func.func @step(%x: tensor<4x8xf32>, %seed: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = arith.mulf %x, %x : tensor<4x8xf32>
  %h = remat.offload %y : tensor<4x8xf32>
  %z = arith.addf %y, %x : tensor<4x8xf32>
  %dx = remat.backward(%h, %z) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%hy: tensor<4x8xf32>, %g: tensor<4x8xf32>):
    %y2 = remat.reload %hy : tensor<4x8xf32>
    %d = arith.mulf %y2, %g : tensor<4x8xf32>
    remat.yield %d : tensor<4x8xf32>
  }
  return %dx : tensor<4x8xf32>
}

func.func private @rematPrintHeapStats()
func.func private @rematHeapResetPeak()
func.func private @rematPrintTensorF32(i64, tensor<*xf32>) attributes {llvm.emit_c_interface}

func.func @main() {
  %x = arith.constant dense<2.0> : tensor<4x8xf32>
  %seed = arith.constant dense<1.0> : tensor<4x8xf32>
  %c0 = arith.constant 0 : i64
  call @rematHeapResetPeak() : () -> ()
  %dx = call @step(%x, %seed) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  call @rematPrintHeapStats() : () -> ()
  %s = tensor.extract_slice %dx[0, 0] [1, 4] [1, 1] : tensor<4x8xf32> to tensor<4xf32>
  %u = tensor.cast %s : tensor<4xf32> to tensor<*xf32>
  call @rematPrintTensorF32(%c0, %u) : (i64, tensor<*xf32>) -> ()
  return
}
