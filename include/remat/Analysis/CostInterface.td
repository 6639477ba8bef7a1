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

#endif // REMAT_ANALYSIS_COSTINTERFACE_TD
