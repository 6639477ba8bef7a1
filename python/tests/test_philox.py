"""Philox 4x32-10 and generated dropout (run by test/Import/pytest.test)."""

import re

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from remat import models, philox
from remat.__main__ import input_names
from remat.importer import import_step

# Random123's known-answer vectors (tests/kat_vectors, "philox4x32 10"):
# counter words, key words, the four output words.
KAT = [
    ((0, 0, 0, 0), (0, 0),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2,
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
     (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_known_answer_vectors(ctr, key, want):
    got = philox.philox4x32_10(ctr, key)
    assert tuple(int(w) for w in got) == want


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_stream_layout_reaches_the_vectors(ctr, key, want):
    # Elements 4b..4b+3 of the stream are block b's words, the seed is the
    # key and the offset the counter's upper half.
    seed = key[0] | key[1] << 32
    offset = ctr[2] | ctr[3] << 32
    base = ctr[0] | ctr[1] << 32
    got = philox.random_bits(philox.to_int64(seed), offset, 4, base)
    assert got.tolist() == list(want)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_keep_mean_within_three_standard_errors(p):
    n = 1 << 20
    keep = philox.keep_mask(torch.tensor(20261203), (n,), 3, p)
    se = (p * (1 - p) / n) ** 0.5
    assert abs(keep.float().mean().item() - (1 - p)) <= 3 * se


def test_masks_depend_on_seed_and_offset_only():
    a = philox.keep_mask(torch.tensor(7), (4, 64), 0, 0.5)
    assert torch.equal(a, philox.keep_mask(torch.tensor(7), (4, 64), 0, 0.5))
    # Row-major: the same elements whatever the shape.
    assert torch.equal(a.reshape(-1),
                       philox.keep_mask(torch.tensor(7), (256,), 0, 0.5))
    assert not torch.equal(a, philox.keep_mask(torch.tensor(8), (4, 64), 0,
                                               0.5))
    assert not torch.equal(a, philox.keep_mask(torch.tensor(7), (4, 64), 1,
                                               0.5))


def test_threshold_rejects_probabilities_outside_zero_one():
    assert philox.threshold(0.0) == 0
    assert philox.threshold(0.5) == 1 << 31
    for p in (1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="not in"):
            philox.threshold(p)


def test_operator_traces_as_one_node_on_every_mode():
    seed = torch.tensor(5)

    def f(x, s):
        return x * torch.ops.remat.philox_keep(s, [2, 3], 1, 0.25)

    x = torch.randn(2, 3)
    for mode, args in (("real", (x, seed)), ("fake", (x, seed)),
                       ("real", (x.to("meta"), seed.to("meta")))):
        g = make_fx(f, tracing_mode=mode)(*args)
        targets = [str(n.target) for n in g.graph.nodes
                   if n.op == "call_function"]
        assert targets[0] == "remat.philox_keep.default", (mode, targets)
    assert torch.equal(torch.ops.remat.philox_keep(seed, [2, 3], 1, 0.25),
                       philox.keep_mask(seed, (2, 3), 1, 0.25))


def test_dropout_without_a_seed_is_a_clear_error():
    with pytest.raises(ValueError, match="dropout seed"):
        models.PhiloxDropout(0.1)(torch.ones(3))


def test_sites_get_distinct_offsets():
    model = models.build(models.config("gpt", layers=2))
    offsets = [m.offset for m in model.modules()
               if isinstance(m, models.PhiloxDropout)]
    assert offsets == list(range(6))


def test_checkpointed_blocks_regenerate_the_same_masks():
    # torch.utils.checkpoint runs a block again in the backward: the seed is
    # an argument, so the masks and the gradients are the same as eager.
    from torch.utils.checkpoint import checkpoint
    cfg = models.config("gpt", layers=1)
    model = models.build(cfg)
    models.randomize(model, cfg)
    inputs = models.example_inputs(cfg)
    model(*inputs).backward()
    eager = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    blocks = list(model.blocks)

    class Wrapped(torch.nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x, seed):
            return checkpoint(self.block, x, seed, use_reentrant=False)

    model.blocks = torch.nn.ModuleList(Wrapped(b) for b in blocks)
    model(*inputs).backward()
    for a, p in zip(eager, model.parameters()):
        assert torch.equal(a, p.grad)


def _import(name, **overrides):
    cfg = models.config(name, **overrides)
    model = models.build(cfg)
    models.randomize(model, cfg)
    return import_step(model, models.example_inputs(cfg),
                       input_names=input_names(cfg)).text


def test_generated_masks_replace_mask_inputs():
    text = _import("gpt", layers=1)
    header = next(line for line in text.splitlines()
                  if "func.func @train_step" in line)
    assert "%dropout_seed: tensor<i64>" in header
    assert ".mask:" not in header
    # One generator per site, reading the seed alone.
    gens = re.findall(r"ins\(%dropout_seed : tensor<i64>\) outs\(%\d+ : "
                      r"(tensor<[0-9x]+xi1>)\)", text)
    assert sorted(gens) == ["tensor<2x2x8x8xi1>", "tensor<2x8x16xi1>",
                            "tensor<2x8x16xi1>"]
    assert text.count("arith.mului_extended") == 3 * 2 * philox.ROUNDS


def test_no_dropout_rng_keeps_masks_as_inputs():
    text = _import("gpt", layers=1, dropout_rng=False)
    assert "dropout_seed" not in text and "philox" not in text
    assert "%blocks.0.attn.attn_drop.mask: tensor<2x2x8x8xf32>" in text


def test_no_seed_without_dropout():
    text = _import("llama", layers=1)
    assert "dropout_seed" not in text
