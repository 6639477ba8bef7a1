// RUN: remat-opt %s -split-input-file -verify-diagnostics -remat-gpu-device-memory | FileCheck %s

// CHECK-LABEL: func.func @step
// CHECK: %[[A:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: %[[G:.*]] = memref.get_global @c : memref<4xf32>
// CHECK: %[[D:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[D]], %[[G]]
// CHECK: linalg.copy ins(%[[D]] : memref<4xf32>) outs(%[[A]] : memref<4xf32>)
// CHECK: %[[H:.*]] = memref.alloc() : memref<4xf32>
// CHECK: gpu.memcpy %[[H]], %[[A]]
// CHECK: %[[U:.*]] = memref.cast %[[H]] : memref<4xf32> to memref<*xf32>
// CHECK: call @print(%[[U]])
// CHECK: memref.dealloc %[[H]]
// CHECK: gpu.dealloc %[[A]]
// CHECK: gpu.dealloc %[[D]]
// CHECK: return
memref.global "private" constant @c : memref<4xf32> = dense<1.0>
func.func private @print(memref<*xf32>)
func.func @step() {
  %a = memref.alloc() : memref<4xf32>
  %g = memref.get_global @c : memref<4xf32>
  memref.copy %g, %a : memref<4xf32> to memref<4xf32>
  %u = memref.cast %a : memref<4xf32> to memref<*xf32>
  call @print(%u) : (memref<*xf32>) -> ()
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

func.func private @consume(memref<?xf32>)
func.func @dynamic(%n: index) {
  %a = memref.alloc(%n) : memref<?xf32>
  // expected-error @+1 {{remat-gpu-device-memory: cannot copy operand #0 to the host (it needs a static shape and identity layout)}}
  call @consume(%a) : (memref<?xf32>) -> ()
  return
}

