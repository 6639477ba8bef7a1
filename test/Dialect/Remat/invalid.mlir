// RUN: remat-opt %s -split-input-file -verify-diagnostics

// An unknown policy kind names the kinds that exist.
func.func @unknown_policy(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{unknown policy kind 'some'; expected one of 'nothing', 'dots', 'names', 'everything'}}
  %r = remat.checkpoint(%x) policy(#remat.policy<some>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// A 'names' policy with an empty list saves nothing and is rejected.
func.func @empty_names(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{policy 'names' needs at least one name}}
  %r = remat.checkpoint(%x) policy(#remat.policy<names = []>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// A 'names' policy without a list is rejected the same way.
func.func @names_without_list(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{policy 'names' needs at least one name}}
  %r = remat.checkpoint(%x) policy(#remat.policy<names>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// An empty string is not a name.
func.func @empty_name(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{policy name #1 is empty}}
  %r = remat.checkpoint(%x) policy(#remat.policy<names = ["a", ""]>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// A name listed twice is a mistake worth reporting.
func.func @duplicate_name(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{policy names 'attn.q' more than once}}
  %r = remat.checkpoint(%x) policy(#remat.policy<names = ["attn.q", "attn.k", "attn.q"]>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// Only the 'names' policy takes names.
func.func @names_on_dots(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{policy 'dots' takes no names}}
  %r = remat.checkpoint(%x) policy(#remat.policy<dots = ["a"]>) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// The entry block must have one argument per input.
func.func @checkpoint_arg_count(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{'remat.checkpoint' op expects 2 block arguments to match its inputs, but the body has 1}}
  %r = remat.checkpoint(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// Block argument types must match the input types.
func.func @backward_arg_type(%x: tensor<4xf32>) -> tensor<4xf16> {
  // expected-error @below {{'remat.backward' op block argument #0 has type 'tensor<4xf16>' but input #0 has type 'tensor<4xf32>'}}
  %r = remat.backward(%x) : (tensor<4xf32>) -> tensor<4xf16> {
  ^bb0(%a: tensor<4xf16>):
    remat.yield %a : tensor<4xf16>
  }
  return %r : tensor<4xf16>
}

// -----

// The yield must produce one value per result.
func.func @yield_count(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %r:2 = remat.backward(%x) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @below {{'remat.yield' op yields 1 values, but the parent 'remat.backward' has 2 results}}
    remat.yield %a : tensor<4xf32>
  }
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// Yielded types must match the result types.
func.func @yield_type(%x: tensor<4xf32>) -> tensor<8xf32> {
  %r = remat.checkpoint(%x) : (tensor<4xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @below {{'remat.yield' op operand #0 has type 'tensor<4xf32>' but the parent's result #0 has type 'tensor<8xf32>'}}
    remat.yield %a : tensor<4xf32>
  }
  return %r : tensor<8xf32>
}

// -----

// A body must end with remat.yield.
func.func @no_yield(%x: tensor<4xf32>) {
  // expected-error @below {{'remat.backward' op expects its body to end with 'remat.yield'}}
  "remat.backward"(%x) ({
  ^bb0(%a: tensor<4xf32>):
    llvm.unreachable
  }) : (tensor<4xf32>) -> ()
  return
}

// -----

// Region ops are isolated from above: the body reads only its arguments.
func.func @not_isolated(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @below {{required by region isolation constraints}}
  %r = remat.checkpoint(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @below {{using value defined outside the region}}
    %s = arith.addf %a, %y : tensor<4xf32>
    remat.yield %s : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// remat.yield only terminates remat region ops.
func.func @yield_outside() {
  // expected-error @below {{'remat.yield' op expects parent op to be one of 'remat.checkpoint, remat.backward, remat.attention, remat.attention_grad'}}
  remat.yield
}

// -----

// A tag must not be empty.
func.func @empty_tag(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{'remat.name' op expects a non-empty tag}}
  %n = remat.name "" %x : tensor<4xf32>
  return %n : tensor<4xf32>
}

// -----

// A name is an identity: its result has its operand's type.
func.func @name_type(%x: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @below {{'remat.name' op failed to verify that all of {input, result} have same type}}
  %n = "remat.name"(%x) {tag = "a"} : (tensor<4xf32>) -> tensor<8xf32>
  return %n : tensor<8xf32>
}

// -----

// A barrier without operands guards nothing.
func.func @empty_barrier() {
  // expected-error @below {{'remat.barrier' op expects at least one operand}}
  "remat.barrier"() : () -> ()
  return
}

// -----

// A barrier's results have its operands' types.
func.func @barrier_type(%x: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @below {{'remat.barrier' op result #0 has type 'tensor<8xf32>' but operand #0 has type 'tensor<4xf32>'}}
  %b = "remat.barrier"(%x) : (tensor<4xf32>) -> tensor<8xf32>
  return %b : tensor<8xf32>
}

// -----

// A barrier returns each operand, so counts match.
func.func @barrier_count(%x: tensor<4xf32>) {
  // expected-error @below {{'remat.barrier' op has 1 operands but 2 results; a barrier returns each operand}}
  %b:2 = "remat.barrier"(%x) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// A backward outside a function is no training step: finalization would
// rewrite every function's empties.
// expected-error @below {{'remat.backward' op expects to be nested in a function (a training step)}}
remat.backward() : () -> () {
  remat.yield
}

// -----

// Likewise a checkpoint.
// expected-error @below {{'remat.checkpoint' op expects to be nested in a function (a training step)}}
remat.checkpoint() : () -> () {
  remat.yield
}

// -----

// remat.linear_cross_entropy: x is not a matrix.
func.func @lce_x_rank(%x: tensor<16xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{expects x to be a static 2-d tensor of floats, got 'tensor<16xf32>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16xf32>, tensor<32x8xf32>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: x of integers.
func.func @lce_x_int(%x: tensor<16x8xi32>, %w: tensor<32x8xi32>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{expects x to be a static 2-d tensor of floats, got 'tensor<16x8xi32>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xi32>, tensor<32x8xi32>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: w's columns are not x's features.
func.func @lce_w_rows(%x: tensor<16x8xf32>, %w: tensor<32x9xf32>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{expects w to have size 8 in dim 1, got 'tensor<32x9xf32>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x9xf32>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: w of another element type.
func.func @lce_w_type(%x: tensor<16x8xf32>, %w: tensor<32x8xbf16>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{expects w of 'f32' elements, got 'tensor<32x8xbf16>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xbf16>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: a target per token.
func.func @lce_targets_size(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<15xi64>) -> tensor<f32> {
  // expected-error @below {{expects targets to have size 16 in dim 0, got 'tensor<15xi64>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<15xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: float targets.
func.func @lce_targets_float(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xf32>) -> tensor<f32> {
  // expected-error @below {{expects integer targets, got 'tensor<16xf32>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xf32> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: a chunk that does not divide the tokens.
func.func @lce_chunk(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{chunk_size 5 does not divide the 16 tokens}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 5 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: an f64 sum.
func.func @lce_sum_type(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>) -> tensor<f64> {
  // expected-error @below {{expects nll_sum of 'f32' elements, got 'tensor<f64>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64> -> tensor<f64>, tensor<16xf32>
  return %sum : tensor<f64>
}

// -----

// remat.linear_cross_entropy: an lse per token.
func.func @lce_lse_size(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{expects lse to have size 16 in dim 0, got 'tensor<8xf32>'}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64> -> tensor<f32>, tensor<8xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy: a chunk of no tokens.
func.func @lce_chunk_zero(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>) -> tensor<f32> {
  // expected-error @below {{attribute 'chunk_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t {chunk_size = 0 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64> -> tensor<f32>, tensor<16xf32>
  return %sum : tensor<f32>
}

// -----

// remat.linear_cross_entropy_grad: an lse per token.
func.func @lceg_lse(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>, %l: tensor<8xf32>, %g: tensor<f32>, %n: tensor<f32>) -> tensor<16x8xf32> {
  // expected-error @below {{expects lse to have size 16 in dim 0, got 'tensor<8xf32>'}}
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<8xf32>, tensor<f32>, tensor<f32> -> tensor<16x8xf32>, tensor<32x8xf32>
  return %dx : tensor<16x8xf32>
}

// -----

// remat.linear_cross_entropy_grad: a 1-d loss gradient.
func.func @lceg_grad(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>, %l: tensor<16xf32>, %g: tensor<1xf32>, %n: tensor<f32>) -> tensor<16x8xf32> {
  // expected-error @below {{expects grad to be a static tensor of rank 0, got 'tensor<1xf32>'}}
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>, tensor<1xf32>, tensor<f32> -> tensor<16x8xf32>, tensor<32x8xf32>
  return %dx : tensor<16x8xf32>
}

// -----

// remat.linear_cross_entropy_grad: an integer count.
func.func @lceg_count(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>, %l: tensor<16xf32>, %g: tensor<f32>, %n: tensor<i64>) -> tensor<16x8xf32> {
  // expected-error @below {{expects total_weight of 'f32' elements, got 'tensor<i64>'}}
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>, tensor<f32>, tensor<i64> -> tensor<16x8xf32>, tensor<32x8xf32>
  return %dx : tensor<16x8xf32>
}

// -----

// remat.linear_cross_entropy_grad: a dx of another shape.
func.func @lceg_dx(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>, %l: tensor<16xf32>, %g: tensor<f32>, %n: tensor<f32>) -> tensor<8x16xf32> {
  // expected-error @below {{expects dx to have size 16 in dim 0, got 'tensor<8x16xf32>'}}
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>, tensor<f32>, tensor<f32> -> tensor<8x16xf32>, tensor<32x8xf32>
  return %dx : tensor<8x16xf32>
}

// -----

// remat.linear_cross_entropy_grad: a dw not in the layout of w.
func.func @lceg_dw(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>, %l: tensor<16xf32>, %g: tensor<f32>, %n: tensor<f32>) -> tensor<16x8xf32> {
  // expected-error @below {{expects dw to have size 32 in dim 0, got 'tensor<8x32xf32>'}}
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n {chunk_size = 4 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>, tensor<f32>, tensor<f32> -> tensor<16x8xf32>, tensor<8x32xf32>
  return %dx : tensor<16x8xf32>
}

// -----

// remat.linear_cross_entropy_grad: its operands are checked as the forward's.
func.func @lceg_chunk(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>, %l: tensor<16xf32>, %g: tensor<f32>, %n: tensor<f32>) -> tensor<16x8xf32> {
  // expected-error @below {{chunk_size 3 does not divide the 16 tokens}}
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n {chunk_size = 3 : i64, ignore_index = -100 : i64} : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>, tensor<f32>, tensor<f32> -> tensor<16x8xf32>, tensor<32x8xf32>
  return %dx : tensor<16x8xf32>
}

// -----

// remat.attention: q is not 4-d.
func.func @f(%q: tensor<4x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{expects q to be a static 4-d tensor of floats of at most 32 bits, got 'tensor<4x8x4xf32>'}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<4x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: k's depth is not q's.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x5xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{expects k to have size 4 in dim 3, got 'tensor<2x2x8x5xf32>'}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x5xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: v of another element type.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xbf16>) {
  // expected-error @below {{expects v of 'f32' elements, got 'tensor<2x2x8x4xbf16>'}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xbf16> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: block_q does not divide the queries.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{block_q 3 does not divide the 8 queries}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 3 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: block_k does not divide the keys.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{block_k 5 does not divide the 8 keys}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 5 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a mask of floats.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %m: tensor<8x8xf32>) {
  // expected-error @below {{expects the mask to be a static tensor of i1, got 'tensor<8x8xf32>'}}
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xf32>) attributes {block_k = 4 : i64, block_q = 4 : i64, mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a mask without its map.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %m: tensor<8x8xi1>) {
  // expected-error @below {{expects a mask_map with the mask}}
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xi1>) attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a mask map of the wrong rank.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %m: tensor<8x8xi1>) {
  // expected-error @below {{expects mask_map to map the 4 score indices to the mask's 2, got affine_map<(d0, d1, d2, d3) -> (d3)>}}
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xi1>) attributes {block_k = 4 : i64, block_q = 4 : i64, mask_map = affine_map<(d0, d1, d2, d3) -> (d3)>, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a mask map that does not fit the mask.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %m: tensor<2x8xi1>) {
  // expected-error @below {{mask_map result 0 does not index the mask's dim of size 2}}
  %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<2x8xi1>) attributes {block_k = 4 : i64, block_q = 4 : i64, mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a mask map without a mask.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{has a mask_map but no mask}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a seed without dropout_scale.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %s: tensor<i64>) {
  // expected-error @below {{expects dropout_scale and a seed together, or neither}}
  %out, %lse = remat.attention %q, %k, %v seed(%s : tensor<i64>) attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %sd: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return
}

// -----

// remat.attention: a seed of another type.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %s: tensor<i32>) {
  // expected-error @below {{expects seed of 'i64' elements, got 'tensor<i32>'}}
  %out, %lse = remat.attention %q, %k, %v seed(%s : tensor<i32>) attributes {block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %sd: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return
}

// -----

// remat.attention: out of the wrong shape.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{expects out to have size 2 in dim 1, got 'tensor<2x4x8x4xf32>'}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x4x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: lse not f32.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{expects lse of 'f32' elements, got 'tensor<2x2x8xbf16>'}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xbf16>
  return
}

// -----

// remat.attention: a keep region without dropout.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>) {
  // expected-error @below {{has a keep region but no dropout seed}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %sd: i64):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return
}

// -----

// remat.attention: dropout without a keep region.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %s: tensor<i64>) {
  // expected-error @below {{expects a keep region of one block with dropout}}
  %out, %lse = remat.attention %q, %k, %v seed(%s : tensor<i64>) attributes {block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  return
}

// -----

// remat.attention: a keep region with the wrong arguments.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %s: tensor<i64>) {
  // expected-error @below {{expects the keep region's arguments to be (index, index, index, index, i64)}}
  %out, %lse = remat.attention %q, %k, %v seed(%s : tensor<i64>) attributes {block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c = arith.cmpi ult, %i, %j : index
    remat.yield %c : i1
  }
  return
}

// -----

// remat.attention: a keep region that yields no bit.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %s: tensor<i64>) {
  // expected-error @below {{expects the keep region to yield one i1 (the keep bit)}}
  %out, %lse = remat.attention %q, %k, %v seed(%s : tensor<i64>) attributes {block_k = 4 : i64, block_q = 4 : i64, dropout_scale = 1.25 : f64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %sd: i64):
    remat.yield %sd : i64
  }
  return
}

// -----

// remat.attention_grad: dout of the wrong shape.
func.func @f(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>, %v: tensor<2x2x8x4xf32>, %o: tensor<2x2x8x4xf32>, %l: tensor<2x2x8xf32>, %do: tensor<2x2x4x4xf32>) {
  // expected-error @below {{expects dout to have size 8 in dim 2, got 'tensor<2x2x4x4xf32>'}}
  %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %o, %l, %do attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8xf32>, tensor<2x2x4x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
  return
}

// -----

// remat.attention: f64 (the lowering computes in f32).
func.func @f(%q: tensor<2x2x8x4xf64>, %k: tensor<2x2x8x4xf64>, %v: tensor<2x2x8x4xf64>) {
  // expected-error @below {{expects q to be a static 4-d tensor of floats of at most 32 bits, got 'tensor<2x2x8x4xf64>'}}
  %out, %lse = remat.attention %q, %k, %v attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64} : tensor<2x2x8x4xf64>, tensor<2x2x8x4xf64>, tensor<2x2x8x4xf64> -> tensor<2x2x8x4xf64>, tensor<2x2x8xf32>
  return
}

// -----

// remat.reload reads only what remat.offload made.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{'remat.reload' op expects its operand to be the host copy of a remat.offload (through remat.backward arguments and remat.barrier)}}
  %r = remat.reload %x : tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// Offload and reload keep the type.
func.func @f(%x: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @below {{'remat.offload' op failed to verify that all of {input, result} have same type}}
  %h = "remat.offload"(%x) : (tensor<4xf32>) -> tensor<8xf32>
  return %h : tensor<8xf32>
}

// -----

// Only static tensors are offloaded.
func.func @f(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @below {{'remat.offload' op operand #0 must be statically shaped tensor of any type values, but got 'tensor<?xf32>'}}
  %h = remat.offload %x : tensor<?xf32>
  return %h : tensor<?xf32>
}
