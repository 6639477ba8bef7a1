// RUN: remat-opt %s -split-input-file -remat-rematerialize=budget=50% -verify-diagnostics
// RUN: remat-opt %s -split-input-file -remat-report -o /dev/null -verify-diagnostics
// Each tensor fits, but 16385 of 256 TiB add up to more than 4 EiB:
// RUN: %python -c "print('func.func @total(%%x: tensor<4xf32>) -> tensor<4xf32> {'); \
// RUN:   [print('  %%t' + str(i) + ' = tensor.empty() : tensor<70368744177664xf32>') for i in range(16385)]; \
// RUN:   print('  %%g = remat.backward(%%x) : (tensor<4xf32>) -> tensor<4xf32> {'); \
// RUN:   print('  ^bb0(%%a: tensor<4xf32>):\n    remat.yield %%a : tensor<4xf32>\n  }'); \
// RUN:   print('  return %%g : tensor<4xf32>\n}')" > %t.mlir
// RUN: not remat-opt %t.mlir -remat-rematerialize=budget=50% -o /dev/null 2>&1 \
// RUN:   | FileCheck %s --check-prefix=TOTAL
// TOTAL: tmp.mlir:16385:{{[0-9]+}}: error: remat: the step's tensors add up to more than 4 EiB here: too large to plan

// Sizes are int64 products of shapes and bit widths, checked: a tensor
// whose bytes do not fit (or are beyond what remat models) is a diagnostic
// at its value, not an overflow the planner then works with.

func.func @too_many_elements(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{remat: tensor of 9223372036854775807 elements ('tensor<9223372036854775807xf32>') is too large to plan: remat models tensors of up to 256 TiB}}
  %big = tensor.empty() : tensor<9223372036854775807xf32>
  %g = remat.backward(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    remat.yield %a : tensor<4xf32>
  }
  return %g : tensor<4xf32>
}

// -----

// The element count itself overflows int64.
// expected-error @below {{remat: tensor of more than 9223372036854775807 elements ('tensor<4294967296x4294967296xf32>') is too large to plan}}
func.func @count_overflows(%x: tensor<4294967296x4294967296xf32>) -> tensor<4294967296x4294967296xf32> {
  %g = remat.backward(%x) : (tensor<4294967296x4294967296xf32>) -> tensor<4294967296x4294967296xf32> {
  ^bb0(%a: tensor<4294967296x4294967296xf32>):
    remat.yield %a : tensor<4294967296x4294967296xf32>
  }
  return %g : tensor<4294967296x4294967296xf32>
}
