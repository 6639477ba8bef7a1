// budget-on=activations: the budget bounds the bytes the forward saves for
// the backward instead of the peak.
// RUN: remat-opt %s "-remat-rematerialize=budget-on=activations budget=4096 remarks=true" 2>&1 \
// RUN: | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget-on=activations budget=50% strategy=greedy remarks=true" 2>&1 \
// RUN: | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget-on=activations budget=4096 strategy=exhaustive remarks=true" 2>&1 \
// RUN: | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget-on=peak budget=100%" \
// RUN: | FileCheck %s --check-prefix=KEEP
// RUN: not remat-opt %s "-remat-rematerialize=budget-on=activations budget=2048" 2>&1 \
// RUN: | FileCheck %s --check-prefix=INFEASIBLE
// RUN: not remat-opt %s "-remat-rematerialize=budget-on=heap budget=4096" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADON

// The call's result cannot be recomputed (a call may have effects), so at
// least its 4096 bytes stay saved; the exp is recomputed.
// CHECK: remark: remat: recompute 'exp' (4096 bytes;
// CHECK: remark: remat: save 'opaque' (4096 bytes): the backward reads it and it cannot be recomputed ('func.call' may have effects or is outside the step's block)
// CHECK: remark: remat: predicted peak {{[0-9]+}} bytes (without remat {{[0-9]+}}, activation budget 4096); recompute 1 of 1 residuals, {{.*}}; saved activations 4096 bytes
// CHECK-LABEL: func.func @step
// CHECK: remat.backward
// CHECK: math.exp
// KEEP-LABEL: func.func @step
// KEEP: remat.backward
// KEEP-NOT: math.exp
// INFEASIBLE: error: remat: activation budget of 2048 bytes is infeasible: the fewest activation bytes the auto planner reaches is 4096 (recomputing all 1 residual groups; without remat: 8192)
// BADON: error: remat-rematerialize: unknown budget-on 'heap' (expected peak or activations)

module {
func.func private @opaque(tensor<32x32xf32>) -> tensor<32x32xf32>

func.func @step(%x: tensor<32x32xf32>, %w: tensor<32x32xf32>,
                %seed: tensor<32x32xf32>) -> tensor<32x32xf32> {
  %c0 = func.call @opaque(%x) : (tensor<32x32xf32>) -> tensor<32x32xf32>
  %c = remat.name "opaque" %c0 : tensor<32x32xf32>
  %ee = tensor.empty() : tensor<32x32xf32>
  %e1 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<32x32xf32>) outs(%ee : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %ex = math.exp %in : f32
    linalg.yield %ex : f32
  } -> tensor<32x32xf32>
  %e = remat.name "exp" %e1 : tensor<32x32xf32>
  %g = remat.backward(%c, %e, %seed)
      : (tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<32x32xf32> {
  ^bb0(%a: tensor<32x32xf32>, %b: tensor<32x32xf32>, %s: tensor<32x32xf32>):
    %m = arith.mulf %a, %b : tensor<32x32xf32>
    %d = arith.mulf %m, %s : tensor<32x32xf32>
    remat.yield %d : tensor<32x32xf32>
  }
  return %g : tensor<32x32xf32>
}
}
