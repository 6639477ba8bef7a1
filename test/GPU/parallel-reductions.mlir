// RUN: remat-opt %s -split-input-file -remat-gpu-parallel-reductions | FileCheck %s
// RUN: remat-opt %s -split-input-file "-remat-gpu-parallel-reductions=block-size=64 min-size=200" \
// RUN: | FileCheck %s --check-prefix=OPTS
// RUN: not remat-opt %s -split-input-file "-remat-gpu-parallel-reductions=block-size=100" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BAD

// BAD: remat-gpu-parallel-reductions: block-size must be a power of two in [2, 1024], got 100

// Softmax's denominator: one block per row; each of the 256 threads sums
// exp(x) over a strided share of the row from 0, then a tree of 8 steps in
// shared memory, then thread 0 adds the row's total to the initial value.
// CHECK-LABEL: func.func @row_sum_exp
// CHECK: gpu.launch blocks({{.*}}) in ({{[^ ]*}} = %c8, {{.*}}) threads(%[[TX:[^,]*]], {{.*}}) in ({{[^ ]*}} = %c256, {{.*}}) workgroup(%[[SH:[^ ]*]] : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[SUM:.*]] = scf.for %{{.*}} = %[[TX]] to %{{.*}} step %c256{{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (f32)
// CHECK: math.exp
// CHECK: arith.addf %[[ACC]]
// CHECK: memref.store %[[SUM]], %[[SH]][%[[TX]]]
// CHECK: gpu.barrier
// CHECK-COUNT-8: gpu.barrier
// CHECK: arith.cmpi eq, %[[TX]]
// CHECK: memref.load %arg1
// CHECK: memref.load %[[SH]]
// CHECK: arith.addf
// CHECK: memref.store {{.*}}, %arg1
// CHECK-NOT: linalg.generic

// With min-size=200 the 100-element rows stay a linalg op.
// OPTS-LABEL: func.func @row_sum_exp
// OPTS: linalg.generic
func.func @row_sum_exp(%a: memref<8x100xf32>, %c: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x100xf32>) outs(%c : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %e = math.exp %x : f32
    %s = arith.addf %acc, %e : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A column maximum (the reduction dimension first): the neutral element of
// maxnumf is NaN; the tree keeps the accumulator's operand position.
// CHECK-LABEL: func.func @column_max
// CHECK: gpu.launch
// CHECK: %[[NAN:.*]] = arith.constant 0xFFC00000 : f32
// CHECK: scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[NAN]])
// CHECK: arith.maxnumf %{{.*}}, %[[ACC]]
// OPTS-LABEL: func.func @column_max
// OPTS: memref<64xf32, #gpu.address_space<workgroup>>
// OPTS-COUNT-6: gpu.barrier
func.func @column_max(%a: memref<300x8xf32>, %c: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>], iterator_types = ["reduction", "parallel"]}
      ins(%a : memref<300x8xf32>) outs(%c : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.maxnumf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A sum to a scalar (the loss): one block.
// CHECK-LABEL: func.func @scalar_sum
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{[^ ]*}} = %[[C1]], {{.*}}) threads
// CHECK: memref.load %arg1[]
func.func @scalar_sum(%a: memref<64x16xf32>, %c: memref<f32>) {
  linalg.reduce ins(%a : memref<64x16xf32>) outs(%c : memref<f32>) dimensions = [0, 1]
    (%in: f32, %acc: f32) {
      %r = arith.addf %in, %acc : f32
      linalg.yield %r : f32
    }
  return
}

// -----

// Left alone: a reduction below min-size (16 < 32), a matmul (a
// contraction), and a body whose accumulator feeds more than the combiner.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK: linalg.matmul
// CHECK: linalg.generic
func.func @left_alone(%a: memref<8x16xf32>, %c: memref<8xf32>, %m: memref<64x64xf32>, %o: memref<64x64xf32>, %b: memref<8x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x16xf32>) outs(%c : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  linalg.matmul ins(%m, %m : memref<64x64xf32>, memref<64x64xf32>) outs(%o : memref<64x64xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%b : memref<8x64xf32>) outs(%c : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %p = arith.mulf %x, %acc : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
