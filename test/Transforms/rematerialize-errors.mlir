// RUN: remat-opt %s -remat-rematerialize -verify-diagnostics

// The planner plans one remat.backward per function.

// expected-error @below {{the planner handles one remat.backward per function, found 2}}
func.func @two_backwards(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = math.exp %x : tensor<4xf32>
  %g0 = remat.backward(%e) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  %g1 = remat.backward(%e) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %g0, %g1 : tensor<4xf32>, tensor<4xf32>
}
