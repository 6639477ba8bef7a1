//===- GPUKernels.cpp - tiled contractions and parallel reductions --------===//
//
// Two passes of -remat-lower-to-nvvm that write the kernels the generic
// parallel-loop mapping writes badly: matmul-class ops, tiled through shared
// memory, and reductions, combined across a block's threads.
//
//===----------------------------------------------------------------------===//

#include "remat/Conversion/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATGPUTILECONTRACTIONSPASS
#define GEN_PASS_DEF_REMATGPUPARALLELREDUCTIONSPASS
#define GEN_PASS_DEF_REMATGPUMAPLINALGPASS
#include "remat/Conversion/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

namespace {

/// Threads per block in each dimension of a tiled contraction.
constexpr int64_t kThreads = 16;

Value cst(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// Whether every result of every indexing map of `op` is a loop dimension
/// or a constant (a broadcast); the kernels index with them.
bool hasSimpleMaps(linalg::LinalgOp op) {
  return llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
    return llvm::all_of(map.getResults(), [](AffineExpr e) {
      return isa<AffineDimExpr, AffineConstantExpr>(e);
    });
  });
}

/// The indices of `operand` at the loop point `dims` (one value per loop;
/// only those the operand's map reads need be set).
SmallVector<Value> indicesOf(OpBuilder &b, linalg::LinalgOp op,
                             OpOperand &operand, ArrayRef<Value> dims) {
  SmallVector<Value> indices;
  for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults()) {
    if (auto c = dyn_cast<AffineConstantExpr>(e))
      indices.push_back(
          arith::ConstantIndexOp::create(b, op.getLoc(), c.getValue()));
    else
      indices.push_back(dims[cast<AffineDimExpr>(e).getPosition()]);
  }
  return indices;
}

/// The value of input `input` of `op` at the loop point `dims`: a load, or
/// the operand itself when it is a scalar (as `linalg.fill`'s is).
Value readInput(OpBuilder &b, linalg::LinalgOp op, OpOperand &input,
                ArrayRef<Value> dims) {
  if (!isa<MemRefType>(input.get().getType()))
    return input.get();
  return memref::LoadOp::create(b, op.getLoc(), input.get(),
                                indicesOf(b, op, input, dims));
}

/// The loop sizes of `op` as index values.
SmallVector<Value> loopSizes(OpBuilder &b, linalg::LinalgOp op) {
  SmallVector<Value> sizes;
  for (Range range : op.createLoopRanges(b, op.getLoc()))
    sizes.push_back(
        getValueOrCreateConstantIndexOp(b, op.getLoc(), range.size));
  return sizes;
}

/// Splits the linear index `linear` over the loops `loops` (the last
/// fastest) into `dims`, and returns the product of their sizes when
/// `linear` is null.
Value delinearize(OpBuilder &b, Location loc, Value linear,
                  ArrayRef<unsigned> loops, ArrayRef<Value> sizes,
                  MutableArrayRef<Value> dims) {
  Value total;
  for (unsigned loop : loops)
    total = total ? b.createOrFold<arith::MulIOp>(loc, total, sizes[loop])
                  : sizes[loop];
  if (!total)
    total = cst(b, loc, 1);
  if (!linear)
    return total;
  Value rest = linear;
  for (unsigned loop : llvm::reverse(loops)) {
    dims[loop] = arith::RemUIOp::create(b, loc, rest, sizes[loop]);
    rest = arith::DivUIOp::create(b, loc, rest, sizes[loop]);
  }
  return total;
}

/// Clones the ops of a linalg body (its block arguments mapped in
/// `mapping`, `linalg.index` to `dims`), except the terminator and the ops
/// in `skip`.
void cloneBody(OpBuilder &b, Block &body, IRMapping &mapping,
               ArrayRef<Value> dims, ArrayRef<Operation *> skip = {}) {
  for (Operation &op : body.without_terminator()) {
    if (llvm::is_contained(skip, &op))
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(op)) {
      mapping.map(index.getResult(), dims[index.getDim()]);
      continue;
    }
    b.clone(op, mapping);
  }
}

/// `cond ? load(memref[indices]) : zero`.
Value guardedLoad(OpBuilder &b, Location loc, Value cond, Value memref,
                  ValueRange indices) {
  Type type = cast<MemRefType>(memref.getType()).getElementType();
  auto ifOp = scf::IfOp::create(
      b, loc, cond,
      [&](OpBuilder &then, Location l) {
        scf::YieldOp::create(
            then, l,
            memref::LoadOp::create(then, l, memref, indices).getResult());
      },
      [&](OpBuilder &other, Location l) {
        scf::YieldOp::create(
            other, l,
            arith::ConstantOp::create(other, l,
                                      cast<TypedAttr>(other.getZeroAttr(type)))
                .getResult());
      });
  return ifOp.getResult(0);
}

Value ult(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lhs, rhs);
}

Value andOf(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::AndIOp::create(b, loc, lhs, rhs);
}

Attribute workgroupSpace(MLIRContext *ctx) {
  return gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
}

