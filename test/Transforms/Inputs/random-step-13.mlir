func.func @step(%x: tensor<16x16xf32>, %w: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<16x16xf32>
  %e0f = linalg.fill ins(%zero : f32) outs(%e0 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v0_r = linalg.matmul ins(%x, %w : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e0f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v0 = remat.name "v0" %v0_r : tensor<16x16xf32>
  %e1 = tensor.empty() : tensor<16x16xf32>
  %v1_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v0 : tensor<16x16xf32>) outs(%e1 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.log %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v1 = remat.name "v1" %v1_r : tensor<16x16xf32>
  %e2 = tensor.empty() : tensor<16x16xf32>
  %v2_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v1 : tensor<16x16xf32>) outs(%e2 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.sqrt %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v2 = remat.name "v2" %v2_r : tensor<16x16xf32>
  %e3 = tensor.empty() : tensor<16x16xf32>
  %e3f = linalg.fill ins(%zero : f32) outs(%e3 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v3_r = linalg.matmul ins(%x, %w : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e3f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v3 = remat.name "v3" %v3_r : tensor<16x16xf32>
  %e4 = tensor.empty() : tensor<16x16xf32>
  %v4_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v1 : tensor<16x16xf32>) outs(%e4 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.sqrt %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v4 = remat.name "v4" %v4_r : tensor<16x16xf32>
  %e5 = tensor.empty() : tensor<16x16xf32>
  %v5_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v3 : tensor<16x16xf32>) outs(%e5 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.tanh %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v5 = remat.name "v5" %v5_r : tensor<16x16xf32>
  %e6 = tensor.empty() : tensor<16x16xf32>
  %e6f = linalg.fill ins(%zero : f32) outs(%e6 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v6_r = linalg.matmul ins(%v1, %v4 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e6f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v6 = remat.name "v6" %v6_r : tensor<16x16xf32>
  %e7 = tensor.empty() : tensor<16x16xf32>
  %e7f = linalg.fill ins(%zero : f32) outs(%e7 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v7_r = linalg.matmul ins(%v6, %v0 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e7f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v7 = remat.name "v7" %v7_r : tensor<16x16xf32>
  %e8 = tensor.empty() : tensor<16x16xf32>
  %v8_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v5 : tensor<16x16xf32>) outs(%e8 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.log %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v8 = remat.name "v8" %v8_r : tensor<16x16xf32>
  %e9 = tensor.empty() : tensor<16x16xf32>
  %e9f = linalg.fill ins(%zero : f32) outs(%e9 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v9_r = linalg.matmul ins(%v5, %v2 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e9f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v9 = remat.name "v9" %v9_r : tensor<16x16xf32>
  %e10 = tensor.empty() : tensor<16x16xf32>
  %v10_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v8 : tensor<16x16xf32>) outs(%e10 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v10 = remat.name "v10" %v10_r : tensor<16x16xf32>
  %e11 = tensor.empty() : tensor<16x16xf32>
  %v11_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v9 : tensor<16x16xf32>) outs(%e11 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.sqrt %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v11 = remat.name "v11" %v11_r : tensor<16x16xf32>
  %e12 = tensor.empty() : tensor<16x16xf32>
  %v12_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v11 : tensor<16x16xf32>) outs(%e12 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.tanh %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v12 = remat.name "v12" %v12_r : tensor<16x16xf32>
  %e13 = tensor.empty() : tensor<16x16xf32>
  %v13_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v12 : tensor<16x16xf32>) outs(%e13 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v13 = remat.name "v13" %v13_r : tensor<16x16xf32>
  %g = remat.backward(%v1, %v12, %v4, %v10, %v13, %v11, %v9, %v7, %v8, %v0, %v3, %v5, %v6) : (tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32> {
  ^bb0(%b0: tensor<16x16xf32>, %b1: tensor<16x16xf32>, %b2: tensor<16x16xf32>, %b3: tensor<16x16xf32>, %b4: tensor<16x16xf32>, %b5: tensor<16x16xf32>, %b6: tensor<16x16xf32>, %b7: tensor<16x16xf32>, %b8: tensor<16x16xf32>, %b9: tensor<16x16xf32>, %b10: tensor<16x16xf32>, %b11: tensor<16x16xf32>, %b12: tensor<16x16xf32>):
    %zb = arith.constant 0.0 : f32
    %acc0e = tensor.empty() : tensor<16x16xf32>
    %acc0 = linalg.fill ins(%zb : f32) outs(%acc0e : tensor<16x16xf32>) -> tensor<16x16xf32>
    %acc1 = arith.addf %acc0, %b9 : tensor<16x16xf32>
    %t1e = tensor.empty() : tensor<16x16xf32>
    %t1 = linalg.fill ins(%zb : f32) outs(%t1e : tensor<16x16xf32>) -> tensor<16x16xf32>
    %acc2 = arith.addf %acc1, %b8 : tensor<16x16xf32>
    %t2e = tensor.empty() : tensor<16x128xf32>
    %t2 = linalg.fill ins(%zb : f32) outs(%t2e : tensor<16x128xf32>) -> tensor<16x128xf32>
    %acc3 = arith.addf %acc2, %b0 : tensor<16x16xf32>
    %t3e = tensor.empty() : tensor<16x32xf32>
    %t3 = linalg.fill ins(%zb : f32) outs(%t3e : tensor<16x32xf32>) -> tensor<16x32xf32>
    %acc4 = arith.addf %acc3, %b10 : tensor<16x16xf32>
    %acc5 = arith.addf %acc4, %b3 : tensor<16x16xf32>
    %s4 = tensor.extract_slice %t1[0, 0] [16, 16] [1, 1] : tensor<16x16xf32> to tensor<16x16xf32>
    %u4 = arith.addf %acc5, %s4 : tensor<16x16xf32>
    %acc6 = arith.addf %u4, %b4 : tensor<16x16xf32>
    %s5 = tensor.extract_slice %t2[0, 0] [16, 16] [1, 1] : tensor<16x128xf32> to tensor<16x16xf32>
    %u5 = arith.addf %acc6, %s5 : tensor<16x16xf32>
    %t6e = tensor.empty() : tensor<16x32xf32>
    %t6 = linalg.fill ins(%zb : f32) outs(%t6e : tensor<16x32xf32>) -> tensor<16x32xf32>
    %acc7 = arith.addf %u5, %b1 : tensor<16x16xf32>
    %s6 = tensor.extract_slice %t3[0, 0] [16, 16] [1, 1] : tensor<16x32xf32> to tensor<16x16xf32>
    %u6 = arith.addf %acc7, %s6 : tensor<16x16xf32>
    %acc8 = arith.addf %u6, %b7 : tensor<16x16xf32>
    %s7 = tensor.extract_slice %t6[0, 0] [16, 16] [1, 1] : tensor<16x32xf32> to tensor<16x16xf32>
    %u7 = arith.addf %acc8, %s7 : tensor<16x16xf32>
    %acc9 = arith.addf %u7, %b5 : tensor<16x16xf32>
    %t9e = tensor.empty() : tensor<16x128xf32>
    %t9 = linalg.fill ins(%zb : f32) outs(%t9e : tensor<16x128xf32>) -> tensor<16x128xf32>
    %acc10 = arith.addf %acc9, %b2 : tensor<16x16xf32>
    %acc11 = arith.addf %acc10, %b11 : tensor<16x16xf32>
    %acc12 = arith.addf %acc11, %b6 : tensor<16x16xf32>
    %s11 = tensor.extract_slice %t9[0, 0] [16, 16] [1, 1] : tensor<16x128xf32> to tensor<16x16xf32>
    %u11 = arith.addf %acc12, %s11 : tensor<16x16xf32>
    %acc13 = arith.addf %u11, %b12 : tensor<16x16xf32>
    remat.yield %acc13 : tensor<16x16xf32>
  }
  return %g : tensor<16x16xf32>
}
