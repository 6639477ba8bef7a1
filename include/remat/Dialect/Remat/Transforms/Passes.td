//===- Passes.td - remat passes ----------------------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD
#define REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"
include "remat/Analysis/TargetOptions.td"

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

def RematChunkLossPass : Pass<"remat-chunk-loss"> {
  let summary = "Compute a linear layer's cross-entropy chunk by chunk";
  let description = [{
    Finds the language-model loss as the importer emits it (PyTorch's
    `cross_entropy(head(x).float(), targets)`: the head's `linalg.matmul`,
    an optional extension to f32, the log-softmax and the negative
    log-likelihood with its `ignore_index`, then in a `remat.backward` the
    gradients of the nll and of the log-softmax and the two matmuls that
    make the gradients of `x` and of the head's weight) and replaces it by
    `remat.linear_cross_entropy` in the forward and
    `remat.linear_cross_entropy_grad` in the backward.

    The backward then reads the row log-sum-exp (`N` floats) instead of the
    `N×V` log-softmax, and neither op holds more than one chunk's logits
    (`chunk-size × V`): the gradient recomputes each chunk's logits from
    `x` and the weight. This is the floor of a language model's peak that
    no choice of saved values can lower: three logits-sized f32 buffers
    live at once in the log-softmax's backward.

    `chunk-size` (tokens per chunk, rounded down to a divisor of the token
    count) defaults to the smallest chunk whose modeled time (forward and
    gradient, on the roofline target) exceeds that of one chunk by at most
    `overhead` percent of the whole step's modeled time: every chunk reads
    the head's weight again, so small chunks cost time once their matmuls
    turn memory-bound.

    A loss that does not match (a head with a bias, a log-softmax read
    elsewhere, no backward) is left unchanged, with a remark that says what
    did not match; so is a function with no cross-entropy.
  }];
  let options = !listconcat([
    Option<"chunkSize", "chunk-size", "int64_t", /*default=*/"0",
           "Tokens per chunk (0: chosen from `overhead`)">,
    Option<"overhead", "overhead", "double", /*default=*/"1.0",
           "With chunk-size=0: the most modeled time, in percent of the "
           "step's, that smaller chunks may add">
  ], RematTargetOptions);
  let dependentDialects = ["::mlir::remat::RematDialect"];
  let statistics = [
    Statistic<"numChunked", "chunked", "cross-entropies chunked">,
    Statistic<"numSkipped", "skipped", "cross-entropies left unchanged">
  ];
}

def RematFuseAttentionPass : Pass<"remat-fuse-attention"> {
  let summary = "Fuse scaled dot-product attention and its gradient, "
                "recomputing the probabilities in the backward";
  let description = [{
    Finds scaled dot-product attention as the importer emits it for GPT,
    Llama, BERT and ViT: `linalg.batch_matmul` of the queries and the
    transposed keys, the scale, an optional `masked_fill` with `−∞`, the
    softmax, optional dropout (a keep mask from the importer's generator,
    regenerated from the seed) and `linalg.batch_matmul` with the values;
    and in a `remat.backward` the four batch matmuls of its gradient (the
    gradients of the values, of the probabilities, of the queries and of
    the keys) with the element-wise chain between them.

    It replaces them by `remat.attention` in the forward and
    `remat.attention_grad` in the backward (FlashAttention-2's algorithm).
    The backward then reads the queries, keys, values, the output and the
    row log-sum-exp instead of the `B×H×S×S` scores, probabilities and
    dropout mask, and the lowering never allocates an `S×S` tensor: only
    blocks of `block-size` queries by `block-size` keys (rounded down to
    divisors of the sequence lengths). The dropout generator becomes the
    ops' `keep` region, so the mask is regenerated where it is used.

    Attention that does not match (another operand layout, a mask that is
    not a constant fill, a gradient read elsewhere) is left unchanged, with
    a remark that says what did not match; so is a function without
    attention.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"64",
           "Queries and keys per block (rounded down to a divisor of the "
           "sequence length)">
  ];
  let dependentDialects = ["::mlir::remat::RematDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
  let statistics = [
    Statistic<"numFused", "fused", "attentions fused">,
    Statistic<"numSkipped", "skipped", "attentions left unchanged">
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

def RematLowerHostMemoryPass : Pass<"remat-lower-host-memory", "::mlir::ModuleOp"> {
  let summary = "Allocate offloaded buffers from the runtime's host arena";
  let description = [{
    After bufferization, the copies `remat.offload` made live in memrefs of
    `#remat.memory_space<host>`, which the LLVM lowering does not know. This
    pass calls `rematHostAllocNext()` (declared in the module) before each
    allocation in that memory space, so that the runtime's next allocation
    comes from its host arena, and then drops the memory space from every
    type. The CPU runtime (`libRematRuntime`) keeps the host arena apart
    from the device heap: `rematPrintHeapStats` prints its own
    `remat-host:` line.

    With `gpu=true` (as `-remat-lower-to-nvvm` runs it, after
    `-remat-gpu-device-memory` has made each host allocation a
    `gpu.alloc host_shared`, which the CUDA runtime allocates as pinned host
    memory), the pass only drops the memory space, and makes each
    `gpu.alloc async host_shared` that `-gpu-async-region` made synchronous
    (the GPU runtime lowering takes no asynchronous host allocation; it
    happens on the host at once); a `memref.alloc` still in host memory is
    then an error.
  }];
  let options = [
    Option<"gpu", "gpu", "bool", /*default=*/"false",
           "Only drop the memory space (the GPU lowering allocates host "
           "buffers itself)">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numHostAllocs", "host-allocs",
              "Number of allocations moved to the host arena">
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

    With `reuse`, one `MemoryAnalyzer` analyzes the functions one after
    another, its tables kept between them, as the planner's search does on
    its copies of a step; the output is the same.
  }];
  let options = [
    Option<"reuse", "reuse", "bool", /*default=*/"false",
           "Analyze the functions with one MemoryAnalyzer, reusing its "
           "tables">
  ];
}

#endif // REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD
