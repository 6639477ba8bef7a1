//===- transformer-mlp-step.mlir - a transformer-style training step ------===//
//
// One training step of a transformer MLP block with a residual connection:
//
//   h = x @ W1          (block.mlp.fc1, 8x64)
//   g = gelu_tanh(h)    (block.mlp.gelu)
//   y = x + g @ W2      (block.out, residual)
//   loss = mean(y * y)
//
// The MLP is a checkpoint region with the `dots` policy, the IR form of
// jax.checkpoint(policy=dots_saveable). The backward pass is a remat.backward
// region whose operand list is the saved set. `@main` runs the step on fixed
// inputs and prints the loss, gradient sums and the heap high-water mark.
//
// Demo:  remat-opt examples/transformer-mlp-step.mlir -remat-report \
//          -remat-finalize -canonicalize -cse
//
//===----------------------------------------------------------------------===//

#id = affine_map<(d0, d1) -> (d0, d1)>
#sum = affine_map<(d0, d1) -> ()>

func.func @train_step(%x: tensor<8x16xf32>, %w1: tensor<16x64xf32>,
                      %w2: tensor<64x16xf32>)
    -> (tensor<f32>, tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>) {
  %o, %h, %g = remat.checkpoint(%x, %w1, %w2) policy(#remat.policy<dots>)
      : (tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>)
     -> (tensor<8x16xf32>, tensor<8x64xf32>, tensor<8x64xf32>) {
  ^bb0(%cx: tensor<8x16xf32>, %cw1: tensor<16x64xf32>, %cw2: tensor<64x16xf32>):
    %zero = arith.constant 0.0 : f32
    %e0 = tensor.empty() : tensor<8x64xf32>
    %z0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<8x64xf32>) -> tensor<8x64xf32>
    %h0 = linalg.matmul ins(%cx, %cw1 : tensor<8x16xf32>, tensor<16x64xf32>)
                        outs(%z0 : tensor<8x64xf32>) -> tensor<8x64xf32>
    %hn = remat.name "block.mlp.fc1" %h0 : tensor<8x64xf32>
    // gelu_tanh(h) = 0.5 h (1 + tanh(c (h + 0.044715 h^3))), c = sqrt(2/pi)
    %half = arith.constant dense<0.5> : tensor<8x64xf32>
    %one = arith.constant dense<1.0> : tensor<8x64xf32>
    %k = arith.constant dense<0.044715> : tensor<8x64xf32>
    %c = arith.constant dense<0.797884583> : tensor<8x64xf32>
    %h2 = arith.mulf %hn, %hn : tensor<8x64xf32>
    %h3 = arith.mulf %h2, %hn : tensor<8x64xf32>
    %kh3 = arith.mulf %k, %h3 : tensor<8x64xf32>
    %in = arith.addf %hn, %kh3 : tensor<8x64xf32>
    %arg = arith.mulf %c, %in : tensor<8x64xf32>
    %t = math.tanh %arg : tensor<8x64xf32>
    %onept = arith.addf %one, %t : tensor<8x64xf32>
    %hh = arith.mulf %half, %hn : tensor<8x64xf32>
    %g0 = arith.mulf %hh, %onept : tensor<8x64xf32>
    %gn = remat.name "block.mlp.gelu" %g0 : tensor<8x64xf32>
    %e1 = tensor.empty() : tensor<8x16xf32>
    %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<8x16xf32>) -> tensor<8x16xf32>
    %o0 = linalg.matmul ins(%gn, %cw2 : tensor<8x64xf32>, tensor<64x16xf32>)
                        outs(%z1 : tensor<8x16xf32>) -> tensor<8x16xf32>
    %on = remat.name "block.mlp.fc2" %o0 : tensor<8x16xf32>
    remat.yield %on, %hn, %gn : tensor<8x16xf32>, tensor<8x64xf32>, tensor<8x64xf32>
  }
  %y0 = arith.addf %x, %o : tensor<8x16xf32>
  %y = remat.name "block.out" %y0 : tensor<8x16xf32>

  // loss = sum(y * y) / 128
  %sq = arith.mulf %y, %y : tensor<8x16xf32>
  %fzero = arith.constant 0.0 : f32
  %se = tensor.empty() : tensor<f32>
  %sz = linalg.fill ins(%fzero : f32) outs(%se : tensor<f32>) -> tensor<f32>
  %ssum = linalg.generic {indexing_maps = [#id, #sum],
                          iterator_types = ["reduction", "reduction"]}
      ins(%sq : tensor<8x16xf32>) outs(%sz : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  %inv = arith.constant dense<0.0078125> : tensor<f32>
  %loss = arith.mulf %ssum, %inv : tensor<f32>

  %dx, %dw1, %dw2 = remat.backward(%x, %h, %g, %y, %w1, %w2)
      : (tensor<8x16xf32>, tensor<8x64xf32>, tensor<8x64xf32>, tensor<8x16xf32>,
         tensor<16x64xf32>, tensor<64x16xf32>)
     -> (tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>) {
  ^bb0(%bx: tensor<8x16xf32>, %bh: tensor<8x64xf32>, %bg: tensor<8x64xf32>,
       %by: tensor<8x16xf32>, %bw1: tensor<16x64xf32>, %bw2: tensor<64x16xf32>):
    %zero = arith.constant 0.0 : f32
    // dy = 2 y / 128
    %scale = arith.constant dense<0.015625> : tensor<8x16xf32>
    %dy = arith.mulf %by, %scale : tensor<8x16xf32>
    // dW2 = g^T dy
    %gte = tensor.empty() : tensor<64x8xf32>
    %gt = linalg.transpose ins(%bg : tensor<8x64xf32>) outs(%gte : tensor<64x8xf32>) permutation = [1, 0]
    %e2 = tensor.empty() : tensor<64x16xf32>
    %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<64x16xf32>) -> tensor<64x16xf32>
    %gw2 = linalg.matmul ins(%gt, %dy : tensor<64x8xf32>, tensor<8x16xf32>)
                         outs(%z2 : tensor<64x16xf32>) -> tensor<64x16xf32>
    // dg = dy W2^T
    %w2te = tensor.empty() : tensor<16x64xf32>
    %w2t = linalg.transpose ins(%bw2 : tensor<64x16xf32>) outs(%w2te : tensor<16x64xf32>) permutation = [1, 0]
    %e3 = tensor.empty() : tensor<8x64xf32>
    %z3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<8x64xf32>) -> tensor<8x64xf32>
    %dg = linalg.matmul ins(%dy, %w2t : tensor<8x16xf32>, tensor<16x64xf32>)
                        outs(%z3 : tensor<8x64xf32>) -> tensor<8x64xf32>
    // gelu'(h) = 0.5 (1 + t) + 0.5 h (1 - t^2) c (1 + 3 k h^2)
    %half = arith.constant dense<0.5> : tensor<8x64xf32>
    %one = arith.constant dense<1.0> : tensor<8x64xf32>
    %k = arith.constant dense<0.044715> : tensor<8x64xf32>
    %k3 = arith.constant dense<0.134145> : tensor<8x64xf32>
    %c = arith.constant dense<0.797884583> : tensor<8x64xf32>
    %h2 = arith.mulf %bh, %bh : tensor<8x64xf32>
    %h3 = arith.mulf %h2, %bh : tensor<8x64xf32>
    %kh3 = arith.mulf %k, %h3 : tensor<8x64xf32>
    %in = arith.addf %bh, %kh3 : tensor<8x64xf32>
    %arg = arith.mulf %c, %in : tensor<8x64xf32>
    %t = math.tanh %arg : tensor<8x64xf32>
    %onept = arith.addf %one, %t : tensor<8x64xf32>
    %left = arith.mulf %half, %onept : tensor<8x64xf32>
    %t2 = arith.mulf %t, %t : tensor<8x64xf32>
    %sech2 = arith.subf %one, %t2 : tensor<8x64xf32>
    %k3h2 = arith.mulf %k3, %h2 : tensor<8x64xf32>
    %poly = arith.addf %one, %k3h2 : tensor<8x64xf32>
    %cpoly = arith.mulf %c, %poly : tensor<8x64xf32>
    %hh = arith.mulf %half, %bh : tensor<8x64xf32>
    %r0 = arith.mulf %hh, %sech2 : tensor<8x64xf32>
    %right = arith.mulf %r0, %cpoly : tensor<8x64xf32>
    %dgelu = arith.addf %left, %right : tensor<8x64xf32>
    %dh = arith.mulf %dg, %dgelu : tensor<8x64xf32>
    // dW1 = x^T dh
    %xte = tensor.empty() : tensor<16x8xf32>
    %xt = linalg.transpose ins(%bx : tensor<8x16xf32>) outs(%xte : tensor<16x8xf32>) permutation = [1, 0]
    %e4 = tensor.empty() : tensor<16x64xf32>
    %z4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<16x64xf32>) -> tensor<16x64xf32>
    %gw1 = linalg.matmul ins(%xt, %dh : tensor<16x8xf32>, tensor<8x64xf32>)
                         outs(%z4 : tensor<16x64xf32>) -> tensor<16x64xf32>
    // dx = dy + dh W1^T
    %w1te = tensor.empty() : tensor<64x16xf32>
    %w1t = linalg.transpose ins(%bw1 : tensor<16x64xf32>) outs(%w1te : tensor<64x16xf32>) permutation = [1, 0]
    %e5 = tensor.empty() : tensor<8x16xf32>
    %z5 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<8x16xf32>) -> tensor<8x16xf32>
    %dxm = linalg.matmul ins(%dh, %w1t : tensor<8x64xf32>, tensor<64x16xf32>)
                         outs(%z5 : tensor<8x16xf32>) -> tensor<8x16xf32>
    %gx = arith.addf %dy, %dxm : tensor<8x16xf32>
    remat.yield %gx, %gw1, %gw2 : tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>
  }
  return %loss, %dx, %dw1, %dw2
      : tensor<f32>, tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>
}

