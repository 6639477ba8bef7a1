//===- RematOps.td - remat operations ----------------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_IR_REMATOPS_TD
#define REMAT_DIALECT_REMAT_IR_REMATOPS_TD

include "remat/Dialect/Remat/IR/RematBase.td"
include "remat/Dialect/Remat/IR/RematAttrs.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpAsmInterface.td"

//===----------------------------------------------------------------------===//
// CheckpointOp
//===----------------------------------------------------------------------===//

def Remat_CheckpointOp : Remat_Op<"checkpoint", [
    IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects]> {
  let summary = "A forward segment whose inner values follow a save policy";
  let description = [{
    `remat.checkpoint` wraps a segment of the forward pass, the IR form of
    `torch.utils.checkpoint` and `jax.checkpoint`. It is isolated from above:
    everything the body reads comes in through `inputs`, which become the
    entry block's arguments one for one. The body ends in `remat.yield`, which
    yields the segment's outputs and any inner values the backward pass reads.

    The optional `policy` (default `#remat.policy<nothing>`) says which inner
    values stay saved; `-remat-apply-checkpoints` recomputes the others in the
    backward pass. `-remat-finalize` inlines the body at the op's position.

    Example:

    ```mlir
    %y, %h = remat.checkpoint(%x, %w) policy(#remat.policy<dots>)
        : (tensor<4x8xf32>, tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
    ^bb0(%a: tensor<4x8xf32>, %b: tensor<8x8xf32>):
      %init = tensor.empty() : tensor<4x8xf32>
      %mm = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x8xf32>)
                          outs(%init : tensor<4x8xf32>) -> tensor<4x8xf32>
      %t = math.tanh %mm : tensor<4x8xf32>
      remat.yield %t, %mm : tensor<4x8xf32>, tensor<4x8xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs,
                       OptionalAttr<Remat_PolicyAttr>:$policy);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` (`policy` `(` qualified($policy)^ `)`)? attr-dict `:`
    functional-type($inputs, $results) $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// Returns the policy, or `#remat.policy<nothing>` when none is set.
    ::mlir::remat::PolicyAttr getEffectivePolicy();
    /// Returns the terminator of the body.
    ::mlir::remat::YieldOp getYield();
  }];
}

//===----------------------------------------------------------------------===//
// BackwardOp
//===----------------------------------------------------------------------===//

