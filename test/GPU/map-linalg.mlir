// RUN: remat-opt %s -split-input-file -remat-gpu-map-linalg | FileCheck %s
// RUN: remat-opt %s -split-input-file "-remat-gpu-map-linalg=block-size=128" \
// RUN: | FileCheck %s --check-prefix=B128
// RUN: not remat-opt %s -split-input-file "-remat-gpu-map-linalg=block-size=2048" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BAD

// BAD: remat-gpu-map-linalg: block-size must be in [1, 1024], got 2048

// An element-wise op of rank 3 with a broadcast operand: one thread per
// element, linearized (the last dimension fastest), guarded; the result's
// old value is not read.
// CHECK-LABEL: func.func @elementwise
// CHECK-DAG: %[[N:.*]] = arith.constant 2048 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[G:.*]] = arith.ceildivui %[[N]], %[[C256]]
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], {{.*}}) in ({{[^ ]*}} = %[[G]], {{.*}}) threads(%[[TX:[^,]*]], {{.*}}) in ({{[^ ]*}} = %[[C256]], {{.*}})
// CHECK: %[[LIN:.*]] = arith.addi %{{.*}}, %[[TX]]
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[LIN]], %[[N]]
// CHECK: scf.if %[[IN]]
// CHECK-NOT: memref.load %arg2
// CHECK: memref.load %arg0
// CHECK: memref.load %arg1[%c0
// CHECK: arith.addf
// CHECK: memref.store {{.*}}, %arg2
// B128-LABEL: func.func @elementwise
// B128: arith.constant 128 : index
func.func @elementwise(%a: memref<2x64x16xf32>, %b: memref<1x16xf32>, %c: memref<2x64x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (0, k)>, affine_map<(i, j, k) -> (i, j, k)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%a, %b : memref<2x64x16xf32>, memref<1x16xf32>) outs(%c : memref<2x64x16xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A fill's scalar operand is used as is; a transpose reads through its map.
// CHECK-LABEL: func.func @fill_transpose
// CHECK: gpu.launch
// CHECK: memref.store %arg2, %arg0
// CHECK: gpu.launch
// CHECK: %[[V:.*]] = memref.load %arg0[%[[I:.*]], %[[J:.*]]]
// CHECK: memref.store %[[V]], %arg1[%[[J]], %[[I]]]
func.func @fill_transpose(%a: memref<4x8xf32>, %t: memref<8x4xf32>, %v: f32) {
  linalg.fill ins(%v : f32) outs(%a : memref<4x8xf32>)
  linalg.transpose ins(%a : memref<4x8xf32>) outs(%t : memref<8x4xf32>) permutation = [1, 0]
  return
}

// -----

// A small reduction with two results (a sum and a sum of squares, as
// fusion leaves layer norm's moments): one thread per row runs the
// reduction loop, starting from the results' values.
// CHECK-LABEL: func.func @moments
// CHECK: gpu.launch
// CHECK: %[[S0:.*]] = memref.load %arg1
// CHECK: %[[Q0:.*]] = memref.load %arg2
// CHECK: %[[R:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[S0]], %{{.*}} = %[[Q0]]) -> (f32, f32)
// CHECK: memref.store %[[R]]#0, %arg1
// CHECK: memref.store %[[R]]#1, %arg2
func.func @moments(%a: memref<8x16xf32>, %s: memref<8xf32>, %q: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x16xf32>) outs(%s, %q : memref<8xf32>, memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32, %acc2: f32):
    %sq = arith.mulf %x, %x : f32
    %r0 = arith.addf %x, %acc : f32
    %r1 = arith.addf %sq, %acc2 : f32
    linalg.yield %r0, %r1 : f32, f32
  }
  return
}
