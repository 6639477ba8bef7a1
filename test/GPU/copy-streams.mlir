// RUN: remat-opt %s -split-input-file -pass-pipeline="builtin.module(func.func(remat-gpu-copy-streams))" | FileCheck %s

// An offload and its reload, as -gpu-async-region leaves them on one chain.
// The copy out waits for the kernel that wrote %x; the kernel that only
// reads %x runs beside it; %x is freed on a stream that waits for both. The
// copy back waits for its buffer's allocation and for the copy out; its
// host buffer is freed after it, off the chain; the first kernel that uses
// %z waits for it, the kernel before does not. The streams left behind are
// synchronized at the last gpu.wait.

// CHECK-LABEL: func.func @offload_and_reload
// CHECK: %[[X:.*]], %[[T1:.*]] = gpu.alloc async
// CHECK: %[[T2:.*]] = gpu.launch_func async [%[[T1]]] @kernels::@write
// CHECK: %[[H:.*]] = gpu.alloc host_shared
// CHECK: %[[OUT0:.*]] = gpu.wait async [%[[T2]]]
// CHECK: %[[OUT:.*]] = gpu.memcpy async [%[[OUT0]]] %[[H]], %[[X]]
// CHECK: %[[Y:.*]], %[[T4:.*]] = gpu.alloc async [%[[T2]]]
// CHECK: %[[T5:.*]] = gpu.launch_func async [%[[T4]]] @kernels::@read
// CHECK: %[[FREE:.*]] = gpu.wait async [%[[T5]], %[[OUT]]]
// CHECK: %[[FREED:.*]] = gpu.dealloc async [%[[FREE]]] %[[X]]
// CHECK: %[[Z:.*]], %[[T7:.*]] = gpu.alloc async [%[[T5]]]
// CHECK: %[[IN0:.*]] = gpu.wait async [%[[T7]], %[[OUT]]]
// CHECK: %[[IN:.*]] = gpu.memcpy async [%[[IN0]]] %[[Z]], %[[H]]
// CHECK: %[[HFREE:.*]] = gpu.wait async [%[[T7]], %[[IN]]]
// CHECK: %[[HFREED:.*]] = gpu.dealloc async [%[[HFREE]]] %[[H]]
// CHECK: %[[T10:.*]] = gpu.launch_func async [%[[T7]]] @kernels::@write
// CHECK: %[[JOIN:.*]] = gpu.wait async [%[[T10]], %[[IN]]]
// CHECK: %[[T11:.*]] = gpu.launch_func async [%[[JOIN]]] @kernels::@read {{.*}}args(%[[Z]] : memref<4xf32>
// CHECK: %[[T12:.*]] = gpu.dealloc async [%[[T11]]] %[[Z]]
// CHECK: %[[T13:.*]] = gpu.dealloc async [%[[T12]]] %[[Y]]
// CHECK: gpu.wait [%[[T13]], %[[FREED]], %[[OUT]], %[[HFREED]], %[[T10]], %[[IN]]]
// CHECK-NEXT: return
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @read(%a: memref<4xf32>, %b: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0] : memref<4xf32>
      memref.store %v, %b[%c0] : memref<4xf32>
      gpu.return
    }
    gpu.func @write(%a: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      memref.store %one, %a[%c0] : memref<4xf32>
      gpu.return
    }
  }
  func.func @offload_and_reload(%out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %t0 = gpu.wait async
    %x, %t1 = gpu.alloc async [%t0] () : memref<4xf32>
    %t2 = gpu.launch_func async [%t1] @kernels::@write blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    %h = gpu.alloc host_shared () : memref<4xf32>
    %t3 = gpu.memcpy async [%t2] %h, %x : memref<4xf32>, memref<4xf32>
    %y, %t4 = gpu.alloc async [%t3] () : memref<4xf32>
    %t5 = gpu.launch_func async [%t4] @kernels::@read blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>, %y : memref<4xf32>)
    %t6 = gpu.dealloc async [%t5] %x : memref<4xf32>
    %z, %t7 = gpu.alloc async [%t6] () : memref<4xf32>
    %t8 = gpu.memcpy async [%t7] %z, %h : memref<4xf32>, memref<4xf32>
    %t9 = gpu.dealloc async [%t8] %h : memref<4xf32>
    %t10 = gpu.launch_func async [%t9] @kernels::@write blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%y : memref<4xf32>)
    %t11 = gpu.launch_func async [%t10] @kernels::@read blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%z : memref<4xf32>, %out : memref<4xf32>)
    %t12 = gpu.dealloc async [%t11] %z : memref<4xf32>
    %t13 = gpu.dealloc async [%t12] %y : memref<4xf32>
    gpu.wait [%t13]
    return
  }
}

