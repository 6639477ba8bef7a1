"""The load entry (``emit --main=load``) and the JSON manifest."""

import json
import os
import re
import subprocess

import pytest
import torch

from remat import __main__ as cli
from remat import models
from remat.importer import import_step

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
REMAT_OPT = os.path.join(REPO, "build", "bin", "remat-opt")


def emit(tmp_path, *argv):
    out, man = tmp_path / "out.mlir", tmp_path / "manifest.json"
    assert cli.main(["emit", *argv, "-o", str(out), "--manifest",
                     str(man)]) == 0
    return out.read_text(), json.loads(man.read_text())


def test_main_flag_forms():
    p = cli.parser()
    assert p.parse_args(["emit", "gpt"]).main is None
    assert p.parse_args(["emit", "gpt", "--main"]).main == "constants"
    assert p.parse_args(["emit", "gpt", "--main=constants"]).main == \
        "constants"
    assert p.parse_args(["emit", "gpt", "--main=load"]).main == "load"
    with pytest.raises(SystemExit):
        p.parse_args(["emit", "gpt", "--main=weights"])


def test_load_main_loads_times_and_saves(tmp_path):
    text, man = emit(tmp_path, "gpt", "--layers", "1", "--main=load")
    assert "arith.constant dense" not in text
    assert "func.func @remat_main() attributes {llvm.emit_c_interface}" \
        in text
    body = text[text.index("func.func @remat_main"):]
    n_in, n_out = len(man["inputs"]), len(man["outputs"])
    assert body.count("memref.alloc()") == n_in
    assert body.count("bufferization.to_tensor") == n_in
    assert body.count("call @rematSaveTensorF32") == n_out
    # One load per argument, with the loader of its element type.
    loads = re.findall(r"call @(rematLoadTensor\w+)\(%i(\d+), %c\d+\)", body)
    assert [int(i) for _, i in loads] == list(range(n_in))
    kinds = {"f32": "rematLoadTensorF32", "i64": "rematLoadTensorI64",
             "i1": "rematLoadTensorI1"}
    assert [f for f, _ in loads] == [kinds[x["dtype"]]
                                     for x in man["inputs"]]
    # The timer and the heap's phase peak bracket the step call alone.
    order = ["call @rematLoadTensor", "call @rematTimerStart()",
             "call @rematHeapResetPeak()", "call @train_step(",
             "call @rematTimerStop()", "call @rematPrintHeapStats()",
             "call @rematSaveTensorF32("]
    at = [body.index(s) for s in order]
    assert at == sorted(at)
    assert body.rindex("call @rematLoadTensor") < at[1]
    assert ("%t0 = bufferization.to_tensor %m0 restrict writable : "
            "memref<32x16xf32> to tensor<32x16xf32>") in body
    assert ("func.func private @rematLoadTensorF32(i64, memref<*xf32> "
            '{bufferization.access = "write"}) attributes '
            "{llvm.emit_c_interface}") in text
    assert ("func.func private @rematSaveTensorF32(i64, tensor<*xf32> "
            '{bufferization.access = "read"}) attributes '
            "{llvm.emit_c_interface}") in text
    for f in ("rematTimerStart", "rematTimerStop", "rematHeapResetPeak",
              "rematPrintHeapStats"):
        assert f"func.func private @{f}()\n" in text


def test_manifest_describes_the_model(tmp_path):
    _, man = emit(tmp_path, "gpt", "--layers", "1", "--main=load")
    cfg = models.config("gpt", layers=1)
    assert man["config"] == {"model": "gpt", **{
        k: getattr(cfg, k) for k in cfg.__dataclass_fields__
        if k != "model"}}
    assert man["functions"]["step"] == "train_step"
    assert man["functions"]["main"] == "remat_main"
    assert man["functions"]["save"] == "rematSaveTensorF32"
    assert man["main"] == "load"
    model = models.build(cfg)
    values = list(model.named_parameters()) + list(model.named_buffers())
    values += list(zip(("tokens", "targets", "dropout_seed"),
                       models.example_inputs(cfg)))
    assert [x["name"] for x in man["inputs"]] == [n for n, _ in values]
    assert [x["id"] for x in man["inputs"]] == list(range(len(values)))
    for x, (_, t) in zip(man["inputs"], values):
        assert x["shape"] == list(t.shape)
        assert x["bytes"] == t.numel() * t.element_size()
    kinds = [x["kind"] for x in man["inputs"]]
    assert kinds == sorted(kinds, key=["param", "buffer", "input"].index)
    assert {x["dtype"] for x in man["inputs"]} == {"f32", "i64", "i1"}
    params = list(model.named_parameters())
    assert [o["name"] for o in man["outputs"]] == \
        ["loss"] + [f"d {n}" for n, _ in params]
    assert man["outputs"][0]["shape"] == []
    assert [o["shape"] for o in man["outputs"][1:]] == \
        [list(p.shape) for _, p in params]
    assert all(o["dtype"] == "f32" for o in man["outputs"])


def test_manifest_ids_are_the_constant_mains_print_ids(tmp_path):
    # --main (constants) prints tensor <id> with the manifest's output ids.
    text, man = emit(tmp_path, "gpt", "--layers", "1", "--main")
    assert man["main"] == "constants" and man["functions"]["main"] == "main"
    ids = re.findall(r"%id(\d+) = arith.constant \d+ : i64", text)
    assert [int(i) for i in ids] == [o["id"] for o in man["outputs"]]


def test_load_main_rejects_other_element_types(tmp_path, capsys):
    assert cli.main(["emit", "gpt", "--dtype", "bf16", "--main=load"]) == 1
    assert "--main=load loads and saves f32 tensors; use --dtype f32" in \
        capsys.readouterr().err
    assert cli.main(["emit", "gpt", "--main=load", "--reference",
                     str(tmp_path / "r.json")]) == 1
    assert "--reference needs --main=constants" in capsys.readouterr().err

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(x.float()).sum()

    with pytest.raises(ValueError, match=r"argument 2 \('input0'\) is f64"):
        import_step(Model(), (torch.randn(2, 4, dtype=torch.float64),),
                    main="load")


def test_large_config_needs_no_values(tmp_path):
    # Meta-device tracing: a realistic GPT's load entry costs no memory.
    text, man = emit(tmp_path, "gpt", "--layers", "2", "--hidden", "1024",
                     "--heads", "16", "--seq", "1024", "--batch", "1",
                     "--vocab", "50257", "--dropout", "0", "--main=load")
    assert "%m0 = memref.alloc() : memref<50257x1024xf32>" in text
    assert man["inputs"][0]["bytes"] == 50257 * 1024 * 4
    assert man["outputs"][-1]["name"] == "d head.weight"
    assert len(text) < 2_000_000


@pytest.mark.skipif(not os.access(REMAT_OPT, os.X_OK),
                    reason="remat-opt is not built")
def test_remat_opt_accepts_and_lowers_the_load_main(tmp_path):
    text, _ = emit(tmp_path, "gpt", "--layers", "1", "--main=load")
    path = str(tmp_path / "out.mlir")
    subprocess.run([REMAT_OPT, path, "-o", os.devnull], check=True)
    low = subprocess.run([REMAT_OPT, path, "--remat-lower-to-llvm"],
                         check=True, capture_output=True, text=True).stdout
    assert "llvm.func @_mlir_ciface_remat_main()" in low
    assert "llvm.call @_mlir_ciface_rematLoadTensorF32" in low
