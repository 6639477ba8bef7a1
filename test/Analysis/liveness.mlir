// RUN: remat-opt %s -remat-test-print-liveness -split-input-file -o /dev/null | FileCheck %s

// A hand-written step whose answer is worked out below. Sizes: 16x16xf32 =
// 1024 bytes, 16x4xf32 = 256 bytes.
//
//   point 0  %e0 = tensor.empty          (no buffer: only what writes into it)
//   point 1  %a = exp(%x) into %e0       A: new buffer (init is empty), 1024
//   point 2  %t = remat.name "a" %a      view of A
//   point 3  %e1 = tensor.empty
//   point 4  %b = transpose(%a) into %e1 B: new buffer, 1024
//   point 5  %c = arith.mulf %b, %t      B is its first operand and dies
//                                        here: written in place, C = B
//   point 6  %e2 = tensor.empty
//   point 7  %d = linalg.copy %c into %e2 D: new buffer, 1024; C (=B) dies
//   point 8  %s = extract_slice %d       view of D
//   point 9  remat.backward(%t, %s, %w)  reads A, D (residuals) and %w (arg);
//                                        its block arguments alias them
//   point 10   %g = arith.mulf %ba, %ba  A dies here: in place, G = A
//   point 11   remat.yield %g            the backward's result aliases G
//   point 12 return %g, %d
//
// Live heap bytes per point: 1: A=1024; 2-3: 1024; 4: A+B = 2048;
// 5: A+B(=C) = 2048; 6: 2048; 7: A + C + D = 3072 (C read while D written);
// 8-9: A + D = 2048; 10-12: G(=A) + D = 2048 (both returned).
// Peak 3072 at point 7, held up by A, C and D (1024 each).
// Activations: A (via %t) and D (via the slice %s) = 2048 bytes;
// %w is a resident argument (256 bytes), as is %x (1024).

// CHECK-LABEL: function @step
// CHECK-NEXT: buffer arg0: resident bytes=1024 live=[0, 12]
// CHECK-NEXT: buffer arg1: resident bytes=256 live=[0, 12]
// CHECK-NEXT: buffer a: allocated bytes=1024 live=[1, 12]
// CHECK-NEXT: buffer b: allocated bytes=1024 live=[4, 7]
// CHECK-NEXT: buffer d: allocated bytes=1024 live=[7, 12]
// CHECK-NEXT: point 0 e0: 0
// CHECK-NEXT: point 1 a: 1024
// CHECK-NEXT: point 2 {{.*}}: 1024
// CHECK-NEXT: point 3 e1: 1024
// CHECK-NEXT: point 4 b: 2048
// CHECK-NEXT: point 5 c: 2048
// CHECK-NEXT: point 6 e2: 2048
// CHECK-NEXT: point 7 d: 3072
// CHECK-NEXT: point 8 s: 2048
// CHECK-NEXT: point 9 bwd: 2048
// CHECK-NEXT: point 10 g: 2048
// CHECK-NEXT: point 11 {{.*}}: 2048
// CHECK-NEXT: point 12 {{.*}}: 2048
// CHECK-NEXT: peak=3072 at point 7 (d)
// CHECK-NEXT: live at peak: a(1024) b(1024) d(1024)
// CHECK-NEXT: resident=1280 activations=2048 residuals=2
#id = affine_map<(d0, d1) -> (d0, d1)>
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

// -----

// A value used inside a loop lives until the loop ends; a returned argument
// is copied out at the return.
// CHECK-LABEL: function @loop
// CHECK: buffer arg0: resident bytes=64 live=[0, {{[0-9]+}}]
// point 0 is %v; the loop runs at point 3 and ends at point 5, so %v lives
// to 5 although its only use (point 4) is earlier; the sqrt's result (64)
// makes the peak 128 at point 4; %x returned is copied at point 6.
// CHECK: buffer v: allocated bytes=64 live=[0, 5]
// CHECK: buffer u: allocated bytes=64 live=[4, 4]
// CHECK: buffer arg0: allocated bytes=64 live=[6, 6]
// CHECK: peak=128 at point 4
func.func @loop(%x: tensor<16xf32>, %n: index) -> (tensor<16xf32>, tensor<16xf32>) {
  %v = math.exp %x : tensor<16xf32> loc("v")
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %u = math.sqrt %v : tensor<16xf32> loc("u")
  } loc("loop")
  return %x, %x : tensor<16xf32>, tensor<16xf32>
}

// -----

// A fused op that loops over chunks holds its temporary buffers
// (WorkspaceOpInterface) at its own point only: the chunked cross-entropy
// with C=4 tokens of V=32 f32 logits holds one chunk's logits (4*32*4 =
// 512 bytes) and two row vectors (16 each) besides its results (lse 64,
// the sum 4). Peak 612 at the op; after it only the returned sum lives.
// CHECK-LABEL: function @workspace
// CHECK: buffer lce: allocated bytes=4 live=[0, 1]
// CHECK-NEXT: buffer lce: allocated bytes=64 live=[0, 0]
// CHECK-NEXT: buffer lce: allocated bytes=512 live=[0, 0]
// CHECK-NEXT: buffer lce: allocated bytes=16 live=[0, 0]
// CHECK-NEXT: buffer lce: allocated bytes=16 live=[0, 0]
// CHECK: peak=612 at point 0 (lce)
func.func @workspace(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>,
                     %t: tensor<16xi64>) -> tensor<f32> {
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>
      -> tensor<f32>, tensor<16xf32> loc("lce")
  return %sum : tensor<f32>
}
