// RUN: remat-opt %s "-remat-rematerialize=budget=24KiB remarks=true" \
// RUN:     -verify-diagnostics | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget=24KiB cost=flops" | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=strategy=greedy budget=24KiB" | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=strategy=optimal budget=24KiB" | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=strategy=exhaustive budget=24KiB" | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget=24KiB peak-model=bufferized" | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget=24KiB verify=false work-limit=0 exact-limit=0" | FileCheck %s
// RUN: remat-opt %s -remat-rematerialize=strategy=none | FileCheck %s --check-prefix=KEEP
// RUN: not remat-opt %s "-remat-rematerialize=strategy=none budget=1KiB" 2>&1 \
// RUN: | FileCheck %s --check-prefix=NONE-MISSED
// RUN: remat-opt %s -remat-rematerialize | FileCheck %s --check-prefix=KEEP
// RUN: remat-opt %s "-remat-rematerialize=budget=100%" | FileCheck %s --check-prefix=KEEP
// RUN: remat-opt %s "-remat-rematerialize=budget=86%" | FileCheck %s
// RUN: remat-opt %s "-remat-rematerialize=budget=86% strategy=greedy remarks=true" 2>&1 \
// RUN: | FileCheck %s --check-prefix=GREEDY
// RUN: remat-opt %s "-remat-rematerialize=budget=86% strategy=optimal remarks=true" 2>&1 \
// RUN: | FileCheck %s --check-prefix=OPTIMAL
// RUN: remat-opt %s "-remat-rematerialize=budget=86% strategy=exhaustive remarks=true" 2>&1 \
// RUN: | FileCheck %s --check-prefix=EXHAUSTIVE
// RUN: not remat-opt %s "-remat-rematerialize=budget=20KiB" 2>&1 \
// RUN: | FileCheck %s --check-prefix=INFEASIBLE
// RUN: not remat-opt %s "-remat-rematerialize=budget=20KiB strategy=exhaustive" 2>&1 \
// RUN: | FileCheck %s --check-prefix=INFEASIBLE-EXHAUSTIVE
// RUN: not remat-opt %s "-remat-rematerialize=budget=lots" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADBUDGET
// RUN: not remat-opt %s "-remat-rematerialize=budget=-5%" 2>&1 \
// RUN: | FileCheck %s --check-prefix=NEGBUDGET
// Budgets out of range: no overflow into a negative budget, no NaN.
// RUN: for b in 1e99GiB 1e19 1e99; do \
// RUN:   not remat-opt %s -remat-rematerialize=budget=$b 2>&1; \
// RUN: done | FileCheck %s --check-prefix=HUGEBUDGET
// RUN: for b in nan inf nan% inf% -inf; do \
// RUN:   not remat-opt %s -remat-rematerialize=budget=$b 2>&1; \
// RUN: done | FileCheck %s --check-prefix=NANBUDGET
// A huge percentage is a budget trivially met.
// RUN: remat-opt %s "-remat-rematerialize=budget=1e99%" | FileCheck %s --check-prefix=KEEP
// RUN: not remat-opt %s -remat-rematerialize=strategy=magic 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADSTRATEGY
// RUN: not remat-opt %s -remat-rematerialize=cost=joules 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADCOST
// RUN: not remat-opt %s -remat-rematerialize=target=tpu 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADTARGET
// RUN: not remat-opt %s "-remat-rematerialize=strategy=every-n every=0" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADEVERY
// RUN: not remat-opt %s "-remat-rematerialize=time-limit=-1" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADTIME
// RUN: not remat-opt %s -remat-rematerialize=peak-model=oracle 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADMODEL
// RUN: for s in full every-n sqrt; do \
// RUN:   not remat-opt %s -remat-rematerialize=strategy=$s 2>&1; \
// RUN: done | FileCheck %s --check-prefix=NOLAYERS
// RUN: not remat-opt %s "-remat-rematerialize=strategy=layered budget=20KiB" 2>&1 \
// RUN: | FileCheck %s --check-prefix=NOLAYERS-LAYERED
// RUN: not remat-opt %s -remat-rematerialize=strategy=selective 2>&1 \
// RUN: | FileCheck %s --check-prefix=NOCORE

// Two 4 KiB residuals: a matmul and an exp. The backward first builds two
// large temporaries from the matmul, then uses the exp. The bufferized peak
// without remat is 28 KiB (exp held across the temporaries). Recomputing the
// exp just before its use lowers it to 24 KiB; recomputing the matmul would
// not (its first use is where the peak is). So a 24 KiB budget recomputes
// the exp, the cheaper one by bytes per second and per FLOP, and keeps the
// matmul; 20 KiB is infeasible.

