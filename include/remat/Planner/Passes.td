//===- Passes.td - the planner's pass ----------------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_PLANNER_PASSES_TD
#define REMAT_PLANNER_PASSES_TD

include "mlir/Pass/PassBase.td"
include "remat/Analysis/TargetOptions.td"

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
      least recompute cost that meets the budget, pruned by a lower bound
      on the peak and one on the cost still to add; exact when it
      completes within `exact-work-limit`;
    - `exhaustive`: every subset (at most 26 groups), the reference for
      testing `optimal`; where no subset meets the budget as it is, every
      subset again, the cheapest first, with its shared values recomputed
      once per residual;
    - `layered`: a dynamic program over the chain of layers (layers whose
      ops match one layer's, aligned op by op): each segment of layers
      saves only its last layer's output and recomputes one pattern of a
      menu found on one layer (the exact frontier, least cost for the
      saved bytes, of every subset of the first 14 groups of the layer's
      own greedy ranking; its prefixes; nothing; all but the output; the
      attention core; the cheap ops); the segments
      and patterns minimize recompute cost under a model peak (saved
      bytes up to a segment's end plus the segment's recomputed bytes),
      corrected by evaluating each plan (at most 12): by one offset for
      the whole plan, and from the first plan that misses the budget by
      one per window of the backward (the head's, each layer's);
    - `auto` (default): greedy, then keeps saved what the budget allows
      and exchanges groups, where that lowers the cost; then, above
      `exact-limit` groups, the layered search, pruned and exchanged the
      same way; then any cheaper fixed schedule that meets the budget
      (pruned too); then, up to `exact-limit` groups, the exact search.

    Where no plan meets the budget, the lowest-peak plan and recomputing
    everything are tried with shared values recomputed once per residual
    (`recompute-twice`); `optimal` and `auto`, with at most 16 groups, also
    try every subset that way, the cheapest first, skipping those whose
    peak lower bound less the shared values' bytes misses the budget
    (within `work-limit`), and take the cheapest plan that meets it.

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
    The optional parts of the search (pruning the greedy plan, exchanging
    its groups, the layered search, second recomputes, and searching again
    when a plan misses the budget on the bufferized program) stop at
    `work-limit`, and the exact search at `exact-work-limit` of its own
    (it runs on small steps only, where an evaluation is cheap), both
    counted in op visits, so a plan depends only on the function and the
    options, at any machine load. `time-limit` is an outer safety net. A
    search cut by any of them, or an `auto` that skips the exact search
    because of `exact-limit`, says so in the summary remark
    (`search cut: ...`).

    A budget that cannot be met is an error that names the lowest peak
    reached and what is live at it (the buffers largest first, those of one
    size grouped: `2.32 GiB in 11 buffers: 3 x 785 MiB (log_softmax, ...)`). `remarks` explains every decision:
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
           "exhaustive, layered or auto">,
    Option<"cost", "cost", "std::string", /*default=*/"\"time\"",
           "What to minimize: time (roofline seconds) or flops (FLOPs with "
           "each transcendental op weighted 8 times; "
           "reports give raw FLOPs)">,
    Option<"every", "every", "unsigned", /*default=*/"2",
           "Layers per segment of strategy every-n">,
    Option<"workLimit", "work-limit", "uint64_t", /*default=*/"1000000",
           "Work the optional parts of the search may do, in op visits (a "
           "plan evaluation costs the function's op count); plans depend "
           "only on the input and the options while this limit, not "
           "time-limit, stops the search">,
    Option<"exactWorkLimit", "exact-work-limit", "uint64_t",
           /*default=*/"4000000",
           "Work the exact search for the least-cost plan may do (optimal, "
           "and auto up to exact-limit groups), in op visits, beside "
           "work-limit">,
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
    Option<"offload", "offload", "bool", /*default=*/"false",
           "Offload, as a third choice: a buffer the plan recomputes is "
           "copied to host memory and back instead where that costs less "
           "modeled time and the peak still meets the budget; below the "
           "lowest peak recomputing reaches, buffers the plan saves go to "
           "host memory until the budget is met">,
    Option<"link", "link", "std::string", /*default=*/"\"pcie5\"",
           "The host link offloaded buffers cross: pcie4, pcie5, c2c, or a "
           "bandwidth in GB/s">,
    Option<"rewrites", "rewrites", "std::string", /*default=*/"\"none\"",
           "Rewrites of the step the plan may use: none, chunk-loss (chunk "
           "the loss as -remat-chunk-loss does, then plan), fuse-attention "
           "(fuse attention as -remat-fuse-attention does), all (both) or "
           "auto (plan without them and with each combination; take the "
           "plan that meets the budget in the least modeled step time)">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Emit a remark for every decision and a summary per function">,
    Option<"planFile", "plan-file", "std::string", /*default=*/"\"\"",
           "Write the plan summary of every planned function as JSON to "
           "this path (docs/plan.schema.json), also when a budget is "
           "infeasible">,
  ], RematTargetOptions);
  let statistics = [
    Statistic<"numRecomputed", "recomputed", "residuals recomputed">,
    Statistic<"numEvaluations", "evaluations", "plans whose peak was predicted">,
    Statistic<"numFolded", "folded-transposes",
              "backward transposes of saved transposes folded">,
  ];
}

#endif // REMAT_PLANNER_PASSES_TD
