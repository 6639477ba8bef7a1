//===- AttentionKernels.cpp - fused attention as GPU kernels --------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// FlashAttention-2 as `gpu.func` kernels. A block of `rows` threads works
/// on one (batch, head) and one tile of `rows` query (or key) rows, one row
/// per thread; the tiles of Q, K, V and dout it reads are staged in shared
/// memory by all of its threads, between barriers:
///
/// - Forward: the block's Q tile stays; K and V tiles stream through. Each
///   thread writes its row of the tile's scores into shared memory, takes
///   the row max, rescales its f32 output row (also in shared memory) and
///   adds exp(s − max) · keep · V. It ends with out = acc / l and
///   lse = max + log l.
/// - Delta: Σ_n dout · out per query row.
/// - KeyGrad: the block's K and V tiles and f32 dk and dv rows stay; Q and
///   dout tiles stream through with their lse and delta. Each thread
///   recomputes p = exp(s − lse) for its key against every query.
/// - QueryGrad: the block's Q and dout tiles and f32 dq rows stay; K and V
///   tiles stream through.
///
/// dq and dk/dv are two kernels, not one with atomic adds, so results do
/// not depend on the order blocks run in. Rows a thread owns are padded by
/// one element in shared memory, so that a warp reading one column of 32
/// rows hits 32 banks; tiles every thread reads the same row of are not.
/// Nothing larger than a tile is allocated, on the device or anywhere.
///
//===----------------------------------------------------------------------===//

#include "AttentionKernels.h"
#include "KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

using namespace mlir;
using namespace mlir::remat;

