// RUN: remat-opt %s -remat-finalize -split-input-file | FileCheck %s
// RUN: remat-opt %s -remat-finalize -canonicalize -cse -split-input-file | FileCheck %s --check-prefix=CSE
// RUN: remat-opt %s -remat-finalize=barriers=false -canonicalize -cse -split-input-file | FileCheck %s --check-prefix=NOBARRIER

// A hand-written recompute: the forward computes %e = exp(%x) and the
// backward, instead of reading %e, recomputes exp from %x. After
// finalization, canonicalize and CSE must keep two exps: the recomputed one
// reads the barrier's result, not %x. Without barriers CSE merges them and
// the forward %e stays live until the backward, undoing the recomputation.

// CHECK-LABEL: func.func @recompute_survives_cse
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>, %[[SEED:.*]]: tensor<4xf32>)
// CHECK: %[[E:.*]] = math.exp %[[X]]
// CHECK: %[[L:.*]] = math.log %[[E]]
// CHECK: %[[B:.*]]:2 = remat.barrier %[[X]], %[[SEED]] : tensor<4xf32>, tensor<4xf32>
// CHECK: %[[R:.*]] = math.exp %[[B]]#0
// CHECK: %[[G:.*]] = arith.mulf %[[R]], %[[B]]#1
// CHECK: return %[[L]], %[[G]]
// CHECK-NOT: remat.

// CSE-LABEL: func.func @recompute_survives_cse
// CSE-SAME: (%[[X:.*]]: tensor<4xf32>, %[[SEED:.*]]: tensor<4xf32>)
// CSE: %[[E:.*]] = math.exp %[[X]]
// CSE: %[[B:.*]]:2 = remat.barrier %[[X]], %[[SEED]]
// CSE: %[[R:.*]] = math.exp %[[B]]#0
// CSE: arith.mulf %[[R]], %[[B]]#1

// NOBARRIER-LABEL: func.func @recompute_survives_cse
// NOBARRIER: %[[E:.*]] = math.exp
// NOBARRIER-NOT: math.exp
// NOBARRIER: arith.mulf %[[E]]
func.func @recompute_survives_cse(%x: tensor<4xf32>, %seed: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = math.exp %x : tensor<4xf32>
  %loss = math.log %e : tensor<4xf32>
  %g = remat.backward(%x, %seed) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%sx: tensor<4xf32>, %s: tensor<4xf32>):
    %re = math.exp %sx : tensor<4xf32>
    %d = arith.mulf %re, %s : tensor<4xf32>
    remat.yield %d : tensor<4xf32>
  }
  return %loss, %g : tensor<4xf32>, tensor<4xf32>
}

// -----

// Checkpoint bodies, nested ones included, are inlined in program order;
// names disappear; the results are the yielded values.

// CHECK-LABEL: func.func @checkpoints_and_names
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: %[[A:.*]] = math.exp %[[X]]
// CHECK-NEXT: %[[B:.*]] = math.tanh %[[A]]
// CHECK-NEXT: %[[C:.*]] = arith.addf %[[B]], %[[A]]
// CHECK-NEXT: %[[D:.*]] = math.sqrt %[[C]]
// CHECK-NEXT: return %[[D]], %[[A]]
func.func @checkpoints_and_names(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %r:2 = remat.checkpoint(%x) policy(#remat.policy<names = ["a"]>) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%in: tensor<4xf32>):
    %a0 = math.exp %in : tensor<4xf32>
    %a = remat.name "a" %a0 : tensor<4xf32>
    %c = remat.checkpoint(%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%ia: tensor<4xf32>):
      %b = math.tanh %ia : tensor<4xf32>
      %bn = remat.name "b" %b : tensor<4xf32>
      %s = arith.addf %bn, %ia : tensor<4xf32>
      remat.yield %s : tensor<4xf32>
    }
    remat.yield %c, %a : tensor<4xf32>, tensor<4xf32>
  }
  %d = math.sqrt %r#0 : tensor<4xf32>
  return %d, %r#1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// A backward without inputs needs no barrier.
