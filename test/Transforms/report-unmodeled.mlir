// RUN: remat-opt %s -remat-report -allow-unregistered-dialect -verify-diagnostics -o /dev/null 2>&1 | FileCheck %s

// A residual whose defining op has no cost model is priced by the
// conservative estimate (one FLOP per result element) and gets a remark.
// CHECK: 0 activation {{.*}} tensor<4xf32> 16 test.op 4
func.func @step(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-remark @below {{no cost model for 'test.op'; its recompute cost is estimated conservatively}}
  %a = "test.op"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %g = remat.backward(%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%s: tensor<4xf32>):
    remat.yield %s : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}