def Remat_BackwardOp : Remat_Op<"backward", [
    IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects]> {
  let summary = "The backward computation of a training step";
  let description = [{
    `remat.backward` holds the backward pass. It is isolated from above, so
    its operand list is exactly what the backward reads from the forward pass:
    the saved values (residuals), primal inputs and gradient seeds. This list
    is the saved set, visible in the IR. Its results are the gradients.

    A rematerialization rewrite drops a residual from the operand list, adds
    the values it is recomputed from, and clones the forward ops that compute
    it into the body, each just before its first use. Because the body is
    isolated, CSE cannot merge a recomputed value with its forward original.

    Example:

    ```mlir
    %dx = remat.backward(%a, %seed) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%sa: tensor<4xf32>, %g: tensor<4xf32>):
      %d = arith.mulf %sa, %g : tensor<4xf32>
      remat.yield %d : tensor<4xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// Returns the terminator of the body.
    ::mlir::remat::YieldOp getYield();
  }];
}

//===----------------------------------------------------------------------===//
// YieldOp
//===----------------------------------------------------------------------===//

def Remat_YieldOp : Remat_Op<"yield", [
    Pure, ReturnLike, Terminator,
    ParentOneOf<["CheckpointOp", "BackwardOp", "AttentionOp",
                 "AttentionGradOp"]>]> {
  let summary = "Terminator of remat region ops";
  let description = [{
    `remat.yield` ends the body of `remat.checkpoint` and `remat.backward`.
    Its operands become the parent's results and must match them in number
    and type. It also ends the `keep` region of `remat.attention` and
    `remat.attention_grad`, with the element's keep bit (`i1`).

    Example:

    ```mlir
    remat.yield %a, %b : tensor<4xf32>, tensor<8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

//===----------------------------------------------------------------------===//
// NameOp
//===----------------------------------------------------------------------===//

def Remat_NameOp : Remat_Op<"name", [
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Tags a value with a name for policies and reports";
  let description = [{
    `remat.name` is an identity: its result is its operand, tagged with a
    non-empty name. Checkpoint policies (`names = [...]`) and reports refer to
    values by these names, which usually come from the module hierarchy of
    the model (`blocks.3.attn.softmax`). The op has no folder, so it survives
    canonicalization; `-remat-finalize` removes it. For the memory model the
    result is a view of its operand.

    Example:

    ```mlir
    %q = remat.name "blocks.0.attn.q" %0 : tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$tag, AnyType:$input);
  let results = (outs AnyType:$result);
  let assemblyFormat = "$tag $input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// BarrierOp
//===----------------------------------------------------------------------===//

def Remat_BarrierOp : Remat_Op<"barrier", [Pure]> {
  let summary = "An identity that CSE and folding cannot see through";
  let description = [{
    `remat.barrier` returns its operands unchanged, like XLA's optimization
    barrier. Passes cannot prove that a result equals its operand, so a value
    computed from a barrier's result is never merged by CSE with the same
    computation on the operand. `-remat-finalize` routes the inputs of an
    inlined `remat.backward` through a barrier, which keeps recomputed values
    distinct from their forward originals. When the rematerialization
    recomputes a value once for each residual that needs it, every clone
    after the first reads its operands through a barrier with a `copy = k`
    attribute (its k-th copy), which keeps the clones distinct from each
    other.

    One-Shot Bufferize treats each result as an alias of its operand, with no
    copy; `-remat-strip-barriers` removes barriers once they have done their
    job (after bufferization).

    Example:

    ```mlir
    %b:2 = remat.barrier %x, %y : tensor<4xf32>, tensor<8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let assemblyFormat = [{
    $inputs attr-dict `:` type($inputs)
    custom<ResultTypesOfInputs>(type($results), ref(type($inputs)))
  }];
  let builders = [
    OpBuilder<(ins "::mlir::ValueRange":$inputs), [{
      build($_builder, $_state, inputs.getTypes(), inputs);
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// OffloadOp and ReloadOp
//===----------------------------------------------------------------------===//

def Remat_OffloadOp : Remat_Op<"offload", [
    AllTypesMatch<["input", "result"]>,
    MemoryEffects<[MemAlloc<DefaultResource>, MemRead<DefaultResource>]>]> {
  let summary = "Copies a residual to host memory for the backward";
  let description = [{
    `remat.offload` starts copying a forward value to host memory; its
    result is that host copy, a value the backward reads only through
    `remat.reload`. The device buffer of the operand is free after its last
    forward use, as if it were recomputed, and the copy costs link time
    instead of recompute time: an offloaded residual is the planner's third
    choice beside saving and recomputing it (`-remat-rematerialize`'s
    `offload` option).

    The result has the operand's type; the memory model counts it in the
    host arena, not against the device budget. It bufferizes to an
    allocation in `#remat.memory_space<host>` and a copy. The op allocates,
    so it is never recomputed, hoisted or merged by CSE.

    Example:

    ```mlir
    %h = remat.offload %x : tensor<4x8xf32>
    %dx = remat.backward(%h, %seed) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
    ^bb0(%hx: tensor<4x8xf32>, %g: tensor<4x8xf32>):
      %x2 = remat.reload %hx : tensor<4x8xf32>
      %d = arith.mulf %x2, %g : tensor<4x8xf32>
      remat.yield %d : tensor<4x8xf32>
    }
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$input);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Remat_ReloadOp : Remat_Op<"reload", [
    AllTypesMatch<["input", "result"]>,
    MemoryEffects<[MemAlloc<DefaultResource>, MemRead<DefaultResource>]>]> {
  let summary = "Copies an offloaded value back to device memory";
  let description = [{
    `remat.reload` copies the host copy that `remat.offload` made back into a
    new device buffer, just before the backward's first use of it. Its
    operand must be the result of a `remat.offload`, directly or through the
    arguments of `remat.backward` and `remat.barrier`.

    Example:

    ```mlir
    %x2 = remat.reload %hx : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$input);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LinearCrossEntropyOp
//===----------------------------------------------------------------------===//

def Remat_LinearCrossEntropyOp : Remat_Op<"linear_cross_entropy", [Pure]> {
  let summary = "The sum of a linear layer's cross-entropy, chunk by chunk";
  let description = [{
    Computes, for `N` tokens with features `x` (`N×H`), the classifier
    weight `w` (`V×H`, as `nn.Linear` stores it) and integer `targets`
    (`N`):

    - `logits = x · wᵀ`, in the element type `T` of `x` (as `linalg.matmul`
      does), then extended to f32;
    - `lse[n] = log Σ_v exp(logits[n, v])`, the row log-sum-exp (f32);
    - `nll_sum = Σ_n (lse[n] − logits[n, targets[n]])` over the tokens
      whose target is not `ignore_index` (f32).

    `nll_sum` divided by the number of tokens that count is PyTorch's
    `cross_entropy(..., reduction="mean")`. The op never holds the `N×V`
    logits: its lowering (`-convert-remat-to-linalg`) loops over chunks of
    `chunk_size` tokens (which divides `N`), and only one chunk's logits
    (`chunk_size × V` elements of `T`) lives at a time. `lse` is what the
    gradient (`remat.linear_cross_entropy_grad`) needs to recompute each
    chunk's probabilities. `-remat-chunk-loss` makes this op from the
    log-softmax and negative log-likelihood that the importer emits.

    Example:

    ```mlir
    %sum, %lse = remat.linear_cross_entropy %x, %w, %targets
        {chunk_size = 4 : i64, ignore_index = -100 : i64}
        : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>
        -> tensor<f32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$w,
                       AnyRankedTensor:$targets,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size,
                       I64Attr:$ignore_index);
  let results = (outs AnyRankedTensor:$nll_sum, AnyRankedTensor:$lse);
  let assemblyFormat = [{
    $x `,` $w `,` $targets attr-dict `:` type($x) `,` type($w) `,`
    type($targets) `->` type($nll_sum) `,` type($lse)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LinearCrossEntropyGradOp
//===----------------------------------------------------------------------===//

def Remat_LinearCrossEntropyGradOp
    : Remat_Op<"linear_cross_entropy_grad", [Pure]> {
  let summary = "The gradient of a linear layer's mean cross-entropy, "
                "recomputing each chunk's logits";
  let description = [{
    The backward of `remat.linear_cross_entropy` followed by the division
    by the token count, for the loss gradient `grad` and that count
    `total_weight` (both 0-d f32). With `p = exp(logits − lse)` and
    `valid[n]` whether `targets[n]` is not `ignore_index`:

    - `dlogits[n, v] = valid[n] · grad / total_weight · (p[n, v] − [v = targets[n]])`,
      truncated to `T`;
    - `dx = dlogits · w` (`N×H`) and `dw = dlogitsᵀ · x` (`V×H`, the
      layout of `w`).

    The lowering recomputes each chunk's logits from `x` and `w` (one more
    `chunk_size × H × V` matmul per chunk) and holds two chunk-sized
    buffers at a time, never the `N×V` logits or their gradient.

    Example:

    ```mlir
    %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %targets, %lse,
        %grad, %count {chunk_size = 4 : i64, ignore_index = -100 : i64}
        : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>,
          tensor<f32>, tensor<f32> -> tensor<16x8xf32>, tensor<32x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$w,
                       AnyRankedTensor:$targets, AnyRankedTensor:$lse,
                       AnyRankedTensor:$grad, AnyRankedTensor:$total_weight,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size,
                       I64Attr:$ignore_index);
  let results = (outs AnyRankedTensor:$dx, AnyRankedTensor:$dw);
  let assemblyFormat = [{
    $x `,` $w `,` $targets `,` $lse `,` $grad `,` $total_weight attr-dict
    `:` type($x) `,` type($w) `,` type($targets) `,` type($lse) `,`
    type($grad) `,` type($total_weight) `->` type($dx) `,` type($dw)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// AttentionOp and AttentionGradOp
//===----------------------------------------------------------------------===//

class Remat_AttentionOpBase<string mnemonic, list<Trait> traits = []>
    : Remat_Op<mnemonic, !listconcat(traits, [
        Pure, AttrSizedOperandSegments, IsolatedFromAbove])> {
  code attentionDescription = [{
    The attention of `q` (`B×H×Sq×D`) over `k` (`B×H×Sk×D`) and `v`
    (`B×H×Sk×Dv`), in the element type `T` of `q` and with f32 scores:

    - `s[b,h,i,j] = scale · Σ_d q[b,h,i,d] · k[b,h,j,d]`, then `−∞` where
      the optional `mask` (an `i1` tensor read at `mask_map(b,h,i,j)`) is
      true, as `masked_fill` does;
    - `p = softmax_j(s)` and `lse[b,h,i] = log Σ_j exp(s[b,h,i,j])`;
    - with dropout (a `seed` and a `keep` region), `p` times
      `keep(b,h,i,j,seed)` (0 or 1) times `dropout_scale`: the region
      computes an element's keep bit from its indices and the 0-d `i64`
      seed alone (the importer's Philox generator), so the mask is never
      stored: each pass regenerates it;
    - `out[b,h,i,:] = Σ_j p[b,h,i,j] · v[b,h,j,:]`.

    The lowering (`-convert-remat-to-linalg`) never holds a `Sq×Sk` tensor:
    it loops over blocks of `block_q` queries (and `block_k` keys), each
    block's scores live only while that block is computed.
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Remat_AttentionOp : Remat_AttentionOpBase<"attention"> {
  let summary = "Scaled dot-product attention that keeps no s² tensor";
  let description = attentionDescription # [{

    The forward keeps only `out` and the row log-sum-exp `lse` (f32), which
    `remat.attention_grad` needs to recompute the probabilities block by
    block (FlashAttention-2's algorithm: an online softmax over key
    blocks). `-remat-fuse-attention` makes this op from the attention the
    importer emits.

    Example:

    ```mlir
    %out, %lse = remat.attention %q, %k, %v mask(%m : tensor<8x8xi1>)
        attributes {block_k = 4 : i64, block_q = 4 : i64,
         mask_map = affine_map<(d0, d1, d2, d3) -> (d2, d3)>,
         scale = 0.35 : f64}
        : tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>
        -> tensor<2x2x8x8xf32>, tensor<2x2x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k,
                       AnyRankedTensor:$v,
                       Optional<AnyRankedTensor>:$mask,
                       Optional<AnyRankedTensor>:$seed,
                       F64Attr:$scale,
                       OptionalAttr<AffineMapAttr>:$mask_map,
                       OptionalAttr<F64Attr>:$dropout_scale,
                       ConfinedAttr<I64Attr, [IntPositive]>:$block_q,
                       ConfinedAttr<I64Attr, [IntPositive]>:$block_k);
  let results = (outs AnyRankedTensor:$out, AnyRankedTensor:$lse);
  let regions = (region AnyRegion:$keep);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`seed` `(` $seed^ `:` type($seed) `)`)? attr-dict-with-keyword
    `:` type($q) `,` type($k) `,` type($v) `->` type($out) `,` type($lse)
    ($keep^)?
  }];
}

def Remat_AttentionGradOp : Remat_AttentionOpBase<"attention_grad"> {
  let summary = "The gradient of remat.attention, recomputing the "
                "probabilities block by block";
  let description = attentionDescription # [{

    Given the forward's `out` and `lse` and the gradient `dout` of `out`,
    returns the gradients of `q`, `k` and `v`. For each block of keys and
    each block of queries it recomputes the scores, `p = exp(s − lse)` and
    the keep bits, then accumulates `dv += pᵀ·dout`, `dp = dout·vᵀ`,
    `ds = p · (dp − Σ_n dout·out) · scale`, `dq += ds·k` and `dk += dsᵀ·q`
    in f32. Nothing `Sq×Sk` is saved or allocated.

    Example:

    ```mlir
    %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %out, %lse, %dout
        attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.35 : f64}
        : tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>,
          tensor<2x2x8x8xf32>, tensor<2x2x8xf32>, tensor<2x2x8x8xf32>
        -> tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k,
                       AnyRankedTensor:$v, AnyRankedTensor:$out,
                       AnyRankedTensor:$lse, AnyRankedTensor:$dout,
                       Optional<AnyRankedTensor>:$mask,
                       Optional<AnyRankedTensor>:$seed,
                       F64Attr:$scale,
                       OptionalAttr<AffineMapAttr>:$mask_map,
                       OptionalAttr<F64Attr>:$dropout_scale,
                       ConfinedAttr<I64Attr, [IntPositive]>:$block_q,
                       ConfinedAttr<I64Attr, [IntPositive]>:$block_k);
  let results = (outs AnyRankedTensor:$dq, AnyRankedTensor:$dk,
                      AnyRankedTensor:$dv);
  let regions = (region AnyRegion:$keep);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $out `,` $lse `,` $dout
    (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`seed` `(` $seed^ `:` type($seed) `)`)? attr-dict-with-keyword
    `:` type($q) `,` type($k) `,` type($v) `,` type($out) `,` type($lse) `,`
    type($dout) `->` type($dq) `,` type($dk) `,` type($dv) ($keep^)?
  }];
}

#endif // REMAT_DIALECT_REMAT_IR_REMATOPS_TD
