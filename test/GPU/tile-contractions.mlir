// RUN: remat-opt %s -split-input-file -remat-gpu-tile-contractions | FileCheck %s
// RUN: remat-opt %s -split-input-file "-remat-gpu-tile-contractions=tile-m=32 tile-n=128 tile-k=32" \
// RUN: | FileCheck %s --check-prefix=TILES
// RUN: not remat-opt %s -split-input-file "-remat-gpu-tile-contractions=tile-m=24" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADM
// RUN: not remat-opt %s -split-input-file "-remat-gpu-tile-contractions=tile-k=8" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADK

// BADM: remat-gpu-tile-contractions: tile-m must be a positive multiple of 16, got 24
// BADK: remat-gpu-tile-contractions: tile-k must be a positive multiple of 16 with each staged slice (tile-k x tile-m, tile-k x tile-n) at most 16384 elements, got tile-k = 8

// A 100x70 by 70x130 matmul: a 3x2 grid of 64x64 tiles, 16x16 threads,
// a 16x64 shared slice of each operand; each thread accumulates 4x4
// results over K in steps of 16, loading the result first and storing it
// last, both guarded.
// CHECK-LABEL: func.func @matmul
// CHECK-DAG: %[[C100:.*]] = arith.constant 100 : index
// CHECK-DAG: %[[C130:.*]] = arith.constant 130 : index
// CHECK-DAG: %[[C70:.*]] = arith.constant 70 : index
// CHECK: %[[GX:.*]] = arith.ceildivui %[[C130]], %{{.*}}
// CHECK: %[[GY:.*]] = arith.ceildivui %[[C100]], %{{.*}}
// CHECK: gpu.launch blocks({{.*}}) in ({{[^ ]*}} = %[[GX]], {{[^ ]*}} = %[[GY]], {{.*}}) threads({{.*}}) in ({{[^ ]*}} = %[[T:[^,]*]], {{[^ ]*}} = %[[T]], {{.*}}) workgroup(%[[LHS:[^ ]*]] : memref<16x64xf32, #gpu.address_space<workgroup>>, %[[RHS:[^ ]*]] : memref<16x64xf32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-16: memref.load %arg2
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[C70]] step %{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-4: memref.store %{{.*}}, %[[LHS]]
// CHECK-COUNT-4: memref.store %{{.*}}, %[[RHS]]
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-COUNT-4: memref.load %[[LHS]]
// CHECK-COUNT-4: memref.load %[[RHS]]
// CHECK: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK-COUNT-15: arith.addf
// CHECK: gpu.barrier
// CHECK-COUNT-16: memref.store %{{.*}}, %arg2
// CHECK: gpu.terminator
// CHECK-NOT: linalg.matmul

// TILES-LABEL: func.func @matmul
// TILES: workgroup(%{{.*}} : memref<32x32xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<32x128xf32, #gpu.address_space<workgroup>>)
func.func @matmul(%a: memref<100x70xf32>, %b: memref<70x130xf32>, %c: memref<100x130xf32>) {
  linalg.matmul ins(%a, %b : memref<100x70xf32>, memref<70x130xf32>) outs(%c : memref<100x130xf32>)
  return
}

// -----

// Batch dimensions are the grid's z; a bf16 product accumulated in f32
// keeps its body (the extensions), and the slices keep bf16.
// CHECK-LABEL: func.func @batch_mixed
// CHECK: gpu.launch {{.*}} in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %[[B:.*]]) threads
// CHECK-SAME: memref<16x64xbf16, #gpu.address_space<workgroup>>
// CHECK: arith.extf %{{.*}} : bf16 to f32
func.func @batch_mixed(%a: memref<4x8x16xbf16>, %b: memref<4x16x8xbf16>, %c: memref<4x8x8xf32>) {
  linalg.batch_matmul ins(%a, %b : memref<4x8x16xbf16>, memref<4x16x8xbf16>) outs(%c : memref<4x8x8xf32>)
  return
}

// -----

// A contraction with two M dimensions (a [2,8,16] activation times a 16x48
// weight, as pointwise fusion leaves it) runs over their product.
// CHECK-LABEL: func.func @two_m
// CHECK: %[[C16:.*]] = arith.constant 16 : index
// CHECK: gpu.launch
// CHECK: arith.remui %{{.*}}, %{{.*}} : index
// CHECK-NOT: linalg.generic
#lhs = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#rhs = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @two_m(%a: memref<2x8x16xf32>, %b: memref<16x48xf32>, %c: memref<2x8x48xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<2x8x16xf32>, memref<16x48xf32>) outs(%c : memref<2x8x48xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not a contraction: left alone.
// CHECK-LABEL: func.func @not_contraction
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @not_contraction(%a: memref<8x16xf32>, %c: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x16xf32>) outs(%c : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.maximumf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// With mma=half an f16 matmul accumulating in f32 runs on tensor cores: 128
// threads (4 warps) per 64x64 tile, 64x32 and 32x64 shared slices, and per
// 32-deep slice 2 k-steps of 2x4 m16n8k16 MMAs per warp; fragments are
// vectors in the PTX ISA's register layout. An f32 matmul stays SIMT unless
// mma=tf32 (then m16n8k8, tf32Enabled). bf16 is not taken (its MMA does not
// lower in LLVM 22).
// RUN: remat-opt %s -split-input-file "-remat-gpu-tile-contractions=mma=half" \
// RUN: | FileCheck %s --check-prefix=HALF
// RUN: remat-opt %s -split-input-file "-remat-gpu-tile-contractions=mma=tf32" \
// RUN: | FileCheck %s --check-prefix=TF32
// RUN: not remat-opt %s -split-input-file "-remat-gpu-tile-contractions=mma=int8" 2>&1 \
// RUN: | FileCheck %s --check-prefix=BADMMA
// BADMMA: remat-gpu-tile-contractions: mma must be none, half or tf32, got 'int8'

// HALF-LABEL: func.func @mma_f16
// HALF: gpu.launch {{.*}} threads({{.*}}) in ({{[^ ]*}} = %c128{{.*}}) workgroup(%[[A:[^ ]*]] : memref<64x32xf16, #gpu.address_space<workgroup>>, %[[B:[^ ]*]] : memref<32x64xf16, #gpu.address_space<workgroup>>)
// HALF: vector.from_elements {{.*}} : vector<2x2xf32>
// HALF: scf.for
// HALF: gpu.barrier
// HALF: vector.from_elements {{.*}} : vector<4x2xf16>
// HALF: vector.from_elements {{.*}} : vector<2x2xf16>
// HALF-COUNT-16: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// HALF: gpu.barrier
// HALF: vector.extract
// HALF-LABEL: func.func @mma_f32
// HALF-NOT: nvgpu.mma.sync
// HALF: memref<16x64xf32, #gpu.address_space<workgroup>>
// HALF-LABEL: func.func @mma_bf16
// HALF-NOT: nvgpu.mma.sync
// HALF: memref<16x64xbf16, #gpu.address_space<workgroup>>

// Without mma, all three are SIMT tiles.
// CHECK-LABEL: func.func @mma_f16
// CHECK: memref<16x64xf16, #gpu.address_space<workgroup>>
// CHECK-NOT: nvgpu.mma.sync

// TF32-LABEL: func.func @mma_f32
// TF32-COUNT-32: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
func.func @mma_f16(%a: memref<128x96xf16>, %b: memref<96x80xf16>, %c: memref<128x80xf32>) {
  linalg.matmul ins(%a, %b : memref<128x96xf16>, memref<96x80xf16>) outs(%c : memref<128x80xf32>)
  return
}
func.func @mma_f32(%a: memref<128x96xf32>, %b: memref<96x80xf32>, %c: memref<128x80xf32>) {
  linalg.matmul ins(%a, %b : memref<128x96xf32>, memref<96x80xf32>) outs(%c : memref<128x80xf32>)
  return
}
func.func @mma_bf16(%a: memref<128x96xbf16>, %b: memref<96x80xbf16>, %c: memref<128x80xf32>) {
  linalg.matmul ins(%a, %b : memref<128x96xbf16>, memref<96x80xbf16>) outs(%c : memref<128x80xf32>)
  return
}
