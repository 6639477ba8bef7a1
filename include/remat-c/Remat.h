/*===-- remat-c/Remat.h - C API of remat ------------------------*- C -*-===*/
/*                                                                          */
/* Part of the remat project.                                               */
/*                                                                          */
/*===----------------------------------------------------------------------===*/
/*                                                                          */
/* The C API of remat, in upstream MLIR's style (mlir-c/): register the     */
/* dialect and what its pipelines need, register the passes, and plan a     */
/* module with -remat-rematerialize, receiving the plan summary as JSON.    */
/* libRematCAPI.so also exports the upstream mlir-c functions a client      */
/* needs (context, registry, parsing, pass manager, printing, diagnostics), */
/* so a C program links it alone.                                           */
/*                                                                          */
/*===----------------------------------------------------------------------===*/

#ifndef REMAT_C_REMAT_H
#define REMAT_C_REMAT_H

#include "mlir-c/IR.h"
#include "mlir-c/Pass.h"
#include "mlir-c/Support.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The remat dialect alone: mlirGetDialectHandle__remat__(). */
MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(Remat, remat);

/* Adds remat and every upstream dialect, extension and interface model its
 * passes and pipelines use (the set remat-opt registers) to `registry`. */
MLIR_CAPI_EXPORTED void rematRegisterAllDialects(MlirDialectRegistry registry);

/* Registers remat's passes and pipelines, and upstream MLIR's passes, with
 * the global registry, so that textual pipelines can name them. */
MLIR_CAPI_EXPORTED void rematRegisterPasses(void);

/* Runs -remat-rematerialize with `options` (the pass's options as text, as
 * in `budget=90% strategy=auto`) on `module`, which it rewrites in place.
 * `callback` receives the plan summary once, as JSON text (what the pass's
 * plan-file holds: {"schema": "remat-plan/1", "plans": [...]}), also when
 * the budget is infeasible. Diagnostics go to the context's handlers.
 * Returns failure on bad options or when a plan fails. */
MLIR_CAPI_EXPORTED MlirLogicalResult rematPlan(MlirOperation module,
                                               MlirStringRef options,
                                               MlirStringCallback callback,
                                               void *userData);

/* For bindings (remat.compiler in Python): the whole round trip on text,
 * in a context of its own with rematRegisterAllDialects' dialects. Parses
 * `module` (MLIR text; `sourceName` names it in locations), runs `pipeline`
 * (a textual pass pipeline, such as builtin.module(remat-finalize)) and
 * hands the printed result to `output`. Every diagnostic goes to
 * `diagnostics` as remat-opt prints it ("file:line:col: error: ..."),
 * one call each. Returns failure when parsing, the pipeline or its run
 * fails. */
MLIR_CAPI_EXPORTED MlirLogicalResult rematRunPipelineOnText(
    MlirStringRef module, MlirStringRef sourceName, MlirStringRef pipeline,
    MlirStringCallback output, MlirStringCallback diagnostics, void *userData);

/* rematPlan on text: as rematRunPipelineOnText, with `summary` receiving
 * the plan summary (JSON) and `output` the planned module. */
MLIR_CAPI_EXPORTED MlirLogicalResult rematPlanText(
    MlirStringRef module, MlirStringRef sourceName, MlirStringRef options,
    MlirStringCallback summary, MlirStringCallback output,
    MlirStringCallback diagnostics, void *userData);

#ifdef __cplusplus
}
#endif

#endif /* REMAT_C_REMAT_H */
