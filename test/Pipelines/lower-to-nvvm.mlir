// The GPU pipeline on a small step: a matmul, a chain of element-wise ops
// and a sum to a scalar.
// RUN: remat-opt %s -remat-lower-to-nvvm | FileCheck %s
// RUN: remat-opt %s -remat-lower-to-nvvm -o %t.mlir && %extract_ptx %t.mlir | FileCheck %s --check-prefix=PTX
// RUN: remat-opt %s "-remat-lower-to-nvvm=chip=sm_80 features=+ptx81 opt-level=1" \
// RUN:   -o %t.sm80.mlir && %extract_ptx %t.sm80.mlir | FileCheck %s --check-prefix=SM80
// RUN: remat-opt %s "-remat-lower-to-nvvm=tile-contractions=false parallel-reductions=false flat-kernels=false" \
// RUN:   -o %t.generic.mlir && %extract_ptx %t.generic.mlir | FileCheck %s --check-prefix=GENERIC
// RUN: remat-opt %s "-remat-lower-to-nvvm=fuse-pointwise=false" \
// RUN: | FileCheck %s --check-prefix=UNFUSED
// RUN: remat-opt %s "-remat-lower-to-nvvm=free-after-last-use=false" \
// RUN: | FileCheck %s --check-prefix=ATEND
// RUN: remat-opt %s "-remat-lower-to-nvvm=format=nvvm" \
// RUN: | FileCheck %s --check-prefix=NVVM
// RUN: not remat-opt %s "-remat-lower-to-nvvm=format=elf" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADFORMAT
// Options upstream's passes take on trust are checked when the pipeline is
// parsed (an empty chip crashed NVVM's target verification).
// RUN: for o in chip= chip=ampere features=ptx80 opt-level=7 mma=fp8; do \
// RUN:   not remat-opt %s "-remat-lower-to-nvvm=$o" -o /dev/null 2>&1; \
// RUN: done | FileCheck %s --check-prefix=BADOPTION
// BADOPTION: error: remat-lower-to-nvvm: chip '' is not an NVIDIA GPU architecture (expected sm_<N>, such as sm_80 or sm_90a)
// BADOPTION: error: remat-lower-to-nvvm: chip 'ampere' is not an NVIDIA GPU architecture
// BADOPTION: error: remat-lower-to-nvvm: features 'ptx80' is not a comma-separated list of +name or -name (such as +ptx80)
// BADOPTION: error: remat-lower-to-nvvm: opt-level must be 0, 1, 2 or 3, not 7
// BADOPTION: error: remat-lower-to-nvvm: mma 'fp8' is not one of none, half or tf32

// format=nvvm stops before gpu-module-to-binary: the kernels stay in the
// NVVM and LLVM dialects (bench/gpu/cpu_kernels.py compiles them for the
// CPU from there).
// NVVM-NOT: gpu.binary
// NVVM: gpu.module @step_kernel [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// NVVM: llvm.func @step_kernel({{.*}}) attributes {gpu.kernel
// NVVM: gpu.module @step_kernel_0
// NVVM: nvvm.barrier0
// NVVM-NOT: gpu.binary

// Host: device buffers and kernel launches on one stream.
// CHECK-LABEL: llvm.func @step
// CHECK: llvm.call @mgpuStreamCreate
// CHECK: llvm.call @mgpuMemAlloc
// CHECK: gpu.launch_func <%{{.*}} : !llvm.ptr> @step_kernel::@step_kernel
// CHECK: llvm.call @mgpuMemFree
// CHECK: llvm.call @mgpuStreamSynchronize
// CHECK: llvm.call @mgpuStreamDestroy
// Kernels: the fill, the matmul (tiled), one fused kernel for
// tanh(x) * 2 + 1, the sum's initial value and the sum (a parallel
// reduction).
// CHECK: gpu.binary @step_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK: gpu.binary @step_kernel_0
// CHECK: gpu.binary @step_kernel_1
// CHECK: gpu.binary @step_kernel_2
// CHECK: gpu.binary @step_kernel_3
// CHECK-NOT: gpu.binary

