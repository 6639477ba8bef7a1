//===- RematBase.td - remat dialect definition -------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_IR_REMATBASE_TD
#define REMAT_DIALECT_REMAT_IR_REMATBASE_TD

include "mlir/IR/OpBase.td"

def Remat_Dialect : Dialect {
  let name = "remat";
  let cppNamespace = "::mlir::remat";
  let summary = "Rematerialization (gradient checkpointing) of training steps";
  let description = [{
    The `remat` dialect expresses which forward values a training step keeps
    for its backward pass and which it recomputes.

    A training step is one `func.func` on tensors. Its backward computation
    lives in a `remat.backward` region whose operand list is the *saved set*:
    every forward value the backward reads. A forward segment can be wrapped in
    a `remat.checkpoint` region with a policy, the IR form of
    `torch.utils.checkpoint` and `jax.checkpoint`. `remat.name` tags values for
    policies and reports, and `remat.barrier` is an identity that CSE and
    folding cannot see through, so that a recomputed value never merges back
    into its forward original.

    `-remat-finalize` lowers all of these ops to plain upstream IR.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

class Remat_Op<string mnemonic, list<Trait> traits = []>
    : Op<Remat_Dialect, mnemonic, traits>;

#endif // REMAT_DIALECT_REMAT_IR_REMATBASE_TD
