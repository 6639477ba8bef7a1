// RUN: remat-opt %s -split-input-file -convert-remat-to-gpu 2>/dev/null | FileCheck %s
// RUN: remat-opt %s -split-input-file -convert-remat-to-gpu -o /dev/null 2>&1 \
// RUN: | FileCheck %s --check-prefix=REMARK
// RUN: remat-opt %s -split-input-file "-convert-remat-to-gpu=max-rows=4" \
// RUN: | FileCheck %s --check-prefix=ROWS
// RUN: not remat-opt %s -split-input-file "-convert-remat-to-gpu=max-rows=0" \
// RUN:   2>&1 | FileCheck %s --check-prefix=BADROWS
// After bufferization, deallocation and the launches, the device holds no
// 8x8 (scores-sized) buffer: only the results, lse and delta.
// RUN: remat-opt %s -split-input-file -convert-remat-to-gpu -remat-bufferize \
// RUN:   -remat-gpu-launch-kernel-calls -remat-gpu-device-memory \
// RUN: | FileCheck %s --check-prefix=DEVICE

// BADROWS: error: convert-remat-to-gpu: max-rows must be positive, got 0

// Attention over 8 queries and keys (depth 4), causal mask and dropout.
// The forward: its operands as read-only buffers of any layout, its results
// allocated, and a call to the kernel's launch declaration between them.
// CHECK-LABEL: func.func @attention
// CHECK: %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<2x2x8x4xf32> to memref<2x2x8x4xf32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK: %[[M:.*]] = bufferization.to_buffer %arg3 read_only : tensor<8x8xi1> to memref<8x8xi1, strided<[?, ?], offset: ?>>
// CHECK: %[[S:.*]] = bufferization.to_buffer %arg4 read_only : tensor<i64> to memref<i64, strided<[], offset: ?>>
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<2x2x8x4xf32>
// CHECK: %[[LSE:.*]] = memref.alloc() : memref<2x2x8xf32>
// CHECK: call @__remat_launch_attention_0(%[[Q]], %{{.*}}, %{{.*}}, %[[M]], %[[S]], %[[OUT]], %[[LSE]])
// CHECK: %[[OUTT:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: bufferization.to_tensor %[[LSE]] restrict writable
// The gradient: delta (f32, one per query), then dk and dv, then dq.
// CHECK: %[[DELTA:.*]] = memref.alloc() : memref<2x2x8xf32>
// CHECK: call @__remat_launch_attention_grad_delta_0({{.*}}, %[[DELTA]])
// CHECK: call @__remat_launch_attention_grad_dkdv_0(
// CHECK: call @__remat_launch_attention_grad_dq_0(
// CHECK: return %[[OUTT]]
//
// The forward kernel: a thread per query (8 here), the Q, K and V tiles,
// the scores and the f32 output rows in shared memory, rows a thread owns
// padded by one.
// CHECK: gpu.module @remat_attention_kernels
// CHECK: gpu.func @attention_0({{.*}}) workgroup({{.*}} : memref<8x5xf32, #gpu.address_space<workgroup>>, {{.*}} : memref<8x4xf32, #gpu.address_space<workgroup>>, {{.*}} : memref<8x4xf32, #gpu.address_space<workgroup>>, {{.*}} : memref<8x9xf32, #gpu.address_space<workgroup>>, {{.*}} : memref<8x5xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 8, 1, 1>}
// CHECK: memref.load %arg4[]
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK: scf.if
// The mask, at (i, j) of the score, and the keep region's op per element.
// CHECK: memref.load %arg3[
// CHECK: arith.select %{{.*}}, %cst{{.*}}, %{{.*}} : f32
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.cmpi ult
// CHECK: arith.uitofp
// CHECK: math.log
// CHECK: gpu.return
// CHECK: gpu.func @attention_grad_delta_0
// CHECK-NOT: workgroup
// CHECK-SAME: kernel
// CHECK: gpu.func @attention_grad_dkdv_0({{.*}}) workgroup({{.*}}memref<8x5xf32{{.*}}memref<8x5xf32{{.*}}memref<8x5xf32{{.*}}memref<8x5xf32{{.*}}memref<8x4xf32{{.*}}memref<8x4xf32{{.*}}memref<8x1xf32{{.*}}memref<8x1xf32
// CHECK: math.exp
// CHECK: gpu.func @attention_grad_dq_0({{.*}}) workgroup({{.*}}memref<8x5xf32{{.*}}memref<8x5xf32{{.*}}memref<8x5xf32{{.*}}memref<8x4xf32{{.*}}memref<8x4xf32
// CHECK: math.exp
// The launch declarations: what each operand is for bufferization, and the
// kernel's grid (query tiles, heads, batch) and block.
// CHECK: func.func private @__remat_launch_attention_0({{.*}} {bufferization.access = "read"}, {{.*}} {bufferization.access = "write"}, memref<2x2x8xf32> {bufferization.access = "write"}) attributes {remat.launch = {block = array<i64: 8, 1, 1>, grid = array<i64: 1, 2, 2>, kernel = @remat_attention_kernels::@attention_0}}
// CHECK: func.func private @__remat_launch_attention_grad_delta_0
// CHECK: func.func private @__remat_launch_attention_grad_dkdv_0
// CHECK: func.func private @__remat_launch_attention_grad_dq_0
//
// ROWS-LABEL: func.func @attention
// ROWS: gpu.func @attention_0({{.*}}) workgroup({{.*}} : memref<4x5xf32, #gpu.address_space<workgroup>>, {{.*}} : memref<4x4xf32, {{.*}}, {{.*}} : memref<4x4xf32, {{.*}}, {{.*}} : memref<4x5xf32, {{.*}}, {{.*}} : memref<4x5xf32, {{.*}}) kernel attributes {known_block_size = array<i32: 4, 1, 1>}
// ROWS: remat.launch = {block = array<i64: 4, 1, 1>, grid = array<i64: 2, 2, 2>

