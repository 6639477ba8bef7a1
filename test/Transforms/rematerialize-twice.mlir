// recompute-twice: 'first' and 'second' are both recomputed from 'shared';
// the backward reads 'first' at its start and 'second' at its end, and its
// peak lies between them. One clone of 'shared' is held across that peak;
// a clone per residual is not.
//
// RUN: remat-opt %s "-remat-rematerialize=budget=70% remarks=true" 2>&1 \
// RUN: | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget=70%" | FileCheck %s --check-prefix=IR
// RUN: remat-opt %s "-remat-rematerialize=budget=70%" -remat-finalize \
// RUN:   -canonicalize -cse | FileCheck %s --check-prefix=CSE
// RUN: remat-opt %s "-remat-rematerialize=budget=70% recompute-twice=to-fit remarks=true" 2>&1 \
// RUN: | FileCheck %s --check-prefix=FIT
// RUN: not remat-opt %s "-remat-rematerialize=budget=70% recompute-twice=never" 2>&1 \
// RUN: | FileCheck %s --check-prefix=NEVER
// RUN: remat-opt %s "-remat-rematerialize=budget-on=activations budget=1 remarks=true" 2>&1 \
// RUN: | FileCheck %s --check-prefix=PEAK
// RUN: remat-opt %s "-remat-rematerialize=budget-on=activations budget=1 recompute-twice=to-fit remarks=true" 2>&1 \
// RUN: | FileCheck %s --check-prefix=NOTNEEDED
// RUN: not remat-opt %s "-remat-rematerialize=budget=50%" 2>&1 \
// RUN: | FileCheck %s --check-prefix=INFEASIBLE
// RUN: not remat-opt %s "-remat-rematerialize=budget=70% recompute-twice=sometimes" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BAD

// No plan with one clone of 'shared' meets 70% (17203 bytes); recomputing
// everything with a clone per residual does.
// CHECK: remark: remat: recompute 'first' (4096 bytes; {{.*}}): auto: recomputed in the plan recomputing all 2 residual groups, which meets the budget only with shared values recomputed once per residual
// CHECK: remark: remat: recompute 'second'
// CHECK: remark: remat: recompute 'shared' (4096 bytes) once for each residual that needs it, not once for all: the predicted peak falls from 20480 to 16384 bytes for 0 more FLOPs
// CHECK: remark: remat: predicted peak 16384 bytes (without remat 24576, budget 17203); recompute 2 of 2 residuals
// The second clone reads its operands through a barrier of its own, each
// clone just before the residual that needs it.
// IR-LABEL: func.func @step
// IR: remat.backward
// IR: tensor.concat dim(0) [[A:%[a-z0-9_]+]], [[B:%[a-z0-9_]+]] :
// IR: remat.name "first"
// IR: math.exp
// IR: [[BAR:%[a-z0-9_]+]]:2 = remat.barrier [[A]], [[B]] {copy = 1 : i64}
// IR: tensor.concat dim(0) [[BAR]]#0, [[BAR]]#1 :
// IR: remat.name "second"

// CSE keeps the two clones (and the forward original) apart.
// CSE-LABEL: func.func @step
// CSE-COUNT-3: tensor.concat
// CSE-NOT: tensor.concat

// to-fit recomputes twice only as far as the budget needs: here too.
// FIT: remark: remat: recompute 'shared' (4096 bytes) once for each residual
// FIT: predicted peak 16384 bytes
// NEVER: error: remat: budget of 17203 bytes is infeasible: the lowest peak the auto planner reaches is 20480 bytes

// An activation budget of 1 byte recomputes both residuals; the default
// (peak) also recomputes 'shared' twice, as that lowers the peak, while
// to-fit does not, as the budget is met without it.
// PEAK: remark: remat: recompute 'shared' (4096 bytes) once for each residual that needs it, not once for all: the predicted peak falls from 20480 to 16384 bytes
// PEAK: remark: remat: predicted peak 16384 bytes
// NOTNEEDED-NOT: once for each residual
// NOTNEEDED: remark: remat: predicted peak 20480 bytes

