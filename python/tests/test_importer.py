"""Unit tests of the importer's pieces (run by test/Import/pytest.test)."""

import math
import re

import pytest
import torch
import torch.nn as nn

from remat import models
from remat.capture import capture
from remat.emitter import (UnsupportedOpError, broadcast_map, float_literal,
                           reassociation, ssa_name)
from remat.importer import dense_literal, import_step


def test_reassociation_groups():
    assert reassociation((2, 8, 16), (16, 16)) == ([[0, 1], [2]], [[0], [1]])
    assert reassociation((16, 16), (2, 8, 16)) == ([[0], [1]], [[0, 1], [2]])
    # Trailing unit dims join the last group.
    assert reassociation((2, 8, 1), (16,)) == ([[0, 1, 2]], [[0]])
    # Neither a pure collapse nor a pure expand: 6x4 -> 4x6.
    assert reassociation((6, 4), (4, 6)) == ([[0, 1]], [[0, 1]])
    assert reassociation((), (1, 1)) is None


def test_broadcast_map_uses_constant_for_unit_dims():
    assert broadcast_map((2, 8, 1), (2, 8, 16)) == \
        "affine_map<(d0, d1, d2) -> (d0, d1, 0)>"
    assert broadcast_map((16,), (2, 8, 16)) == \
        "affine_map<(d0, d1, d2) -> (d2)>"
    assert broadcast_map((), (4,)) == "affine_map<(d0) -> ()>"


def test_float_literals_parse_in_mlir_syntax():
    assert float_literal(1e-5, "f32") == "1.000000000e-05"
    assert float_literal(float("-inf"), "f32") == "0xFF800000"
    assert float_literal(float("-inf"), "bf16") == "0xFF80"
    assert float_literal(float("-inf"), "f16") == "0xFC00"


def test_ssa_names_are_valid_identifiers():
    assert ssa_name("blocks.0.attn.qkv.weight") == "blocks.0.attn.qkv.weight"
    assert ssa_name("0weird-name") == "_0weird_name"


def test_dense_literal_is_exact():
    t = torch.tensor([1.0, -2.5], dtype=torch.float32)
    assert dense_literal(t) == 'dense<"0x0000803F000020C0">'
    assert dense_literal(torch.tensor([[True, False]])) == \
        "dense<[[true, false]]>"
    assert dense_literal(torch.tensor([3, 4])) == "dense<[3, 4]>"


def test_scopes_follow_the_module_hierarchy():
    cfg = models.config("gpt", layers=1)
    model = models.build(cfg)
    jg = capture(model, models.example_inputs(cfg))
    scopes = {n.meta["remat_scope"] for n in jg.forward}
    assert {"blocks.0.attn", "blocks.0.mlp.fc1", "blocks.0.ln1", "ln_f",
            "head"} <= scopes
    softmax = [n for n in jg.forward if "softmax" in str(n.target) and
               "log" not in str(n.target)]
    assert [n.meta["remat_scope"] for n in softmax] == ["blocks.0.attn"]
    # Backward nodes are attributed to the module whose gradient they form.
    bwd = {n.meta["remat_scope"] for n in jg.backward
           if str(n.target).startswith("aten._softmax_backward")}
    assert bwd == {"blocks.0.attn"}


def test_saved_set_is_what_backward_reads():
    cfg = models.config("llama", layers=1)
    model = models.build(cfg)
    jg = capture(model, models.example_inputs(cfg))
    backward = set(jg.backward)
    for node in jg.saved:
        assert node not in backward
        assert any(u in backward for u in node.users)
    # No forward node outside the saved set is read by the backward.
    saved = set(jg.saved)
    for node in jg.backward:
        for a in node.all_input_nodes:
            assert a in backward or a in saved or a in jg.tangents


def test_unsupported_op_names_op_and_module():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(4, 4))

        def forward(self, x):
            return torch.sort(self.inner(x), dim=1).values.sum()

    with pytest.raises(UnsupportedOpError,
                       match=r"unsupported op 'aten\.sort\.default' "
                       r"\(node 'sort'\) in module '<top>'"):
        import_step(Model(), (torch.randn(2, 4),))


def test_inplace_ops_are_functionalized():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return torch.nn.functional.silu(self.lin(x)).sum()

    result = import_step(Model(), (torch.randn(2, 4),))
    # silu's backward goes through empty_like + fill_ + sub_ in torch 1.13.
    assert "linalg.fill" in result.text
    assert "remat.backward" in result.text


def test_meta_build_has_no_storage():
    cfg = models.config("gpt", layers=96, hidden=1024, heads=16, seq=2048,
                        batch=1, vocab=50257, dtype="bf16")
    model = models.build(cfg, meta=True)
    assert all(p.device.type == "meta" for p in model.parameters())
    n = sum(p.numel() for p in model.parameters())
    assert n > 1.2e9  # the configuration really is large
