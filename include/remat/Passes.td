//===- Passes.td - every remat pass, for the generated reference ----------===//
//
// Part of the remat project.
//
// docs/Passes.md is generated from this file (`ninja -C build remat-docs`).
//
//===----------------------------------------------------------------------===//

include "remat/Dialect/Remat/Transforms/Passes.td"
include "remat/Planner/Passes.td"
include "remat/Conversion/Passes.td"