namespace {

/// Bytes of an element of `type` in memory.
int64_t bytesOf(Type type) {
  return std::max<int64_t>(1, (type.getIntOrFloatBitWidth() + 7) / 8);
}

/// The shared tiles of a kernel: (rows, columns, f32 or the element type)
/// in the order of its workgroup attributions.
struct Tile {
  int64_t rows, cols;
  bool f32;
};

SmallVector<Tile> getTiles(AttentionKernel kind, const AttentionShape &s,
                           int64_t t) {
  int64_t d = s.depth, dv = s.valueDepth;
  switch (kind) {
  case AttentionKernel::Forward:
    // Q (own rows), K, V, scores (own rows), acc (own rows).
    return {{t, d + 1, false},
            {t, d, false},
            {t, dv, false},
            {t, t + 1, true},
            {t, dv + 1, true}};
  case AttentionKernel::Delta:
    return {};
  case AttentionKernel::KeyGrad:
    // K, V, dk, dv (own rows), Q, dout, lse, delta.
    return {{t, d + 1, false}, {t, dv + 1, false}, {t, d + 1, true},
            {t, dv + 1, true}, {t, d, false},      {t, dv, false},
            {t, 1, true},      {t, 1, true}};
  case AttentionKernel::QueryGrad:
    // Q, dout, dq (own rows), K, V.
    return {{t, d + 1, false},
            {t, dv + 1, false},
            {t, d + 1, true},
            {t, d, false},
            {t, dv, false}};
  }
  llvm_unreachable("unknown attention kernel");
}

int64_t sharedBytes(ArrayRef<Tile> tiles, Type element) {
  int64_t bytes = 0;
  for (const Tile &tile : tiles)
    bytes += tile.rows * tile.cols * (tile.f32 ? 4 : bytesOf(element));
  return bytes;
}

/// Arguments of a kernel, named: the order is the host's (RematToGPU.cpp).
struct Args {
  Value q, k, v, mask, seed, out, lse, dout, delta, dq, dk, dv;
};

Args bindArgs(AttentionKernel kind, const AttentionShape &s,
              ValueRange values) {
  Args a;
  unsigned next = 0;
  auto take = [&]() { return values[next++]; };
  auto takeMaskAndSeed = [&]() {
    if (s.hasMask)
      a.mask = take();
    if (s.hasSeed)
      a.seed = take();
  };
  switch (kind) {
  case AttentionKernel::Forward:
    a.q = take(), a.k = take(), a.v = take();
    takeMaskAndSeed();
    a.out = take(), a.lse = take();
    break;
  case AttentionKernel::Delta:
    a.out = take(), a.dout = take(), a.delta = take();
    break;
  case AttentionKernel::KeyGrad:
  case AttentionKernel::QueryGrad:
    a.q = take(), a.k = take(), a.v = take(), a.lse = take();
    a.dout = take(), a.delta = take();
    takeMaskAndSeed();
    if (kind == AttentionKernel::KeyGrad)
      a.dk = take(), a.dv = take();
    else
      a.dq = take();
    break;
  }
  return a;
}

/// The block's coordinates: thread, first row of its tile, batch and head.
struct Coordinates {
  Value thread, row0, row, bi, hi;
};

Coordinates getCoordinates(KernelBuilder &kb) {
  OpBuilder &b = kb.b;
  Coordinates c;
  c.thread = gpu::ThreadIdOp::create(b, kb.loc, gpu::Dimension::x);
  Value tile = gpu::BlockIdOp::create(b, kb.loc, gpu::Dimension::x);
  c.row0 = kb.mul(tile, kb.rows);
  c.row = kb.add(c.row0, c.thread);
  c.hi = gpu::BlockIdOp::create(b, kb.loc, gpu::Dimension::y);
  c.bi = gpu::BlockIdOp::create(b, kb.loc, gpu::Dimension::z);
  kb.thread = c.thread;
  return c;
}

/// Zeroes this thread's row of an f32 accumulator tile of `cols` columns.
void zeroRow(KernelBuilder &kb, Value tile, Value t, int64_t cols) {
  kb.forEach(cols, [&](Value n) {
    Value zero = kb.flt(0.0);
    kb.store(zero, tile, {t, n});
  });
}

/// Writes this thread's row of an f32 tile into row `row` of the (bi, hi)
/// matrix of `dest`, in its element type.
void storeRow(KernelBuilder &kb, Value tile, Value t, Value dest,
              const Coordinates &c, int64_t cols) {
  kb.forEach(cols, [&](Value n) {
    kb.store(kb.load(tile, {t, n}), dest, {c.bi, c.hi, c.row, n});
  });
}

void buildForward(KernelBuilder &kb, const Args &a, ValueRange shared) {
  const AttentionShape &s = kb.s;
  Value qs = shared[0], ks = shared[1], vs = shared[2], sc = shared[3],
        acc = shared[4];
  Coordinates c = getCoordinates(kb);
  Value t = c.thread;
  Value active = kb.lt(c.row, s.queries);
  kb.readSeed(a.seed);
  kb.stage(a.q, qs, c.bi, c.hi, c.row0, kb.left(s.queries, c.row0));
  zeroRow(kb, acc, t, s.valueDepth);
  Value negInf = kb.flt(-INFINITY);
  Value zero = kb.flt(0.0);
  Value first = kb.idx(0);
  Value keys = kb.idx(s.keys);
  SmallVector<Value> ml = kb.loop(
      first, keys, kb.rows, {negInf, zero},
      [&](Value j0, ValueRange run) -> SmallVector<Value> {
        Value count = kb.left(s.keys, j0);
        kb.barrier();
        kb.stage(a.k, ks, c.bi, c.hi, j0, count);
        kb.stage(a.v, vs, c.bi, c.hi, j0, count);
        kb.barrier();
        return kb.ifElse(
            active, 2,
            [&]() -> SmallVector<Value> {
              Value m = run[0], l = run[1];
              // This row's scores against the tile, and their max.
              Value start = kb.idx(0);
              Value tileMax = kb.loop(
                  start, count, 1, {negInf},
                  [&](Value j, ValueRange mx) -> SmallVector<Value> {
                    Value key = kb.add(j0, j);
                    Value sv = kb.score(qs, t, ks, j, c.bi, c.hi, c.row, key);
                    kb.store(sv, sc, {t, j});
                    return {arith::MaximumFOp::create(kb.b, kb.loc, mx[0], sv)};
                  })[0];
              Value mNew = arith::MaximumFOp::create(kb.b, kb.loc, m, tileMax);
              Value alpha = kb.shiftedExp(m, mNew);
              kb.forEach(s.valueDepth, [&](Value n) {
                Value old = kb.load(acc, {t, n});
                kb.store(kb.fmul(old, alpha), acc, {t, n});
              });
              Value lScaled = kb.fmul(l, alpha);
              Value lNew =
                  kb.loop(start, count, 1, {lScaled},
                          [&](Value j, ValueRange sumP) -> SmallVector<Value> {
                            Value p = kb.shiftedExp(kb.load(sc, {t, j}), mNew);
                            Value weight = p;
                            if (s.hasSeed) {
                              Value key = kb.add(j0, j);
                              weight = kb.fmul(
                                  p, kb.keepFactor(c.bi, c.hi, c.row, key));
                            }
                            kb.forEach(s.valueDepth, [&](Value n) {
                              Value v = kb.load(vs, {j, n});
                              kb.accumulate(acc, {t, n}, kb.fmul(weight, v));
                            });
                            return {kb.fadd(sumP[0], p)};
                          })[0];
              return {mNew, lNew};
            },
            run);
      });
  kb.ifThen(active, [&]() {
    Value m = ml[0], l = ml[1];
    kb.forEach(s.valueDepth, [&](Value n) {
      Value o = arith::DivFOp::create(kb.b, kb.loc, kb.load(acc, {t, n}), l);
      kb.store(o, a.out, {c.bi, c.hi, c.row, n});
    });
    Value lse = kb.fadd(m, math::LogOp::create(kb.b, kb.loc, l));
    kb.store(lse, a.lse, {c.bi, c.hi, c.row});
  });
}

void buildDelta(KernelBuilder &kb, const Args &a) {
  const AttentionShape &s = kb.s;
  Coordinates c = getCoordinates(kb);
  kb.ifThen(kb.lt(c.row, s.queries), [&]() {
    Value delta = kb.sum(s.valueDepth, [&](Value n) {
      return kb.mulLoads(a.dout, {c.bi, c.hi, c.row, n}, a.out,
                         {c.bi, c.hi, c.row, n});
    });
    kb.store(delta, a.delta, {c.bi, c.hi, c.row});
  });
}

/// Where a kernel finds the rows of one (query, key) pair: q and dout by
/// query, k and v by key, each a row of a shared tile.
struct PairRows {
  Value qTile, qRow, doutTile, doutRow, kTile, kRow, vTile, vRow;
};

/// The gradient terms of the pair (i, j): the score again, p = exp(s −
/// lse), the dropout factor applied to p (for dv, `pd`) and to dp =
/// dout · v (for `ds`), and ds = p · (dp − delta) · scale.
struct PairGrad {
  Value pd, ds;
};

PairGrad gradOfPair(KernelBuilder &kb, const PairRows &rows,
                    const Coordinates &c, Value i, Value j, Value lse,
                    Value delta) {
  const AttentionShape &s = kb.s;
  Value keep = s.hasSeed ? kb.keepFactor(c.bi, c.hi, i, j) : Value();
  Value score =
      kb.score(rows.qTile, rows.qRow, rows.kTile, rows.kRow, c.bi, c.hi, i, j);
  Value p = kb.shiftedExp(score, lse);
  Value pd = keep ? kb.fmul(p, keep) : p;
  Value dp = kb.sum(s.valueDepth, [&](Value n) {
    return kb.mulLoads(rows.doutTile, {rows.doutRow, n}, rows.vTile,
                       {rows.vRow, n});
  });
  if (keep)
    dp = kb.fmul(dp, keep);
  Value ds = kb.fmul(p, kb.fsub(dp, delta));
  return {pd, kb.fmul(ds, s.scale)};
}

void buildKeyGrad(KernelBuilder &kb, const Args &a, ValueRange shared) {
  const AttentionShape &s = kb.s;
  Value ks = shared[0], vs = shared[1], dks = shared[2], dvs = shared[3],
        qs = shared[4], dos = shared[5], lses = shared[6], deltas = shared[7];
  // Here the block's rows are keys.
  Coordinates c = getCoordinates(kb);
  Value t = c.thread;
  Value active = kb.lt(c.row, s.keys);
  kb.readSeed(a.seed);
  kb.stage(a.k, ks, c.bi, c.hi, c.row0, kb.left(s.keys, c.row0));
  kb.stage(a.v, vs, c.bi, c.hi, c.row0, kb.left(s.keys, c.row0));
  zeroRow(kb, dks, t, s.depth);
  zeroRow(kb, dvs, t, s.valueDepth);
  Value zero = kb.idx(0);
  kb.overTiles(
      s.queries,
      [&](Value i0, Value count) {
        kb.stage(a.q, qs, c.bi, c.hi, i0, count);
        kb.stage(a.dout, dos, c.bi, c.hi, i0, count);
        kb.stage(a.lse, lses, c.bi, c.hi, i0, count);
        kb.stage(a.delta, deltas, c.bi, c.hi, i0, count);
      },
      active,
      [&](Value i0, Value r) {
        Value i = kb.add(i0, r);
        Value lse = kb.load(lses, {r, zero});
        Value delta = kb.load(deltas, {r, zero});
        PairGrad g = gradOfPair(kb, {qs, r, dos, r, ks, t, vs, t}, c, i, c.row,
                                lse, delta);
        kb.forEach(s.valueDepth, [&](Value n) {
          Value dout = kb.load(dos, {r, n});
          kb.accumulate(dvs, {t, n}, kb.fmul(g.pd, dout));
        });
        kb.forEach(s.depth, [&](Value d) {
          Value q = kb.load(qs, {r, d});
          kb.accumulate(dks, {t, d}, kb.fmul(g.ds, q));
        });
      });
  kb.ifThen(active, [&]() {
    storeRow(kb, dks, t, a.dk, c, s.depth);
    storeRow(kb, dvs, t, a.dv, c, s.valueDepth);
  });
}

void buildQueryGrad(KernelBuilder &kb, const Args &a, ValueRange shared) {
  const AttentionShape &s = kb.s;
  Value qs = shared[0], dos = shared[1], dqs = shared[2], ks = shared[3],
        vs = shared[4];
  Coordinates c = getCoordinates(kb);
  Value t = c.thread;
  Value active = kb.lt(c.row, s.queries);
  kb.readSeed(a.seed);
  kb.stage(a.q, qs, c.bi, c.hi, c.row0, kb.left(s.queries, c.row0));
  kb.stage(a.dout, dos, c.bi, c.hi, c.row0, kb.left(s.queries, c.row0));
  zeroRow(kb, dqs, t, s.depth);
  // This row's lse and delta (0 past the last query: never used there).
  Value none = kb.flt(0.0);
  SmallVector<Value> rowStats =
      kb.ifElse(active, 2,
                [&]() -> SmallVector<Value> {
                  Value lse = kb.load(a.lse, {c.bi, c.hi, c.row});
                  Value delta = kb.load(a.delta, {c.bi, c.hi, c.row});
                  return {lse, delta};
                },
                {none, none});
  kb.overTiles(
      s.keys,
      [&](Value j0, Value count) {
        kb.stage(a.k, ks, c.bi, c.hi, j0, count);
        kb.stage(a.v, vs, c.bi, c.hi, j0, count);
      },
      active,
      [&](Value j0, Value j) {
        Value key = kb.add(j0, j);
        PairGrad g = gradOfPair(kb, {qs, t, dos, t, ks, j, vs, j}, c, c.row,
                                key, rowStats[0], rowStats[1]);
        kb.forEach(s.depth, [&](Value d) {
          Value k = kb.load(ks, {j, d});
          kb.accumulate(dqs, {t, d}, kb.fmul(g.ds, k));
        });
      });
  kb.ifThen(active, [&]() { storeRow(kb, dqs, t, a.dq, c, s.depth); });
}

} // namespace