/// Applies `rewrite` (which erases the op it rewrites, or fails and leaves
/// it) to every linalg op in `func`, and returns how many it rewrote.
template <typename Rewrite>
unsigned rewriteLinalgOps(func::FuncOp func, Rewrite rewrite) {
  SmallVector<linalg::LinalgOp> ops;
  func.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
  IRRewriter rewriter(func.getContext());
  unsigned count = 0;
  for (linalg::LinalgOp op : ops)
    count += succeeded(rewrite(rewriter, op));
  return count;
}

//===----------------------------------------------------------------------===//
// Tiled contractions
//===----------------------------------------------------------------------===//

/// The dimensions of `op` when the tiled kernels take it: a bufferized
/// contraction of two operands into one result, with plain or constant
/// indexing, at least one M, N and K loop, and no `linalg.index`.
FailureOr<linalg::ContractionDimensions> matchContraction(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op) ||
      !hasSimpleMaps(op))
    return failure();
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->m.empty() || dims->n.empty() || dims->k.empty() ||
      !op.getBlock()->getOps<linalg::IndexOp>().empty())
    return failure();
  return dims;
}

/// The extents of a contraction's M, N, K and batch classes (products of
/// their loops' sizes).
std::array<Value, 4> classSizes(OpBuilder &b, Location loc,
                                const linalg::ContractionDimensions &dims,
                                ArrayRef<Value> sizes) {
  return {delinearize(b, loc, Value(), dims.m, sizes, {}),
          delinearize(b, loc, Value(), dims.n, sizes, {}),
          delinearize(b, loc, Value(), dims.k, sizes, {}),
          delinearize(b, loc, Value(), dims.batch, sizes, {})};
}

/// Points `loop` at element (row, col) of a contraction's result (linear
/// indices over its M and N loops) and returns whether it is in range.
Value pointAtResult(OpBuilder &b, Location loc,
                    const linalg::ContractionDimensions &dims,
                    ArrayRef<Value> sizes, MutableArrayRef<Value> loop,
                    Value row, Value col, Value sizeM, Value sizeN) {
  delinearize(b, loc, row, dims.m, sizes, loop);
  delinearize(b, loc, col, dims.n, sizes, loop);
  return andOf(b, loc, ult(b, loc, row, sizeM), ult(b, loc, col, sizeN));
}

