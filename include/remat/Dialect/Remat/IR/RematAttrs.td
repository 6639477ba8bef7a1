//===- RematAttrs.td - remat attributes --------------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_IR_REMATATTRS_TD
#define REMAT_DIALECT_REMAT_IR_REMATATTRS_TD

include "remat/Dialect/Remat/IR/RematBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Remat_PolicyKind : I32EnumAttr<"PolicyKind", "checkpoint policy kind", [
    I32EnumAttrCase<"Nothing", 0, "nothing">,
    I32EnumAttrCase<"Dots", 1, "dots">,
    I32EnumAttrCase<"Names", 2, "names">,
    I32EnumAttrCase<"Everything", 3, "everything">
  ]> {
  let cppNamespace = "::mlir::remat";
  let genSpecializedAttr = 0;
}

def Remat_PolicyAttr : AttrDef<Remat_Dialect, "Policy"> {
  let mnemonic = "policy";
  let summary = "Which inner values of a checkpoint region are saved";
  let description = [{
    The policy of a `remat.checkpoint` region says which of its inner values
    the backward pass may read directly. Every other inner value that the
    backward reads is recomputed from what is saved.

    - `nothing` (the default): save only the region's inputs, as
      `torch.utils.checkpoint` does.
    - `dots`: also save the results of contractions (matmul-like ops), as
      `jax.checkpoint_policies.dots_saveable` does.
    - `names = ["a", "b"]`: also save the values tagged by `remat.name` with
      one of these names, as `save_only_these_names` does.
    - `everything`: save every value; the checkpoint is off.

    Example:

    ```mlir
    #remat.policy<nothing>
    #remat.policy<dots>
    #remat.policy<names = ["attn.q", "attn.k"]>
    #remat.policy<everything>
    ```
  }];
  let parameters = (ins
    "::mlir::remat::PolicyKind":$kind,
    OptionalArrayRefParameter<"::mlir::StringAttr">:$names
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Returns true if a value tagged `name` is saved under this policy.
    bool savesName(::llvm::StringRef name) const;
  }];
}

def Remat_MemorySpace : I32EnumAttr<"MemorySpace", "where a buffer lives", [
    I32EnumAttrCase<"Host", 1, "host">
  ]> {
  let cppNamespace = "::mlir::remat";
  let genSpecializedAttr = 0;
}

def Remat_MemorySpaceAttr : EnumAttr<Remat_Dialect, Remat_MemorySpace,
                                     "memory_space"> {
  let summary = "The memory space of buffers offloaded to host memory";
  let description = [{
    `#remat.memory_space<host>` is the memory space of the buffers that
    `remat.offload` bufferizes to: host memory, outside the device budget.
    The memory model counts such buffers in a host arena of their own, and
    `-remat-lower-host-memory` lowers their allocations to the host
    allocator of the runtime.

    Example:

    ```mlir
    %h = memref.alloc() : memref<4x8xf32, #remat.memory_space<host>>
    ```
  }];
  let assemblyFormat = "`<` $value `>`";
}

#endif // REMAT_DIALECT_REMAT_IR_REMATATTRS_TD