int64_t mlir::remat::getAttentionKernelRows(AttentionKernel kind,
                                            const AttentionShape &shape,
                                            int64_t maxRows) {
  // (A row holds at least `depth` elements: beyond the budget in bytes it
  // cannot fit, and the sums below would overflow.)
  if (shape.depth > kSharedMemoryBytes || shape.valueDepth > kSharedMemoryBytes)
    return 0;
  int64_t own = kind == AttentionKernel::KeyGrad ? shape.keys : shape.queries;
  int64_t rows = 1;
  while (rows < maxRows && rows < own)
    rows *= 2;
  while (rows > maxRows)
    rows /= 2;
  for (; rows >= 1; rows /= 2)
    if (sharedBytes(getTiles(kind, shape, rows), shape.element) <=
        kSharedMemoryBytes)
      return rows;
  return 0;
}

KernelLaunch mlir::remat::buildAttentionKernel(
    OpBuilder &b, Location loc, gpu::GPUModuleOp module, StringRef name,
    AttentionKernel kind, const AttentionShape &shape, int64_t rows,
    TypeRange argTypes) {
  MLIRContext *ctx = b.getContext();
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  SmallVector<Type> workgroup;
  for (const Tile &tile : getTiles(kind, shape, rows))
    workgroup.push_back(MemRefType::get(
        {tile.rows, tile.cols}, tile.f32 ? b.getF32Type() : shape.element,
        AffineMap(), space));

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  auto func = gpu::GPUFuncOp::create(
      b, loc, name, FunctionType::get(ctx, argTypes, {}), workgroup);
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(rows), 1, 1}));
  b.setInsertionPointToStart(&func.getBody().front());
  KernelBuilder kb(b, loc, shape, rows);
  Args args = bindArgs(kind, shape, func.getArguments());
  kb.mask = args.mask;
  ValueRange shared = func.getWorkgroupAttributions();
  int64_t own = shape.queries;
  switch (kind) {
  case AttentionKernel::Forward:
    buildForward(kb, args, shared);
    break;
  case AttentionKernel::Delta:
    buildDelta(kb, args);
    break;
  case AttentionKernel::KeyGrad:
    own = shape.keys;
    buildKeyGrad(kb, args, shared);
    break;
  case AttentionKernel::QueryGrad:
    buildQueryGrad(kb, args, shared);
    break;
  }
  gpu::ReturnOp::create(b, loc);
  // (Rounded up without `own + rows − 1`, which could overflow.)
  int64_t tiles = own / rows + (own % rows != 0);
  return {func, {tiles, shape.heads, shape.batch}, {rows, 1, 1}};
}