/// `if (cond) memref[indices] = value()`, with `value` built in the branch.
void guardedStore(OpBuilder &b, Location loc, Value cond, Value memref,
                  ValueRange indices,
                  llvm::function_ref<Value(OpBuilder &)> value) {
  auto ifOp = scf::IfOp::create(b, loc, cond, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  memref::StoreOp::create(b, loc, value(b), memref, indices);
}

/// A slice of a contraction operand to stage in shared memory: `rows` x
/// `cols` elements from (row0, col0) of its linearized (rowDims, colDims).
struct Slice {
  ArrayRef<unsigned> rowDims;
  Value row0, rowSize;
  int64_t rows;
  ArrayRef<unsigned> colDims;
  Value col0, colSize;
  int64_t cols;
};

/// Copies `slice` of `operand` into `shared` ([row][col], or [col][row] when
/// `transposed`), zero outside the operand, `threads` threads at a time
/// (`thread` is this one); consecutive threads read consecutive columns.
/// `loop` holds the loop values the operand's map reads besides the
/// slice's. The options make rows * cols a multiple of `threads`.
void stageSlice(OpBuilder &b, linalg::LinalgOp op, OpOperand &operand,
                Value shared, Value thread, int64_t threads,
                ArrayRef<Value> sizes, MutableArrayRef<Value> loop,
                const Slice &slice, bool transposed) {
  Location loc = op.getLoc();
  for (int64_t e = 0; e < slice.rows * slice.cols; e += threads) {
    Value linear = arith::AddIOp::create(b, loc, thread, cst(b, loc, e));
    Value r = arith::DivUIOp::create(b, loc, linear, cst(b, loc, slice.cols));
    Value c = arith::RemUIOp::create(b, loc, linear, cst(b, loc, slice.cols));
    Value row = arith::AddIOp::create(b, loc, slice.row0, r);
    Value col = arith::AddIOp::create(b, loc, slice.col0, c);
    delinearize(b, loc, row, slice.rowDims, sizes, loop);
    delinearize(b, loc, col, slice.colDims, sizes, loop);
    Value inRange = andOf(b, loc, ult(b, loc, row, slice.rowSize),
                          ult(b, loc, col, slice.colSize));
    Value v = guardedLoad(b, loc, inRange, operand.get(),
                          indicesOf(b, op, operand, loop));
    memref::StoreOp::create(b, loc, v, shared,
                            transposed ? ValueRange{c, r} : ValueRange{r, c});
  }
}

struct Tiles {
  int64_t m, n, k;
};

/// Rewrites the contraction `op` into a shared-memory tiled `gpu.launch`.
/// Each class of dimensions (batch, M, N, K) may hold several loops: the
/// kernel runs over their linearized product, the last loop fastest. Fails
/// (leaving `op` alone) when `op` is not a contraction of that form.
LogicalResult tileContraction(RewriterBase &b, linalg::LinalgOp op,
                              Tiles tiles) {
  FailureOr<linalg::ContractionDimensions> dims = matchContraction(op);
  if (failed(dims))
    return failure();
  Block &body = *op.getBlock();
  // By the inference, the lhs reads the M and K loops, the rhs the N and K
  // loops, and the result the batch, M and N loops.
  OpOperand &lhs = *op.getDpsInputOperand(0);
  OpOperand &rhs = *op.getDpsInputOperand(1);
  OpOperand &out = *op.getDpsInitOperand(0);

  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  b.setInsertionPoint(op);
  SmallVector<Value> sizes = loopSizes(b, op);
  // (Named copies: lambdas below capture them.)
  std::array<Value, 4> extents = classSizes(b, loc, *dims, sizes);
  Value sizeM = extents[0], sizeN = extents[1], sizeK = extents[2],
        batches = extents[3];
  Value gridX = arith::CeilDivUIOp::create(b, loc, sizeN, cst(b, loc, tiles.n));
  Value gridY = arith::CeilDivUIOp::create(b, loc, sizeM, cst(b, loc, tiles.m));
  Value threads = cst(b, loc, kThreads);
  Type lhsType = getElementTypeOrSelf(lhs.get().getType());
  Type rhsType = getElementTypeOrSelf(rhs.get().getType());
  auto lhsTile = MemRefType::get({tiles.k, tiles.m}, lhsType, AffineMap(),
                                 workgroupSpace(ctx));
  auto rhsTile = MemRefType::get({tiles.k, tiles.n}, rhsType, AffineMap(),
                                 workgroupSpace(ctx));
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, batches, threads, threads, cst(b, loc, 1),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, TypeRange{lhsTile, rhsTile});

  b.setInsertionPointToStart(&launch.getBody().front());
  Value lhsShared = launch.getWorkgroupAttributions()[0];
  Value rhsShared = launch.getWorkgroupAttributions()[1];
  Value tx = launch.getThreadIds().x, ty = launch.getThreadIds().y;
  SmallVector<Value> loop(op.getNumLoops());
  delinearize(b, loc, launch.getBlockIds().z, dims->batch, sizes, loop);
  Value m0 = arith::MulIOp::create(b, loc, launch.getBlockIds().y,
                                   cst(b, loc, tiles.m));
  Value n0 = arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                                   cst(b, loc, tiles.n));
  int64_t rowsPerThread = tiles.m / kThreads;
  int64_t colsPerThread = tiles.n / kThreads;
  // The result elements of this thread: rows ty + 16 i, columns tx + 16 j.
  SmallVector<Value> rows, cols;
  for (int64_t i = 0; i < rowsPerThread; ++i)
    rows.push_back(arith::AddIOp::create(
        b, loc, m0,
        arith::AddIOp::create(b, loc, ty, cst(b, loc, i * kThreads))));
  for (int64_t j = 0; j < colsPerThread; ++j)
    cols.push_back(arith::AddIOp::create(
        b, loc, n0,
        arith::AddIOp::create(b, loc, tx, cst(b, loc, j * kThreads))));
  // Points the loops at result element (i, j) and returns whether it is in
  // range.
  auto atResult = [&](int64_t i, int64_t j) {
    return pointAtResult(b, loc, *dims, sizes, loop, rows[i], cols[j], sizeM,
                         sizeN);
  };
  SmallVector<Value> init;
  for (int64_t i = 0; i < rowsPerThread; ++i)
    for (int64_t j = 0; j < colsPerThread; ++j) {
      Value inRange = atResult(i, j);
      init.push_back(
          guardedLoad(b, loc, inRange, out.get(), indicesOf(b, op, out, loop)));
    }

  Value linearThread = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, ty, threads), tx);
  int64_t blockThreads = kThreads * kThreads;
  auto outer = scf::ForOp::create(
      b, loc, cst(b, loc, 0), sizeK, cst(b, loc, tiles.k), init,
      [&](OpBuilder &ob, Location, Value k0, ValueRange accs) {
        // The lhs slice is (m, k), stored as [k][m]; the rhs slice (k, n).
        stageSlice(ob, op, lhs, lhsShared, linearThread, blockThreads, sizes,
                   loop,
                   {dims->m, m0, sizeM, tiles.m, dims->k, k0, sizeK, tiles.k},
                   /*transposed=*/true);
        stageSlice(ob, op, rhs, rhsShared, linearThread, blockThreads, sizes,
                   loop,
                   {dims->k, k0, sizeK, tiles.k, dims->n, n0, sizeN, tiles.n},
                   /*transposed=*/false);
        gpu::BarrierOp::create(ob, loc);
        auto inner = scf::ForOp::create(
            ob, loc, cst(ob, loc, 0), cst(ob, loc, tiles.k), cst(ob, loc, 1),
            accs, [&](OpBuilder &ib, Location, Value kk, ValueRange acc) {
              SmallVector<Value> a, bv, next;
              for (int64_t i = 0; i < rowsPerThread; ++i)
                a.push_back(memref::LoadOp::create(
                    ib, loc, lhsShared,
                    ValueRange{kk,
                               arith::AddIOp::create(
                                   ib, loc, ty, cst(ib, loc, i * kThreads))}));
              for (int64_t j = 0; j < colsPerThread; ++j)
                bv.push_back(memref::LoadOp::create(
                    ib, loc, rhsShared,
                    ValueRange{kk,
                               arith::AddIOp::create(
                                   ib, loc, tx, cst(ib, loc, j * kThreads))}));
              // Out-of-range slice elements are zero: the body adds
              // 0 * 0 to the accumulator.
              for (int64_t i = 0; i < rowsPerThread; ++i)
                for (int64_t j = 0; j < colsPerThread; ++j) {
                  IRMapping mapping;
                  mapping.map(body.getArgument(0), a[i]);
                  mapping.map(body.getArgument(1), bv[j]);
                  mapping.map(body.getArgument(2), acc[i * colsPerThread + j]);
                  cloneBody(ib, body, mapping, {});
                  next.push_back(
                      mapping.lookup(body.getTerminator()->getOperand(0)));
                }
              scf::YieldOp::create(ib, loc, next);
            });
        gpu::BarrierOp::create(ob, loc);
        scf::YieldOp::create(ob, loc, inner.getResults());
      });
  for (int64_t i = 0; i < rowsPerThread; ++i)
    for (int64_t j = 0; j < colsPerThread; ++j) {
      Value inRange = atResult(i, j);
      guardedStore(
          b, loc, inRange, out.get(), indicesOf(b, op, out, loop),
          [&](OpBuilder &) { return outer.getResult(i * colsPerThread + j); });
    }
  gpu::TerminatorOp::create(b, loc);
  b.eraseOp(op);
  return success();
}

