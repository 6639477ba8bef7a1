"""Philox 4x32-10, the counter-based generator behind regenerated dropout.

A dropout keep-mask is a pure function of the step's seed, the dropout site's
offset and the element's position, so the planner can recompute it from a
scalar instead of saving it. This module is the reference implementation
(PyTorch integer ops, checked against Random123's known-answer vectors) and
the ``remat::philox_keep`` operator the corpus models call; the importer
lowers that operator to a ``linalg.generic`` computing the same bits
(``emitter.philox_bits``).

The stream, for the element at row-major index ``i`` of a mask:

* key = (seed mod 2^32, seed div 2^32), seed an int64 read as 64 bits;
* counter = (b mod 2^32, b div 2^32, offset mod 2^32, offset div 2^32) with
  b = i div 4 (plus ``base``, 0 for masks, only for the known-answer test);
* the element's 32 random bits are word ``i mod 4`` of Philox4x32-10
  (counter, key), and it is kept when those bits are at least
  ``threshold(p)`` = round(p * 2^32): kept with probability 1 - p.
"""

from typing import Sequence, Tuple

import torch

MASK32 = 0xFFFFFFFF
# Random123's multipliers and Weyl key increments (philox.h).
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10


def _mulhilo(a: int, b: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """High and low 32 bits of a * b for 32-bit ``a`` and int64 tensors ``b``
    of 32-bit values, without int64 overflow (16-bit halves of ``a``)."""
    lo16, hi16 = a & 0xFFFF, a >> 16
    t = b * lo16  # < 2^48
    u = b * hi16  # < 2^48
    s = ((u & 0xFFFF) << 16) + t  # < 2^49
    return ((u >> 16) + (s >> 32)) & MASK32, s & MASK32


def philox4x32_10(ctr: Sequence[torch.Tensor], key: Sequence[torch.Tensor]):
    """Philox4x32-10 of int64 tensors holding 32-bit words (broadcast)."""
    c0, c1, c2, c3 = (torch.as_tensor(c, dtype=torch.int64) for c in ctr)
    k0, k1 = (torch.as_tensor(k, dtype=torch.int64) for k in key)
    for r in range(ROUNDS):
        if r:
            k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
        hi0, lo0 = _mulhilo(M0, c0)
        hi1, lo1 = _mulhilo(M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def split64(x) -> Tuple[torch.Tensor, torch.Tensor]:
    """Low and high 32-bit words of a 64-bit value (int or int64 tensor)."""
    x = torch.as_tensor(x, dtype=torch.int64)
    return x & MASK32, (x >> 32) & MASK32


def to_int64(x: int) -> int:
    """An unsigned 64-bit value as the int64 with the same bits."""
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >> 63 else x


def random_bits(seed, offset: int, n: int, base: int = 0) -> torch.Tensor:
    """The 32-bit words (as int64) of elements 0..n-1 of the stream."""
    i = torch.arange(n, dtype=torch.int64)
    block = (i >> 2) + to_int64(base)  # wraps mod 2^64, as the IR's addi
    words = philox4x32_10((*split64(block), *split64(to_int64(offset))),
                          split64(seed))
    out = torch.empty(n, dtype=torch.int64)
    for w in range(4):
        out[w::4] = words[w][w::4]
    return out


def threshold(p: float) -> int:
    """The 32-bit threshold below which an element is dropped."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability {p} is not in [0, 1)")
    return min(MASK32, int(round(p * 2.0 ** 32)))


def keep_mask(seed, shape: Sequence[int], offset: int, p: float):
    """The dropout keep-mask (bool) of ``shape`` for one site."""
    n = 1
    for d in shape:
        n *= int(d)
    bits = random_bits(seed, offset, n)
    return (bits >= threshold(p)).reshape(tuple(shape))


# ``remat::philox_keep(seed, shape, offset, p)``: an operator, so that the
# importer's trace records one node (the mask) rather than the generator's
# integer ops; CPU runs ``keep_mask``, Meta (fake and meta tracing) makes
# the shape, and the autograd kernel only steps below autograd (a mask has
# no gradient).
_LIB = torch.library.Library("remat", "DEF")
_LIB.define("philox_keep(Tensor seed, int[] shape, int offset, float p) "
            "-> Tensor")


def _cpu(seed, shape, offset, p):
    return keep_mask(seed.reshape(()), shape, offset, p)


def _meta(seed, shape, offset, p):
    threshold(p)
    return torch.empty(shape, dtype=torch.bool, device="meta")


def _autograd(seed, shape, offset, p):
    guard = torch._C._AutoDispatchBelowAutograd()
    try:
        return torch.ops.remat.philox_keep(seed, shape, offset, p)
    finally:
        del guard


_LIB.impl("philox_keep", _cpu, "CPU")
_LIB.impl("philox_keep", _meta, "Meta")
_LIB.impl("philox_keep", _autograd, "Autograd")