// Below what second recomputes reach, the error names the plan that
// reached the lowest peak with them.
// INFEASIBLE: error: remat: budget of 12288 bytes is infeasible: the lowest peak the auto planner reaches is 16384 bytes (recomputing all 2 residual groups, with 1 shared values recomputed once per residual; without remat: 24576 bytes)

// BAD: error: remat-rematerialize: unknown recompute-twice 'sometimes' (expected peak, to-fit or never)

func.func @step(%xa: tensor<512xf32>, %xb: tensor<512xf32>, %seed: tensor<1024xf32>) -> (tensor<1024xf32>, tensor<1024xf32>) {
  %s0 = tensor.concat dim(0) %xa, %xb : (tensor<512xf32>, tensor<512xf32>) -> tensor<1024xf32>
  %s = remat.name "shared" %s0 : tensor<1024xf32>
  %e1 = tensor.empty() : tensor<1024xf32>
  %r1a = linalg.map { arith.mulf } ins(%s, %s : tensor<1024xf32>, tensor<1024xf32>) outs(%e1 : tensor<1024xf32>)
  %r1 = remat.name "first" %r1a : tensor<1024xf32>
  %e2 = tensor.empty() : tensor<1024xf32>
  %r2a = linalg.map { arith.addf } ins(%s, %s : tensor<1024xf32>, tensor<1024xf32>) outs(%e2 : tensor<1024xf32>)
  %r2 = remat.name "second" %r2a : tensor<1024xf32>
  %h1 = tensor.empty() : tensor<1024xf32>
  %y1 = linalg.map { arith.mulf } ins(%r1, %r2 : tensor<1024xf32>, tensor<1024xf32>) outs(%h1 : tensor<1024xf32>)
  %h2 = tensor.empty() : tensor<1024xf32>
  %y2 = linalg.map { math.exp } ins(%y1 : tensor<1024xf32>) outs(%h2 : tensor<1024xf32>)
  %h3 = tensor.empty() : tensor<1024xf32>
  %y3 = linalg.map { arith.mulf } ins(%y2, %y1 : tensor<1024xf32>, tensor<1024xf32>) outs(%h3 : tensor<1024xf32>)
  %h4 = tensor.empty() : tensor<1024xf32>
  %y4 = linalg.map { arith.addf } ins(%y3, %y1 : tensor<1024xf32>, tensor<1024xf32>) outs(%h4 : tensor<1024xf32>)
  %h5 = tensor.empty() : tensor<1024xf32>
  %y5 = linalg.map { arith.mulf } ins(%y4, %y2 : tensor<1024xf32>, tensor<1024xf32>) outs(%h5 : tensor<1024xf32>)
  %loss = remat.name "loss" %y5 : tensor<1024xf32>
  %g = remat.backward(%r1, %r2, %seed)
      : (tensor<1024xf32>, tensor<1024xf32>, tensor<1024xf32>) -> tensor<1024xf32> {
  ^bb0(%a: tensor<1024xf32>, %b: tensor<1024xf32>, %sd: tensor<1024xf32>):
    %f1 = tensor.empty() : tensor<1024xf32>
    %t1 = linalg.map { arith.mulf } ins(%a, %sd : tensor<1024xf32>, tensor<1024xf32>) outs(%f1 : tensor<1024xf32>)
    %f2 = tensor.empty() : tensor<1024xf32>
    %t2 = linalg.map { math.exp } ins(%t1 : tensor<1024xf32>) outs(%f2 : tensor<1024xf32>)
    %f3 = tensor.empty() : tensor<1024xf32>
    %t3 = linalg.map { arith.mulf } ins(%t2, %t1 : tensor<1024xf32>, tensor<1024xf32>) outs(%f3 : tensor<1024xf32>)
    %f4 = tensor.empty() : tensor<1024xf32>
    %t4 = linalg.map { arith.addf } ins(%t3, %t1 : tensor<1024xf32>, tensor<1024xf32>) outs(%f4 : tensor<1024xf32>)
    %f5 = tensor.empty() : tensor<1024xf32>
    %t5 = linalg.map { arith.mulf } ins(%t4, %b : tensor<1024xf32>, tensor<1024xf32>) outs(%f5 : tensor<1024xf32>)
    remat.yield %t5 : tensor<1024xf32>
  }
  return %loss, %g : tensor<1024xf32>, tensor<1024xf32>
}
