//===- TargetOptions.td - roofline target pass options -----*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_ANALYSIS_TARGETOPTIONS_TD
#define REMAT_ANALYSIS_TARGETOPTIONS_TD

include "mlir/Pass/PassBase.td"

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

#endif // REMAT_ANALYSIS_TARGETOPTIONS_TD
