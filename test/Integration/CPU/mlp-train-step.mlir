// One training step of a 2-layer tanh MLP on CPU; loss and gradients checked against PyTorch (rtol 1e-5).

// RUN: remat-opt %s | remat-opt > /dev/null
// RUN: remat-opt %s -remat-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils,%remat_runtime \
// RUN: | %check_close --ref %S/Inputs/mlp_reference.json --rtol 1e-5
// RUN: remat-opt %s -remat-lower-to-llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils,%remat_runtime \
// RUN: | %check_close --ref %S/Inputs/mlp_reference.json --rtol 1e-5 \
// RUN: | FileCheck %s

// The model, with batch B=4, inputs D=8, hidden H=16, outputs O=4 and no
// biases:
//
//   a    = tanh(x @ W1)          x: 4x8, W1: 8x16, a: 4x16
//   out  = a @ W2                W2: 16x4, out: 4x4
//   loss = mean((out - y)^2)     y: 4x4
//
// @train_step computes the forward pass in the function body and the
// gradients by hand in a remat.backward region, which reads the forward
// values x, a, diff = out - y and W2:
//
//   dout = 2 * diff / 16,  dW2 = a^T @ dout,
//   da = dout @ W2^T,  dh = da * (1 - a^2),  dW1 = x^T @ dh.
//
// @main feeds it constant inputs and prints loss (id 0), dW1 (id 1) and
// dW2 (id 2). check_close.py compares them elementwise with
// Inputs/mlp_reference.json, which torch autograd computed in float64 from
// the same (float32) inputs; see the header of Inputs/mlp_reference.py. To
// regenerate both the reference and the constants below:
//
//   /usr/bin/python3 Inputs/mlp_reference.py --emit-json Inputs/mlp_reference.json
//   /usr/bin/python3 Inputs/mlp_reference.py --emit-mlir-constants

// CHECK: loss (id 0): max_rel_err={{.*}} OK
// CHECK: dW1 (id 1): max_rel_err={{.*}} OK
// CHECK: dW2 (id 2): max_rel_err={{.*}} OK
// CHECK: check_close: 3 passed, 0 failed

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#km = affine_map<(m, n, k) -> (k, m)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id2 = affine_map<(i, j) -> (i, j)>
#to0 = affine_map<(i, j) -> (0)>

