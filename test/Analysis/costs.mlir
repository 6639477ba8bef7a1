// RUN: remat-opt %s -remat-test-print-costs -o /dev/null | FileCheck %s
// RUN: remat-opt %s -remat-test-print-costs -o /dev/null | FileCheck %s --check-prefix=TIME
// RUN: remat-opt %s -remat-test-print-costs="target=cpu peak-f32=1e9 bandwidth=1e9" -o /dev/null | FileCheck %s --check-prefix=RATES
// RUN: remat-opt %s -remat-test-print-costs=target=a100 -o /dev/null | FileCheck %s --check-prefix=A100
// RUN: not remat-opt %s -remat-test-print-costs=target=tpu -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADTARGET

// FLOPs and bytes of every op kind the cost model knows, worked out by hand.
// Linalg ops: iteration-domain size times the body's ops; inputs read, inits
// read when the body uses them, inits written. f32 = 4 bytes, bf16 = 2.

func.func @costs(%a: tensor<64x256xf32>, %b: tensor<256x128xf32>,
                 %bt: tensor<128x256xf32>, %ba: tensor<2x8x16xf32>,
                 %bb: tensor<2x16x4xf32>, %bbt: tensor<2x4x16xf32>,
                 %x: tensor<4x8xf32>, %y: tensor<4x8xf32>, %h: tensor<4x8xbf16>,
                 %v: tensor<8xf32>, %s: tensor<4x6xf32>)
    -> (tensor<64x128xf32>, tensor<64x128xf32>, tensor<2x8x4xf32>,
        tensor<2x8x4xf32>, tensor<4x8xf32>, tensor<8x4xf32>, tensor<4x8xf32>,
        tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
        tensor<4x8xf32>, tensor<4x8xbf16>, tensor<4x8xf32>, tensor<8x16xf32>,
        tensor<32xf32>, tensor<4x8xf32>, tensor<6x10xf32>, tensor<8x8xf32>,
        tensor<4x8xf32>) {
  %zero = arith.constant 0.0 : f32 loc("cst")
  %e0 = tensor.empty() : tensor<64x128xf32> loc("empty")
  // fill: 0 FLOPs; reads the 4-byte scalar, writes 64*128*4 = 32768.
  // CHECK: fill: linalg.fill flops=0 transcendentals=0 read=4 written=32768
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<64x128xf32>) -> tensor<64x128xf32> loc("fill")
  // matmul 64x128x256: 2*64*128*256 = 4194304 FLOPs; reads A (65536), B
  // (131072) and the accumulator (32768) = 229376; writes 32768.
  // CHECK: mm: linalg.matmul flops=4194304 transcendentals=0 read=229376 written=32768
  %mm = linalg.matmul ins(%a, %b : tensor<64x256xf32>, tensor<256x128xf32>) outs(%f0 : tensor<64x128xf32>) -> tensor<64x128xf32> loc("mm")
  // matmul with B transposed (B is 128x256): the same work.
  // CHECK: mm_t: linalg.matmul flops=4194304 transcendentals=0 read=229376 written=32768
  %mmt = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %bt : tensor<64x256xf32>, tensor<128x256xf32>) outs(%f0 : tensor<64x128xf32>) -> tensor<64x128xf32> loc("mm_t")
  %e1 = tensor.empty() : tensor<2x8x4xf32> loc("empty1")
  // batch_matmul 2x(8x16 @ 16x4): 2*2*8*4*16 = 2048 FLOPs; reads 1024 +
  // 512 + 256 = 1792, writes 256.
  // CHECK: bmm: linalg.batch_matmul flops=2048 transcendentals=0 read=1792 written=256
  %bmm = linalg.batch_matmul ins(%ba, %bb : tensor<2x8x16xf32>, tensor<2x16x4xf32>) outs(%e1 : tensor<2x8x4xf32>) -> tensor<2x8x4xf32> loc("bmm")
  // CHECK: bmm_t: linalg.batch_matmul flops=2048 transcendentals=0 read=1792 written=256
  %bmmt = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%ba, %bbt : tensor<2x8x16xf32>, tensor<2x4x16xf32>) outs(%e1 : tensor<2x8x4xf32>) -> tensor<2x8x4xf32> loc("bmm_t")
  %e2 = tensor.empty() : tensor<4x8xf32> loc("empty2")
  // copy and transpose of 4x8: no FLOPs, 128 bytes in and out.
  // CHECK: copy: linalg.copy flops=0 transcendentals=0 read=128 written=128
  %cp = linalg.copy ins(%x : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32> loc("copy")
  %e3 = tensor.empty() : tensor<8x4xf32> loc("empty3")
  // CHECK: transpose: linalg.transpose flops=0 transcendentals=0 read=128 written=128
  %tr = linalg.transpose ins(%x : tensor<4x8xf32>) outs(%e3 : tensor<8x4xf32>) permutation = [1, 0] loc("transpose")
  // broadcast 8 -> 4x8: reads 32, writes 128.
  // CHECK: broadcast: linalg.broadcast flops=0 transcendentals=0 read=32 written=128
  %bc = linalg.broadcast ins(%v : tensor<8xf32>) outs(%e2 : tensor<4x8xf32>) dimensions = [0] loc("broadcast")
  // reduce 4x8 -> 4 with addf: 32 FLOPs; reads 128 + the 16-byte init.
  %e4 = tensor.empty() : tensor<4xf32> loc("empty4")
  // CHECK: reduce: linalg.reduce flops=32 transcendentals=0 read=144 written=16
  %rd = linalg.reduce ins(%x : tensor<4x8xf32>) outs(%e4 : tensor<4xf32>) dimensions = [1]
    (%in: f32, %acc: f32) {
      %r = arith.addf %in, %acc : f32
      linalg.yield %r : f32
    } loc("reduce")
  // Element-wise named ops: one op per element (32), the exp transcendental.
  // CHECK: add: linalg.add flops=32 transcendentals=0 read=256 written=128
  %ad = linalg.add ins(%x, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32> loc("add")
  // CHECK: exp: linalg.exp flops=32 transcendentals=32 read=128 written=128
  %ex = linalg.exp ins(%x : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32> loc("exp")
  // softmax over 32 elements: max, sub, exp, sum, div = 5 per element.
  // CHECK: softmax: linalg.softmax flops=160 transcendentals=32 read=128 written=128
  %sm = linalg.softmax dimension(1) ins(%x : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32> loc("softmax")
  // A generic whose body is mulf, tanh, addf: 3 ops x 32 = 96 FLOPs, 32 of
  // them transcendental.
  // CHECK: generic: linalg.generic flops=96 transcendentals=32 read=256 written=128
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
    ^bb0(%p: f32, %q: f32, %o: f32):
      %m1 = arith.mulf %p, %q : f32
      %t1 = math.tanh %m1 : f32
      %a1 = arith.addf %t1, %p : f32
      linalg.yield %a1 : f32
  } -> tensor<4x8xf32> loc("generic")
  // arith and math on whole tensors: per element.
  // CHECK: mulf: arith.mulf flops=32 transcendentals=0 read=256 written=128
  %mu = arith.mulf %x, %y : tensor<4x8xf32> loc("mulf")
  // CHECK: tanh_bf16: math.tanh flops=32 transcendentals=32 read=64 written=64
  %th = math.tanh %h : tensor<4x8xbf16> loc("tanh_bf16")
  // CHECK: scalar: arith.addf flops=1 transcendentals=0 read=8 written=4
  %sc = arith.addf %zero, %zero : f32 loc("scalar")
  // Views are free.
  // CHECK: slice: tensor.extract_slice flops=0 transcendentals=0 read=0 written=0
  %sl = tensor.extract_slice %ba[0, 0, 0] [1, 8, 16] [1, 1, 1] : tensor<2x8x16xf32> to tensor<8x16xf32> loc("slice")
  // CHECK: expand: tensor.expand_shape flops=0 transcendentals=0 read=0 written=0
  %xs = tensor.expand_shape %bmm [[0], [1, 2], [3]] output_shape [2, 4, 2, 4] : tensor<2x8x4xf32> into tensor<2x4x2x4xf32> loc("expand")
  // CHECK: collapse: tensor.collapse_shape flops=0 transcendentals=0 read=0 written=0
  %cs = tensor.collapse_shape %x [[0, 1]] : tensor<4x8xf32> into tensor<32xf32> loc("collapse")
  // CHECK: cast: tensor.cast flops=0 transcendentals=0 read=0 written=0
  %ct = tensor.cast %x : tensor<4x8xf32> to tensor<4x8xf32> loc("cast")
  // CHECK: name: remat.name flops=0 transcendentals=0 read=0 written=0
  %nm = remat.name "x" %x : tensor<4x8xf32> loc("name")
  // Data movement: no FLOPs, bytes moved. pad 4x6 -> 6x10: reads 96,
  // writes 240.
  // CHECK: pad: tensor.pad flops=0 transcendentals=0 read=96 written=240
  %pd = tensor.pad %s low[1, 2] high[1, 2] {
    ^bb0(%i: index, %j: index):
      tensor.yield %zero : f32
  } : tensor<4x6xf32> to tensor<6x10xf32> loc("pad")
  // concat of two 4x8 into 8x8: reads 256, writes 256.
  // CHECK: concat: tensor.concat flops=0 transcendentals=0 read=256 written=256
  %cc = tensor.concat dim(0) %x, %y : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<8x8xf32> loc("concat")
  // insert_slice of a 1x8 row: moves the slice's 32 bytes.
  %row = tensor.extract_slice %y[0, 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<1x8xf32> loc("row")
  // CHECK: insert: tensor.insert_slice flops=0 transcendentals=0 read=32 written=32
  %is = tensor.insert_slice %row into %x[1, 0] [1, 8] [1, 1] : tensor<1x8xf32> into tensor<4x8xf32> loc("insert")
  return %mm, %mmt, %bmm, %bmmt, %cp, %tr, %bc, %rd, %ad, %ex, %sm, %g, %th, %mu, %sl, %cs, %ct, %pd, %cc, %is
      : tensor<64x128xf32>, tensor<64x128xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<4x8xf32>, tensor<8x4xf32>,
        tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
        tensor<4x8xbf16>, tensor<4x8xf32>, tensor<8x16xf32>, tensor<32xf32>, tensor<4x8xf32>, tensor<6x10xf32>,
        tensor<8x8xf32>, tensor<4x8xf32>
}

// Roofline on H100 (defaults): the f32 matmul is a contraction, so TF32's
// 494.7 TFLOP/s applies: 4194304 / 494.7e12 s = 0.008478 us; its
// 262144 bytes / 3.35e12 B/s = 0.07825 us is larger: memory bound.
// TIME: mm: {{.*}} time[h100]=0.07825us
// The bf16 tanh: (32 + 7*32) weighted FLOPs / 989.4e12 = 2.587e-07 us;
// 128 bytes / 3.35e12 = 3.821e-05 us.
// TIME: tanh_bf16: {{.*}} time[h100]=3.821e-05us

// Explicit rates: 1 GFLOP/s and 1 GB/s for everything on f32 (peak-tf32
// left at the cpu preset's 1e12). matmul: max(4194304/1e12, 262144/1e9 s)
// = 262.1 us. The generic: (96 + 7*32) / 1e9 s = 0.32 us vs 384 bytes /
// 1e9 = 0.384 us.
// RATES: mm: {{.*}} time[cpu]=262.1us
// softmax: (160 + 7*32) / 1e9 s = 0.384 us, above 256 bytes / 1e9.
// RATES: softmax: {{.*}} time[cpu]=0.384us
// RATES: generic: {{.*}} time[cpu]=0.384us

// On A100, 262144 bytes / 2.039e12 B/s = 0.1286 us.
// A100: mm: {{.*}} time[a100]=0.1286us

// BADTARGET: error: unknown target 'tpu'; expected one of h100, h200, a100, cpu

// The chunked cross-entropy (4 chunks of C=4 tokens, H=8, V=32, f32): per
// chunk the logits' matmul (2*4*8*32 = 2048 FLOPs), the row max and the
// sum of exponentials (4 per logit: 512), the log-sum-exp and the picked
// logit (5 per row: 20); exp per logit and log per row are transcendental
// (132). It reads the chunk's rows and the whole weight ((32 + 256) * 4 =
// 1152 bytes) and the logits twice (1024), and writes the logits (512) and
// its rows of lse (16). Four chunks: 10320 FLOPs, 528 transcendental,
// 8704 bytes read, 2112 written. The gradient: per chunk three matmuls
// (6144), 6 per logit (768), exp per logit (128); it reads the rows, the
// weight three times, the logits three times and the accumulator
// ((2*32 + 3*256 + 3*128) * 4 = 4864), writes the logits, their gradient,
// dx's rows and the accumulator ((2*128 + 32 + 256) * 4 = 2176). Both run
// at the rate of their matmuls (TF32 for f32 on h100).
// CHECK: lce: remat.linear_cross_entropy flops=10320 transcendentals=528 read=8704 written=2112
// CHECK: lce_grad: remat.linear_cross_entropy_grad flops=27648 transcendentals=512 read=19456 written=8704
func.func @chunked_loss(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>,
                        %t: tensor<16xi64>, %g: tensor<f32>)
    -> (tensor<f32>, tensor<16x8xf32>, tensor<32x8xf32>) {
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>
      -> tensor<f32>, tensor<16xf32> loc("lce")
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %lse, %g, %g
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>, tensor<16xf32>,
        tensor<f32>, tensor<f32> -> tensor<16x8xf32>, tensor<32x8xf32> loc("lce_grad")
  return %sum, %dx, %dw : tensor<f32>, tensor<16x8xf32>, tensor<32x8xf32>
}

// Fused attention (G = 2x2 heads, 8 queries and keys, depth 4, blocks of
// 4x4, f32, no mask or dropout): per score the q.k dot (8), the p.v
// product (8) and 8 element-wise ops (256 scores: 6144 FLOPs), plus per
// row and key block alpha and the rescales (32 rows x 2 blocks x 10: 640);
// exp per score, alpha per row and block and log per row are
// transcendental (256 + 96). It reads q once and k and v once per block of
// queries ((128 + 2 x 4 x 8 x 8) x 4 = 2560 bytes) and writes out and lse
// (512 + 128). The gradient: per score 6d + 4dv + 9 = 49 (12544) and per
// row 2dv (256); it reads k and v once (1024), per key block q, dout, lse,
// delta and the f32 dq accumulator (2 x 2304), and out and dout (1024);
// writes dk, dv and dq (1536) and the accumulator per key block (1024).
// The element-wise part (all but the matmuls' 2d + 2dv per score forward,
// 6d + 4dv backward) is `vector`: it runs at the f32 rate.
// CHECK: attention: remat.attention flops=6784 transcendentals=352 vector=2688 read=2560 written=640
// CHECK: attention_grad: remat.attention_grad flops=12800 transcendentals=256 vector=2560 read=6656 written=2560
func.func @attention(%q: tensor<2x2x8x4xf32>, %k: tensor<2x2x8x4xf32>,
                     %v: tensor<2x2x8x4xf32>, %do: tensor<2x2x8x4xf32>)
    -> (tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>) {
  %out, %lse = remat.attention %q, %k, %v
      attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32> loc("attention")
  %dq, %dk, %dv = remat.attention_grad %q, %k, %v, %out, %lse, %do
      attributes {block_k = 4 : i64, block_q = 4 : i64, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>,
        tensor<2x2x8x4xf32>, tensor<2x2x8xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32> loc("attention_grad")
  return %out, %dq : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>
}
