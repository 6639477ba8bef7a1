// REQUIRES: ptxas
// Fused attention through -remat-lower-to-nvvm: its kernels (one forward,
// three gradient) in their own gpu.module, with their tiles in shared
// memory, accepted by ptxas for sm_90 in f32 with a mask and dropout and
// in bf16. With attention-kernels=false the ops go through their linalg
// loops instead, and no such module exists.
// RUN: rm -rf %t && mkdir -p %t
// RUN: remat-opt %s -remat-lower-to-nvvm -o %t/a.mlir
// RUN: %extract_ptx %t/a.mlir --split %t/ptx
// RUN: %extract_ptx %t/a.mlir | FileCheck %s --check-prefix=PTX
// RUN: for f in %t/ptx/*.ptx; do %ptxas -arch=sm_90 $f -o /dev/null || exit 1; \
// RUN:   echo "assembled $(basename $f)"; done | FileCheck %s --check-prefix=PTXAS
// RUN: remat-opt %s "-remat-lower-to-nvvm=attention-kernels=false format=nvvm" \
// RUN: | FileCheck %s --check-prefix=LOOPS

// PTX: .visible .entry attention_0(
// PTX: .shared .align {{[0-9]+}} .b8 {{.*}}[{{[0-9]+}}];
// PTX: bar.sync 0;
// PTX: .visible .entry attention_grad_delta_0(
// PTX: .visible .entry attention_grad_dkdv_0(
// PTX: bar.sync 0;
// PTX: .visible .entry attention_grad_dq_0(
// PTX: bar.sync 0;
// PTX: .visible .entry attention_1(
// PTX: cvt.f32.bf16
// PTXAS: assembled remat_attention_kernels.ptx

// LOOPS-NOT: remat_attention_kernels
// LOOPS: gpu.module
// LOOPS-NOT: remat_attention_kernels

func.func @step(%q: tensor<2x2x40x8xf32>, %k: tensor<2x2x40x8xf32>,
                %v: tensor<2x2x40x8xf32>, %m: tensor<40x40xi1>,
                %seed: tensor<i64>, %do: tensor<2x2x40x8xf32>)
    -> (tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>,
        tensor<2x2x40x8xf32>) {
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<40x40xi1>)
      seed(%seed : tensor<i64>) attributes {
        block_k = 8 : i64, block_q = 8 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.35 : f64}
      : tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>
      -> tensor<2x2x40x8xf32>, tensor<2x2x40xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %out, %lse, %do
      mask(%m : tensor<40x40xi1>) seed(%seed : tensor<i64>) attributes {
        block_k = 8 : i64, block_q = 8 : i64, dropout_scale = 1.25 : f64,
        mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.35 : f64}
      : tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>,
        tensor<2x2x40x8xf32>, tensor<2x2x40xf32>, tensor<2x2x40x8xf32>
      -> tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %s: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return %out, %dq, %dk, %dv : tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>,
                               tensor<2x2x40x8xf32>, tensor<2x2x40x8xf32>
}

func.func @half(%q: tensor<1x4x72x16xbf16>, %k: tensor<1x4x72x16xbf16>,
                %v: tensor<1x4x72x16xbf16>)
    -> (tensor<1x4x72x16xbf16>, tensor<1x4x72xf32>) {
  %out, %lse = remat.attention %q, %k, %v attributes {
        block_k = 8 : i64, block_q = 8 : i64, scale = 0.25 : f64}
      : tensor<1x4x72x16xbf16>, tensor<1x4x72x16xbf16>, tensor<1x4x72x16xbf16>
      -> tensor<1x4x72x16xbf16>, tensor<1x4x72xf32>
  return %out, %lse : tensor<1x4x72x16xbf16>, tensor<1x4x72xf32>
}
