// RUN: remat-opt %s -split-input-file -verify-diagnostics -remat-gpu-wrap-host-compute | FileCheck %s

// The sum has no parallel dimension: it runs in one thread. The allocation
// and the launch that is already a kernel stay on the host.
// CHECK-LABEL: func.func @sum
// CHECK: gpu.alloc
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE:.*]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]]) threads({{.*}}) in ({{.*}} = %[[ONE]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]])
// CHECK: memref.store
// CHECK: scf.for
// CHECK: memref.load
// CHECK: gpu.terminator
// CHECK: gpu.dealloc
// CHECK: return
func.func @sum(%x: memref<16xf32>) -> memref<f32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %s = gpu.alloc () : memref<f32>
  %t = gpu.alloc () : memref<16xf32>
  memref.store %zero, %s[] : memref<f32>
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %x[%i] : memref<16xf32>
    %a = memref.load %s[] : memref<f32>
    %r = arith.addf %v, %a : f32
    memref.store %r, %s[] : memref<f32>
  }
  gpu.dealloc %t : memref<16xf32>
  return %s : memref<f32>
}

// -----

func.func @escapes(%x: memref<16xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %v = memref.load %x[%c0] : memref<16xf32>
  // expected-error @+1 {{remat-gpu-wrap-host-compute: this host op uses a value computed on the device}}
  return %v : f32
}

// -----

func.func @mixed(%x: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  // expected-error @+1 {{remat-gpu-wrap-host-compute: this op both launches kernels and touches memory on the host}}
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %x[%i] : memref<16xf32>
    gpu.launch blocks(%b0, %b1, %b2) in (%g0 = %c1, %g1 = %c1, %g2 = %c1) threads(%t0, %t1, %t2) in (%s0 = %c1, %s1 = %c1, %s2 = %c1) {
      gpu.terminator
    }
  }
  return
}