func.func @train_step(%x: tensor<4x8xf32>, %w1: tensor<8x16xf32>,
                      %w2: tensor<16x4xf32>, %y: tensor<4x4xf32>)
    -> (tensor<1xf32>, tensor<8x16xf32>, tensor<16x4xf32>) {
  %zero = arith.constant 0.0 : f32

  // Forward.
  %h0 = tensor.empty() : tensor<4x16xf32>
  %h1 = linalg.fill ins(%zero : f32) outs(%h0 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<4x8xf32>, tensor<8x16xf32>)
                     outs(%h1 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %t = math.tanh %h : tensor<4x16xf32>
  %a = remat.name "mlp.fc1.tanh" %t : tensor<4x16xf32>
  %o0 = tensor.empty() : tensor<4x4xf32>
  %o1 = linalg.fill ins(%zero : f32) outs(%o0 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %out = linalg.matmul ins(%a, %w2 : tensor<4x16xf32>, tensor<16x4xf32>)
                       outs(%o1 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %diff = arith.subf %out, %y : tensor<4x4xf32>
  %sq = arith.mulf %diff, %diff : tensor<4x4xf32>
  %s0 = tensor.empty() : tensor<1xf32>
  %s1 = linalg.fill ins(%zero : f32) outs(%s0 : tensor<1xf32>) -> tensor<1xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #to0],
                         iterator_types = ["reduction", "reduction"]}
      ins(%sq : tensor<4x4xf32>) outs(%s1 : tensor<1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<1xf32>
  %inv_n = arith.constant dense<0.0625> : tensor<1xf32>
  %loss = arith.mulf %sum, %inv_n : tensor<1xf32>

  // Backward.
  %g:2 = remat.backward(%x, %a, %diff, %w2)
      : (tensor<4x8xf32>, tensor<4x16xf32>, tensor<4x4xf32>, tensor<16x4xf32>)
        -> (tensor<8x16xf32>, tensor<16x4xf32>) {
  ^bb0(%sx: tensor<4x8xf32>, %sa: tensor<4x16xf32>, %sd: tensor<4x4xf32>,
       %sw2: tensor<16x4xf32>):
    %bzero = arith.constant 0.0 : f32
    // dout = 2 * diff / numel(out) = diff / 8.
    %two_over_n = arith.constant dense<0.125> : tensor<4x4xf32>
    %dout = arith.mulf %sd, %two_over_n : tensor<4x4xf32>
    // dW2 = a^T @ dout, a matmul that reads a transposed.
    %e2 = tensor.empty() : tensor<16x4xf32>
    %f2 = linalg.fill ins(%bzero : f32) outs(%e2 : tensor<16x4xf32>) -> tensor<16x4xf32>
    %dw2 = linalg.matmul indexing_maps = [#km, #kn, #mn]
        ins(%sa, %dout : tensor<4x16xf32>, tensor<4x4xf32>)
        outs(%f2 : tensor<16x4xf32>) -> tensor<16x4xf32>
    // da = dout @ W2^T, with an explicit transpose.
    %et = tensor.empty() : tensor<4x16xf32>
    %w2t = linalg.transpose ins(%sw2 : tensor<16x4xf32>)
        outs(%et : tensor<4x16xf32>) permutation = [1, 0]
    %ea = tensor.empty() : tensor<4x16xf32>
    %fa = linalg.fill ins(%bzero : f32) outs(%ea : tensor<4x16xf32>) -> tensor<4x16xf32>
    %da = linalg.matmul ins(%dout, %w2t : tensor<4x4xf32>, tensor<4x16xf32>)
        outs(%fa : tensor<4x16xf32>) -> tensor<4x16xf32>
    // dh = da * (1 - a^2).
    %one = arith.constant dense<1.0> : tensor<4x16xf32>
    %a2 = arith.mulf %sa, %sa : tensor<4x16xf32>
    %dtanh = arith.subf %one, %a2 : tensor<4x16xf32>
    %dh = arith.mulf %da, %dtanh : tensor<4x16xf32>
    // dW1 = x^T @ dh, as a generic contraction over the batch.
    %e1 = tensor.empty() : tensor<8x16xf32>
    %f1 = linalg.fill ins(%bzero : f32) outs(%e1 : tensor<8x16xf32>) -> tensor<8x16xf32>
    %dw1 = linalg.generic {indexing_maps = [#km, #kn, #mn],
                           iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%sx, %dh : tensor<4x8xf32>, tensor<4x16xf32>)
        outs(%f1 : tensor<8x16xf32>) {
    ^bb0(%p: f32, %q: f32, %acc: f32):
      %m = arith.mulf %p, %q : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    } -> tensor<8x16xf32>
    remat.yield %dw1, %dw2 : tensor<8x16xf32>, tensor<16x4xf32>
  }
  return %loss, %g#0, %g#1 : tensor<1xf32>, tensor<8x16xf32>, tensor<16x4xf32>
}

func.func private @rematPrintTensorF32(i64, tensor<*xf32>) attributes {llvm.emit_c_interface}
func.func private @rematPrintHeapStats()
func.func private @rematHeapResetPeak()

func.func @main() {
  // Generated by: /usr/bin/python3 Inputs/mlp_reference.py --emit-mlir-constants
  %x = arith.constant dense<[[0.049916707, 0.194709167, 0.322108835, 0.420735478, 0.481779099, 0.499786794, 0.473150045, 0.404248208], [0.358678043, 0.445603669, 0.492724866, 0.495832413, 0.454648703, 0.372852594, 0.25775069, 0.119624667], [0.498747498, 0.486923814, 0.431604683, 0.3377316, 0.213689938, 0.0705600008, -0.0788728446, -0.22126022], [0.404248208, 0.299236059, 0.167494074, 0.0207903311, -0.127770558, -0.264918059, -0.37840125, -0.458082974]]> : tensor<4x8xf32>
  %w1 = arith.constant dense<[[0.263274759, 0.289131284, 0.299760044, 0.294601262, 0.273926675, 0.238825142, 0.191145346, 0.133398458, 0.068625845, 0.000238898007, -0.0681606308, -0.132970318, -0.19077684, -0.238535687, -0.2737315, -0.294510663], [0.193447962, 0.240628734, 0.275136232, 0.295153111, 0.299625069, 0.288316637, 0.261823356, 0.22154057, 0.169589862, 0.108707324, 0.0420994833, -0.0267256256, -0.0941431671, -0.156602457, -0.210813925, -0.253922403], [0.0974388868, 0.159558222, 0.213274062, 0.255757362, 0.284770638, 0.298785806, 0.297064811, 0.279698193, 0.24760069, 0.202462733, 0.146661624, 0.0831362605, 0.0152323451, -0.0534738153, -0.119363666, -0.178966954], [-0.01175809, 0.0568922497, 0.122546233, 0.181746051, 0.231373802, 0.268815756, 0.292099923, 0.300000012, 0.292099923, 0.268815756, 0.231373802, 0.181746051, 0.122546233, 0.0568922497, -0.01175809, -0.0797891617], [-0.119363666, -0.0534738153, 0.0152323451, 0.0831362605, 0.146661624, 0.202462733, 0.24760069, 0.279698193, 0.297064811, 0.298785806, 0.284770638, 0.255757362, 0.213274062, 0.159558222, 0.0974388868, 0.0301877204], [-0.210813925, -0.156602457, -0.0941431671, -0.0267256256, 0.0420994833, 0.108707324, 0.169589862, 0.22154057, 0.261823356, 0.288316637, 0.299625069, 0.295153111, 0.275136232, 0.240628734, 0.193447962, 0.136078835], [-0.2737315, -0.238535687, -0.19077684, -0.132970318, -0.0681606308, 0.000238898007, 0.068625845, 0.133398458, 0.191145346, 0.238825142, 0.273926675, 0.294601262, 0.299760044, 0.289131284, 0.263274759, 0.223552316], [-0.29960081, -0.288184226, -0.261589766, -0.221218109, -0.169195518, -0.108261861, -0.0416263603, 0.0272014868, 0.0945967063, 0.15700978, 0.211153597, 0.254176527, 0.283812702, 0.298501253, 0.297468573, 0.28076905]]> : tensor<8x16xf32>
  %w2 = arith.constant dense<[[-0.0496673323, 0.0521149747, 0.145258784, 0.214324743], [-0.00249995827, 0.0973545834, 0.181071788, 0.234774843], [0.0447573923, 0.139090255, 0.210367739, 0.246775031], [0.0904038548, 0.175819859, 0.232092246, 0.249893397], [0.132796556, 0.206221431, 0.245463386, 0.244017735], [0.170409694, 0.22920078, 0.249999925, 0.229359493], [0.20188953, 0.243930846, 0.245538577, 0.206446245], [0.226103052, 0.249881461, 0.232239932, 0.176102698], [0.242178768, 0.246838465, 0.210582614, 0.139420927], [0.249538124, 0.234911367, 0.181346104, 0.0977211967], [0.247916207, 0.214529455, 0.145582661, 0.0525043234], [0.2373714, 0.186426297, 0.104579486, 0.00539774401], [0.218283251, 0.151613384, 0.0598123334, -0.0419031084], [0.191338733, 0.111343659, 0.0128924418, -0.0876958072], [0.157507658, 0.067066513, -0.0344914682, -0.130332202], [0.118007638, 0.0203755386, -0.0806339756, -0.16827774]]> : tensor<16x4xf32>
  %y = arith.constant dense<[[0.200000003, 0.175516516, 0.108060464, 0.01414744], [0.124321997, 0.0339934304, -0.0646579117, -0.147478744], [-0.0454404205, -0.133255199, -0.188444465, -0.197495952], [-0.18081443, -0.19965896, -0.169620007, -0.0980521664]]> : tensor<4x4xf32>
  call @rematHeapResetPeak() : () -> ()
  %loss, %dw1, %dw2 = call @train_step(%x, %w1, %w2, %y)
      : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x4xf32>)
        -> (tensor<1xf32>, tensor<8x16xf32>, tensor<16x4xf32>)
  call @rematPrintHeapStats() : () -> ()
  %id0 = arith.constant 0 : i64
  %id1 = arith.constant 1 : i64
  %id2 = arith.constant 2 : i64
  %u0 = tensor.cast %loss : tensor<1xf32> to tensor<*xf32>
  call @rematPrintTensorF32(%id0, %u0) : (i64, tensor<*xf32>) -> ()
  %u1 = tensor.cast %dw1 : tensor<8x16xf32> to tensor<*xf32>
  call @rematPrintTensorF32(%id1, %u1) : (i64, tensor<*xf32>) -> ()
  %u2 = tensor.cast %dw2 : tensor<16x4xf32> to tensor<*xf32>
  call @rematPrintTensorF32(%id2, %u2) : (i64, tensor<*xf32>) -> ()
  return
}