/// Which contractions run on tensor cores (`mma` option).
enum class MmaKind { None, Half, TF32 };

/// Rewrites the contraction `op` into a `gpu.launch` whose warps multiply
/// through `nvgpu.mma.sync`: 4 warps per 64x64 result tile, each warp a
/// 32x32 quarter as 2x4 m16n8 MMA tiles; 32-deep operand slices staged in
/// shared memory between barriers; fragments read from shared memory in the
/// layout the PTX ISA gives for m16n8k16 (f16) and m16n8k8 (tf32).
/// Takes bf16 x bf16 or f16 x f16 products accumulated in f32 (the same
/// products as the op's body) and, with `kind` TF32, f32 x f32 (rounded to
/// tf32: not the op's numerics). Fails, leaving `op`, for anything else.
LogicalResult tileContractionMma(RewriterBase &b, linalg::LinalgOp op,
                                 MmaKind kind) {
  if (kind == MmaKind::None)
    return failure();
  FailureOr<linalg::ContractionDimensions> dims = matchContraction(op);
  if (failed(dims))
    return failure();
  Block &body = *op.getBlock();
  if (!llvm::all_of(body.without_terminator(), [](Operation &o) {
        return isa<arith::ExtFOp, arith::MulFOp, arith::AddFOp>(o);
      }))
    return failure();
  OpOperand &lhs = *op.getDpsInputOperand(0);
  OpOperand &rhs = *op.getDpsInputOperand(1);
  OpOperand &out = *op.getDpsInitOperand(0);
  Type lhsType = getElementTypeOrSelf(lhs.get().getType());
  Type rhsType = getElementTypeOrSelf(rhs.get().getType());
  Type accType = getElementTypeOrSelf(out.get().getType());
  if (!accType.isF32() || lhsType != rhsType)
    return failure();
  // (bf16 is not here: LLVM 22's nvgpu-to-nvvm does not lower its MMA.)
  bool half = lhsType.isF16();
  if (!half && !(kind == MmaKind::TF32 && lhsType.isF32()))
    return failure();
  const int64_t mmaK = half ? 16 : 8, tileM = 64, tileN = 64, depth = 32;
  const int64_t warpM = 32, warpN = 32, fragsM = 2, fragsN = 4;
  const int64_t threads = 128;

  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  b.setInsertionPoint(op);
  SmallVector<Value> sizes = loopSizes(b, op);
  // (Named copies: lambdas below capture them.)
  std::array<Value, 4> extents = classSizes(b, loc, *dims, sizes);
  Value sizeM = extents[0], sizeN = extents[1], sizeK = extents[2],
        batches = extents[3];
  auto lhsTile = MemRefType::get({tileM, depth}, lhsType, AffineMap(),
                                 workgroupSpace(ctx));
  auto rhsTile = MemRefType::get({depth, tileN}, rhsType, AffineMap(),
                                 workgroupSpace(ctx));
  Value one = cst(b, loc, 1);
  auto launch = gpu::LaunchOp::create(
      b, loc, arith::CeilDivUIOp::create(b, loc, sizeN, cst(b, loc, tileN)),
      arith::CeilDivUIOp::create(b, loc, sizeM, cst(b, loc, tileM)), batches,
      cst(b, loc, threads), one, one, /*dynamicSharedMemorySize=*/nullptr,
      /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
      TypeRange{lhsTile, rhsTile});

  b.setInsertionPointToStart(&launch.getBody().front());
  Value lhsShared = launch.getWorkgroupAttributions()[0];
  Value rhsShared = launch.getWorkgroupAttributions()[1];
  Value tid = launch.getThreadIds().x;
  auto div = [&](Value v, int64_t d) {
    return arith::DivUIOp::create(b, loc, v, cst(b, loc, d)).getResult();
  };
  auto rem = [&](Value v, int64_t d) {
    return arith::RemUIOp::create(b, loc, v, cst(b, loc, d)).getResult();
  };
  auto add = [&](OpBuilder &ab, Value v, int64_t c) {
    return c == 0
               ? v
               : arith::AddIOp::create(ab, loc, v, cst(ab, loc, c)).getResult();
  };
  Value lane = rem(tid, 32), warp = div(tid, 32);
  Value g = div(lane, 4), t = rem(lane, 4);
  SmallVector<Value> loop(op.getNumLoops());
  delinearize(b, loc, launch.getBlockIds().z, dims->batch, sizes, loop);
  Value m0 =
      arith::MulIOp::create(b, loc, launch.getBlockIds().y, cst(b, loc, tileM));
  Value n0 =
      arith::MulIOp::create(b, loc, launch.getBlockIds().x, cst(b, loc, tileN));
  // This warp's rows and columns within the block's tile.
  Value warpRow =
      arith::MulIOp::create(b, loc, div(warp, 2), cst(b, loc, warpM));
  Value warpCol =
      arith::MulIOp::create(b, loc, rem(warp, 2), cst(b, loc, warpN));
  // Accumulator fragment (i, j), element (r, e): row g + 8r of the i-th
  // m16 tile, column 2t + e of the j-th n8 tile.
  auto resultRow = [&](int64_t i, int64_t r) {
    return add(b,
               arith::AddIOp::create(b, loc, m0,
                                     arith::AddIOp::create(b, loc, warpRow, g)),
               i * 16 + r * 8);
  };
  auto resultCol = [&](int64_t j, int64_t e) {
    Value twoT = arith::MulIOp::create(b, loc, t, cst(b, loc, 2));
    return add(b,
               arith::AddIOp::create(
                   b, loc, n0, arith::AddIOp::create(b, loc, warpCol, twoT)),
               j * 8 + e);
  };
  auto atResult = [&](Value row, Value col) {
    return pointAtResult(b, loc, *dims, sizes, loop, row, col, sizeM, sizeN);
  };
  auto accVector = VectorType::get({2, 2}, accType);
  SmallVector<Value> init;
  for (int64_t i = 0; i < fragsM; ++i)
    for (int64_t j = 0; j < fragsN; ++j) {
      SmallVector<Value> elements;
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t e = 0; e < 2; ++e) {
          Value inRange = atResult(resultRow(i, r), resultCol(j, e));
          elements.push_back(guardedLoad(b, loc, inRange, out.get(),
                                         indicesOf(b, op, out, loop)));
        }
      init.push_back(
          vector::FromElementsOp::create(b, loc, accVector, elements));
    }

  // Fragments, read from shared memory in the PTX ISA's layouts.
  auto lhsFragment = [&](OpBuilder &fb, int64_t i, int64_t kk) {
    Value rowBase = add(fb, arith::AddIOp::create(fb, loc, warpRow, g), i * 16);
    SmallVector<Value> elements;
    int64_t perRegister = half ? 2 : 1;
    for (int64_t reg = 0; reg < 4; ++reg)
      for (int64_t e = 0; e < perRegister; ++e) {
        Value row = add(fb, rowBase, (reg % 2) * 8);
        Value col =
            half ? add(fb, arith::MulIOp::create(fb, loc, t, cst(fb, loc, 2)),
                       kk + e + (reg / 2) * 8)
                 : add(fb, t, kk + (reg / 2) * 4);
        elements.push_back(
            memref::LoadOp::create(fb, loc, lhsShared, ValueRange{row, col}));
      }
    return vector::FromElementsOp::create(
        fb, loc, VectorType::get({4, perRegister}, lhsType), elements);
  };
  auto rhsFragment = [&](OpBuilder &fb, int64_t j, int64_t kk) {
    Value col = add(fb, arith::AddIOp::create(fb, loc, warpCol, g), j * 8);
    SmallVector<Value> elements;
    int64_t perRegister = half ? 2 : 1;
    for (int64_t reg = 0; reg < 2; ++reg)
      for (int64_t e = 0; e < perRegister; ++e) {
        Value row =
            half ? add(fb, arith::MulIOp::create(fb, loc, t, cst(fb, loc, 2)),
                       kk + e + reg * 8)
                 : add(fb, t, kk + reg * 4);
        elements.push_back(
            memref::LoadOp::create(fb, loc, rhsShared, ValueRange{row, col}));
      }
    return vector::FromElementsOp::create(
        fb, loc, VectorType::get({2, perRegister}, rhsType), elements);
  };
  auto outer = scf::ForOp::create(
      b, loc, cst(b, loc, 0), sizeK, cst(b, loc, depth), init,
      [&](OpBuilder &ob, Location, Value k0, ValueRange accs) {
        stageSlice(ob, op, lhs, lhsShared, tid, threads, sizes, loop,
                   {dims->m, m0, sizeM, tileM, dims->k, k0, sizeK, depth},
                   /*transposed=*/false);
        stageSlice(ob, op, rhs, rhsShared, tid, threads, sizes, loop,
                   {dims->k, k0, sizeK, depth, dims->n, n0, sizeN, tileN},
                   /*transposed=*/false);
        gpu::BarrierOp::create(ob, loc);
        SmallVector<Value> next(accs);
        for (int64_t kk = 0; kk < depth; kk += mmaK) {
          SmallVector<Value> a, bv;
          for (int64_t i = 0; i < fragsM; ++i)
            a.push_back(lhsFragment(ob, i, kk));
          for (int64_t j = 0; j < fragsN; ++j)
            bv.push_back(rhsFragment(ob, j, kk));
          for (int64_t i = 0; i < fragsM; ++i)
            for (int64_t j = 0; j < fragsN; ++j)
              next[i * fragsN + j] = nvgpu::MmaSyncOp::create(
                  ob, loc, a[i], bv[j], next[i * fragsN + j],
                  ArrayRef<int64_t>{16, 8, mmaK}, /*tf32Enabled=*/!half);
        }
        gpu::BarrierOp::create(ob, loc);
        scf::YieldOp::create(ob, loc, next);
      });
  for (int64_t i = 0; i < fragsM; ++i)
    for (int64_t j = 0; j < fragsN; ++j)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t e = 0; e < 2; ++e) {
          Value inRange = atResult(resultRow(i, r), resultCol(j, e));
          guardedStore(b, loc, inRange, out.get(), indicesOf(b, op, out, loop),
                       [&](OpBuilder &sb) {
                         return vector::ExtractOp::create(
                             sb, loc, outer.getResult(i * fragsN + j),
                             ArrayRef<int64_t>{r, e});
                       });
        }
  gpu::TerminatorOp::create(b, loc);
  b.eraseOp(op);
  return success();
}

