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
// CHECK-NOT: gpu.memcpy
// CHECK: memref.dealloc %[[H]]
// CHECK: gpu.dealloc %[[A]]
// CHECK: gpu.dealloc %[[D]]
// CHECK: return
memref.global "private" constant @c : memref<4xf32> = dense<1.0>
func.func private @print(memref<*xf32> {bufferization.access = "read"})
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

// A routine that writes its argument gets a host buffer that is copied back
// to the device after the call and not filled before it; one that reads and
// writes (by default, without the attribute) gets both copies; one that
// does not touch it gets the device buffer itself.

// CHECK-LABEL: func.func @access
// CHECK: %[[A:.*]] = gpu.alloc () : memref<4xf32>
// CHECK-NEXT: memref.cast %[[A]]
// CHECK-NEXT: %[[W:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: %[[WC:.*]] = memref.cast %[[W]]
// CHECK-NEXT: call @load(%{{.*}}, %[[WC]])
// CHECK-NEXT: gpu.memcpy %[[A]], %[[W]]
// CHECK-NEXT: memref.dealloc %[[W]]
// CHECK-NEXT: %[[RW:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: gpu.memcpy %[[RW]], %[[A]]
// CHECK-NEXT: call @update(%[[RW]])
// CHECK-NEXT: gpu.memcpy %[[A]], %[[RW]]
// CHECK-NEXT: memref.dealloc %[[RW]]
// CHECK-NEXT: call @ignore(%[[A]])
// CHECK-NEXT: gpu.dealloc %[[A]]
func.func private @load(i64, memref<*xf32> {bufferization.access = "write"})
func.func private @update(memref<4xf32>)
func.func private @ignore(memref<4xf32> {bufferization.access = "none"})
func.func @access() {
  %id = arith.constant 0 : i64
  %a = memref.alloc() : memref<4xf32>
  %u = memref.cast %a : memref<4xf32> to memref<*xf32>
  call @load(%id, %u) : (i64, memref<*xf32>) -> ()
  call @update(%a) : (memref<4xf32>) -> ()
  call @ignore(%a) : (memref<4xf32>) -> ()
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