// CHECK-LABEL: func.func @step
// CHECK: %[[MM:.*]] = remat.name "mm"
// CHECK: remat.backward(%[[MM]], %arg2, %arg3, %arg1)
// CHECK: linalg.matmul
// CHECK: linalg.matmul
// CHECK: %[[E:.*]] = linalg.generic
// CHECK: math.exp
// CHECK: %[[R:.*]] = remat.name "exp" %[[E]]
// CHECK: arith.addf %[[R]], %[[R]]
// KEEP-LABEL: func.func @step
// KEEP: remat.backward(%{{.*}}, %{{.*}}, %arg2, %arg3) :
// KEEP-NOT: math.exp
// KEEP: remat.yield
// FLOPs are raw, as the report counts them: exp over 32x32 is 1024 (the
// cost=flops objective weights it 8 times).
// GREEDY: remark: remat: recompute 'exp' (4096 bytes; 1024 FLOPs, 0.002445 us): rank 1 by bytes per recompute second among the saved residuals
// GREEDY: remark: remat: save 'mm' (4096 bytes): rank 2: the budget is met without it
// GREEDY: remark: remat: predicted peak 24576 bytes (without remat 28672, budget 24657); recompute 1 of 2 residuals, 1024 FLOPs, 0.002445 us; saved activations 4096 bytes; plan greedy, 3 peak evaluations; search complete; peak 24.0 KiB (85.7% of 28.0 KiB without remat), saved activations 4.00 KiB (50.0% of 8.00 KiB), recompute 0.002445 us (4.9% of the 0.05013 us step)
// OPTIMAL: remark: remat: recompute 'exp' {{.*}}: recomputed as part of the least-cost plan meeting the budget (proven: the branch and bound completed); the greedy ranking found it first (rank 1)
// OPTIMAL: remark: remat: save 'mm' (4096 bytes): saved as part of the least-cost plan meeting the budget (proven: the branch and bound completed); the greedy ranking found it first (rank 2)
// OPTIMAL: remark: remat: predicted peak 24576 bytes {{.*}} plan optimal (proven optimal)
// EXHAUSTIVE: remark: remat: recompute 'exp' {{.*}}: recomputed as part of the least-cost plan meeting the budget (every subset tried)
// EXHAUSTIVE: remark: remat: predicted peak 24576 bytes {{.*}} plan exhaustive (proven optimal)
// INFEASIBLE-NOT: error
// INFEASIBLE: error: remat: budget of 20480 bytes is infeasible: the lowest peak the auto planner reaches is 24576 bytes (recomputing the first 1 of 2 residual groups of the greedy ranking; none lower: the exact search completed; without remat: 28672 bytes); at that peak live: 24.0 KiB in 2 buffers: 16.0 KiB (linalg.fill), 8.00 KiB (linalg.fill)
// The schedules auto tried that do not apply to this step (no layers, no
// attention core) are skipped silently; what was checked is a note; the
// function is not printed.
// INFEASIBLE-NOT: error: remat
// INFEASIBLE-NOT: see current operation
// INFEASIBLE: note: on the bufferized program, the lowest peak of the plans checked is 24576 bytes
// INFEASIBLE-NOT: error: remat
// INFEASIBLE-NOT: see current operation
// INFEASIBLE-EXHAUSTIVE: error: remat: budget of 20480 bytes is infeasible: the lowest peak the exhaustive planner reaches is 24576 bytes (recomputing all 2 residual groups; no subset meets the budget; without remat: 28672 bytes)
// BADBUDGET: error: remat-rematerialize: budget 'lots' is malformed (expected e.g. 512MiB, 6GiB, 4096 or 40%)
// HUGEBUDGET: error: remat-rematerialize: budget '1e99GiB' is larger than remat plans for (at most 4 EiB)
// HUGEBUDGET: error: remat-rematerialize: budget '1e19' is larger than remat plans for (at most 4 EiB)
// HUGEBUDGET: error: remat-rematerialize: budget '1e99' is larger than remat plans for (at most 4 EiB)
// NANBUDGET-COUNT-5: must be a positive, finite size or percentage
// NEGBUDGET: error: remat-rematerialize: budget '-5%' must be a positive, finite size or percentage
// NONE-MISSED: error: remat: budget of 1024 bytes is infeasible for strategy none: its plan peaks at 28672 bytes (without remat: 28672 bytes)
// BADSTRATEGY: error: remat-rematerialize: unknown strategy 'magic' (expected none, full, every-n, sqrt, selective, mincut, greedy, optimal, exhaustive, layered or auto)
// BADSTRATEGY-NOT: see current operation
// BADSTRATEGY-NOT: func.func
// BADCOST: error: remat-rematerialize: unknown cost 'joules' (expected time or flops)
// BADTARGET: unknown target 'tpu'
// BADEVERY: error: remat-rematerialize: every must be at least 1
// BADTIME: error: remat-rematerialize: time-limit must be a finite number of seconds, at least 0
// BADMODEL: error: remat-rematerialize: unknown peak-model 'oracle' (expected tensor or bufferized)
// NOLAYERS: error: remat: strategy full needs layers, but no forward op has a name location with a numeric path component (such as 'blocks.0.attn.mm')
// NOLAYERS: error: remat: strategy every-n needs layers
// NOLAYERS: error: remat: strategy sqrt needs layers
// NOLAYERS-LAYERED: error: remat: strategy layered needs layers: at least two with the same ops, named by location (such as 'blocks.0.attn.mm') or found as a repeated op sequence
// NOLAYERS-NOT: see current operation
// NOCORE: error: remat: strategy selective found no attention core
// NOCORE-NOT: see current operation

