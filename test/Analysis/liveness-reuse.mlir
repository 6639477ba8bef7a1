// One MemoryAnalyzer analyzing the functions one after another (its tables
// kept between them, as the planner's search does on its copies of a
// step) prints what a fresh analysis of each prints: nothing of the
// function before is left, neither its host buffers (the first function
// offloads, the next ones do not), nor its peak, nor its larger tables.
// RUN: remat-opt %s -remat-test-print-liveness -o /dev/null > %t.fresh
// RUN: remat-opt %s -remat-test-print-liveness=reuse=true -o /dev/null > %t.reused
// RUN: diff %t.fresh %t.reused
// RUN: FileCheck %s < %t.reused
// CHECK-LABEL: function @offloaded
// CHECK:       peak=256
// CHECK-NEXT:  live at peak:
// CHECK-NEXT:  resident=256 activations=128 residuals=1 host=128 host_peak=128
// CHECK-LABEL: function @step
// CHECK:       peak=3072 at point 7 (d)
// CHECK-NEXT:  live at peak: a(1024) b(1024) d(1024)
// CHECK-NEXT:  resident=1280 activations=2048 residuals=2{{$}}
// CHECK-LABEL: function @loop
// CHECK:       peak=128 at point 4
// CHECK-LABEL: function @small
// CHECK:       buffer y: allocated bytes=64 live=[1, 1]
// CHECK:       peak=64 at point 1
// CHECK-NEXT:  live at peak: y(64)
// CHECK-NEXT:  resident=64 activations=0 residuals=0{{$}}

func.func @offloaded(%x: tensor<4x8xf32>, %seed: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = arith.mulf %x, %x : tensor<4x8xf32>
  %h = remat.offload %y : tensor<4x8xf32>
  %z = arith.addf %y, %x : tensor<4x8xf32>
  %dx = remat.backward(%h, %z) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%hy: tensor<4x8xf32>, %g: tensor<4x8xf32>):
    %y2 = remat.reload %hy : tensor<4x8xf32>
    %d = arith.mulf %y2, %g : tensor<4x8xf32>
    remat.yield %d : tensor<4x8xf32>
  }
  return %dx : tensor<4x8xf32>
}

func.func @step(%x: tensor<16x16xf32>, %w: tensor<16x4xf32>) -> (tensor<16x16xf32>, tensor<16x16xf32>) {
  %e0 = tensor.empty() : tensor<16x16xf32> loc("e0")
  %a = linalg.exp ins(%x : tensor<16x16xf32>) outs(%e0 : tensor<16x16xf32>) -> tensor<16x16xf32> loc("a")
  %t = remat.name "a" %a : tensor<16x16xf32>
  %e1 = tensor.empty() : tensor<16x16xf32> loc("e1")
  %b = linalg.transpose ins(%a : tensor<16x16xf32>) outs(%e1 : tensor<16x16xf32>) permutation = [1, 0] loc("b")
  %c = arith.mulf %b, %t : tensor<16x16xf32> loc("c")
  %e2 = tensor.empty() : tensor<16x16xf32> loc("e2")
  %d = linalg.copy ins(%c : tensor<16x16xf32>) outs(%e2 : tensor<16x16xf32>) -> tensor<16x16xf32> loc("d")
  %s = tensor.extract_slice %d[0, 0] [16, 4] [1, 1] : tensor<16x16xf32> to tensor<16x4xf32> loc("s")
  %g = remat.backward(%t, %s, %w) : (tensor<16x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>) -> tensor<16x16xf32> {
  ^bb0(%ba: tensor<16x16xf32>, %bs: tensor<16x4xf32>, %bw: tensor<16x4xf32>):
    %m = arith.mulf %ba, %ba : tensor<16x16xf32> loc("g")
    remat.yield %m : tensor<16x16xf32>
  } loc("bwd")
  return %g, %d : tensor<16x16xf32>, tensor<16x16xf32>
}

func.func @loop(%x: tensor<16xf32>, %n: index) -> (tensor<16xf32>, tensor<16xf32>) {
  %v = math.exp %x : tensor<16xf32> loc("v")
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %u = math.sqrt %v : tensor<16xf32> loc("u")
  } loc("loop")
  return %x, %x : tensor<16xf32>, tensor<16xf32>
}

func.func @small(%x: tensor<16xf32>) -> tensor<16xf32> {
  %y = math.exp %x : tensor<16xf32> loc("y")
  return %y : tensor<16xf32>
}