func.func private @rematPrintTensorF32(i64, tensor<*xf32>) attributes {llvm.emit_c_interface}
func.func private @rematPrintHeapStats()
func.func private @rematHeapResetPeak()

/// Fills a tensor with 0.1 * sin(0.37 * i + 0.11 * j + phase).
func.func @init(%phase: f32, %out: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %r = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%out : tensor<?x?xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i64
    %jj = arith.index_cast %j : index to i64
    %fi = arith.sitofp %ii : i64 to f32
    %fj = arith.sitofp %jj : i64 to f32
    %a = arith.constant 0.37 : f32
    %b = arith.constant 0.11 : f32
    %s = arith.constant 0.1 : f32
    %ai = arith.mulf %a, %fi : f32
    %bj = arith.mulf %b, %fj : f32
    %sum = arith.addf %ai, %bj : f32
    %arg = arith.addf %sum, %phase : f32
    %v = math.sin %arg : f32
    %w = arith.mulf %s, %v : f32
    linalg.yield %w : f32
  } -> tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}

/// Prints `tensor <id>: <sum of all elements>`.
func.func @print_sum(%id: i64, %t: tensor<?x?xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %s = linalg.generic {indexing_maps = [#id, #sum], iterator_types = ["reduction", "reduction"]}
      ins(%t : tensor<?x?xf32>) outs(%z : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %u = tensor.cast %s : tensor<f32> to tensor<*xf32>
  call @rematPrintTensorF32(%id, %u) : (i64, tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %p0 = arith.constant 0.0 : f32
  %p1 = arith.constant 1.0 : f32
  %p2 = arith.constant 2.0 : f32
  %ex = tensor.empty(%c8, %c16) : tensor<?x?xf32>
  %e1 = tensor.empty(%c16, %c64) : tensor<?x?xf32>
  %e2 = tensor.empty(%c64, %c16) : tensor<?x?xf32>
  %xd = call @init(%p0, %ex) : (f32, tensor<?x?xf32>) -> tensor<?x?xf32>
  %w1d = call @init(%p1, %e1) : (f32, tensor<?x?xf32>) -> tensor<?x?xf32>
  %w2d = call @init(%p2, %e2) : (f32, tensor<?x?xf32>) -> tensor<?x?xf32>
  %x = tensor.cast %xd : tensor<?x?xf32> to tensor<8x16xf32>
  %w1 = tensor.cast %w1d : tensor<?x?xf32> to tensor<16x64xf32>
  %w2 = tensor.cast %w2d : tensor<?x?xf32> to tensor<64x16xf32>
  call @rematHeapResetPeak() : () -> ()
  %loss, %dx, %dw1, %dw2 = call @train_step(%x, %w1, %w2)
      : (tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>)
     -> (tensor<f32>, tensor<8x16xf32>, tensor<16x64xf32>, tensor<64x16xf32>)
  call @rematPrintHeapStats() : () -> ()
  %lu = tensor.cast %loss : tensor<f32> to tensor<*xf32>
  %id0 = arith.constant 0 : i64
  call @rematPrintTensorF32(%id0, %lu) : (i64, tensor<*xf32>) -> ()
  %id1 = arith.constant 1 : i64
  %id2 = arith.constant 2 : i64
  %id3 = arith.constant 3 : i64
  %dxd = tensor.cast %dx : tensor<8x16xf32> to tensor<?x?xf32>
  %dw1d = tensor.cast %dw1 : tensor<16x64xf32> to tensor<?x?xf32>
  %dw2d = tensor.cast %dw2 : tensor<64x16xf32> to tensor<?x?xf32>
  call @print_sum(%id1, %dxd) : (i64, tensor<?x?xf32>) -> ()
  call @print_sum(%id2, %dw1d) : (i64, tensor<?x?xf32>) -> ()
  call @print_sum(%id3, %dw2d) : (i64, tensor<?x?xf32>) -> ()
  return
}