// expected-remark @below {{remat: predicted peak 24576 bytes (without remat 28672, budget 24576); recompute 1 of 2 residuals, 1024 FLOPs, 0.002445 us; saved activations 4096 bytes; plan greedy (proven optimal)}}
func.func @step(%x: tensor<32x32xf32> {bufferization.writable = false},
                %w: tensor<32x32xf32> {bufferization.writable = false},
                %v: tensor<32x64xf32>, %u: tensor<64x128xf32>)
    -> (tensor<32x128xf32>, tensor<32x32xf32>) {
  %z = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<32x32xf32>
  %f = linalg.fill ins(%z : f32) outs(%e0 : tensor<32x32xf32>) -> tensor<32x32xf32>
  %mm0 = linalg.matmul ins(%x, %w : tensor<32x32xf32>, tensor<32x32xf32>)
                       outs(%f : tensor<32x32xf32>) -> tensor<32x32xf32>
  // expected-remark @below {{remat: save 'mm' (4096 bytes): auto: saved as part of the least-cost plan meeting the budget (proven: the branch and bound completed); the greedy ranking found it first (rank 2)}}
  %mm = remat.name "mm" %mm0 : tensor<32x32xf32>
  %ee = tensor.empty() : tensor<32x32xf32>
  %e1 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<32x32xf32>) outs(%ee : tensor<32x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %ex = math.exp %in : f32
    linalg.yield %ex : f32
  } -> tensor<32x32xf32>
  // expected-remark @below {{remat: recompute 'exp' (4096 bytes; 1024 FLOPs, 0.002445 us): auto: recomputed as part of the least-cost plan meeting the budget (proven: the branch and bound completed); the greedy ranking found it first (rank 1)}}
  %e = remat.name "exp" %e1 : tensor<32x32xf32>
  %g:2 = remat.backward(%mm, %e, %v, %u)
      : (tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x64xf32>, tensor<64x128xf32>)
     -> (tensor<32x128xf32>, tensor<32x32xf32>) {
  ^bb0(%a: tensor<32x32xf32>, %b: tensor<32x32xf32>, %bv: tensor<32x64xf32>, %bu: tensor<64x128xf32>):
    %zb = arith.constant 0.0 : f32
    %ep = tensor.empty() : tensor<32x64xf32>
    %fp = linalg.fill ins(%zb : f32) outs(%ep : tensor<32x64xf32>) -> tensor<32x64xf32>
    %p = linalg.matmul ins(%a, %bv : tensor<32x32xf32>, tensor<32x64xf32>)
                       outs(%fp : tensor<32x64xf32>) -> tensor<32x64xf32>
    %eq = tensor.empty() : tensor<32x128xf32>
    %fq = linalg.fill ins(%zb : f32) outs(%eq : tensor<32x128xf32>) -> tensor<32x128xf32>
    %q = linalg.matmul ins(%p, %bu : tensor<32x64xf32>, tensor<64x128xf32>)
                       outs(%fq : tensor<32x128xf32>) -> tensor<32x128xf32>
    %r = arith.addf %b, %b : tensor<32x32xf32>
    remat.yield %q, %r : tensor<32x128xf32>, tensor<32x32xf32>
  }
  return %g#0, %g#1 : tensor<32x128xf32>, tensor<32x32xf32>
}
