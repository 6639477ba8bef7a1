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
    ParentOneOf<["CheckpointOp", "BackwardOp"]>]> {
  let summary = "Terminator of remat region ops";
  let description = [{
    `remat.yield` ends the body of `remat.checkpoint` and `remat.backward`.
    Its operands become the parent's results and must match them in number
    and type.

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

#endif // REMAT_DIALECT_REMAT_IR_REMATOPS_TD
