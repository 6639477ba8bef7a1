// Tensor cores in the GPU pipeline: with mma=half the f16 matmul's kernel
// issues m16n8k16 MMAs; with mma=tf32 the f32 one issues m16n8k8 tf32 MMAs;
// without the option neither does. With ptxas, every kernel assembles for
// sm_90.
// RUN: remat-opt %s "-remat-lower-to-nvvm=mma=half" -o %t.half.mlir
// RUN: %extract_ptx %t.half.mlir | FileCheck %s --check-prefix=HALF
// RUN: remat-opt %s "-remat-lower-to-nvvm=mma=tf32" -o %t.tf32.mlir
// RUN: %extract_ptx %t.tf32.mlir | FileCheck %s --check-prefix=TF32
// RUN: remat-opt %s -remat-lower-to-nvvm -o %t.none.mlir
// RUN: %extract_ptx %t.none.mlir | FileCheck %s --check-prefix=NONE

// HALF: .maxntid 128, 1, 1
// HALF-COUNT-16: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// HALF-NOT: mma.sync
// TF32-COUNT-16: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// TF32-COUNT-32: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// NONE-NOT: mma.sync

func.func @step(%a: tensor<128x96xf16>, %b: tensor<96x80xf16>, %x: tensor<128x96xf32>, %w: tensor<96x80xf32>) -> (tensor<128x80xf32>, tensor<128x80xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<128x80xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<128x80xf32>) -> tensor<128x80xf32>
  %c = linalg.matmul ins(%a, %b : tensor<128x96xf16>, tensor<96x80xf16>) outs(%f : tensor<128x80xf32>) -> tensor<128x80xf32>
  %d = linalg.matmul ins(%x, %w : tensor<128x96xf32>, tensor<96x80xf32>) outs(%f : tensor<128x80xf32>) -> tensor<128x80xf32>
  return %c, %d : tensor<128x80xf32>, tensor<128x80xf32>
}