struct RematGPUTileContractionsPass
    : public remat::impl::RematGPUTileContractionsPassBase<
          RematGPUTileContractionsPass> {
  using Base::Base;
  void runOnOperation() override {
    for (auto [name, value] : {std::pair{"tile-m", int64_t(tileM)},
                               std::pair{"tile-n", int64_t(tileN)}}) {
      if (value <= 0 || value % kThreads != 0) {
        mlir::emitError(getOperation().getLoc(),
                        "remat-gpu-tile-contractions: ")
            << name << " must be a positive multiple of " << kThreads
            << ", got " << value;
        return signalPassFailure();
      }
    }
    if (tileK <= 0 || tileK % kThreads != 0 || tileK * tileM > 16384 ||
        tileK * tileN > 16384) {
      mlir::emitError(getOperation().getLoc(),
                      "remat-gpu-tile-contractions: tile-k must be "
                      "a positive multiple of ")
          << kThreads
          << " with each staged slice (tile-k x tile-m, tile-k x tile-n) at "
             "most 16384 elements, got tile-k = "
          << int64_t(tileK);
      return signalPassFailure();
    }
    MmaKind kind = mma == "tf32"   ? MmaKind::TF32
                   : mma == "half" ? MmaKind::Half
                                   : MmaKind::None;
    if (kind == MmaKind::None && mma != "none") {
      mlir::emitError(getOperation().getLoc(),
                      "remat-gpu-tile-contractions: mma must be "
                      "none, half or tf32, got '")
          << mma << "'";
      return signalPassFailure();
    }
    Tiles tiles{tileM, tileN, tileK};
    numMma += rewriteLinalgOps(
        getOperation(), [&](RewriterBase &rewriter, linalg::LinalgOp op) {
          return tileContractionMma(rewriter, op, kind);
        });
    numTiled += rewriteLinalgOps(
        getOperation(), [&](RewriterBase &rewriter, linalg::LinalgOp op) {
          return tileContraction(rewriter, op, tiles);
        });
  }
};

