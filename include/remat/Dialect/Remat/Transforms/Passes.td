//===- Passes.td - remat passes ----------------------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD
#define REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def RematFinalizePass : Pass<"remat-finalize"> {
  let summary = "Lower remat ops to plain upstream IR";
  let description = [{
    Removes every `remat` op except `remat.barrier`, in program order:

    - `remat.name` is replaced by its operand;
    - `remat.checkpoint` bodies are inlined at the op's position, their
      block arguments replaced by the inputs and the results by the yielded
      values;
    - `remat.backward` bodies are inlined likewise, but their inputs first
      go through one `remat.barrier`. Values that the backward recomputes are
      then computed from the barrier's results, so `-canonicalize -cse`
      cannot merge them back into their forward originals, which would undo
      the rematerialization.

    Barriers bufferize as aliases with no copy; `-remat-strip-barriers`
    removes them after bufferization. For the same reason, the
    `tensor.empty` ops of backward bodies become
    `bufferization.alloc_tensor`: CSE would merge a backward temporary (or a
    recomputed value's init) with an identical forward `tensor.empty`, and
    bufferization would then keep one buffer alive from the forward to the
    backward.

    Example:

    ```mlir
    %g = remat.backward(%x) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%a: tensor<4xf32>):
      %e = math.exp %a : tensor<4xf32>
      remat.yield %e : tensor<4xf32>
    }
    ```

    becomes

    ```mlir
    %b = remat.barrier %x : tensor<4xf32>
    %g = math.exp %b : tensor<4xf32>
    ```
  }];
  let options = [
    Option<"barriers", "barriers", "bool", /*default=*/"true",
           "Route the inputs of each inlined remat.backward through a "
           "remat.barrier (turning this off lets CSE undo recomputation)">
  ];
  let statistics = [
    Statistic<"numNames", "names", "Number of remat.name ops removed">,
    Statistic<"numCheckpoints", "checkpoints",
              "Number of remat.checkpoint regions inlined">,
    Statistic<"numBackwards", "backwards",
              "Number of remat.backward regions inlined">,
    Statistic<"numBarriers", "barriers", "Number of remat.barrier ops created">
  ];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def RematApplyCheckpointsPass : Pass<"remat-apply-checkpoints"> {
  let summary = "Recompute what remat.checkpoint policies do not save";
  let description = [{
    Manual mode: the semantics of `torch.utils.checkpoint` and
    `jax.checkpoint` on the IR. For every `remat.checkpoint`, the inner
    values its policy does not save become recomputable:

    - `nothing` (the default) saves only the checkpoint's inputs;
    - `dots` saves contraction outputs (matmuls and the like);
    - `names = [...]` saves the values tagged with those `remat.name`s;
    - `everything` saves all (the checkpoint is off).

    The checkpoints are then inlined, and every `remat.backward` drops its
    recomputable operands from the saved set: the forward ops computing them
    are cloned into its body, each clone just before its first use, reading
    other clones or saved values (the checkpoint inputs and what the policy
    saves), which are added to the operand list as needed. A value needed
    by several residuals is cloned once.

    Example: with `policy(#remat.policy<nothing>)` around
    `%h = math.exp %x`, a backward that read `%h` reads `%x` instead and
    recomputes `math.exp` in its body.
  }];
  let dependentDialects = ["::mlir::remat::RematDialect"];
  let statistics = [
    Statistic<"numCheckpoints", "checkpoints", "remat.checkpoint regions applied">,
    Statistic<"numRecomputed", "recomputed", "residuals recomputed in a backward">,
    Statistic<"numCloned", "cloned", "forward ops cloned into a backward">,
  ];
}

def RematStripBarriersPass : Pass<"remat-strip-barriers"> {
  let summary = "Replace each remat.barrier by its operands";
  let description = [{
    Removes `remat.barrier` ops, forwarding operands to users. Run it after
    bufferization, when the barriers have kept CSE from merging recomputed
    tensors and buffer identities no longer depend on them.
  }];
  let statistics = [
    Statistic<"numBarriers", "barriers", "Number of remat.barrier ops removed">
  ];
}

def RematPlaceDeallocsPass : Pass<"remat-place-deallocs"> {
  let summary = "Free each buffer right after its last use";
  let description = [{
    Upstream buffer deallocation frees a buffer at the end of the block that
    owns it, so a straight-line program holds every buffer until its end and
    its peak memory is the sum of all its buffers: no rematerialization could
    lower it. This pass moves each `memref.dealloc` up to just after the last
    use, in the dealloc's block, of the buffer and of every value that may
    alias it (through views, casts, region arguments and results, as
    `BufferViewFlowAnalysis` computes them). A dealloc is left in place when
    an alias is used outside the dealloc's block, or defined after it.

    It works on `bufferization.dealloc` as well: run it after
    `-ownership-based-buffer-deallocation` and
    `-buffer-deallocation-simplification`, before `-lower-deallocations`.
    Each buffer of a `bufferization.dealloc` that cannot alias the op's other
    buffers or its retained values is split into a dealloc of its own, which
    then moves.

    Example:

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
    linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
    %b = memref.alloc() : memref<4xf32>
    ...
    memref.dealloc %a : memref<4xf32>
    ```

    becomes

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
    linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
    memref.dealloc %a : memref<4xf32>
    %b = memref.alloc() : memref<4xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"numMoved", "moved", "Number of memref.dealloc ops moved up">,
    Statistic<"numKept", "kept",
              "Number of memref.dealloc ops left in place">
  ];
}

/// Options that select the roofline target: a preset, with explicit rates
/// overriding its fields.
defvar RematTargetOptions = [
  Option<"target", "target", "std::string", /*default=*/"\"h100\"",
         "Roofline preset: h100, h200, a100 or cpu">,
  Option<"peakF32", "peak-f32", "double", /*default=*/"0",
         "FP32 peak in FLOP/s (overrides the preset when > 0)">,
  Option<"peakTF32", "peak-tf32", "double", /*default=*/"0",
         "TF32 tensor-core peak in FLOP/s, for f32 contractions">,
  Option<"peakBF16", "peak-bf16", "double", /*default=*/"0",
         "BF16/FP16 peak in FLOP/s">,
  Option<"peakFP8", "peak-fp8", "double", /*default=*/"0",
         "FP8 peak in FLOP/s">,
  Option<"bandwidth", "bandwidth", "double", /*default=*/"0",
         "Memory bandwidth in bytes/s">
];

def RematReportPass : Pass<"remat-report"> {
  let summary = "Report peak memory, the saved set and recompute costs";
  let description = [{
    For every function with a `remat.backward`, prints to stderr the memory
    model's peak and the buffers live at the peak, and each backward's saved
    set: one row per operand with its tag (from `remat.name`, else its
    location), type, bytes, defining op, and the FLOPs and roofline time of
    recomputing it with that op on the chosen target. Function arguments
    (parameters, inputs, seeds) are resident and counted apart from
    activations. The IR is not changed.

    With `report-file`, the same report is written there as JSON, schema
    `remat-report/1` (docs/report.schema.json).
  }];
  let options = !listconcat([
    Option<"reportFile", "report-file", "std::string", /*default=*/"\"\"",
           "Also write the report as JSON to this file">
  ], RematTargetOptions);
}

def RematRematerializePass : Pass<"remat-rematerialize"> {
  let summary = "Choose what to recompute under a memory budget";
  let description = [{
    Automatic mode. For every function with a `remat.backward`, the planner
    (`planRematerialization` in `Planner.h`) decides which values to save so
    that the predicted peak meets `budget` at the least recompute cost, and
    the rewrite of `-remat-apply-checkpoints` applies the plan: every
    residual not saved is recomputed, each clone just before its first use,
    a value shared by several residuals once.

    Before planning, each backward transpose of a saved transpose by the
    inverse permutation (autograd's `t(t(W))`) reads the source instead
    (`foldBackwardTransposes`), as the canonicalizer would after finalize;
    saved values nothing reads any more are dropped.

    Peaks are those of the rewritten function under the memory analysis,
    with every buffer rounded up to the 64-byte alignment of the CPU
    pipeline's allocations (`peak-model=tensor`, the default), or of the
    function bufferized by `-remat-bufferize{deallocate=false}`
    (`peak-model=bufferized`, slower). Both count the recompute's own
    temporaries. With `verify` (the default), the chosen plan's peak is
    checked on the bufferized program.

    Strategies. The fixed schedules of the field give their plan whatever
    the budget, and fail if it misses a budget given:
    - `none`: keep autograd's saved set;
    - `full`: save only layer inputs (checkpoint every layer);
    - `every-n`: save only the inputs of segments of `every` layers;
    - `sqrt`: segments of round(sqrt(layers)) layers;
    - `selective`: Megatron-LM's recompute of the attention core (the ops
      from one batch matmul to the next: scores, mask, softmax, dropout);
    - `mincut`: PyTorch's min-cut partitioner: the fewest saved bytes from
      which the residuals are recomputed by cheap ops only (element-wise,
      views, fills; never contractions or reductions).

    Layers are read from name locations: an op located at
    `blocks.3.attn.mm` is in layer `blocks.3` (the prefix up to the first
    numeric component), as the importer writes them.

    The searching strategies recompute nothing without a budget:
    - `greedy`: rank the residuals by bytes freed per recompute second
      (`cost=time`) or FLOP (`cost=flops`), each against what is already
      recomputed, and recompute the shortest prefix of that ranking whose
      peak meets the budget;
    - `optimal`: branch and bound over the subsets of the residuals
      (grouped by the buffer they alias), from the greedy plan, for the
      least recompute cost that meets the budget; exact when it completes
      within `work-limit`;
    - `exhaustive`: every subset (at most 26 groups), the reference for
      testing `optimal`;
    - `auto` (default): greedy, then keeps saved what the budget allows,
      then takes any cheaper fixed schedule that meets the budget, then
      runs the exact search when there are at most `exact-limit` groups.

    With `budget-on=activations` the budget bounds the saved activation
    bytes instead of the peak (a percentage is of the activations without
    remat); the field's schedules are often compared that way.

    The rewrite clones a value that several recomputed residuals need once,
    before the first of them, and holds it for the others, unless
    recomputing it for each of them lowers the peak (`recompute-twice`):
    after choosing what to save, the planner tries the shared values, the
    largest first, and keeps each one whose second recompute lowers the
    predicted peak (`peak`, within `work-limit`), or
    only as far as a budget needs (`to-fit`; `peak` does this too).
    Its cost is counted in the plan's recompute cost and explained in a
    remark.

    Limits. The greedy plan and the fixed schedules are always computed.
    The optional parts of the search (pruning the greedy plan, the exact
    search, second recomputes, and searching again when a plan misses the
    budget on the bufferized program) stop at `work-limit`, counted in op
    visits, so a plan depends only on the function and the options, at any
    machine load. `time-limit` is an outer safety net. A search cut by
    either limit, or an `auto` that skips the exact search because of
    `exact-limit`, says so in the summary remark (`search cut: ...`).

    A budget that cannot be met is an error that names the lowest peak
    reached and what is live at it. `remarks` explains every decision:
    value, bytes, recompute cost, and why; and sums up each plan.
  }];
  let dependentDialects = ["::mlir::remat::RematDialect"];
  let options = !listconcat([
    Option<"budget", "budget", "std::string", /*default=*/"\"\"",
           "Peak budget: bytes with an optional KiB/MiB/GiB/KB/MB/GB suffix, "
           "or a percentage of the peak without remat (`40%`); empty: none">,
    Option<"budgetOn", "budget-on", "std::string", /*default=*/"\"peak\"",
           "What the budget bounds: peak (the step's peak memory) or "
           "activations (the bytes the forward saves for the backward)">,
    Option<"strategy", "strategy", "std::string", /*default=*/"\"auto\"",
           "none, full, every-n, sqrt, selective, mincut, greedy, optimal, "
           "exhaustive or auto">,
    Option<"cost", "cost", "std::string", /*default=*/"\"time\"",
           "What to minimize: time (roofline seconds) or flops">,
    Option<"every", "every", "unsigned", /*default=*/"2",
           "Layers per segment of strategy every-n">,
    Option<"workLimit", "work-limit", "uint64_t", /*default=*/"1000000",
           "Work the optional parts of the search may do, in op visits (a "
           "plan evaluation costs the function's op count); plans depend "
           "only on the input and the options while this limit, not "
           "time-limit, stops the search">,
    Option<"timeLimit", "time-limit", "double", /*default=*/"300",
           "Wall-clock seconds the optional parts of the search may take, "
           "an outer safety net (0: none); a plan it cuts depends on the "
           "machine's load, and its remarks say so">,
    Option<"exactLimit", "exact-limit", "unsigned", /*default=*/"48",
           "Auto runs the exact search up to this many candidate groups">,
    Option<"recomputeTwice", "recompute-twice", "std::string",
           /*default=*/"\"peak\"",
           "When a value several recomputed residuals need is recomputed "
           "for each of them instead of held between them: peak (whenever "
           "that lowers the predicted peak), to-fit (only to meet a budget "
           "that is missed otherwise) or never">,
    Option<"peakModel", "peak-model", "std::string", /*default=*/"\"tensor\"",
           "tensor (memory analysis of the rewritten function) or bufferized">,
    Option<"verify", "verify", "bool", /*default=*/"true",
           "With peak-model=tensor: take the baseline and the plan's peak "
           "from the bufferized program, and search again under a tighter "
           "budget if the plan misses it there">,
    Option<"fusePointwise", "fuse-pointwise", "bool", /*default=*/"false",
           "Bufferize with element-wise chains fused first, as "
           "-remat-lower-to-nvvm does, when checking plans (verify) or "
           "searching with peak-model=bufferized">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Emit a remark for every decision and a summary per function">,
  ], RematTargetOptions);
  let statistics = [
    Statistic<"numRecomputed", "recomputed", "residuals recomputed">,
    Statistic<"numEvaluations", "evaluations", "plans whose peak was predicted">,
    Statistic<"numFolded", "folded-transposes",
              "backward transposes of saved transposes folded">,
  ];
}

def RematGPUDeviceMemoryPass : Pass<"remat-gpu-device-memory", "ModuleOp"> {
  let summary = "Put a bufferized step's buffers in device memory";
  let description = [{
    Prepares a bufferized step for the GPU, where every buffer the kernels
    touch must be device memory:
    - `memref.alloc` / `memref.dealloc` become `gpu.alloc` / `gpu.dealloc`
      (the runtime's `mgpuMemAlloc` / `mgpuMemFree`, which record the device
      high-water mark);
    - `memref.copy` becomes `linalg.copy`, so that it runs as a kernel;
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
    22's `-convert-nvgpu-to-nvvm` does not lower its MMA. These kernels have
    not run on a GPU yet, so the option is off by default.
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

def RematTestPrintCostsPass : Pass<"remat-test-print-costs"> {
  let summary = "Print the cost model's figures for every op (for tests)";
  let description = [{
    Prints one line per op in program order (ops inside the bodies of
    linalg ops excluded): its location, FLOPs, transcendental ops, bytes read
    and written, and the roofline time on the chosen target. Ops without a
    cost model get the conservative estimate, marked `estimated`, and a
    remark.
  }];
  let options = RematTargetOptions;
}

def RematTestPrintLivenessPass : Pass<"remat-test-print-liveness"> {
  let summary = "Print the memory model of each function (for tests)";
  let description = [{
    Prints, for each function, its buffers in order of definition (label,
    kind, bytes, live range in program points), the live bytes at every
    program point, the peak and the buffers live at the peak (largest
    first), the resident argument bytes and the activation bytes.
  }];
}

#endif // REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD
