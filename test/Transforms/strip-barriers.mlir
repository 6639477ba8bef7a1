// RUN: remat-opt %s -remat-strip-barriers | FileCheck %s

// Barriers on buffers and scalars are replaced by their operands.
// CHECK-LABEL: func.func @strip
// CHECK-SAME: (%[[M:.*]]: memref<4xf32>, %[[F:.*]]: f32)
// CHECK-NOT: remat.barrier
// CHECK: linalg.fill ins(%[[F]] : f32) outs(%[[M]] : memref<4xf32>)
func.func @strip(%m: memref<4xf32>, %f: f32) {
  %b:2 = remat.barrier %m, %f : memref<4xf32>, f32
  linalg.fill ins(%b#1 : f32) outs(%b#0 : memref<4xf32>)
  return
}
