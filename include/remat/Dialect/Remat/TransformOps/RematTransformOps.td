//===- RematTransformOps.td - transform ops of remat -------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_TRANSFORMOPS_REMATTRANSFORMOPS_TD
#define REMAT_DIALECT_REMAT_TRANSFORMOPS_REMATTRANSFORMOPS_TD

include "mlir/Dialect/Transform/IR/TransformDialect.td"
include "mlir/Dialect/Transform/Interfaces/TransformInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

def RematApplyCheckpointsOp : Op<Transform_Dialect, "remat.apply_checkpoints",
    [FunctionalStyleTransformOpTrait, MemoryEffectsOpInterface,
     DeclareOpInterfaceMethods<TransformOpInterface>]> {
  let summary = "Applies the save policies of remat.checkpoint ops";
  let description = [{
    Runs `-remat-apply-checkpoints` on each payload op of `target` (a
    `func.func` or a module): the residuals each `remat.checkpoint`'s policy
    does not save are recomputed in the backward. The IR is the pass's.

    Consumes `target` and returns a handle to the same payload ops (their
    bodies change). Fails definitely, with the pass's diagnostics, where
    the pass fails.

    ```mlir
    %g = transform.remat.apply_checkpoints %f
        : (!transform.any_op) -> !transform.any_op
    ```
  }];
  let arguments = (ins TransformHandleTypeInterface:$target);
  let results = (outs TransformHandleTypeInterface:$result);
  let assemblyFormat =
      "$target attr-dict `:` functional-type(operands, results)";
}

def RematRematerializeOp : Op<Transform_Dialect, "remat.rematerialize",
    [FunctionalStyleTransformOpTrait, MemoryEffectsOpInterface,
     DeclareOpInterfaceMethods<TransformOpInterface>]> {
  let summary = "Plans what to recompute under a budget and applies the plan";
  let description = [{
    Runs `-remat-rematerialize` on each payload op of `target` (a
    `func.func` or a module) with `budget`, `strategy` and, in `options`,
    any other option of the pass by its name (`cost = "flops"`,
    `work-limit = 100000`, `remarks = true`). The IR, the remarks and the
    diagnostics are the pass's.

    Consumes `target` and returns a handle to the same payload ops. An
    unknown option, a bad value or an infeasible budget fails definitely
    with the pass's diagnostics.

    ```mlir
    %g = transform.remat.rematerialize %f
        {budget = "60%", strategy = "auto", options = {cost = "time"}}
        : (!transform.any_op) -> !transform.any_op
    ```
  }];
  let arguments = (ins TransformHandleTypeInterface:$target,
                       OptionalAttr<StrAttr>:$budget,
                       DefaultValuedAttr<StrAttr, "\"auto\"">:$strategy,
                       OptionalAttr<DictionaryAttr>:$options);
  let results = (outs TransformHandleTypeInterface:$result);
  let assemblyFormat =
      "$target attr-dict `:` functional-type(operands, results)";
}

#endif // REMAT_DIALECT_REMAT_TRANSFORMOPS_REMATTRANSFORMOPS_TD