// CHECK-LABEL: func.func @backward_no_inputs
// CHECK-NOT: remat.barrier
// CHECK: %[[C:.*]] = arith.constant dense<1.000000e+00>
// CHECK: return %[[C]]
func.func @backward_no_inputs() -> tensor<4xf32> {
  %g = remat.backward() : () -> tensor<4xf32> {
    %c = arith.constant dense<1.0> : tensor<4xf32>
    remat.yield %c : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}

// -----

// Fresh tensors of the forward and of the backward become alloc_tensor, so
// CSE cannot merge two of one shape: a merged tensor.empty gave two layers'
// transposes one buffer, held from the first to the last (measured on the
// BERT fixture: 48,768 bytes instead of 46,656).

// CSE-LABEL: func.func @fresh_tensors_stay_apart
// CSE: %[[A:.*]] = bufferization.alloc_tensor() : tensor<4x8xf32>
// CSE: linalg.transpose ins(%{{.*}} : tensor<8x4xf32>) outs(%[[A]]
// CSE: %[[B:.*]] = bufferization.alloc_tensor() : tensor<4x8xf32>
// CSE: linalg.transpose ins(%{{.*}} : tensor<8x4xf32>) outs(%[[B]]
// CSE: %[[C:.*]] = bufferization.alloc_tensor() : tensor<4x8xf32>
// CSE: linalg.transpose ins(%{{.*}} : tensor<8x4xf32>) outs(%[[C]]
// CSE-NOT: tensor.empty
func.func @fresh_tensors_stay_apart(%w0: tensor<8x4xf32>, %w1: tensor<8x4xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %e0 = tensor.empty() : tensor<4x8xf32>
  %t0 = linalg.transpose ins(%w0 : tensor<8x4xf32>) outs(%e0 : tensor<4x8xf32>) permutation = [1, 0]
  %e1 = tensor.empty() : tensor<4x8xf32>
  %t1 = linalg.transpose ins(%w1 : tensor<8x4xf32>) outs(%e1 : tensor<4x8xf32>) permutation = [1, 0]
  %g = remat.backward(%w0) : (tensor<8x4xf32>) -> tensor<4x8xf32> {
  ^bb0(%a: tensor<8x4xf32>):
    %e2 = tensor.empty() : tensor<4x8xf32>
    %t2 = linalg.transpose ins(%a : tensor<8x4xf32>) outs(%e2 : tensor<4x8xf32>) permutation = [1, 0]
    remat.yield %t2 : tensor<4x8xf32>
  }
  return %t0, %t1, %g : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// An alloc_tensor sits just before the first op that uses it: the buffer is
// allocated where the alloc_tensor is, and ops the importer or the recompute
// rewrite put between a tensor.empty and its writer would otherwise run with
// it allocated (on a 24-layer GPT, one logits-sized buffer: 8.5% of the
// peak, which the planner's tensor model did not predict).

// CHECK-LABEL: func.func @alloc_at_first_use
// CHECK: %[[T:.*]] = linalg.transpose
// CHECK: %[[E:.*]] = math.exp %[[T]]
// CHECK: %[[A:.*]] = bufferization.alloc_tensor() : tensor<4x8xf32>
// CHECK: linalg.transpose ins(%{{.*}} : tensor<8x4xf32>) outs(%[[A]]
// CHECK: math.exp
// CHECK: %[[B:.*]] = bufferization.alloc_tensor() : tensor<4x8xf32>
// CHECK: linalg.transpose ins(%{{.*}} : tensor<8x4xf32>) outs(%[[B]]
func.func @alloc_at_first_use(%w0: tensor<8x4xf32>, %w1: tensor<4x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %e0 = tensor.empty() : tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x8xf32>
  %t0 = linalg.transpose ins(%w0 : tensor<8x4xf32>) outs(%e1 : tensor<4x8xf32>) permutation = [1, 0]
  %x = math.exp %t0 : tensor<4x8xf32>
  %t1 = linalg.transpose ins(%w0 : tensor<8x4xf32>) outs(%e0 : tensor<4x8xf32>) permutation = [1, 0]
  %g:2 = remat.backward(%w0, %w1) : (tensor<8x4xf32>, tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  ^bb0(%a: tensor<8x4xf32>, %b: tensor<4x8xf32>):
    %e2 = tensor.empty() : tensor<4x8xf32>
    %r = math.exp %b : tensor<4x8xf32>
    %t2 = linalg.transpose ins(%a : tensor<8x4xf32>) outs(%e2 : tensor<4x8xf32>) permutation = [1, 0]
    remat.yield %t2, %r : tensor<4x8xf32>, tensor<4x8xf32>
  }
  return %x, %t1, %g#0 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Bodies that yield their own block arguments: the results become the
// values those arguments are bound to (the inputs, or the barrier's
// results). The op is replaced after its block is inlined and gone, so the
// yielded arguments must be translated first (a use after free before).

// CHECK-LABEL: func.func @yield_block_arguments
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>, %[[Y:.*]]: tensor<4xf32>)
// CHECK: %[[B:.*]]:2 = remat.barrier %[[X]], %[[Y]]
// CHECK: return %[[X]], %[[B]]#1, %[[B]]#0
// NOBARRIER-LABEL: func.func @yield_block_arguments
// NOBARRIER-SAME: (%[[X:.*]]: tensor<4xf32>, %[[Y:.*]]: tensor<4xf32>)
// NOBARRIER: return %[[X]], %[[Y]], %[[X]]
func.func @yield_block_arguments(%x: tensor<4xf32>, %y: tensor<4xf32>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %c = remat.checkpoint(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  %g:2 = remat.backward(%c, %y) : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    remat.yield %b, %a : tensor<4xf32>, tensor<4xf32>
  }
  return %c, %g#0, %g#1 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
