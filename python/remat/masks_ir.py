"""Lowerings of comparisons and boolean masks: what ``ignore_index`` and
label smoothing make of a cross-entropy.

``aten.eq``/``ne`` give ``i1`` tensors and ``bitwise_not`` negates them.
``index_put`` with one boolean mask of the tensor's shape is a select.
``masked_select`` and ``masked_scatter`` move elements by their rank among
the mask's true elements: traced on real tensors (AOTAutograd, or
``tracing_mode="real"``), the number selected is known, so both are static
``linalg.generic`` contractions over a prefix count of the mask (quadratic
in the mask's size: they appear on the loss's per-token vectors).
"""

import math

from .emitter import (FLOATS, Emitter, Scalar, UnsupportedOpError, V, affine,
                      lowers, out_meta)


def _compare(pred_int: str, pred_float: str):
    def lower(em: Emitter, node, a, b):
        shape, _ = out_meta(em)
        x = a if isinstance(a, V) else b
        other = b if isinstance(a, V) else a
        ins = [x] + ([other] if isinstance(other, V) else [])

        def body(s: Scalar, xv, *ov):
            elem = x.elem
            if ov:
                yv = s.convert(ov[0], other.elem, elem) \
                    if other.elem != elem else ov[0]
            else:
                yv = s.c(other, elem)
            if elem in FLOATS:
                return s._op(f"arith.cmpf {pred_float}, {xv}, {yv} : {elem}")
            return s.cmpi(pred_int, xv, yv, elem)
        return em.ew(shape, "i1", ins, body, convert=False)
    return lower


for _name, _int, _float in (("eq", "eq", "oeq"), ("ne", "ne", "une")):
    for _overload in ("Scalar", "Tensor"):
        lowers(f"aten.{_name}.{_overload}")(_compare(_int, _float))


@lowers("aten.bitwise_not.default", "aten.logical_not.default")
def _not(em, node, x):
    shape, elem = out_meta(em)
    if x.elem != "i1" or elem != "i1":
        raise UnsupportedOpError(f"bitwise_not of {x.elem}")

    def body(s: Scalar, a):
        return s._op(f"arith.xori {a}, {s.c(True, 'i1')} : i1")
    return em.ew(shape, "i1", [x], body, convert=False)


def _boolean_mask(x: V, indices, what: str) -> V:
    if len(indices) != 1 or not isinstance(indices[0], V) or \
            indices[0].elem != "i1" or indices[0].shape != x.shape:
        raise UnsupportedOpError(f"{what} with indices other than one "
                                 "boolean mask of the tensor's shape")
    return indices[0]


@lowers("aten.index_put.default")
def _index_put(em, node, x, indices, values, accumulate=False):
    """``x[mask] = values`` with a one-element (or scalar) ``values``."""
    mask = _boolean_mask(x, indices, "index_put")
    if accumulate:
        raise UnsupportedOpError("index_put with accumulate=True")
    shape, elem = out_meta(em)
    if isinstance(values, V) and math.prod(values.shape) != 1:
        raise UnsupportedOpError("index_put of more than one value")
    ins = [x, mask]
    if isinstance(values, V):
        values = em.reshape(values, ())
        ins.append(values)

    def body(s: Scalar, xv, mv, *vv):
        fill = s.convert(vv[0], values.elem, elem) if vv else s.c(values)
        return s.select(mv, fill, xv)
    return em.ew(shape, elem, ins, body, convert=False)


def _ranks(em: Emitter, mask: V) -> V:
    """For each element of the flattened ``mask``, how many true elements
    precede it (an exclusive prefix count, ``i64``)."""
    n = math.prod(mask.shape)
    flat = em.reshape(mask, (n,))
    init = em.full((n,), "i64", 0)

    def body(s: Scalar, args, acc):
        before = s.cmpi("ult", s.index(1), s.index(0), "index")
        hit = s._op(f"arith.andi {args[0]}, {before} : i1")
        one = s._op(f"arith.extui {hit} : i1 to i64")
        return s._op(f"arith.addi {acc}, {one} : i64")
    # Loops (i, j): counts mask[j] for j < i.
    return em.generic((n,), "i64", [flat], [affine(2, ["d1"])],
                      affine(2, ["d0"]), ["parallel", "reduction"], body,
                      init=init)


@lowers("aten.masked_select.default")
def _masked_select(em, node, x, mask):
    """The elements of ``x`` where ``mask`` holds, in order."""
    shape, elem = out_meta(em)
    if mask.shape != x.shape:
        raise UnsupportedOpError("masked_select with a broadcast mask")
    n, (k,) = math.prod(x.shape), shape
    flat_x, flat_m = em.reshape(x, (n,)), em.reshape(mask, (n,))
    ranks = _ranks(em, mask)
    init = em.full((k,), elem, 0.0)

    def body(s: Scalar, args, acc):
        xv, mv, rank = args
        at = s.cmpi("eq", s.to_index(rank, "i64"), s.index(0), "index")
        hit = s._op(f"arith.andi {at}, {mv} : i1")
        return s.add(acc, s.select(hit, xv, 0.0))
    # Loops (j, i): out[j] gathers the element of rank j.
    return em.generic((k,), elem, [flat_x, flat_m, ranks],
                      [affine(2, ["d1"])] * 3, affine(2, ["d0"]),
                      ["parallel", "reduction"], body, init=init)


@lowers("aten.masked_scatter.default")
def _masked_scatter(em, node, base, mask, source):
    """``base`` with its masked elements taken from ``source`` in order."""
    shape, elem = out_meta(em)
    if mask.shape != base.shape:
        raise UnsupportedOpError("masked_scatter with a broadcast mask")
    n, k = math.prod(base.shape), math.prod(source.shape)
    flat_b, flat_m = em.reshape(base, (n,)), em.reshape(mask, (n,))
    flat_s = em.reshape(source, (k,))
    ranks = _ranks(em, mask)
    # picked[i] = source[rank(i)] (zero past the source's end).
    init = em.full((n,), elem, 0.0)

    def pick(s: Scalar, args, acc):
        sv, rank = args
        at = s.cmpi("eq", s.to_index(rank, "i64"), s.index(1), "index")
        return s.add(acc, s.select(at, sv, 0.0))
    picked = em.generic((n,), elem, [flat_s, ranks],
                        [affine(2, ["d1"]), affine(2, ["d0"])],
                        affine(2, ["d0"]), ["parallel", "reduction"], pick,
                        init=init)
    out = em.ew((n,), elem, [flat_m, picked, flat_b],
                lambda s, mv, pv, bv: s.select(mv, pv, bv), convert=False)
    return em.reshape(out, shape)
