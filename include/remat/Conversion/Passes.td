//===- Passes.td - remat conversion passes ----------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_CONVERSION_PASSES_TD
#define REMAT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// RematToLinalg: remat's fused ops as loops of linalg ops (on tensors)
//===----------------------------------------------------------------------===//

def ConvertRematToLinalgPass : Pass<"convert-remat-to-linalg"> {
  let summary = "Lower remat's fused ops to loops of linalg ops on tensors";
  let description = [{
    Lowers `remat.linear_cross_entropy` and
    `remat.linear_cross_entropy_grad` to an `scf.for` over chunks of
    `chunk_size` tokens, each iteration computing that chunk's logits and the rest with
    `linalg.generic`:

    - forward: the row max, the sum of `exp(logit − max)`, the
      log-sum-exp written into the chunk's rows of `lse`, and the masked
      `lse − logit[target]` added to the running `nll_sum`;
    - gradient: the logits again, their gradient (`chunk × V`), the chunk's
      rows of `dx` (`dlogits · w`) and `dw += dlogitsᵀ · x`.

    Results are carried in the loop's `iter_args` and written in place, so
    after one-shot bufferization an iteration allocates only the chunk's
    logits and two row vectors (forward) or the logits and their gradient
    (gradient). `-remat-lower-to-llvm` and `-remat-bufferize` run this pass
    first.

    Example:

    ```mlir
    %sum, %lse = remat.linear_cross_entropy %x, %w, %t
        {chunk_size = 4 : i64, ignore_index = -100 : i64}
        : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>
        -> tensor<f32>, tensor<16xf32>
    ```

    becomes an `scf.for %i = %c0 to %c16 step %c4` whose body slices four
    rows of `%x` and `%t`, multiplies them by `%w`ᵀ into a `4×32` tensor,
    and reduces it.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"numLowered", "lowered", "remat fused ops lowered">
  ];
}


//===----------------------------------------------------------------------===//
// RematToGPU: remat's fused attention as tiled GPU kernels
//===----------------------------------------------------------------------===//

def ConvertRematToGPUPass : Pass<"convert-remat-to-gpu", "ModuleOp"> {
  let summary = "Run remat.attention and remat.attention_grad as tiled GPU "
                "kernels (FlashAttention-2)";
  let description = [{
    Runs on tensors, before bufferization (`-remat-lower-to-nvvm` runs it
    first). Each `remat.attention` becomes one kernel and each
    `remat.attention_grad` three, built as `gpu.func`s in the gpu.module
    `@remat_attention_kernels`:

    - forward: a block of `r` threads per `r` queries of one (batch, head),
      a thread per query row. The block's Q tile stays in shared memory and
      tiles of `r` keys and values stream through it; each thread writes
      its row of the tile's scores (shared), takes their max, rescales its
      f32 output row (shared) and adds `exp(s − max) · keep · v`. It ends
      with `out = acc / l` and `lse = max + log l`;
    - gradient: `delta = Σ dout · out` per query; then a kernel per `r`
      keys that keeps K, V and the f32 dk and dv rows in shared memory while
      Q and dout tiles (with their lse and delta) stream through; then a
      kernel per `r` queries for dq, with K and V streaming. The
      probabilities are recomputed from `lse` in both, and the keep bits
      from the op's keep region, so neither a score nor a mask is ever
      stored outside a tile. dq and dk/dv are separate kernels rather than
      one with atomic adds, so the sums do not depend on the order blocks
      run in.

    `r` is the largest power of two up to `max-rows` (and to the rows there
    are) whose tiles fit in 48 KiB of static shared memory. Rows are
    guarded, so any sequence length works. An op whose single row does not
    fit is left, with a remark, to `-convert-remat-to-linalg`.

    The op's operands become `bufferization.to_buffer` (read only, any
    strided layout), its results fresh `memref.alloc`s returned through
    `bufferization.to_tensor restrict writable`, and each launch a call to
    a private declaration `@__remat_launch_<kernel>` whose `remat.launch`
    attribute names the kernel, its grid and its block: bufferization and
    buffer deallocation then see a call that reads and writes its operands
    (they reject a `gpu.launch_func`).
    `-remat-gpu-launch-kernel-calls` turns the calls into launches after
    them.

    Example: `remat.attention` on `1×2×16×8` q, k and v becomes

    ```mlir
    %q = bufferization.to_buffer %arg0 read_only : tensor<1x2x16x8xf32>
        to memref<1x2x16x8xf32, strided<[?, ?, ?, ?], offset: ?>>
    ...
    %out = memref.alloc() : memref<1x2x16x8xf32>
    %lse = memref.alloc() : memref<1x2x16xf32>
    call @__remat_launch_attention_0(%q, %k, %v, %out, %lse) : (...) -> ()
    %0 = bufferization.to_tensor %out restrict writable : ...
    ```

    with `gpu.func @attention_0(...) workgroup(...) kernel
    attributes {known_block_size = array<i32: 16, 1, 1>}`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
  let options = [
    Option<"maxRows", "max-rows", "int64_t", "64",
           "Threads (query or key rows) per block at most; fewer when the "
           "tiles would not fit in shared memory">,
  ];
  let statistics = [
    Statistic<"numLowered", "lowered", "attention ops run as kernels">
  ];
}

def RematGPULaunchKernelCallsPass : Pass<"remat-gpu-launch-kernel-calls",
                                         "ModuleOp"> {
  let summary = "Turn calls to remat.launch declarations into "
                "gpu.launch_func";
  let description = [{
    Replaces each call to a private function declaration with a
    `remat.launch = {kernel = @module::@func, grid = array<i64: x, y, z>,
    block = array<i64: x, y, z>}` attribute (as `-convert-remat-to-gpu`
    makes them) with a `gpu.launch_func` of that kernel on the call's
    operands, and erases declarations left without calls. It runs after
    bufferization and deallocation, which do not accept a
    `gpu.launch_func` among their ops.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numLaunches", "launches", "calls turned into launches">
  ];
}

//===----------------------------------------------------------------------===//
// LinalgToGPU: a bufferized step as GPU kernels (remat-lower-to-nvvm)
//===----------------------------------------------------------------------===//

def RematGPUDeviceMemoryPass : Pass<"remat-gpu-device-memory", "ModuleOp"> {
  let summary = "Put a bufferized step's buffers in device memory";
  let description = [{
    Prepares a bufferized step for the GPU, where every buffer the kernels
    touch must be device memory:
    - `memref.alloc` / `memref.dealloc` become `gpu.alloc` / `gpu.dealloc`
      (the runtime's `mgpuMemAlloc` / `mgpuMemFree`, which record the device
      high-water mark);
    - `memref.copy` becomes `linalg.copy`, so that it runs as a kernel;
    - an allocation in `#remat.memory_space<host>` (an offloaded buffer)
      becomes `gpu.alloc host_shared`, which the runtime allocates as
      pinned host memory in a host arena of its own, and a copy to or from
      one becomes `gpu.memcpy` (a DMA copy over the host link);
    - a `memref.get_global` (a constant of the step) is copied to a device
      buffer where it is read, freed at the end of its block;
    - each memref operand of a call to an external function (a host routine
      such as a printer or a loader) is passed as a host buffer, filled from
      the device buffer before the call when the routine reads it and copied
      back after the call when it writes it. The routine's
      `bufferization.access` argument attribute (`none`, `read`, `write`,
      `read-write`) says which; without it, both.
    Function arguments are taken to be device memory already.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect"];
  let statistics = [
    Statistic<"numAllocs", "allocs", "allocations moved to the device">,
    Statistic<"numGlobals", "globals", "constants copied to the device">,
    Statistic<"numHostAllocs", "host-allocs",
              "offloaded buffers allocated in pinned host memory">,
    Statistic<"numHostCopies", "host-copies",
              "call operands passed through a host buffer">,
  ];
}

def RematGPUWrapHostComputePass : Pass<"remat-gpu-wrap-host-compute",
                                       "ModuleOp"> {
  let summary = "Run what the GPU mapping left on the host in one-thread "
                "kernels";
  let description = [{
    After `-convert-parallel-loops-to-gpu`, loops without parallel
    dimensions (a reduction to a scalar, such as the loss) and scalar loads
    and stores are still host code, which cannot read device memory. This
    pass wraps each maximal run of such ops (in a function body's blocks,
    outside `gpu.launch`) in a `gpu.launch` of one block of one thread.
    Pure ops that the run does not need stay on the host; `gpu.*`
    operations, allocations, views, calls and loops that only launch
    kernels are host operations. A value defined in a run and used after it
    on the host is an error.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numWrapped", "wrapped", "one-thread kernels created">,
  ];
}

def RematGPUCopyStreamsPass : Pass<"remat-gpu-copy-streams",
                                   "func::FuncOp"> {
  let summary = "Move the copies of offloaded values to streams of their "
                "own, joined by events where their buffers are next needed";
  let description = [{
    Runs after `-gpu-async-region`, which puts a block's GPU operations on
    one chain of async tokens (one stream). Each `gpu.memcpy` to or from
    pinned host memory (`gpu.alloc host_shared`: an offloaded buffer) leaves
    the chain:
    - it starts a stream of its own, `gpu.wait async [%chain]`, which waits
      for what the chain issued before it; a copy back also waits for the
      copy out that filled its host buffer;
    - the first later operation that needs the copy done is made to wait
      for it, `gpu.wait async [%chain, %copy]`: for a copy back, the first
      use of the device buffer; for a copy out, the first operation that
      may write the device buffer (kernels are read from their bodies) or
      that uses the host buffer. A host operation that uses either buffer
      is preceded by `gpu.wait [%copy]`;
    - the `gpu.dealloc` of a copied buffer waits for the chain and the copy
      on a stream of its own, so that the chain does not wait to free;
    - the streams left behind are synchronized and destroyed at the block's
      next `gpu.wait`.
    The GPU runtime lowering makes each `gpu.wait async` a stream
    (`mgpuStreamCreate`) that waits for events (`mgpuEventRecord`,
    `mgpuStreamWaitEvent`) recorded after the operations that defined its
    operands. A copy whose dependency is not a single token defined in its
    block stays on its chain.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numCopies", "copies", "copies moved to streams of their own">,
  ];
}

def RematGPUTileContractionsPass : Pass<"remat-gpu-tile-contractions",
                                        "func::FuncOp"> {
  let summary = "Run matmul-class ops as shared-memory tiled GPU kernels";
  let description = [{
    Rewrites each bufferized linalg contraction (`linalg.matmul`,
    `linalg.batch_matmul`, or any op with a multiply-accumulate body whose
    dimensions infer to one M, one N and one K dimension, plus batch
    dimensions) into a `gpu.launch`:
    - one block computes a `tile-m` x `tile-n` tile of the result, for one
      batch index (batch dimensions are the grid's `z`);
    - its 16 x 16 threads stage `tile-k`-deep slices of both operands in
      workgroup (shared) memory, then each accumulates a
      (`tile-m`/16) x (`tile-n`/16) micro-tile of the result in registers,
      rows and columns strided by 16 so that loads and stores coalesce;
    - edges are guarded: operand elements out of range load as zero, and
      result elements out of range are not stored.
    The op's own body is the multiply-accumulate, so mixed element types
    (a bf16 product accumulated in f32) keep their semantics. Other ops are
    left to the parallel-loop mapping.

    With `mma=half` (or `tf32`), the contractions whose types fit run on
    tensor cores instead: 4 warps per 64x64 result tile, each warp's 32x32
    quarter as 2x4 `nvgpu.mma.sync` tiles of m16n8k16 (f16) or m16n8k8
    (tf32), with 32-deep operand slices in shared memory and fragments read
    in the PTX ISA's register layouts. bf16 stays on the SIMT kernel: LLVM
    22's `-convert-nvgpu-to-nvvm` does not lower its MMA. The tf32 matmul
    ran once on an H200 (4096^3: 12.8 TFLOP/s against 7.8 without it,
    within 10 times the f32 tolerance; docs/GPU.md); no training step has
    run with it, so the option is off by default.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"tileM", "tile-m", "int64_t", "64",
           "Rows of the result per block (a multiple of 16)">,
    Option<"tileN", "tile-n", "int64_t", "64",
           "Columns of the result per block (a multiple of 16)">,
    Option<"mma", "mma", "std::string", "\"none\"",
           "Tensor cores (nvgpu.mma.sync): none; half (f16 products "
           "accumulated in f32, as the op computes them); tf32 (also "
           "f32 x f32, rounded to tf32: not the op's numerics)">,
    Option<"tileK", "tile-k", "int64_t", "16",
           "Depth of the operand slices staged in shared memory (a "
           "multiple of 16)">,
  ];
  let statistics = [
    Statistic<"numTiled", "tiled", "contractions run as tiled kernels">,
    Statistic<"numMma", "mma", "contractions run on tensor cores">,
  ];
}

def RematGPUParallelReductionsPass : Pass<"remat-gpu-parallel-reductions",
                                          "func::FuncOp"> {
  let summary = "Run linalg reductions as block-wide parallel reductions";
  let description = [{
    Rewrites each bufferized linalg op with reduction dimensions and one
    result whose body folds one value into the accumulator with a single
    combiner (`arith.addf`, `arith.maximumf`, `arith.maxnumf`, `arith.mulf`,
    `arith.addi`, ...: any op with a neutral element) into a `gpu.launch`
    with one block per result element:
    - each of the block's `block-size` threads folds a strided share of the
      reduction dimensions (linearized, innermost fastest, so row
      reductions read coalesced) into a private accumulator that starts at
      the combiner's neutral element;
    - the block combines the accumulators in a tree in workgroup memory,
      and thread 0 folds the result into the initial value.
    Softmax's max and sum, layer norm's moments, the loss's sum and the
    gradients' column sums all take this form. A reduction over fewer than
    `min-size` elements is left to the parallel-loop mapping. The order of
    the floating-point combination differs from the sequential loop's, so
    results agree within rounding, not bit for bit.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "256",
           "Threads per block (a power of two, at most 1024)">,
    Option<"minSize", "min-size", "int64_t", "32",
           "Fewest reduced elements per result for a parallel reduction">,
  ];
  let statistics = [
    Statistic<"numReductions", "reductions",
              "reductions run as parallel reductions">,
  ];
}

def RematGPUMapLinalgPass : Pass<"remat-gpu-map-linalg", "func::FuncOp"> {
  let summary = "Run the other linalg ops as flat one-thread-per-element "
                "kernels";
  let description = [{
    Rewrites each bufferized linalg op that the kernels for contractions and
    reductions did not take (element-wise ops, fills, transposes,
    broadcasts, copies, small reductions, ops with several results) into a
    one-dimensional `gpu.launch` of `block-size`-thread blocks with one
    thread per point of the op's parallel loops: the loops are linearized,
    the last fastest, so that neighbouring threads touch neighbouring
    elements whatever the rank. A thread runs the op's reduction loops, if
    any, in sequence, and reads a result's old value only where the body
    reads it. Ops whose results do not cover the parallel loops are left to
    the parallel-loop mapping.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "256",
           "Threads per block (1 to 1024)">,
  ];
  let statistics = [
    Statistic<"numMapped", "mapped", "linalg ops run as flat kernels">,
  ];
}

#endif // REMAT_CONVERSION_PASSES_TD
