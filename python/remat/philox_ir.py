"""Philox 4x32-10 in the IR: the lowering of ``remat::philox_keep``.

A dropout mask becomes one ``linalg.generic`` whose only operand is the
step's seed (``tensor<i64>``): each element computes its own Philox block
from its row-major index, the site's offset and the seed, with ``arith``
integer ops (``mului_extended`` for Philox's 32x32->64 products), and keeps
the element when its 32 bits reach the threshold. The stream is the one
``philox.py`` defines and checks against Random123's vectors; the same
integer ops run on the CPU and in a GPU kernel, so both make the same bits.

With nothing to read but the seed, the mask costs no memory to recompute:
the planner can regenerate it in the backward instead of saving it.
"""

from typing import Sequence

from . import philox
from .emitter import Emitter, Scalar, UnsupportedOpError, V, affine, lowers


def _i32(s: Scalar, v: int) -> str:
    """A 32-bit constant, written signed as MLIR prints it."""
    v &= philox.MASK32
    return s.c(v - (1 << 32) if v >> 31 else v, "i32")


def _op(s: Scalar, text: str) -> str:
    return s._op(text)


def philox_bits(s: Scalar, seed: str, offset: int, shape: Sequence[int],
                base: int = 0) -> str:
    """The body ops giving this element's 32 random bits (an ``i32``)."""
    # Row-major linear index of the element, as i64.
    idx = None
    for d, size in enumerate(shape):
        i = s.index(d)
        if idx is None:
            idx = i
            continue
        n = s.c(size, "index")
        idx = _op(s, f"arith.muli {idx}, {n} : index")
        idx = _op(s, f"arith.addi {idx}, {i} : index")
    if idx is None:
        idx = s.c(0, "index")
    idx = _op(s, f"arith.index_cast {idx} : index to i64")

    def shr(x, k, ty="i64"):
        return _op(s, f"arith.shrui {x}, {s.c(k, ty)} : {ty}")

    def lo(x):
        return _op(s, f"arith.trunci {x} : i64 to i32")

    block = shr(idx, 2)
    if base:
        block = _op(s, f"arith.addi {block}, "
                       f"{s.c(philox.to_int64(base), 'i64')} : i64")
    word = _op(s, f"arith.andi {idx}, {s.c(3, 'i64')} : i64")
    c = [lo(block), lo(shr(block, 32)), _i32(s, offset),
         _i32(s, offset >> 32)]
    k = [lo(seed), lo(shr(seed, 32))]
    m0, m1 = _i32(s, philox.M0), _i32(s, philox.M1)
    w0, w1 = _i32(s, philox.W0), _i32(s, philox.W1)

    def xor(a, b):
        return _op(s, f"arith.xori {a}, {b} : i32")

    for r in range(philox.ROUNDS):
        if r:
            k = [_op(s, f"arith.addi {k[0]}, {w0} : i32"),
                 _op(s, f"arith.addi {k[1]}, {w1} : i32")]
        p0 = s.em.fresh()
        s.lines.append(f"{p0}:2 = arith.mului_extended {m0}, {c[0]} : i32")
        p1 = s.em.fresh()
        s.lines.append(f"{p1}:2 = arith.mului_extended {m1}, {c[2]} : i32")
        c = [xor(xor(f"{p1}#1", c[1]), k[0]), f"{p1}#0",
             xor(xor(f"{p0}#1", c[3]), k[1]), f"{p0}#0"]
    # Word (index mod 4) of the block.
    out = c[3]
    for w in (2, 1, 0):
        is_w = s.cmpi("eq", word, s.c(w, "i64"), "i64")
        out = s.select(is_w, c[w], out, "i32")
    return out


def philox_generic(em: Emitter, seed: V, shape: Sequence[int], offset: int,
                   out_elem: str, body, base: int = 0) -> V:
    """A generic over ``shape`` reading the 0-d ``seed``; ``body(s, bits)``
    maps the element's random bits to the yielded ``out_elem`` value."""
    rank = len(shape)

    def gen(s: Scalar, args, _out):
        return body(s, philox_bits(s, args[0], offset, shape, base))

    return em.generic(shape, out_elem, [seed], [affine(rank, [])],
                      affine(rank, [f"d{i}" for i in range(rank)]),
                      ["parallel"] * rank, gen)


@lowers("remat.philox_keep.default")
def _philox_keep(em: Emitter, node, seed, shape, offset, p):
    if not isinstance(seed, V) or seed.shape != () or seed.elem != "i64":
        raise UnsupportedOpError("philox_keep needs a 0-d int64 seed")
    t = philox.threshold(float(p))

    def keep(s: Scalar, bits: str) -> str:
        return s.cmpi("uge", bits, _i32(s, t), "i32")
    return philox_generic(em, seed, [int(d) for d in shape], int(offset),
                          "i1", keep)


def bits_module(seed: int, offset: int, count: int, base: int = 0) -> str:
    """A module whose ``@main`` prints elements 0..count-1 of the stream
    (``printMemrefI64``, the 32 bits zero-extended): the IR's generator on
    its own, for the known-answer test."""
    em = Emitter(None)
    em.indent = 2
    seed_v = V("%seed", (), "i64")

    def bits(s: Scalar, b: str) -> str:
        return s._op(f"arith.extui {b} : i32 to i64")
    out = philox_generic(em, seed_v, [count], offset, "i64", bits, base)
    ty = out.ty
    return "\n".join([
        "module {",
        f"  func.func @philox_bits(%seed: tensor<i64>) -> {ty} {{",
        *em.lines,
        f"    return {out.name} : {ty}",
        "  }",
        "  func.func private @printMemrefI64(tensor<*xi64>) "
        "attributes {llvm.emit_c_interface}",
        "  func.func @main() {",
        f"    %s = arith.constant dense<{philox.to_int64(seed)}> : "
        "tensor<i64>",
        f"    %r = call @philox_bits(%s) : (tensor<i64>) -> {ty}",
        f"    %u = tensor.cast %r : {ty} to tensor<*xi64>",
        "    call @printMemrefI64(%u) : (tensor<*xi64>) -> ()",
        "    return",
        "  }",
        "}",
    ]) + "\n"
