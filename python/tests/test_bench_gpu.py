"""bench/gpu/run.py's pure-Python parts, on fabricated executables."""

import importlib.util
import json
import math
import os

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _load():
    spec = importlib.util.spec_from_file_location(
        "remat_bench_gpu_run", os.path.join(REPO, "bench", "gpu", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


R = _load()

EXE_OUTPUT = """\
remat-device: name="NVIDIA H100 80GB HBM3" cc=9.0 total_bytes=85520809984
remat-time: step_ms=12.5
remat-heap: peak_bytes=900 peak_buffers=9 live_bytes=100 live_buffers=2 \
allocations=40 phase_peak_bytes=800
remat-device-heap: driver_used_bytes=1 driver_free_bytes=2 \
driver_total_bytes=3
remat-time: step_ms=10.25
remat-heap: peak_bytes=900 peak_buffers=9 live_bytes=100 live_buffers=2 \
allocations=80 phase_peak_bytes=800
remat-time: step_ms=10.75
remat-heap: peak_bytes=900 peak_buffers=9 live_bytes=100 live_buffers=2 \
allocations=120 phase_peak_bytes=800
tensor 0: numel=1 sum=4.02596664 abs_sum=4.02596664
tensor 1: numel=512 sum=-1.90455467e-07 abs_sum=16.0325246
"""


def test_parse_output():
    p = R.parse_output(EXE_OUTPUT)
    assert p["device"] == {"name": "NVIDIA H100 80GB HBM3", "cc": 9.0,
                           "total_bytes": 85520809984}
    assert p["step_ms"] == [12.5, 10.25, 10.75]
    assert [h["phase_peak_bytes"] for h in p["heap"]] == [800, 800, 800]
    assert p["heap"][2]["allocations"] == 120
    assert p["tensors"][1] == {"numel": 512, "sum": -1.90455467e-07,
                               "abs_sum": 16.0325246}
    # The first repeat is warmup.
    assert R.time_summary(p["step_ms"]) == {"min_ms": 10.25,
                                            "median_ms": 10.5, "n": 2}
    assert R.time_summary([3.0])["median_ms"] == 3.0
    assert R.time_summary([])["n"] == 0


def test_compare_tolerance():
    ref = torch.tensor([2.0, -4.0, 0.5], dtype=torch.float64)
    assert R.compare(ref.float(), ref)["ok"]
    # 1e-3 * max(1, 4) = 4e-3 absolute.
    assert R.compare(ref + 3.9e-3, ref)["ok"]
    bad = R.compare(ref + 4.1e-3, ref)
    assert not bad["ok"] and "max(1, 4)" in bad["why"]
    # Small gradients: the relative gate catches what the absolute misses.
    small = torch.tensor([1e-3, -2e-3], dtype=torch.float64)
    assert R.compare(small * 1.001, small)["ok"]
    wrong = R.compare(torch.zeros(2), small)
    assert not wrong["ok"] and wrong["rel_err"] == 1.0
    # All but zero in exact arithmetic: f32 noise passes.
    assert R.compare(torch.tensor([3e-9, -1e-9]),
                     torch.tensor([1e-18, 0.0], dtype=torch.float64))["ok"]
    assert not R.compare(torch.tensor([math.nan, 0.0]),
                         torch.zeros(2, dtype=torch.float64))["ok"]
    assert not R.compare(torch.zeros(3), torch.zeros(2))["ok"]


def test_tensor_files_round_trip(tmp_path):
    for t in (torch.randn(3, 5), torch.arange(7), torch.rand(4, 4) > 0.5,
              torch.zeros(0)):
        path = str(tmp_path / "t.bin")
        R.write_tensor(path, t)
        assert os.path.getsize(path) == t.numel() * t.element_size()
        assert torch.equal(R.read_tensor(path, t.dtype, t.shape), t)
    with pytest.raises(R.BenchError, match="expected 40"):
        R.read_tensor(path, torch.float32, (10,))


def test_budget_bytes():
    assert R.budget_bytes(None, 100) is None
    assert R.budget_bytes(1234, None) == 1234
    assert R.budget_bytes("8GiB", None) == 8 << 30
    assert R.budget_bytes("1.5 MiB", None) == 3 << 19
    assert R.budget_bytes("60%", 1000) == 600
    assert R.budget_bytes("60%", None) is None
    with pytest.raises(R.BenchError):
        R.budget_bytes("lots", None)
    assert R.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_signature_mismatch_is_reported():
    cfg = R.models.config("gpt", layers=1)
    model, inputs = R.build_model(cfg)
    ins, outs = R.signature(model, inputs, "gpt")
    man = {"config": {"model": "gpt"}, "inputs": ins, "outputs": outs}
    R.check_signature(man, model, inputs, "gpt")
    ins[3] = dict(ins[3], shape=[99])
    with pytest.raises(R.BenchError, match=r"input 3 \('blocks.0.ln1.bias'\)"
                       r": manifest shape \[99\], model \[16\]"):
        R.check_signature(man, model, inputs, "gpt")


def sample_result():
    return {
        "device": {"name": "NVIDIA H200", "slug": "nvidia-h200"},
        "config": {"model": "gpt", "layers": 4}, "command": "run.py",
        "date": "today", "torch": "2.11", "cuda": "12.8",
        "reference": {"device": "cpu", "loss": 10.9},
        "variants": [
            {"name": "none", "budget": None, "budget_bytes": None,
             "predicted_peak_bytes": 2 << 30, "measured_peak_bytes": 2 << 30,
             "peak_ratio": 1.0, "time": {"median_ms": 100.0, "min_ms": 99.0},
             "ok": True, "passed": True, "checks": {"numerics": True},
             "compare": {"max_scaled_err": 1e-6, "max_rel_err": 2e-6}},
            {"name": "auto-60%", "budget": "60%", "budget_bytes": 1288490188,
             "predicted_peak_bytes": 1 << 30, "measured_peak_bytes": 1 << 30,
             "peak_ratio": 1.0, "time": {"median_ms": 110.0, "min_ms": 109.0},
             "ok": True, "passed": True, "checks": {"numerics": True},
             "compare": {"max_scaled_err": 1e-6, "max_rel_err": 2e-6}},
            {"name": "full", "budget": None, "predicted_peak_bytes": 1 << 29,
             "ok": False, "passed": False, "error": "exit status 1",
             "time": {}, "checks": {}},
        ],
        "peer": [
            {"name": "pytorch-eager", "mode": "eager", "dtype": "f32",
             "tf32": False, "ok": True, "measured_peak_bytes": 3 << 30,
             "time": {"median_ms": 80.0, "min_ms": 79.0},
             "compare": {"ok": True, "max_scaled_err": 1e-6,
                         "max_rel_err": 1e-6}},
            {"name": "pytorch-checkpoint", "mode": "checkpoint", "ok": False,
             "error": "OutOfMemoryError: CUDA out of memory"},
        ],
        "matmul": [{"m": 4096, "n": 4096, "k": 4096, "ok": True,
                    "passed": True, "time": {"median_ms": 4.0},
                    "tflops": 34.4, "torch": {"f32_ms": 2.0, "tf32_ms": 0.5},
                    "fraction_of_torch_f32": 0.5,
                    "fraction_of_torch_tf32": 0.125,
                    "compare": {"scaled_err": 1e-7}}],
        "tf32_default": {"api": "fp32_precision", "setting": "none",
                         "enabled": False},
    }


def test_markdown_table():
    md = R.markdown(sample_result())
    assert "| none | — | 2.000 GiB | 2.000 GiB | 1.000 | 100.000 | 99.000 " \
        "| +0.0% |" in md
    assert "| auto-60% | 60% (1.200 GiB) |" in md
    assert "| +10.0% |" in md
    assert "| full |" in md and "FAILED (exit status 1)" in md
    assert "| pytorch-eager (f32, TF32 off) | — | — | 3.000 GiB |" in md
    assert "FAILED (OutOfMemoryError: CUDA out of memory)" in md
    assert "| 4096 x 4096 x 4096 | none | 4.000 | 34.4 | 2.000 | 0.50 | 0.500 | " \
        "0.12 |" in md


def test_merge_partial_runs(tmp_path):
    a, b = sample_result(), sample_result()
    a["variants"], a["matmul"] = a["variants"][:1], []
    b["variants"], b["peer"] = b["variants"][1:], b["peer"][:1]
    b["variants"][1] = dict(b["variants"][1], ok=True, passed=True,
                            checks={}, time={"median_ms": 130.0})
    b["command"] = "run.py --variants auto-60%,full"
    for name, doc in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    paths = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    res = R.merge(paths)
    assert [v["name"] for v in res["variants"]] == ["none", "auto-60%",
                                                    "full"]
    assert [p["name"] for p in res["peer"]] == ["pytorch-eager",
                                                "pytorch-checkpoint"]
    assert len(res["matmul"]) == 1 and res["passed"] is False
    assert R.main(["--merge", *paths, "--results", str(tmp_path / "out"),
                   "-q"]) == 1
    md = (tmp_path / "out" / "gpu-nvidia-h200.md").read_text()
    assert "| full |" in md and "| +30.0% |" in md
    b["config"] = {"model": "gpt", "layers": 12}
    (tmp_path / "b.json").write_text(json.dumps(b))
    with pytest.raises(R.BenchError, match="config"):
        R.merge(paths)


def test_self_test_on_fabricated_executables(tmp_path):
    # The whole flow: inputs, reference, variants (passing, over budget,
    # wrong numerics, crashing, missing), the PyTorch peer, a matmul.
    rc = R.main(["--self-test", "--results", str(tmp_path), "-q",
                 "--peer-iters", "1", "--peer-warmup", "1",
                 "--matmul-iters", "2"])
    assert rc == 0
    slug = "nvidia" if torch.cuda.is_available() else "cpu"
    (js,) = [f for f in os.listdir(tmp_path) if f.endswith(".json")]
    assert js.startswith(f"gpu-{slug}")
    res = json.loads((tmp_path / js).read_text())
    crash = next(v for v in res["variants"] if v["name"] == "crash")
    assert crash["ok"] is False and crash["rc"] == 3
    assert crash["stdout"].startswith('remat-device: name="fake"')
    txt = (tmp_path / js.replace(".json", ".txt")).read_text()
    assert "===== crash:" in txt and "OUT_OF_MEMORY" in txt
    assert "remat-time: step_ms=" in txt
