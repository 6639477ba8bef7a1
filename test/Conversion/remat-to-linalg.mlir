// RUN: remat-opt %s -convert-remat-to-linalg -split-input-file | FileCheck %s

// The forward: a loop over 4 chunks of 4 tokens, carrying the running sum
// and the log-sum-exp. Each iteration slices its rows, makes the chunk's
// 4x32 logits (x . w^T on (n, v, h)), reduces them to the row max and the
// sum of exponentials, writes its rows of lse and adds its masked nll.
// CHECK-DAG: #[[XMAP:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[WMAP:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[OMAP:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<16x8xf32>, %[[W:.*]]: tensor<32x8xf32>, %[[T:.*]]: tensor<16xi64>)
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[I:.*]] = %[[C0]] to %[[C16]] step %[[C4]] iter_args(%[[SUM:.*]] = %{{.*}}, %[[LSE:.*]] = %{{.*}}) -> (tensor<f32>, tensor<16xf32>)
// CHECK: %[[XC:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [4, 8] [1, 1]
// CHECK: %[[TC:.*]] = tensor.extract_slice %[[T]][%[[I]]] [4] [1]
// CHECK: %[[LOGITS:.*]] = linalg.generic {indexing_maps = [#[[XMAP]], #[[WMAP]], #[[OMAP]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[XC]], %[[W]] : tensor<4x8xf32>, tensor<32x8xf32>) outs(%{{.*}} : tensor<4x32xf32>)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: %[[ROWS:.*]] = tensor.extract_slice %[[LSE]][%[[I]]] [4] [1]
// CHECK: %[[LSEC:.*]] = linalg.generic {{.*}} outs(%[[ROWS]] : tensor<4xf32>)
// CHECK: math.log
// CHECK: %[[NEXT:.*]] = linalg.generic {{.*}} ins(%[[TC]], %[[LSEC]] : tensor<4xi64>, tensor<4xf32>) outs(%[[SUM]] : tensor<f32>)
// CHECK: arith.constant -100 : i64
// CHECK: tensor.extract %[[LOGITS]]
// CHECK: %[[INS:.*]] = tensor.insert_slice %[[LSEC]] into %[[LSE]][%[[I]]] [4] [1]
// CHECK: scf.yield %[[NEXT]], %[[INS]] : tensor<f32>, tensor<16xf32>
// CHECK: return %[[LOOP]]#0, %[[LOOP]]#1
func.func @forward(%x: tensor<16x8xf32>, %w: tensor<32x8xf32>, %t: tensor<16xi64>)
    -> (tensor<f32>, tensor<16xf32>) {
  %sum, %lse = remat.linear_cross_entropy %x, %w, %t
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xf32>, tensor<32x8xf32>, tensor<16xi64>
      -> tensor<f32>, tensor<16xf32>
  return %sum, %lse : tensor<f32>, tensor<16xf32>
}

// -----

// The gradient on bf16: per chunk, the logits again (bf16, extended to f32
// where read), their gradient truncated to bf16, the chunk's rows of dx
// computed in place (a fill of dx's rows, then dlogits . w) and dw
// accumulated in its iter_arg (dlogits^T . x on (v, h, n); x's map is the
// one w has in dx's contraction).
// CHECK-DAG: #[[DMAP:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[WMAP:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[OMAP:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[DTMAP:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-LABEL: func.func @gradient
// CHECK-SAME: (%[[X:.*]]: tensor<16x8xbf16>, %[[W:.*]]: tensor<32x8xbf16>, %[[T:.*]]: tensor<16xi64>, %[[L:.*]]: tensor<16xf32>, %[[G:.*]]: tensor<f32>, %[[N:.*]]: tensor<f32>)
// CHECK: %[[DW0:.*]] = linalg.fill ins(%{{.*}} : bf16) outs(%{{.*}} : tensor<32x8xbf16>)
// CHECK: scf.for %[[I:.*]] = {{.*}} iter_args(%[[DX:.*]] = %{{.*}}, %[[DW:.*]] = %[[DW0]]) -> (tensor<16x8xbf16>, tensor<32x8xbf16>)
// CHECK: %[[XC:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [4, 8] [1, 1]
// CHECK: %[[LOGITS:.*]] = linalg.generic {{.*}} ins(%[[XC]], %[[W]] : tensor<4x8xbf16>, tensor<32x8xbf16>) outs(%{{.*}} : tensor<4x32xbf16>)
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%[[LOGITS]], %{{.*}}, %{{.*}}, %[[G]], %[[N]] : tensor<4x32xbf16>, tensor<4xi64>, tensor<4xf32>, tensor<f32>, tensor<f32>) outs(%{{.*}} : tensor<4x32xbf16>)
// CHECK: arith.extf
// CHECK: math.exp
// CHECK: linalg.index 1
// CHECK: arith.truncf
// CHECK: %[[ROWS:.*]] = tensor.extract_slice %[[DX]][%[[I]], 0] [4, 8] [1, 1]
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : bf16) outs(%[[ROWS]] : tensor<4x8xbf16>)
// CHECK: %[[DXC:.*]] = linalg.generic {indexing_maps = [#[[DMAP]], #[[WMAP]], #[[OMAP]]], {{.*}} ins(%[[D]], %[[W]] : tensor<4x32xbf16>, tensor<32x8xbf16>) outs(%[[ZERO]] : tensor<4x8xbf16>)
// CHECK: %[[NDW:.*]] = linalg.generic {indexing_maps = [#[[DTMAP]], #[[WMAP]], #[[OMAP]]], {{.*}} ins(%[[D]], %[[XC]] : tensor<4x32xbf16>, tensor<4x8xbf16>) outs(%[[DW]] : tensor<32x8xbf16>)
// CHECK: %[[NDX:.*]] = tensor.insert_slice %[[DXC]] into %[[DX]][%[[I]], 0] [4, 8] [1, 1]
// CHECK: scf.yield %[[NDX]], %[[NDW]]
func.func @gradient(%x: tensor<16x8xbf16>, %w: tensor<32x8xbf16>,
                    %t: tensor<16xi64>, %l: tensor<16xf32>, %g: tensor<f32>,
                    %n: tensor<f32>) -> (tensor<16x8xbf16>, tensor<32x8xbf16>) {
  %dx, %dw = remat.linear_cross_entropy_grad %x, %w, %t, %l, %g, %n
      {chunk_size = 4 : i64, ignore_index = -100 : i64}
      : tensor<16x8xbf16>, tensor<32x8xbf16>, tensor<16xi64>, tensor<16xf32>,
        tensor<f32>, tensor<f32> -> tensor<16x8xbf16>, tensor<32x8xbf16>
  return %dx, %dw : tensor<16x8xbf16>, tensor<32x8xbf16>
}

// -----

// Other ops are left alone.
// CHECK-LABEL: func.func @other
// CHECK-NEXT: math.exp
func.func @other(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = math.exp %x : tensor<4xf32>
  return %e : tensor<4xf32>
}
