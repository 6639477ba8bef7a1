"""The peer benchmark end to end on the CPU: bench/torch/device.sh (the
GPU machine's script) with --device cpu runs bench/torch/peers.py at its
quick shapes, planning through remat-plan."""

import json
import os
import subprocess
import sys

import pytest

from remat import compiler

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench", "torch"))
import peers  # noqa: E402

PEERS = ("eager", "ckpt-all", "ckpt-2", "default", "min-cut")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """bench/torch/device.sh --device cpu: the device benchmark's script,
    planning with remat-plan as it does on the GPU machine."""
    if not compiler.planner_tool_path():
        pytest.skip("no remat-plan (REMAT_BUILD_STATIC_PLANNER)")
    pytest.importorskip("networkx")  # min-cut
    out = tmp_path_factory.mktemp("peers")
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable,
               REMAT_PLANNER=compiler.planner_tool_path())
    subprocess.run(["bash", os.path.join(ROOT, "bench", "torch",
                                         "device.sh"), "--device", "cpu"],
                   env=env, check=True, capture_output=True)
    assert (out / "peers-cpu.png").stat().st_size > 0
    assert (out / "peers-cpu.md").read_text().startswith("| model |")
    assert "torch " in (out / "peers-cpu.log").read_text()
    with open(out / "peers-cpu.json") as f:
        return json.load(f)


def by_variant(results, model):
    return {r["variant"]: r for r in results if r["model"] == model}


@pytest.mark.parametrize("model", ["gpt", "llama"])
def test_every_variant_runs(results, model):
    rs = by_variant(results, model)
    for variant in PEERS + ("remat@ckpt-all", "remat@ckpt-2",
                            "remat@min-cut"):
        assert not rs[variant]["note"], (variant, rs[variant]["note"])
        assert rs[variant]["seconds"] > 0
        assert rs[variant]["peak"] >= rs[variant]["kept"] > 0
    # The same model and batch: the same loss, whatever is recomputed.
    losses = {round(r["loss"], 5) for r in rs.values() if not r["note"]}
    assert len(losses) == 1, losses
    # Checkpointing every block keeps less than every 2nd, which keeps
    # less than nothing.
    assert rs["ckpt-all"]["kept"] < rs["ckpt-2"]["kept"] < \
        rs["eager"]["kept"]


@pytest.mark.parametrize("model", ["gpt", "llama"])
def test_remat_keeps_what_it_predicts_within_the_peers_bytes(results, model):
    rs = by_variant(results, model)
    for peer in ("ckpt-all", "ckpt-2", "min-cut"):
        ours = rs[f"remat@{peer}"]
        # Measured from the allocator's events, exactly the plan's bytes.
        assert ours["kept"] == ours["predicted_kept"]
        assert ours["kept"] <= rs[peer]["kept"]


def test_cuda_without_a_device_says_so(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert peers.main(["--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
