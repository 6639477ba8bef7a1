// RUN: remat-opt %s -remat-test-print-costs -allow-unregistered-dialect -verify-diagnostics -o /dev/null | FileCheck %s

// An op without a cost model is never a silent zero: it gets a conservative
// estimate (one FLOP per result element, operands read, results written)
// and a remark. A dynamic shape has no static cost at all.

// CHECK: {{[0-9]+}}:{{[0-9]+}}: test.op flops=32 transcendentals=0 read=64 written=128 time[h100]={{.*}}us estimated
// CHECK: dyn: math.exp unknown (dynamic shape)
func.func @unmodeled(%x: tensor<4x8xbf16>, %d: tensor<?xf32>) -> (tensor<4x8xf32>, tensor<?xf32>) {
  // expected-remark @below {{no cost model for 'test.op'; estimated conservatively as 32 FLOPs, 64 bytes read, 128 bytes written}}
  %r = "test.op"(%x) : (tensor<4x8xbf16>) -> tensor<4x8xf32>
  %e = math.exp %d : tensor<?xf32> loc("dyn")
  return %r, %e : tensor<4x8xf32>, tensor<?xf32>
}