// After the launches: no device buffer has a scores-sized 8x8 f32 shape;
// delta is freed after the last gradient kernel.
// DEVICE-LABEL: func.func @attention
// DEVICE-NOT: 8x8xf32
// DEVICE: gpu.launch_func @remat_attention_kernels::@attention_0 blocks in
// DEVICE: %[[DELTA:.*]] = gpu.alloc () : memref<2x2x8xf32>
// DEVICE: gpu.launch_func @remat_attention_kernels::@attention_grad_delta_0
// DEVICE: gpu.launch_func @remat_attention_kernels::@attention_grad_dkdv_0
// DEVICE: gpu.launch_func @remat_attention_kernels::@attention_grad_dq_0
// DEVICE: gpu.dealloc %[[DELTA]]
// DEVICE-NOT: 8x8xf32
// DEVICE: return
// DEVICE-NOT: func.func private @__remat_launch
func.func @attention(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>,
                     %v: tensor<2x2x8x4xf32>, %m: tensor<8x8xi1>,
                     %seed: tensor<i64>, %do: tensor<2x2x8x4xf32>)
    -> (tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
        tensor<2x2x8x4xf32>) {
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xi1>)
      seed(%seed : tensor<i64>) attributes {
        block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %out, %lse, %do
      mask(%m : tensor<8x8xi1>) seed(%seed : tensor<i64>) attributes {
        block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
        tensor<2x2x8x4xf32>, tensor<2x2x8xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return %out, %dq, %dk, %dv : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
                               tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
}

// -----

// bf16, no mask, no dropout, 200 queries and keys (not a multiple of the
// 64 rows of a block: the last block is guarded).
// 64 rows per block, four blocks; the tiles keep bf16, the sums are f32.
// CHECK-LABEL: func.func @plain
// CHECK: call @__remat_launch_attention_0(
// CHECK: gpu.func @attention_0({{.*}}) workgroup({{.*}} : memref<64x9xbf16, #gpu.address_space<workgroup>>, {{.*}} : memref<64x8xbf16, {{.*}}, {{.*}} : memref<64x8xbf16, {{.*}}, {{.*}} : memref<64x65xf32, {{.*}}, {{.*}} : memref<64x9xf32, {{.*}})
// CHECK: arith.cmpi ult, %{{.*}}, %c200
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: remat.launch = {block = array<i64: 64, 1, 1>, grid = array<i64: 4, 1, 1>
func.func @plain(%q: tensor<1x1x200x8xbf16>, %k: tensor<1x1x200x8xbf16>,
                 %v: tensor<1x1x200x8xbf16>)
    -> (tensor<1x1x200x8xbf16>, tensor<1x1x200xf32>) {
  %out, %lse = remat.attention %q, %k, %v attributes {
        block_k = 8 : i64, block_q = 8 : i64, scale = 0.35 : f64}
      : tensor<1x1x200x8xbf16>, tensor<1x1x200x8xbf16>, tensor<1x1x200x8xbf16>
      -> tensor<1x1x200x8xbf16>, tensor<1x1x200xf32>
  return %out, %lse : tensor<1x1x200x8xbf16>, tensor<1x1x200xf32>
}

// -----

// One f32 row of depth 4096 needs 64 KiB of tiles: the op stays for the
// loops of -convert-remat-to-linalg, with a remark.
// REMARK: remat-to-gpu.mlir:[[@LINE+6]]:16: remark: convert-remat-to-gpu: left to the loops of convert-remat-to-linalg: one row of depth 4096 and value depth 4096 does not fit in 48 KiB of shared memory
// CHECK-LABEL: func.func @deep
// CHECK: remat.attention
func.func @deep(%q: tensor<1x1x2x4096xf32>, %k: tensor<1x1x2x4096xf32>,
                %v: tensor<1x1x2x4096xf32>)
    -> (tensor<1x1x2x4096xf32>, tensor<1x1x2xf32>) {
  %out, %lse = remat.attention %q, %k, %v attributes {
        block_k = 2 : i64, block_q = 2 : i64, scale = 0.01 : f64}
      : tensor<1x1x2x4096xf32>, tensor<1x1x2x4096xf32>, tensor<1x1x2x4096xf32>
      -> tensor<1x1x2x4096xf32>, tensor<1x1x2xf32>
  return %out, %lse : tensor<1x1x2x4096xf32>, tensor<1x1x2xf32>
}

// -----

// A module that already holds the kernel module and a kernel named
// attention_0 (the pass run before): the new kernel takes the next name.
// CHECK-LABEL: gpu.module @remat_attention_kernels
// CHECK: gpu.func @attention_0()
// CHECK: gpu.func @attention_1(
// CHECK: func.func @again
// CHECK: call @__remat_launch_attention_1(
module attributes {gpu.container_module} {
  gpu.module @remat_attention_kernels {
    gpu.func @attention_0() kernel {
      gpu.return
    }
  }
  func.func @again(%q: tensor<1x1x8x4xf32>, %k: tensor<1x1x8x4xf32>,
                   %v: tensor<1x1x8x4xf32>)
      -> (tensor<1x1x8x4xf32>, tensor<1x1x8xf32>) {
    %out, %lse = remat.attention %q, %k, %v attributes {
          block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64}
        : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>
        -> tensor<1x1x8x4xf32>, tensor<1x1x8xf32>
    return %out, %lse : tensor<1x1x8x4xf32>, tensor<1x1x8xf32>
  }
}
