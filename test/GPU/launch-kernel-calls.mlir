// RUN: not remat-opt %s -split-input-file -remat-gpu-launch-kernel-calls 2>/dev/null \
// RUN: | FileCheck %s
// RUN: not remat-opt %s -split-input-file -remat-gpu-launch-kernel-calls 2>&1 \
// RUN: | FileCheck %s --check-prefix=BAD

// A call to a declaration with remat.launch becomes the launch it names,
// on the call's operands; the declaration goes once nothing calls it.
// CHECK-LABEL: func.func @step
// CHECK: %[[X:.*]] = arith.constant 2 : index
// CHECK: %[[Y:.*]] = arith.constant 3 : index
// CHECK: %[[Z:.*]] = arith.constant 1 : index
// CHECK: %[[T:.*]] = arith.constant 32 : index
// CHECK: gpu.launch_func @kernels::@scale blocks in (%[[X]], %[[Y]], %[[Z]]) threads in (%[[T]], %{{.*}}, %{{.*}}) args(%arg0 : memref<64xf32>, %arg1 : memref<64xf32>)
// CHECK-NOT: call
// CHECK-NOT: __remat_launch_scale
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%in: memref<64xf32>, %out: memref<64xf32>) kernel {
      gpu.return
    }
  }
  func.func private @__remat_launch_scale(memref<64xf32> {bufferization.access = "read"},
                                          memref<64xf32> {bufferization.access = "write"})
      attributes {remat.launch = {kernel = @kernels::@scale,
                                  grid = array<i64: 2, 3, 1>,
                                  block = array<i64: 32, 1, 1>}}
  func.func @step(%a: memref<64xf32>, %b: memref<64xf32>) {
    call @__remat_launch_scale(%a, %b) : (memref<64xf32>, memref<64xf32>) -> ()
    return
  }
}

// -----

// A launch that names no kernel of the module is an error at the
// declaration.
// BAD: launch-kernel-calls.mlir:[[@LINE+2]]:3: error: remat-gpu-launch-kernel-calls: 'remat.launch' needs a kernel of the module, and a grid and a block of 3 sizes each, and its calls no results
module {
  func.func private @__remat_launch_missing(memref<64xf32>)
      attributes {remat.launch = {kernel = @kernels::@missing,
                                  grid = array<i64: 1, 1, 1>,
                                  block = array<i64: 32, 1, 1>}}
  func.func @step(%a: memref<64xf32>) {
    call @__remat_launch_missing(%a) : (memref<64xf32>) -> ()
    return
  }
}

// -----

// So is a remat.launch that is not a dictionary.
// BAD: launch-kernel-calls.mlir:[[@LINE+2]]:3: error: remat-gpu-launch-kernel-calls: 'remat.launch' needs a kernel
module {
  func.func private @__remat_launch_odd(memref<64xf32>) attributes {remat.launch = 5}
  func.func @step(%a: memref<64xf32>) {
    call @__remat_launch_odd(%a) : (memref<64xf32>) -> ()
    return
  }
}
