// RUN: remat-opt %s -remat-place-deallocs -split-input-file | FileCheck %s

// A plain memref.dealloc moves up to the last use of its buffer.
// CHECK-LABEL: func.func @memref_dealloc
// CHECK: linalg.copy ins(%{{.*}} : memref<4xf32>) outs(%[[A:[a-z0-9_]+]] : memref<4xf32>)
// CHECK-NEXT: linalg.copy ins(%[[A]] : memref<4xf32>) outs(%[[B:[a-z0-9_]+]] : memref<4xf32>)
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: linalg.copy ins(%[[B]]
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return
func.func @memref_dealloc(%arg0: memref<4xf32>) -> memref<4xf32> {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  linalg.copy ins(%arg0 : memref<4xf32>) outs(%a : memref<4xf32>)
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  %c = memref.alloc() : memref<4xf32>
  linalg.copy ins(%b : memref<4xf32>) outs(%c : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return %c : memref<4xf32>
}

// -----

// A use through a view keeps the buffer alive until the view's last use.
// CHECK-LABEL: func.func @through_view
// CHECK: %[[V:[a-z0-9_]+]] = memref.subview %[[A:[a-z0-9_]+]][0] [2] [1]
// CHECK: linalg.copy ins(%[[V]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: memref.alloc
func.func @through_view(%out: memref<2xf32>) {
  %cst = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%cst : f32) outs(%a : memref<4xf32>)
  %v = memref.subview %a[0] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1]>>
  linalg.copy ins(%v : memref<2xf32, strided<[1]>>) outs(%out : memref<2xf32>)
  %c = memref.alloc() : memref<2xf32>
  linalg.fill ins(%cst : f32) outs(%c : memref<2xf32>)
  linalg.copy ins(%c : memref<2xf32>) outs(%out : memref<2xf32>)
  memref.dealloc %c : memref<2xf32>
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

// A multi-buffer bufferization.dealloc is split into one dealloc per
// buffer that cannot alias the others or a retained value; each then moves
// to its buffer's last use, together with the pure op that extracts the
// base buffer for it. The buffer that aliases the retained value stays.
// CHECK-LABEL: func.func @split_and_move
// CHECK-SAME: (%[[ARG:.*]]: memref<4xf32>)
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[ARG]] : memref<4xf32>) outs(%[[A]]
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[A]] : memref<4xf32>) outs(%[[B]]
// CHECK-NEXT: %[[BASE:.*]], %{{.*}}, %{{.*}}, %{{.*}} = memref.extract_strided_metadata %[[A]]
// CHECK-NEXT: bufferization.dealloc (%[[BASE]] : memref<f32>) if (%{{.*}}){{$}}
// CHECK: %[[C:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[B]] : memref<4xf32>) outs(%[[C]]
// CHECK-NEXT: bufferization.dealloc (%[[B]] : memref<4xf32>) if (%{{.*}}){{$}}
// CHECK: %[[R:.*]] = bufferization.dealloc (%[[C]] : memref<4xf32>) if (%{{.*}}) retain (%[[C]] : memref<4xf32>)
// CHECK: return %[[C]], %[[R]]
func.func @split_and_move(%arg0: memref<4xf32>) -> (memref<4xf32>, i1) {
  %true = arith.constant true
  %a = memref.alloc() : memref<4xf32>
  linalg.copy ins(%arg0 : memref<4xf32>) outs(%a : memref<4xf32>)
  %b = memref.alloc() : memref<4xf32>
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  %c = memref.alloc() : memref<4xf32>
  linalg.copy ins(%b : memref<4xf32>) outs(%c : memref<4xf32>)
  %base, %off, %size, %stride = memref.extract_strided_metadata %a : memref<4xf32> -> memref<f32>, index, index, index
  %r = bufferization.dealloc (%base, %b, %c : memref<f32>, memref<4xf32>, memref<4xf32>) if (%true, %true, %true) retain (%c : memref<4xf32>)
  return %c, %r : memref<4xf32>, i1
}

// -----

// Buffers that may alias each other (two views of one allocation) are not
// split apart: the dealloc handles the aliasing and stays where it is.
// CHECK-LABEL: func.func @may_alias
// CHECK: linalg.copy
// CHECK-NEXT: %[[C:.*]] = memref.alloc
// CHECK: bufferization.dealloc (%{{.*}}, %{{.*}} : memref<4xf32>, memref<4xf32>)
// CHECK-NEXT: return
func.func @may_alias(%arg0: memref<4xf32>, %out: memref<4xf32>) {
  %true = arith.constant true
  %a = memref.alloc() : memref<4xf32>
  %v1 = memref.cast %a : memref<4xf32> to memref<4xf32>
  %v2 = memref.cast %a : memref<4xf32> to memref<4xf32>
  linalg.copy ins(%v1 : memref<4xf32>) outs(%v2 : memref<4xf32>)
  %c = memref.alloc() : memref<4xf32>
  linalg.copy ins(%arg0 : memref<4xf32>) outs(%c : memref<4xf32>)
  linalg.copy ins(%c : memref<4xf32>) outs(%out : memref<4xf32>)
  bufferization.dealloc (%v1, %v2 : memref<4xf32>, memref<4xf32>) if (%true, %true)
  memref.dealloc %c : memref<4xf32>
  return
}

// -----

// A buffer used inside a nested region is freed after the region op.
// CHECK-LABEL: func.func @nested_use
// CHECK: scf.for
// CHECK: linalg.copy ins(%[[A:[a-z0-9_]+]] :
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: %{{.*}} = memref.alloc
func.func @nested_use(%out: memref<4xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<4xf32>
  scf.for %i = %c0 to %n step %c1 {
    linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
  }
  %b = memref.alloc() : memref<4xf32>
  linalg.copy ins(%b : memref<4xf32>) outs(%out : memref<4xf32>)
  memref.dealloc %b : memref<4xf32>
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

// A dealloc inside a region whose buffer comes from outside stays put.
// CHECK-LABEL: func.func @outside_block
// CHECK: scf.if
// CHECK-NEXT: linalg.copy
// CHECK-NEXT: memref.dealloc
func.func @outside_block(%c: i1, %out: memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  scf.if %c {
    linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
    memref.dealloc %a : memref<4xf32>
  }
  return
}