// The fill: one thread per element, 256 to a block.
// PTX: .target sm_90
// PTX: .visible .entry step_kernel(
// PTX: .maxntid 256, 1, 1
// PTX-NOT: .shared
// The matmul: 16x16 threads stage a 64x16 slice of each operand in shared
// memory (4096 bytes each), between barriers, and accumulate from it.
// PTX: .visible .entry step_kernel(
// PTX: .maxntid 16, 16, 1
// PTX-DAG: .shared .align 4 .b8 [[LHS:__wg_step_kernel_[0-9]+]][4096];
// PTX-DAG: .shared .align 4 .b8 [[RHS:__wg_step_kernel_[0-9]+]][4096];
// PTX: st.shared.b32
// PTX: bar.sync 0;
// PTX: ld.shared.b32
// PTX: ret;
// The fused element-wise chain.
// PTX: .visible .entry step_kernel(
// PTX: .maxntid 256, 1, 1
// PTX-NOT: .shared
// PTX: ret;
// PTX: .visible .entry step_kernel(
// PTX: .maxntid 256, 1, 1
// PTX: ret;
// The sum: 256 threads fold strided shares, then a tree in shared memory.
// PTX: .visible .entry step_kernel(
// PTX: .maxntid 256, 1, 1
// PTX: .shared .align 4 .b8 __wg_step_kernel_{{[0-9]+}}[1024];
// PTX-COUNT-9: bar.sync 0;
// PTX: ret;

// Without the kernel passes, the generic parallel-loop mapping: 16x16
// tiles, one thread per result for the matmul, and one thread for the sum.
// GENERIC: .maxntid 16, 16, 1
// GENERIC-NOT: .shared
// GENERIC: .maxntid 16, 16, 1
// GENERIC: .maxntid 16, 16, 1
// GENERIC: .maxntid 1, 1, 1

// SM80: .version 8.1
// SM80: .target sm_80

// Without fusion the three element-wise ops are a kernel each.
// UNFUSED-COUNT-7: gpu.binary
// UNFUSED-NOT: gpu.binary

// Without free-after-last-use the temporaries are freed at the end.
// ATEND: gpu.launch_func {{.*}} @step_kernel_2::@step_kernel
// ATEND: llvm.call @mgpuMemFree

// BADFORMAT: for the --format option: Cannot find option named 'elf'!

func.func @step(%x: tensor<64x32xf32>, %w: tensor<32x16xf32>) -> (tensor<64x16xf32>, tensor<f32>) {
  %c0 = arith.constant 0.0 : f32
  %c1 = arith.constant 1.0 : f32
  %c2 = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<64x16xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<64x16xf32>) -> tensor<64x16xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<64x32xf32>, tensor<32x16xf32>) outs(%z : tensor<64x16xf32>) -> tensor<64x16xf32>
  %t = math.tanh %mm : tensor<64x16xf32>
  %twos = tensor.splat %c2 : tensor<64x16xf32>
  %ones = tensor.splat %c1 : tensor<64x16xf32>
  %m = arith.mulf %t, %twos : tensor<64x16xf32>
  %a = arith.addf %m, %ones : tensor<64x16xf32>
  %s0 = tensor.empty() : tensor<f32>
  %s1 = linalg.fill ins(%c0 : f32) outs(%s0 : tensor<f32>) -> tensor<f32>
  %sum = linalg.reduce ins(%a : tensor<64x16xf32>) outs(%s1 : tensor<f32>) dimensions = [0, 1]
    (%in: f32, %acc: f32) {
      %r = arith.addf %in, %acc : f32
      linalg.yield %r : f32
    }
  return %a, %sum : tensor<64x16xf32>, tensor<f32>
}
