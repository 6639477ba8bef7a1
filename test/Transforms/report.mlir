// RUN: remat-opt %s -remat-report -o /dev/null 2>&1 | FileCheck %s
// RUN: remat-opt %s -remat-report="report-file=%t.json target=cpu peak-f32=1e9 bandwidth=1e9" -o /dev/null 2>&1 | FileCheck %s --check-prefix=RATES
// RUN: FileCheck %s --check-prefix=JSON < %t.json
// RUN: not remat-opt %s -remat-report=report-file=%t.missing/dir/r.json -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADFILE
// RUN: not remat-opt %s -remat-report=target=tpu -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADTARGET
// A write that fails (a full disk) is a diagnostic, not LLVM's "IO failure".
// RUN: not remat-opt %s -remat-report=report-file=/dev/full -o /dev/null 2>&1 | FileCheck %s --check-prefix=FULL

// The report of a small step: the memory model's peak and the buffers that
// hold it, and the backward's saved set. Function arguments are resident,
// forward values activations; sizes come from shapes and element widths
// (bf16 is 2 bytes; an i1 takes a byte per element, as the lowering
// stores it); a value of dynamic shape has
// no static size; a constant is static storage, counted apart. Recompute cost is that of the defining op: tanh of 32
// bf16 elements is 32 FLOPs, all transcendental; with 1 GFLOP/s for f32
// and 1 GB/s, the bf16 tanh (bf16 rate left at the cpu preset's 2e12) is
// memory-bound: 128 bytes / 1e9 = 0.128 us.
//
// Buffers (point: op): 0 tanh -> T (64), 1 name, 2 exp inside the
// checkpoint -> E (64; T is still read later), 3 yield, 4 the checkpoint,
// 5 mask constant (static), 6 backward, 7 mulf in place in T (T dies),
// then the backward's other ops, each in place in a dying operand (it
// reads every operand: an operand it does not read is dropped, as the
// planner drops it), yield, return. Peak: T + E = 128 bytes from point 2.

// CHECK: remat-report: @step (target h100)
// CHECK-NEXT: peak: 128 bytes at report.mlir:{{[0-9]+}}:{{[0-9]+}}
// CHECK-NEXT: live at peak: 128 B in 2 buffers: 2 x 64 B (layer.act, layer.inner)
// CHECK-NEXT: backward #0 at report.mlir:{{[0-9]+}}:{{[0-9]+}}
// CHECK-NEXT: # kind value type bytes defined by recompute time (us)
// CHECK-NEXT: 0 argument arg #0 tensor<4x8xbf16> 64 - - -
// CHECK-NEXT: 1 activation layer.act tensor<4x8xbf16> 64 math.tanh 32 {{.*}}
// CHECK-NEXT: 2 activation layer.inner tensor<4x8xbf16> 64 math.exp 32 {{.*}}
// CHECK-NEXT: 3 constant report.mlir:{{.*}} tensor<3xi1> 3 arith.constant 0 0
// CHECK-NEXT: 4 argument arg #1 tensor<?xf32> ? - - -
// CHECK-NEXT: activations: 2 values in 2 buffers, 128 bytes
// CHECK-NEXT: resident arguments: 2 values, 64 bytes
// CHECK-NEXT: constants: 1 values, 3 bytes

// A value and its views are one buffer: the total counts it once.
// CHECK-LABEL: remat-report: @views
// CHECK: 0 activation views.tanh tensor<4x8xf32> 128 math.tanh
// CHECK-NEXT: 1 activation views.flat tensor<32xf32> 128 tensor.collapse_shape
// CHECK-NEXT: activations: 2 values in 1 buffers, 128 bytes

// RATES: remat-report: @step (target cpu)
// RATES: 1 activation layer.act tensor<4x8xbf16> 64 math.tanh 32 0.128

// JSON: "schema": "remat-report/1"
// JSON: "name": "cpu"

// BADFILE: error: remat-report: cannot write the report to '{{.*}}r.json'
// BADTARGET: error: unknown target 'tpu'; expected one of h100, h200, a100, cpu
// FULL-NOT: IO failure
// FULL: error: remat: cannot write the report to '/dev/full': No space left on device
// FULL-NOT: IO failure
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
    %mx = arith.mulf %m, %sx : tensor<4x8xbf16>
    %c0 = arith.constant 0 : index
    %keep = tensor.extract %sm[%c0] : tensor<3xi1>
    %size = tensor.dim %sd, %c0 : tensor<?xf32>
    %r = arith.select %keep, %mx, %m : tensor<4x8xbf16>
    remat.yield %r : tensor<4x8xbf16>
  }
  return %g : tensor<4x8xbf16>
}

func.func @views(%x: tensor<4x8xf32>) -> tensor<32xf32> {
  %t = math.tanh %x : tensor<4x8xf32>
  %a = remat.name "views.tanh" %t : tensor<4x8xf32>
  %f = tensor.collapse_shape %a [[0, 1]] : tensor<4x8xf32> into tensor<32xf32>
  %n = remat.name "views.flat" %f : tensor<32xf32>
  %g = remat.backward(%a, %n) : (tensor<4x8xf32>, tensor<32xf32>) -> tensor<32xf32> {
  ^bb0(%sa: tensor<4x8xf32>, %sf: tensor<32xf32>):
    %c = tensor.collapse_shape %sa [[0, 1]] : tensor<4x8xf32> into tensor<32xf32>
    %m = arith.mulf %c, %sf : tensor<32xf32>
    remat.yield %m : tensor<32xf32>
  }
  return %g : tensor<32xf32>
}
