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
  }];
}

#endif // REMAT_DIALECT_REMAT_TRANSFORMS_PASSES_TD