// -----

// A kernel that writes the copied-out buffer (through a view) waits for the
// copy; nothing after it is changed.

// CHECK-LABEL: func.func @written_after_copy
// CHECK: %[[X:.*]], %[[T1:.*]] = gpu.alloc async
// CHECK: %[[C:.*]] = gpu.memcpy async [%{{.*}}] %{{.*}}, %[[X]]
// CHECK: %[[V:.*]] = memref.subview %[[X]]
// CHECK: %[[J:.*]] = gpu.wait async [%[[T1]], %[[C]]]
// CHECK: %[[T3:.*]] = gpu.launch_func async [%[[J]]] @kernels::@write {{.*}}args(%[[V]] : memref<2xf32, strided<[1], offset: 1>>)
// CHECK: %[[T4:.*]] = gpu.dealloc async [%[[T3]]] %[[X]]
// CHECK: gpu.wait [%[[T4]], %[[T1]], %[[C]]]
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @write(%a: memref<2xf32, strided<[1], offset: 1>>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      memref.store %one, %a[%c0] : memref<2xf32, strided<[1], offset: 1>>
      gpu.return
    }
  }
  func.func @written_after_copy() {
    %c1 = arith.constant 1 : index
    %t0 = gpu.wait async
    %x, %t1 = gpu.alloc async [%t0] () : memref<4xf32>
    %h = gpu.alloc host_shared () : memref<4xf32>
    %t2 = gpu.memcpy async [%t1] %h, %x : memref<4xf32>, memref<4xf32>
    %v = memref.subview %x[1] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 1>>
    %t3 = gpu.launch_func async [%t2] @kernels::@write blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%v : memref<2xf32, strided<[1], offset: 1>>)
    %t4 = gpu.dealloc async [%t3] %x : memref<4xf32>
    gpu.wait [%t4]
    return
  }
}

// -----

// A host operation that reads the host buffer waits for the copy; a copy
// whose chain comes from outside its block stays where it is; a block
// without a gpu.wait gets one before its terminator.

func.func private @consume(memref<4xf32>)

// CHECK-LABEL: func.func @host_use
// CHECK: %{{.*}}, %[[T1:.*]] = gpu.alloc async
// CHECK: %[[C:.*]] = gpu.memcpy async
// CHECK-NEXT: gpu.wait [%[[T1]]]
// CHECK-NEXT: gpu.wait [%[[C]]]
// CHECK-NEXT: call @consume
func.func @host_use() {
  %t0 = gpu.wait async
  %x, %t1 = gpu.alloc async [%t0] () : memref<4xf32>
  %h = gpu.alloc host_shared () : memref<4xf32>
  %t2 = gpu.memcpy async [%t1] %h, %x : memref<4xf32>, memref<4xf32>
  gpu.wait [%t2]
  call @consume(%h) : (memref<4xf32>) -> ()
  return
}

// CHECK-LABEL: func.func @chain_from_argument
// CHECK-NOT: gpu.wait async
// CHECK: %[[C:.*]] = gpu.memcpy async [%arg0]
// CHECK-NEXT: gpu.wait [%[[C]]]
func.func @chain_from_argument(%t: !gpu.async.token, %x: memref<4xf32>) {
  %h = gpu.alloc host_shared () : memref<4xf32>
  %t2 = gpu.memcpy async [%t] %h, %x : memref<4xf32>, memref<4xf32>
  gpu.wait [%t2]
  return
}

// CHECK-LABEL: func.func @no_wait
// CHECK: %[[C:.*]] = gpu.memcpy async
// CHECK-NEXT: gpu.wait [%[[C]]]
// CHECK-NEXT: return
func.func @no_wait() {
  %t0 = gpu.wait async
  %x, %t1 = gpu.alloc async [%t0] () : memref<4xf32>
  %h = gpu.alloc host_shared () : memref<4xf32>
  %t2 = gpu.memcpy async [%t1] %h, %x : memref<4xf32>, memref<4xf32>
  return
}
