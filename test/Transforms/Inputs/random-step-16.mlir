func.func @step(%x: tensor<16x16xf32>, %w: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<16x16xf32>
  %v0_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x16xf32>) outs(%e0 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.log %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v0 = remat.name "v0" %v0_r : tensor<16x16xf32>
  %e1 = tensor.empty() : tensor<16x16xf32>
  %e1f = linalg.fill ins(%zero : f32) outs(%e1 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v1_r = linalg.matmul ins(%x, %v0 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e1f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v1 = remat.name "v1" %v1_r : tensor<16x16xf32>
  %e2 = tensor.empty() : tensor<16x16xf32>
  %v2_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x16xf32>) outs(%e2 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.tanh %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v2 = remat.name "v2" %v2_r : tensor<16x16xf32>
  %e3 = tensor.empty() : tensor<16x16xf32>
  %e3f = linalg.fill ins(%zero : f32) outs(%e3 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v3_r = linalg.matmul ins(%v2, %x : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e3f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v3 = remat.name "v3" %v3_r : tensor<16x16xf32>
  %e4 = tensor.empty() : tensor<16x16xf32>
  %e4f = linalg.fill ins(%zero : f32) outs(%e4 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v4_r = linalg.matmul ins(%v3, %v2 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e4f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v4 = remat.name "v4" %v4_r : tensor<16x16xf32>
  %e5 = tensor.empty() : tensor<16x16xf32>
  %e5f = linalg.fill ins(%zero : f32) outs(%e5 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v5_r = linalg.matmul ins(%v3, %x : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e5f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v5 = remat.name "v5" %v5_r : tensor<16x16xf32>
  %e6 = tensor.empty() : tensor<16x16xf32>
  %v6_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v5 : tensor<16x16xf32>) outs(%e6 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v6 = remat.name "v6" %v6_r : tensor<16x16xf32>
  %e7 = tensor.empty() : tensor<16x16xf32>
  %v7_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v4 : tensor<16x16xf32>) outs(%e7 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v7 = remat.name "v7" %v7_r : tensor<16x16xf32>
  %e8 = tensor.empty() : tensor<16x16xf32>
  %e8f = linalg.fill ins(%zero : f32) outs(%e8 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v8_r = linalg.matmul ins(%v1, %v3 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e8f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v8 = remat.name "v8" %v8_r : tensor<16x16xf32>
  %e9 = tensor.empty() : tensor<16x16xf32>
  %v9_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v8 : tensor<16x16xf32>) outs(%e9 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v9 = remat.name "v9" %v9_r : tensor<16x16xf32>
  %e10 = tensor.empty() : tensor<16x16xf32>
  %v10_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v7 : tensor<16x16xf32>) outs(%e10 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.tanh %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v10 = remat.name "v10" %v10_r : tensor<16x16xf32>
  %e11 = tensor.empty() : tensor<16x16xf32>
  %v11_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v9 : tensor<16x16xf32>) outs(%e11 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.tanh %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v11 = remat.name "v11" %v11_r : tensor<16x16xf32>
  %e12 = tensor.empty() : tensor<16x16xf32>
  %e12f = linalg.fill ins(%zero : f32) outs(%e12 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v12_r = linalg.matmul ins(%v10, %v0 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e12f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v12 = remat.name "v12" %v12_r : tensor<16x16xf32>
  %e13 = tensor.empty() : tensor<16x16xf32>
  %v13_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v11 : tensor<16x16xf32>) outs(%e13 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.tanh %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v13 = remat.name "v13" %v13_r : tensor<16x16xf32>
  %e14 = tensor.empty() : tensor<16x16xf32>
  %v14_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v12 : tensor<16x16xf32>) outs(%e14 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.log %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v14 = remat.name "v14" %v14_r : tensor<16x16xf32>
  %e15 = tensor.empty() : tensor<16x16xf32>
  %v15_r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%v13 : tensor<16x16xf32>) outs(%e15 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.log %a : f32
    linalg.yield %r : f32
  } -> tensor<16x16xf32>
  %v15 = remat.name "v15" %v15_r : tensor<16x16xf32>
  %e16 = tensor.empty() : tensor<16x16xf32>
  %e16f = linalg.fill ins(%zero : f32) outs(%e16 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v16_r = linalg.matmul ins(%v4, %v6 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e16f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v16 = remat.name "v16" %v16_r : tensor<16x16xf32>
  %e17 = tensor.empty() : tensor<16x16xf32>
  %e17f = linalg.fill ins(%zero : f32) outs(%e17 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v17_r = linalg.matmul ins(%v8, %v15 : tensor<16x16xf32>, tensor<16x16xf32>) outs(%e17f : tensor<16x16xf32>) -> tensor<16x16xf32>
  %v17 = remat.name "v17" %v17_r : tensor<16x16xf32>
  %g = remat.backward(%v15, %v10, %v14, %v4, %v9, %v1, %v12, %v8, %v6, %v2, %v5, %v11, %v3, %v7, %v0, %v16) : (tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32> {
  ^bb0(%b0: tensor<16x16xf32>, %b1: tensor<16x16xf32>, %b2: tensor<16x16xf32>, %b3: tensor<16x16xf32>, %b4: tensor<16x16xf32>, %b5: tensor<16x16xf32>, %b6: tensor<16x16xf32>, %b7: tensor<16x16xf32>, %b8: tensor<16x16xf32>, %b9: tensor<16x16xf32>, %b10: tensor<16x16xf32>, %b11: tensor<16x16xf32>, %b12: tensor<16x16xf32>, %b13: tensor<16x16xf32>, %b14: tensor<16x16xf32>, %b15: tensor<16x16xf32>):
    %zb = arith.constant 0.0 : f32
    %acc0e = tensor.empty() : tensor<16x16xf32>
    %acc0 = linalg.fill ins(%zb : f32) outs(%acc0e : tensor<16x16xf32>) -> tensor<16x16xf32>
    %t0e = tensor.empty() : tensor<16x64xf32>
    %t0 = linalg.fill ins(%zb : f32) outs(%t0e : tensor<16x64xf32>) -> tensor<16x64xf32>
    %acc1 = arith.addf %acc0, %b1 : tensor<16x16xf32>
    %acc2 = arith.addf %acc1, %b14 : tensor<16x16xf32>
    %t2e = tensor.empty() : tensor<16x128xf32>
    %t2 = linalg.fill ins(%zb : f32) outs(%t2e : tensor<16x128xf32>) -> tensor<16x128xf32>
    %acc3 = arith.addf %acc2, %b4 : tensor<16x16xf32>
    %t3e = tensor.empty() : tensor<16x128xf32>
    %t3 = linalg.fill ins(%zb : f32) outs(%t3e : tensor<16x128xf32>) -> tensor<16x128xf32>
    %acc4 = arith.addf %acc3, %b3 : tensor<16x16xf32>
    %s3 = tensor.extract_slice %t0[0, 0] [16, 16] [1, 1] : tensor<16x64xf32> to tensor<16x16xf32>
    %u3 = arith.addf %acc4, %s3 : tensor<16x16xf32>
    %acc5 = arith.addf %u3, %b15 : tensor<16x16xf32>
    %s4 = tensor.extract_slice %t2[0, 0] [16, 16] [1, 1] : tensor<16x128xf32> to tensor<16x16xf32>
    %u4 = arith.addf %acc5, %s4 : tensor<16x16xf32>
    %t5e = tensor.empty() : tensor<16x64xf32>
    %t5 = linalg.fill ins(%zb : f32) outs(%t5e : tensor<16x64xf32>) -> tensor<16x64xf32>
    %acc6 = arith.addf %u4, %b6 : tensor<16x16xf32>
    %s5 = tensor.extract_slice %t3[0, 0] [16, 16] [1, 1] : tensor<16x128xf32> to tensor<16x16xf32>
    %u5 = arith.addf %acc6, %s5 : tensor<16x16xf32>
    %t6e = tensor.empty() : tensor<16x128xf32>
    %t6 = linalg.fill ins(%zb : f32) outs(%t6e : tensor<16x128xf32>) -> tensor<16x128xf32>
    %acc7 = arith.addf %u5, %b0 : tensor<16x16xf32>
    %t7e = tensor.empty() : tensor<16x32xf32>
    %t7 = linalg.fill ins(%zb : f32) outs(%t7e : tensor<16x32xf32>) -> tensor<16x32xf32>
    %acc8 = arith.addf %acc7, %b13 : tensor<16x16xf32>
    %s7 = tensor.extract_slice %t5[0, 0] [16, 16] [1, 1] : tensor<16x64xf32> to tensor<16x16xf32>
    %u7 = arith.addf %acc8, %s7 : tensor<16x16xf32>
    %acc9 = arith.addf %u7, %b7 : tensor<16x16xf32>
    %acc10 = arith.addf %acc9, %b10 : tensor<16x16xf32>
    %t10e = tensor.empty() : tensor<16x128xf32>
    %t10 = linalg.fill ins(%zb : f32) outs(%t10e : tensor<16x128xf32>) -> tensor<16x128xf32>
    %acc11 = arith.addf %acc10, %b11 : tensor<16x16xf32>
    %acc12 = arith.addf %acc11, %b5 : tensor<16x16xf32>
    %s11 = tensor.extract_slice %t6[0, 0] [16, 16] [1, 1] : tensor<16x128xf32> to tensor<16x16xf32>
    %u11 = arith.addf %acc12, %s11 : tensor<16x16xf32>
    %t12e = tensor.empty() : tensor<16x16xf32>
    %t12 = linalg.fill ins(%zb : f32) outs(%t12e : tensor<16x16xf32>) -> tensor<16x16xf32>
    %acc13 = arith.addf %u11, %b9 : tensor<16x16xf32>
    %s12 = tensor.extract_slice %t7[0, 0] [16, 16] [1, 1] : tensor<16x32xf32> to tensor<16x16xf32>
    %u12 = arith.addf %acc13, %s12 : tensor<16x16xf32>
    %t13e = tensor.empty() : tensor<16x32xf32>
    %t13 = linalg.fill ins(%zb : f32) outs(%t13e : tensor<16x32xf32>) -> tensor<16x32xf32>
    %acc14 = arith.addf %u12, %b8 : tensor<16x16xf32>
    %s13 = tensor.extract_slice %t10[0, 0] [16, 16] [1, 1] : tensor<16x128xf32> to tensor<16x16xf32>
    %u13 = arith.addf %acc14, %s13 : tensor<16x16xf32>
    %acc15 = arith.addf %u13, %b12 : tensor<16x16xf32>
    %s14 = tensor.extract_slice %t12[0, 0] [16, 16] [1, 1] : tensor<16x16xf32> to tensor<16x16xf32>
    %u14 = arith.addf %acc15, %s14 : tensor<16x16xf32>
    %t15e = tensor.empty() : tensor<16x32xf32>
    %t15 = linalg.fill ins(%zb : f32) outs(%t15e : tensor<16x32xf32>) -> tensor<16x32xf32>
    %acc16 = arith.addf %u14, %b2 : tensor<16x16xf32>
    %s15 = tensor.extract_slice %t13[0, 0] [16, 16] [1, 1] : tensor<16x32xf32> to tensor<16x16xf32>
    %u15 = arith.addf %acc16, %s15 : tensor<16x16xf32>
    %sl0 = tensor.extract_slice %t15[0, 0] [16, 16] [1, 1] : tensor<16x32xf32> to tensor<16x16xf32>
    %ul0 = arith.addf %u15, %sl0 : tensor<16x16xf32>
    remat.yield %ul0 : tensor<16x16xf32>
  }
  return %g : tensor<16x16xf32>
}