//===----------------------------------------------------------------------===//
// Parallel reductions
//===----------------------------------------------------------------------===//

/// Rewrites the reduction `op` into a `gpu.launch` with one block of
/// `blockSize` threads per result element. Fails (leaving `op` alone) when
/// it is not a reduction of that form or reduces fewer than `minSize`
/// elements (when that is known).
LogicalResult parallelizeReduction(RewriterBase &b, linalg::LinalgOp op,
                                   int64_t blockSize, int64_t minSize) {
  // Contractions that remat-gpu-tile-contractions did not tile are left to
  // the loop mapping too: one block per result element would waste them.
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() == 0 || !hasSimpleMaps(op) ||
      linalg::isaContractionOpInterface(op))
    return failure();
  Block &body = *op.getBlock();
  unsigned accPos = op.getNumDpsInputs();
  BlockArgument acc = body.getArgument(accPos);
  SmallVector<Operation *> combiners;
  Value folded = matchReduction(op.getRegionOutputArgs(), 0, combiners);
  if (!folded || combiners.size() != 1 || !acc.hasOneUse())
    return failure();
  Operation *combiner = combiners.front();
  if (combiner->getNumOperands() != 2 || combiner->getNumResults() != 1 ||
      body.getTerminator()->getOperand(0) != combiner->getResult(0))
    return failure();
  std::optional<TypedAttr> neutral = arith::getNeutralElement(combiner);
  if (!neutral)
    return failure();
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  OpOperand &out = *op.getDpsInitOperand(0);
  // The result must hold one element per point of the parallel loops.
  AffineMap outMap = op.getMatchingIndexingMap(&out);
  if (outMap.getNumResults() != parallel.size())
    return failure();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t staticCount = 1;
  for (unsigned d : reduction)
    staticCount = ShapedType::isDynamic(ranges[d]) || staticCount < 0
                      ? -1
                      : staticCount * ranges[d];
  if (staticCount >= 0 && staticCount < minSize)
    return failure();

  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  b.setInsertionPoint(op);
  SmallVector<Value> sizes = loopSizes(b, op);
  Value results = delinearize(b, loc, Value(), parallel, sizes, {});
  Value count = delinearize(b, loc, Value(), reduction, sizes, {});
  Type accType = acc.getType();
  auto sharedType =
      MemRefType::get({blockSize}, accType, AffineMap(), workgroupSpace(ctx));
  Value one = cst(b, loc, 1);
  auto launch = gpu::LaunchOp::create(
      b, loc, results, one, one, cst(b, loc, blockSize), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, TypeRange{sharedType});

  b.setInsertionPointToStart(&launch.getBody().front());
  Value shared = launch.getWorkgroupAttributions()[0];
  Value t = launch.getThreadIds().x;
  SmallVector<Value> loop(op.getNumLoops());
  delinearize(b, loc, launch.getBlockIds().x, parallel, sizes, loop);
  auto combine = [&](OpBuilder &cb, Value lhs, Value rhs) {
    // The accumulator stays in the operand position it has in the body.
    IRMapping mapping;
    bool accFirst = combiner->getOperand(0) == acc;
    mapping.map(combiner->getOperand(accFirst ? 0 : 1), lhs);
    mapping.map(combiner->getOperand(accFirst ? 1 : 0), rhs);
    return cb.clone(*combiner, mapping)->getResult(0);
  };
  Value start = arith::ConstantOp::create(b, loc, *neutral);
  auto strided = scf::ForOp::create(
      b, loc, t, count, cst(b, loc, blockSize), ValueRange{start},
      [&](OpBuilder &fb, Location, Value r, ValueRange accs) {
        SmallVector<Value> point(loop);
        delinearize(fb, loc, r, reduction, sizes, point);
        IRMapping mapping;
        for (OpOperand *input : op.getDpsInputOperands())
          mapping.map(body.getArgument(input->getOperandNumber()),
                      readInput(fb, op, *input, point));
        cloneBody(fb, body, mapping, point, {combiner});
        scf::YieldOp::create(
            fb, loc, combine(fb, accs[0], mapping.lookupOrDefault(folded)));
      });
  memref::StoreOp::create(b, loc, strided.getResult(0), shared, t);
  gpu::BarrierOp::create(b, loc);
  // The tree: at each step the lower half folds in the upper half.
  for (int64_t half = blockSize / 2; half > 0; half /= 2) {
    Value active = ult(b, loc, t, cst(b, loc, half));
    auto ifOp = scf::IfOp::create(b, loc, active, /*withElse=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      Value other = arith::AddIOp::create(b, loc, t, cst(b, loc, half));
      Value mine = memref::LoadOp::create(b, loc, shared, t);
      Value theirs = memref::LoadOp::create(b, loc, shared, other);
      memref::StoreOp::create(b, loc, combine(b, mine, theirs), shared, t);
    }
    gpu::BarrierOp::create(b, loc);
  }
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t,
                                      cst(b, loc, 0));
  auto ifOp = scf::IfOp::create(b, loc, first, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    SmallVector<Value> indices = indicesOf(b, op, out, loop);
    Value init = memref::LoadOp::create(b, loc, out.get(), indices);
    Value total = memref::LoadOp::create(b, loc, shared, cst(b, loc, 0));
    memref::StoreOp::create(b, loc, combine(b, init, total), out.get(),
                            indices);
  }
  gpu::TerminatorOp::create(b, loc);
  b.eraseOp(op);
  return success();
}

struct RematGPUParallelReductionsPass
    : public remat::impl::RematGPUParallelReductionsPassBase<
          RematGPUParallelReductionsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (blockSize < 2 || blockSize > 1024 || !llvm::isPowerOf2_64(blockSize)) {
      mlir::emitError(getOperation().getLoc(),
                      "remat-gpu-parallel-reductions: block-size "
                      "must be a power of two in [2, 1024], got ")
          << int64_t(blockSize);
      return signalPassFailure();
    }
    numReductions += rewriteLinalgOps(
        getOperation(), [&](RewriterBase &rewriter, linalg::LinalgOp op) {
          return parallelizeReduction(rewriter, op, blockSize, minSize);
        });
  }
};

//===----------------------------------------------------------------------===//
// Flat kernels for the other linalg ops
//===----------------------------------------------------------------------===//

/// Rewrites `op` into a one-dimensional `gpu.launch` with one thread per
/// point of its parallel loops (linearized, the last fastest), each of
/// which runs the op's reduction loops, if any, in sequence. Fails (leaving
/// `op` alone) when a result's map does not cover the parallel loops.
LogicalResult flattenLinalg(RewriterBase &b, linalg::LinalgOp op,
                            int64_t blockSize) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() == 0 ||
      !hasSimpleMaps(op))
    return failure();
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  for (OpOperand &out : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&out);
    if (map.getNumResults() != parallel.size() ||
        !llvm::all_of(parallel,
                      [&](unsigned d) { return map.isFunctionOfDim(d); }))
      return failure();
  }
  Location loc = op.getLoc();
  Block &body = *op.getBlock();
  b.setInsertionPoint(op);
  SmallVector<Value> sizes = loopSizes(b, op);
  Value points = delinearize(b, loc, Value(), parallel, sizes, {});
  Value count = delinearize(b, loc, Value(), reduction, sizes, {});
  Value threads = cst(b, loc, blockSize);
  Value one = cst(b, loc, 1);
  auto launch = gpu::LaunchOp::create(
      b, loc, arith::CeilDivUIOp::create(b, loc, points, threads), one, one,
      threads, one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value linear = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, threads),
      launch.getThreadIds().x);
  auto inRange = scf::IfOp::create(b, loc, ult(b, loc, linear, points),
                                   /*withElse=*/false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  SmallVector<Value> loop(op.getNumLoops());
  delinearize(b, loc, linear, parallel, sizes, loop);
  // The results' current values, read only where the body reads them.
  SmallVector<Value> init;
  for (OpOperand &out : op.getDpsInitsMutable()) {
    if (reduction.empty() && !op.payloadUsesValueFromOperand(&out)) {
      init.push_back(Value());
      continue;
    }
    init.push_back(
        memref::LoadOp::create(b, loc, out.get(), indicesOf(b, op, out, loop)));
  }
  // One step of the body at `point`, from `accs`; returns what it yields.
  auto step = [&](OpBuilder &sb, ArrayRef<Value> point, ValueRange accs) {
    IRMapping mapping;
    for (OpOperand *input : op.getDpsInputOperands())
      if (op.payloadUsesValueFromOperand(input))
        mapping.map(body.getArgument(input->getOperandNumber()),
                    readInput(sb, op, *input, point));
    for (auto [arg, acc] : llvm::zip(op.getRegionOutputArgs(), accs))
      if (acc)
        mapping.map(arg, acc);
    cloneBody(sb, body, mapping, point);
    SmallVector<Value> yielded;
    for (Value v : body.getTerminator()->getOperands())
      yielded.push_back(mapping.lookupOrDefault(v));
    return yielded;
  };
  SmallVector<Value> results;
  if (reduction.empty()) {
    results = step(b, loop, init);
  } else {
    auto serial = scf::ForOp::create(
        b, loc, cst(b, loc, 0), count, one, init,
        [&](OpBuilder &fb, Location, Value r, ValueRange accs) {
          SmallVector<Value> point(loop);
          delinearize(fb, loc, r, reduction, sizes, point);
          scf::YieldOp::create(fb, loc, step(fb, point, accs));
        });
    results.assign(serial.getResults().begin(), serial.getResults().end());
  }
  for (auto [out, value] : llvm::zip(op.getDpsInitsMutable(), results))
    memref::StoreOp::create(b, loc, value, out.get(),
                            indicesOf(b, op, out, loop));
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.eraseOp(op);
  return success();
}

struct RematGPUMapLinalgPass
    : public remat::impl::RematGPUMapLinalgPassBase<RematGPUMapLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    if (blockSize < 1 || blockSize > 1024) {
      mlir::emitError(getOperation().getLoc(),
                      "remat-gpu-map-linalg: block-size must be in "
                      "[1, 1024], got ")
          << int64_t(blockSize);
      return signalPassFailure();
    }
    numMapped += rewriteLinalgOps(
        getOperation(), [&](RewriterBase &rewriter, linalg::LinalgOp op) {
          return flattenLinalg(rewriter, op, blockSize);
        });
  }
};

} // namespace
