// RUN: remat-opt %s -remat-report -o /dev/null 2>&1 | FileCheck %s
// RUN: remat-opt %s -remat-report=report-file=%t.txt -o /dev/null
// RUN: FileCheck %s < %t.txt
// RUN: not remat-opt %s -remat-report=report-file=%t.missing/dir/r.txt -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADFILE

// The saved set: function arguments are resident, forward values are
// activations; sizes come from shapes and element widths (bf16 is 2 bytes,
// i1 rounds up to a byte); a value of dynamic shape has no static size.

// CHECK: remat-report: backward #0 at loc({{.*}}report.mlir":{{[0-9]+}}:{{[0-9]+}})
// CHECK-NEXT: # kind value type bytes defined by
// CHECK-NEXT: 0 argument arg #0 tensor<4x8xbf16> 64 -
// CHECK-NEXT: 1 activation "layer.act" tensor<4x8xbf16> 64 math.tanh
// CHECK-NEXT: 2 activation "layer.inner" tensor<4x8xbf16> 64 math.exp
// CHECK-NEXT: 3 activation loc({{.*}}) tensor<3xi1> 1 arith.constant
// CHECK-NEXT: 4 argument arg #1 tensor<?xf32> ? -
// CHECK-NEXT: activations: 3 values, 129 bytes
// CHECK-NEXT: resident arguments: 2 values, 64 bytes

// BADFILE: error: cannot write the report to '{{.*}}r.txt'
func.func @step(%x: tensor<4x8xbf16>, %d: tensor<?xf32>) -> tensor<4x8xbf16> {
  %t = math.tanh %x : tensor<4x8xbf16>
  %a = remat.name "layer.act" %t : tensor<4x8xbf16>
  %inner = remat.checkpoint(%a) : (tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  ^bb0(%in: tensor<4x8xbf16>):
    %e = math.exp %in : tensor<4x8xbf16>
    %n = remat.name "layer.inner" %e : tensor<4x8xbf16>
    remat.yield %n : tensor<4x8xbf16>
  }
  %mask = arith.constant dense<[true, false, true]> : tensor<3xi1>
  %g = remat.backward(%x, %a, %inner, %mask, %d) : (tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<3xi1>, tensor<?xf32>) -> tensor<4x8xbf16> {
  ^bb0(%sx: tensor<4x8xbf16>, %sa: tensor<4x8xbf16>, %si: tensor<4x8xbf16>, %sm: tensor<3xi1>, %sd: tensor<?xf32>):
    %m = arith.mulf %sa, %si : tensor<4x8xbf16>
    remat.yield %m : tensor<4x8xbf16>
  }
  return %g : tensor<4x8xbf16>
}
