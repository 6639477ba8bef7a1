//===- CostInterface.td - op cost interface ----------------*- tablegen -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_ANALYSIS_COSTINTERFACE_TD
#define REMAT_ANALYSIS_COSTINTERFACE_TD

include "mlir/IR/OpBase.td"

def Remat_CostOpInterface : OpInterface<"CostOpInterface"> {
  let description = [{
    The work one execution of an op does, for the rematerialization cost
    model: its floating-point and integer operations (FLOPs), how many of
    those are transcendental (exp, tanh, log, ...), and the bytes it reads
    and writes. remat attaches models to the upstream ops that transformer
    graphs use; another dialect plugs in by implementing this interface.
  }];
  let cppNamespace = "::mlir::remat";
  let methods = [
    InterfaceMethod<[{
        Returns the cost of one execution of this op, or failure when it is
        not known statically (dynamic shapes, say). The default is the
        conservative estimate of `estimateUnmodeledCost`: one FLOP per
        result element, every operand read and every result written.
      }],
      "::mlir::FailureOr<::mlir::remat::OpCost>", "getCost", (ins),
      /*methodBody=*/"",
      /*defaultImplementation=*/[{
        return ::mlir::remat::estimateUnmodeledCost($_op);
      }]>
  ];
}

def Remat_WorkspaceOpInterface : OpInterface<"WorkspaceOpInterface"> {
  let description = [{
    The temporary buffers an op allocates and frees while it runs, beyond
    its results: a fused op that loops over chunks holds one chunk's
    intermediates at a time. The memory model counts them live at the op's
    program point only, each rounded up to the allocation alignment, as the
    lowered loop's allocations are.
  }];
  let cppNamespace = "::mlir::remat";
  let methods = [
    InterfaceMethod<[{
        Returns the size in bytes of each temporary buffer live while the
        op runs (all at once).
      }],
      "::llvm::SmallVector<int64_t>", "getWorkspaceBuffers", (ins)>
  ];
}

#endif // REMAT_ANALYSIS_COSTINTERFACE_TD
