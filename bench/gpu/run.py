#!/usr/bin/env python3
"""Run remat's AOT-compiled GPU training steps and hold them against PyTorch.

Usage (on the GPU machine, from the repository root):

  python3 bench/gpu/run.py --build bench/gpu/out --results bench/results

``--build`` is the directory bench/gpu/build.sh produced: ``manifest.json``
(``python3 -m remat emit ... --main=load --manifest``, plus the ``variants``
and optional ``matmul`` lists the build script adds) and the executables it
names. The script

1. builds the corpus model of the manifest's configuration with
   ``remat.models`` (seeded and randomized as the importer does), checks that
   its parameters, buffers and inputs are the manifest's inputs, and writes
   each as ``inputs/<id>.bin`` (raw, little-endian, row-major);
2. computes the reference loss and gradients with PyTorch autograd in float64
   (on the CPU, or with ``--ref-device cuda``);
3. runs every variant's executable (``EXE --inputs DIR --outputs DIR
   --repeat N``), parses its step times and device peak, compares its saved
   outputs with the reference, and holds its measured phase peak against the
   predicted peak (within 5%) and the budget;
4. runs the PyTorch peer on the GPU: eager, and eager with
   ``torch.utils.checkpoint`` around every block;
5. times each matmul executable against ``torch.matmul`` (f32, TF32 off, and
   TF32 on for reference);
6. writes ``gpu-<device>.json`` (every figure), ``gpu-<device>.txt`` (every
   executable's raw output) and ``gpu-<device>.md`` (the tables) under
   ``--results``.

The numerical tolerance (see ``compare``): a tensor passes when
``max|ours - ref| <= 1e-3 * max(1, max|ref|)`` and, unless it is all but zero
(``max|ref| < 1e-6``), ``max|ours - ref| <= 1e-2 * max|ref|``.

A run that would not fit one device command can be split (``--variants``,
``--skip-peer``, ``--skip-matmul``, with ``--tag`` naming each part's files)
and the parts' JSON files combined with ``--merge``.

``--self-test`` runs the whole flow on a small configuration with fabricated
executables (Python scripts that compute the step with PyTorch in float32),
on the CPU when there is no GPU; python/tests/test_bench_gpu.py runs it.

Only ``remat.models`` is imported from the project (not the importer, whose
tracing needs torch 1.13's functorch), and numpy is not needed.
"""

import argparse
import contextlib
import copy
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from remat import models  # noqa: E402

# The batch inputs' names, as the importer (python/remat/__main__.py) names
# them; the manifest's input names must match.
INPUT_NAMES = {
    "gpt": ("tokens", "targets"),
    "llama": ("tokens", "targets"),
    "bert": ("x", "target"),
    "vit": ("patches", "labels"),
}

DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16,
          "bf16": torch.bfloat16, "i64": torch.int64, "i32": torch.int32,
          "i1": torch.bool}
ELEM = {v: k for k, v in DTYPES.items()}

# Numerical tolerance of one output tensor against the float64 reference.
# The step runs in f32 (unit roundoff 6e-8) and sums over up to ~1e5 terms
# (vocabulary, batch x sequence, hidden), in a different order from PyTorch,
# so errors of 1e-6..1e-4 relative to a tensor's magnitude are expected; an
# error of 1e-3 of max(1, max|ref|) is far above rounding and far below what a
# wrong formula, index or missing term gives. The max(1, .) keeps tensors
# that are exactly zero in exact arithmetic (a key bias's gradient: softmax
# ignores a per-row shift) from failing on f32 noise. Because that gate is
# absolute for small gradients (most weight gradients of a mean loss are
# 1e-5..1e-2), a second gate asks for 1e-2 relative to max|ref| wherever
# max|ref| >= 1e-6, which an all-zero or garbled gradient fails.
TOL_ABS = 1e-3
TOL_REL = 1e-2
REL_FLOOR = 1e-6
# The measured device peak must be within this fraction of the prediction.
PEAK_TOL = 0.05


class BenchError(Exception):
    """A setup problem that stops the run (bad manifest, mismatch)."""


# -- files --------------------------------------------------------------


def write_tensor(path: str, t: torch.Tensor) -> None:
    """Write ``t`` raw (row-major, native little-endian), without numpy."""
    t = t.detach().to("cpu").contiguous().reshape(-1)
    if os.path.exists(path):
        os.remove(path)
    if t.numel() == 0:
        open(path, "wb").close()
        return
    dst = torch.from_file(path, shared=True, size=t.numel(), dtype=t.dtype)
    dst.copy_(t)
    del dst


def read_tensor(path: str, dtype: torch.dtype, shape) -> torch.Tensor:
    n = math.prod(shape)
    want = n * torch.tensor([], dtype=dtype).element_size()
    size = os.path.getsize(path)
    if size != want:
        raise BenchError(f"{path}: {size} bytes, expected {want} "
                         f"({list(shape)} {ELEM.get(dtype, dtype)})")
    if n == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.from_file(path, shared=False, size=n,
                           dtype=dtype).reshape(shape).clone()


def load_manifest(build: str) -> dict:
    path = os.path.join(build, "manifest.json")
    try:
        with open(path) as f:
            man = json.load(f)
    except OSError as e:
        raise BenchError(f"no manifest: {e}")
    for key in ("config", "inputs", "outputs"):
        if key not in man:
            raise BenchError(f"{path}: no '{key}'")
    return man


def config_of(man: dict) -> models.Config:
    known = {f for f in models.Config.__dataclass_fields__}
    cfg = {k: v for k, v in man["config"].items() if k in known}
    return models.Config(**cfg)


# -- the model and its inputs --------------------------------------------


def build_model(cfg: models.Config):
    """The model and batch the importer builds for ``cfg`` (same seeds)."""
    model = models.build(cfg)
    models.randomize(model, cfg)
    return model, models.example_inputs(cfg)


def primal_values(model: nn.Module, inputs, model_name: str):
    """(name, kind, tensor) of every step argument, in argument order."""
    out = [(n, "param", p) for n, p in model.named_parameters()]
    out += [(n, "buffer", b) for n, b in model.named_buffers()]
    names = list(INPUT_NAMES.get(model_name) or
                 [f"input{i}" for i in range(len(inputs))])
    # A step with generated dropout takes the seed last.
    names += ["dropout_seed"] * (len(inputs) - len(names))
    out += [(n, "input", x) for n, x in zip(names, inputs)]
    return out


def signature(model: nn.Module, inputs, model_name: str):
    """The manifest's ``inputs``/``outputs`` lists for this model."""
    ins = [{"id": i, "name": n, "kind": k, "shape": list(t.shape),
            "dtype": ELEM[t.dtype]}
           for i, (n, k, t) in enumerate(primal_values(model, inputs,
                                                        model_name))]
    outs = [{"id": 0, "name": "loss", "shape": [], "dtype": "f32"}]
    for n, p in model.named_parameters():
        if p.requires_grad:
            outs.append({"id": len(outs), "name": f"d {n}",
                         "shape": list(p.shape), "dtype": ELEM[p.dtype]})
    return ins, outs


def check_signature(man: dict, model: nn.Module, inputs,
                    model_name: str) -> None:
    """Fail clearly when the manifest and the model disagree."""
    ins, outs = signature(model, inputs, model_name)
    problems = []
    for what, want, got in (("input", ins, man["inputs"]),
                            ("output", outs, man["outputs"])):
        if len(want) != len(got):
            problems.append(f"{len(got)} {what}s in the manifest, the model "
                            f"has {len(want)}")
        for w, g in zip(want, got):
            for key in ("id", "name", "shape", "dtype"):
                if w[key] != g.get(key):
                    problems.append(
                        f"{what} {w['id']} ('{w['name']}'): manifest {key} "
                        f"{g.get(key)!r}, model {w[key]!r}")
                    break
    if problems:
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise BenchError("the manifest does not match the model of its "
                         "config:\n  " + "\n  ".join(problems[:8]) + more)


def write_inputs(man: dict, model: nn.Module, inputs, dir_: str) -> int:
    os.makedirs(dir_, exist_ok=True)
    values = primal_values(model, inputs, man["config"]["model"])
    total = 0
    for x, (_, _, t) in zip(man["inputs"], values):
        write_tensor(os.path.join(dir_, f"{x['id']}.bin"), t)
        total += t.numel() * t.element_size()
    return total


def step(model: nn.Module, inputs, params: Sequence[nn.Parameter]):
    """One training step: the loss and the gradients of ``params``."""
    loss = model(*inputs)
    grads = torch.autograd.grad(loss, list(params))
    return [loss] + list(grads)


def reference(model: nn.Module, inputs, man: dict,
              device: str = "cpu") -> List[torch.Tensor]:
    """Loss and gradients by float64 autograd, in the manifest's output
    order, on the CPU (as ``remat.importer.reference`` computes them)."""
    ref = copy.deepcopy(model).to(device).double()
    ins = [(x.double() if x.is_floating_point() else x).to(device)
           for x in inputs]
    params = dict(ref.named_parameters())
    names = [o["name"][2:] for o in man["outputs"][1:]]
    vals = step(ref, ins, [params[n] for n in names])
    out = [v.detach().to("cpu") for v in vals]
    del ref, ins, vals
    if device != "cpu":
        torch.cuda.empty_cache()
    return out


# -- comparison --------------------------------------------------------


# An executable built with tensor cores in tf32 (build.py --mma tf32)
# rounds f32 operands to a 10-bit mantissa: its tolerance is TF32_SCALE
# times the f32 one, as for torch.matmul with TF32.
TF32_SCALE = 10.0


def compare(ours: torch.Tensor, ref: torch.Tensor,
            scale: float = 1.0) -> dict:
    """Errors of one output tensor and whether it is within tolerance
    (`scale` times the documented one)."""
    ours = ours.double().reshape(-1)
    ref = ref.double().reshape(-1)
    if ours.numel() != ref.numel():
        return {"ok": False, "why": f"numel {ours.numel()} != {ref.numel()}"}
    finite = bool(torch.isfinite(ours).all())
    if ref.numel() == 0:
        return {"ok": True, "max_abs_err": 0.0, "max_abs_ref": 0.0,
                "scaled_err": 0.0, "rel_err": 0.0}
    err = float((ours - ref).abs().max())
    mref = float(ref.abs().max())
    scaled = err / max(1.0, mref)
    rel = err / mref if mref > 0 else (0.0 if err == 0 else math.inf)
    ok_abs = scaled <= TOL_ABS * scale
    ok_rel = mref < REL_FLOOR or rel <= TOL_REL * scale
    res = {"ok": bool(finite and ok_abs and ok_rel), "max_abs_err": err,
           "max_abs_ref": mref, "scaled_err": scaled, "rel_err": rel}
    if not finite:
        res["why"] = "non-finite values"
    elif not ok_abs:
        res["why"] = f"max|err| {err:.3g} > {TOL_ABS:g} * max(1, {mref:.3g})"
    elif not ok_rel:
        res["why"] = f"max|err| {err:.3g} > {TOL_REL:g} * {mref:.3g}"
    return res


def compare_all(outs: Dict[int, torch.Tensor], refs: List[torch.Tensor],
                man: dict) -> dict:
    """Per-tensor comparison and the worst figures over all outputs."""
    per, failed = [], []
    for o, r in zip(man["outputs"], refs):
        if o["id"] not in outs:
            c = {"ok": False, "why": "missing"}
        else:
            c = compare(outs[o["id"]], r)
        c.update(id=o["id"], name=o["name"])
        per.append(c)
        if not c["ok"]:
            failed.append(f"{o['id']} ({o['name']}): {c.get('why')}")
    worst = max(per, key=lambda c: c.get("scaled_err", math.inf))
    return {"ok": not failed, "failed": failed,
            "max_scaled_err": max(c.get("scaled_err", math.inf)
                                  for c in per),
            "max_rel_err": max(c.get("rel_err", math.inf) for c in per),
            "worst": f"{worst['id']} ({worst['name']})",
            "loss": float(outs[0].reshape(-1)[0]) if 0 in outs else None,
            "ref_loss": float(refs[0].reshape(-1)[0]),
            "tensors": per}


# -- executables ----------------------------------------------------------

_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _value(text: str):
    if text.startswith('"'):
        return text[1:-1]
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_output(text: str) -> dict:
    """The figures of an executable's stdout (see the module docstring)."""
    out = {"device": None, "step_ms": [], "heap": [], "device_heap": [],
           "host": [], "tensors": {}}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("remat-device:"):
            out["device"] = {k: _value(v) for k, v in _KV.findall(line)}
        elif line.startswith("remat-time:"):
            kv = dict(_KV.findall(line))
            if "step_ms" in kv:
                out["step_ms"].append(float(kv["step_ms"]))
        elif line.startswith("remat-heap:"):
            out["heap"].append({k: _value(v) for k, v in _KV.findall(line)})
        elif line.startswith("remat-host:"):
            # The pinned host arena of offloaded buffers.
            out["host"].append({k: _value(v) for k, v in _KV.findall(line)})
        elif line.startswith("remat-device-heap:"):
            out["device_heap"].append(
                {k: _value(v) for k, v in _KV.findall(line)})
        else:
            m = re.match(r"tensor (\d+):(.*)$", line)
            if m and "=" in m.group(2):
                out["tensors"][int(m.group(1))] = {
                    k: _value(v) for k, v in _KV.findall(m.group(2))}
    return out


def time_summary(times: Sequence[float]) -> dict:
    """Min and median of the repeats after the first (warmup), or of all
    when there is only one."""
    use = list(times[1:]) if len(times) > 1 else list(times)
    if not use:
        return {"min_ms": None, "median_ms": None, "n": 0}
    return {"min_ms": min(use), "median_ms": statistics.median(use),
            "n": len(use)}


def run_exe(exe: str, inputs: str, outputs: str, repeat: int,
            timeout: float) -> dict:
    """Run one executable; never raises: failures are recorded."""
    rec = {"exe": exe, "ok": False}
    if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        rec.update(error=f"not an executable file: {exe}", stdout="",
                   stderr_tail="")
        return rec
    os.makedirs(outputs, exist_ok=True)
    for f in os.listdir(outputs):
        os.remove(os.path.join(outputs, f))
    cmd = [exe, "--inputs", inputs, "--outputs", outputs,
           "--repeat", str(repeat)]
    env = dict(os.environ, REMAT_INPUTS=inputs, REMAT_OUTPUTS=outputs)
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=timeout)
        rc, so, se = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc = None
        so = _text(e.stdout)
        se = _text(e.stderr) + f"\n(timed out after {timeout:g} s)"
    except OSError as e:
        rc, so, se = None, "", str(e)
    rec.update(cmd=" ".join(cmd), rc=rc, wall_s=time.perf_counter() - start,
               stdout=so, stderr_tail=se[-4000:])
    rec["parsed"] = parse_output(so)
    if rc != 0:
        rec["error"] = (f"exit status {rc}" if rc is not None
                        else "timed out or could not start")
    else:
        rec["ok"] = True
    return rec


def _text(b) -> str:
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def read_outputs(man: dict, dir_: str) -> Tuple[Dict[int, torch.Tensor],
                                                 List[str]]:
    outs, problems = {}, []
    for o in man["outputs"]:
        path = os.path.join(dir_, f"{o['id']}.bin")
        try:
            outs[o["id"]] = read_tensor(path, DTYPES[o["dtype"]], o["shape"])
        except (OSError, BenchError) as e:
            problems.append(str(e))
    return outs, problems


def checksums(outs: Dict[int, torch.Tensor], printed: dict) -> List[str]:
    """Printed ``sum``/``abs_sum`` against the saved files (what was saved
    is what the program computed)."""
    bad = []
    for i, t in outs.items():
        p = printed.get(i)
        if not p or "abs_sum" not in p:
            continue
        got = float(t.double().abs().sum())
        if abs(got - float(p["abs_sum"])) > 1e-4 * max(1.0, abs(got)):
            bad.append(f"tensor {i}: file abs_sum {got:.9g}, printed "
                       f"{p['abs_sum']}")
    return bad


GiB = 1 << 30
UNITS = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3,
         "kib": 1 << 10, "mib": 1 << 20, "gib": GiB, "tib": 1 << 40}


def budget_bytes(budget, base_peak: Optional[int]) -> Optional[int]:
    """A variant's budget in bytes: an int, '8GiB', or '60%' of
    ``base_peak`` (the predicted peak without remat); None if none."""
    if budget in (None, "", "none"):
        return None
    if isinstance(budget, (int, float)):
        return int(budget)
    s = str(budget).strip().lower().replace(" ", "")
    if s.endswith("%"):
        if base_peak is None:
            return None
        return int(float(s[:-1]) / 100.0 * base_peak)
    m = re.fullmatch(r"([0-9.]+)([a-z]*)", s)
    if not m or m.group(2) not in UNITS and m.group(2) != "":
        raise BenchError(f"cannot read budget {budget!r}")
    return int(float(m.group(1)) * UNITS.get(m.group(2) or "b"))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def bench_variant(v: dict, build: str, inputs_dir: str, work: str,
                  man: dict, refs: List[torch.Tensor], args,
                  base_peak: Optional[int]) -> dict:
    name = v.get("name", "?")
    if v.get("infeasible"):
        # build.py records a budget the planner reports infeasible, with its
        # message, and builds no executable: nothing to run.
        return {"name": name, "strategy": v.get("strategy"),
                "budget": v.get("budget"), "ok": False, "skipped": True,
                "passed": True, "error": "infeasible budget, not built",
                "infeasible": v["infeasible"], "checks": {},
                "time": {"median_ms": None, "min_ms": None},
                "measured_peak_bytes": None, "predicted_peak_bytes": None,
                "notes": ["infeasible: " + v["infeasible"]]}
    exe = os.path.join(build, v.get("exe", ""))
    out_dir = os.path.join(work, "outputs", slug(name))
    rec = run_exe(exe, inputs_dir, out_dir, args.repeat, args.timeout)
    rec.update(name=name, strategy=v.get("strategy"), budget=v.get("budget"),
               predicted_peak_bytes=v.get("predicted_peak_bytes"))
    parsed = rec.get("parsed") or parse_output("")
    rec["time"] = time_summary(parsed["step_ms"])
    peaks = [h.get("phase_peak_bytes") for h in parsed["heap"]
             if "phase_peak_bytes" in h]
    rec["phase_peaks"] = peaks
    rec["measured_peak_bytes"] = max(peaks) if peaks else None
    rec["peak_stable"] = len(set(peaks)) <= 1
    host = [h.get("phase_peak_bytes") for h in parsed.get("host", [])
            if "phase_peak_bytes" in h]
    rec["host_peak_bytes"] = max(host) if host else 0
    checks = {}
    pred, meas = rec["predicted_peak_bytes"], rec["measured_peak_bytes"]
    if pred and meas is not None:
        rec["peak_ratio"] = meas / pred
        checks["peak_within_5pct"] = abs(meas - pred) <= PEAK_TOL * pred
    budget = v.get("budget_bytes")
    if budget is None:
        try:
            budget = budget_bytes(v.get("budget"), base_peak)
        except BenchError as e:
            rec.setdefault("notes", []).append(str(e))
    rec["budget_bytes"] = budget
    if budget is not None and meas is not None:
        checks["peak_within_budget"] = meas <= budget
    if rec["ok"]:
        outs, problems = read_outputs(man, out_dir)
        rec["output_problems"] = problems
        rec["compare"] = compare_all(outs, refs, man)
        rec["checksum_problems"] = checksums(outs, parsed["tensors"])
        checks["numerics"] = rec["compare"]["ok"] and not problems
        checks["checksums"] = not rec["checksum_problems"]
    rec["checks"] = checks
    rec["passed"] = rec["ok"] and all(checks.values())
    return rec


# -- PyTorch peer ----------------------------------------------------------


@contextlib.contextmanager
def checkpointed_blocks(model: nn.Module):
    blocks = models.checkpoint_blocks(model)
    try:
        yield model
    finally:
        model.blocks = blocks


class TF32:
    """Reads and sets whether f32 matmuls may use TF32, through whichever
    API this torch has: torch >= 2.9's ``fp32_precision`` ("ieee", "tf32",
    or "none" = inherit from ``torch.backends.cuda`` / ``torch.backends``),
    else ``allow_tf32``. The two must not be mixed in one process."""

    def __init__(self):
        self.new_api = False
        try:
            self.new_api = isinstance(
                torch.backends.cuda.matmul.fp32_precision, str)
        except Exception:  # noqa: BLE001 - torch < 2.9 raises various errors
            pass

    def raw(self):
        if self.new_api:
            return torch.backends.cuda.matmul.fp32_precision
        return bool(torch.backends.cuda.matmul.allow_tf32)

    def get(self) -> bool:
        if not self.new_api:
            return bool(torch.backends.cuda.matmul.allow_tf32)
        for node in (torch.backends.cuda.matmul, torch.backends.cuda,
                     torch.backends):
            value = getattr(node, "fp32_precision", "none")
            if value != "none":
                return value == "tf32"
        return False

    def set_raw(self, value) -> None:
        if self.new_api:
            torch.backends.cuda.matmul.fp32_precision = value
        else:
            torch.backends.cuda.matmul.allow_tf32 = bool(value)

    @contextlib.contextmanager
    def __call__(self, on: bool):
        old = self.raw()
        self.set_raw(("tf32" if on else "ieee") if self.new_api else on)
        try:
            yield
        finally:
            self.set_raw(old)


def _sync(dev: str) -> None:
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def peer_step(model: nn.Module, inputs, plist, dev: str, iters: int,
              warmup: int, man: dict, refs: List[torch.Tensor]) -> dict:
    """Time one PyTorch training step and measure its peak above what is
    resident before it (model, inputs, allocator caches after warmup)."""
    cuda = dev.startswith("cuda")
    for _ in range(max(1, warmup)):
        vals = step(model, inputs, plist)
        del vals
    _sync(dev)
    peak = None
    if cuda:
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        vals = step(model, inputs, plist)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        vals = step(model, inputs, plist)
    cmp = compare_all({i: v.detach().to("cpu") for i, v in enumerate(vals)},
                      refs, man)
    del vals
    times = []
    for _ in range(iters):
        _sync(dev)
        t0 = time.perf_counter()
        vals = step(model, inputs, plist)
        _sync(dev)
        times.append((time.perf_counter() - t0) * 1e3)
        del vals
    return {"measured_peak_bytes": peak, "step_ms": times,
            "time": {"min_ms": min(times) if times else None,
                     "median_ms": statistics.median(times) if times else None,
                     "n": len(times)},
            "compare": cmp}


def run_peer(model: nn.Module, inputs, man: dict, refs, args,
             dev: str) -> List[dict]:
    cfg = config_of(man)
    m = copy.deepcopy(model).to(dev)
    ins = [x.to(dev) for x in inputs]
    params = dict(m.named_parameters())
    plist = [params[o["name"][2:]] for o in man["outputs"][1:]]
    rows = []
    tf32 = TF32() if dev.startswith("cuda") else None
    ctx = tf32(False) if tf32 else contextlib.nullcontext()
    with ctx:
        for mode in ("eager", "checkpoint"):
            rec = {"name": f"pytorch-{mode}", "mode": mode,
                   "dtype": cfg.dtype, "device": dev,
                   "tf32": tf32.get() if tf32 else None}
            try:
                if mode == "checkpoint":
                    if not hasattr(m, "blocks"):
                        raise BenchError("the model has no .blocks")
                    with checkpointed_blocks(m):
                        rec.update(peer_step(m, ins, plist, dev,
                                             args.peer_iters,
                                             args.peer_warmup, man, refs))
                else:
                    rec.update(peer_step(m, ins, plist, dev,
                                         args.peer_iters,
                                         args.peer_warmup, man, refs))
                rec["ok"] = True
            except Exception as e:  # noqa: BLE001 - record, do not crash
                rec.update(ok=False, error=f"{type(e).__name__}: {e}")
            rows.append(rec)
            if dev.startswith("cuda"):
                torch.cuda.empty_cache()
    del m, ins
    return rows


# -- matmul ------------------------------------------------------------------


def matmul_inputs(m: int, n: int, k: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(m, k, generator=gen)
    b = torch.randn(k, n, generator=gen)
    return a, b


def torch_matmul_ms(a, b, dev: str, iters: int, warmup: int) -> float:
    for _ in range(warmup):
        torch.matmul(a, b)
    _sync(dev)
    times = []
    for _ in range(iters):
        if dev.startswith("cuda"):
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)
            s.record()
            torch.matmul(a, b)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        else:
            t0 = time.perf_counter()
            torch.matmul(a, b)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_matmul(entry: dict, build: str, work: str, args,
                 dev: str) -> dict:
    m, n, k = int(entry["m"]), int(entry["n"]), int(entry["k"])
    mma = entry.get("mma", "none")
    tag = f"{m}x{n}x{k}" + ("" if mma == "none" else f"-{mma}")
    d = os.path.join(work, "matmul", tag)
    ins, outs = os.path.join(d, "inputs"), os.path.join(d, "outputs")
    os.makedirs(ins, exist_ok=True)
    a, b = matmul_inputs(m, n, k)
    write_tensor(os.path.join(ins, "0.bin"), a)
    write_tensor(os.path.join(ins, "1.bin"), b)
    rec = run_exe(os.path.join(build, entry.get("exe", "")), ins, outs,
                  args.matmul_repeat, args.timeout)
    rec.update(name=f"matmul {tag}", m=m, n=n, k=k, mma=mma)
    parsed = rec.get("parsed") or parse_output("")
    rec["time"] = time_summary(parsed["step_ms"])
    flops = 2.0 * m * n * k
    rec["flops"] = flops
    ref_dev = dev if dev.startswith("cuda") else "cpu"
    ref = torch.matmul(a.double().to(ref_dev), b.double().to(ref_dev)).cpu()
    if rec["ok"]:
        try:
            c = read_tensor(os.path.join(outs, "0.bin"), torch.float32,
                            (m, n))
            rec["compare"] = compare(
                c, ref, TF32_SCALE if mma == "tf32" else 1.0)
        except BenchError as e:
            rec["compare"] = {"ok": False, "why": str(e)}
    ad, bd = a.to(dev), b.to(dev)
    torch_rec = {}
    tf32 = TF32() if dev.startswith("cuda") else None
    if tf32:
        with tf32(False):
            torch_rec["f32_ms"] = torch_matmul_ms(
                ad, bd, dev, args.matmul_iters, 3)
        with tf32(True):
            torch_rec["tf32_ms"] = torch_matmul_ms(
                ad, bd, dev, args.matmul_iters, 3)
    else:
        torch_rec["f32_ms"] = torch_matmul_ms(ad, bd, dev,
                                              args.matmul_iters, 1)
    del ad, bd
    rec["torch"] = torch_rec
    ours = rec["time"]["median_ms"]
    if ours:
        rec["tflops"] = flops / (ours * 1e-3) / 1e12
        rec["fraction_of_torch_f32"] = torch_rec["f32_ms"] / ours
        if "tf32_ms" in torch_rec:
            rec["fraction_of_torch_tf32"] = torch_rec["tf32_ms"] / ours
    rec["torch_f32_tflops"] = flops / (torch_rec["f32_ms"] * 1e-3) / 1e12
    rec["passed"] = bool(rec["ok"] and rec.get("compare", {}).get("ok"))
    return rec


# -- report --------------------------------------------------------------


def fmt_bytes(b) -> str:
    if b is None:
        return "—"
    if b >= GiB / 10:
        return f"{b / GiB:.3f} GiB"
    return f"{b / (1 << 20):.2f} MiB"


def fmt(x, spec: str = ".3f", none: str = "—") -> str:
    return none if x is None else format(x, spec)


def markdown(res: dict) -> str:
    cfg = res["config"]
    lines = [
        f"# remat on {res['device']['name']}",
        "",
        f"Model: {cfg.get('model')} "
        + " ".join(f"{k}={v}" for k, v in cfg.items() if k != "model"),
        f"Generated by `{res['command']}` on {res['date']}; torch "
        f"{res['torch']}, CUDA {res['cuda']}.",
        f"Reference: float64 autograd on {res['reference']['device']} "
        f"(loss {res['reference']['loss']:.9g}). Tolerance per tensor: "
        f"max abs error <= {TOL_ABS:g} * max(1, max|ref|) and <= "
        f"{TOL_REL:g} * max|ref| where max|ref| >= {REL_FLOOR:g}. "
        f"Peaks: device bytes above what was live before the step; the "
        f"measured peak must be within {PEAK_TOL:.0%} of the prediction.",
        "",
        "| strategy | budget | predicted peak | measured peak | measured / "
        "predicted | step ms (median) | step ms (min) | overhead vs none | "
        "max scaled err | max rel err | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    base = next((v for v in res["variants"] if v["name"] == "none" and
                 v.get("time", {}).get("median_ms")), None)
    base_ms = base["time"]["median_ms"] if base else None
    for v in res["variants"]:
        t = v.get("time", {})
        med = t.get("median_ms")
        over = (f"{(med / base_ms - 1) * 100:+.1f}%"
                if med and base_ms else "—")
        c = v.get("compare") or {}
        if v["ok"]:
            status = "ok" if v["passed"] else "FAIL: " + ", ".join(
                k for k, ok in v["checks"].items() if not ok)
        elif v.get("infeasible"):
            status = "infeasible budget (the planner's report; not built)"
        else:
            status = f"FAILED ({v.get('error')})"
        budget = v.get("budget")
        if v.get("budget_bytes") is not None:
            budget = f"{budget} ({fmt_bytes(v['budget_bytes'])})" \
                if budget not in (None, "") else fmt_bytes(v["budget_bytes"])
        lines.append(
            f"| {v['name']} | {budget if budget is not None else '—'} | "
            f"{fmt_bytes(v.get('predicted_peak_bytes'))} | "
            f"{fmt_bytes(v.get('measured_peak_bytes'))} | "
            f"{fmt(v.get('peak_ratio'))} | {fmt(med)} | "
            f"{fmt(t.get('min_ms'))} | {over} | "
            f"{fmt(c.get('max_scaled_err'), '.2e')} | "
            f"{fmt(c.get('max_rel_err'), '.2e')} | {status} |")
    eager = next((p for p in res["peer"] if p["mode"] == "eager" and
                  p.get("ok")), None)
    for p in res["peer"]:
        if not p.get("ok"):
            lines.append(f"| {p['name']} | — | — | — | — | — | — | — | — | "
                         f"— | FAILED ({p.get('error')}) |")
            continue
        t, c = p["time"], p["compare"]
        over = "—"
        if eager and p is not eager:
            rel = t["median_ms"] / eager["time"]["median_ms"] - 1
            over = f"{rel * 100:+.1f}% vs eager"
        lines.append(
            f"| {p['name']} ({p['dtype']}, TF32 "
            f"{'on' if p.get('tf32') else 'off'}) | — | — | "
            f"{fmt_bytes(p.get('measured_peak_bytes'))} | — | "
            f"{fmt(t['median_ms'])} | {fmt(t['min_ms'])} | {over} | "
            f"{fmt(c.get('max_scaled_err'), '.2e')} | "
            f"{fmt(c.get('max_rel_err'), '.2e')} | "
            f"{'ok' if c['ok'] else 'FAIL'} |")
    if res.get("matmul"):
        lines += [
            "",
            "| matmul (m x n x k, f32) | ours: tensor cores | ours ms | "
            "ours TFLOP/s | torch f32 "
            "ms (TF32 off) | fraction of torch f32 | torch TF32 ms | "
            "fraction of torch TF32 | max scaled err | status |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in res["matmul"]:
            tr = r.get("torch", {})
            c = r.get("compare") or {}
            status = "ok" if r.get("passed") else (
                f"FAILED ({r.get('error')})" if not r["ok"] else "FAIL")
            lines.append(
                f"| {r['m']} x {r['n']} x {r['k']} | "
                f"{r.get('mma', 'none')} | "
                f"{fmt(r['time'].get('median_ms'))} | "
                f"{fmt(r.get('tflops'), '.1f')} | {fmt(tr.get('f32_ms'))} | "
                f"{fmt(r.get('fraction_of_torch_f32'), '.2f')} | "
                f"{fmt(tr.get('tf32_ms'))} | "
                f"{fmt(r.get('fraction_of_torch_tf32'), '.2f')} | "
                f"{fmt(c.get('scaled_err'), '.2e')} | {status} |")
        lines.append("")
        tf = res.get("tf32_default") or {}
        lines.append(f"torch's TF32 setting before the run: "
                     f"{tf.get('api', '—')} = {tf.get('setting', '—')} "
                     f"(TF32 {'on' if tf.get('enabled') else 'off'}); the "
                     "f32 columns ran with TF32 off. fraction = torch ms / "
                     "ours ms (1.0 is parity, higher means ours is faster).")
    return "\n".join(lines) + "\n"


def raw_text(res: dict) -> str:
    parts = []
    for r in res["variants"] + res.get("matmul", []):
        name = r.get("name") or f"matmul {r.get('m')}x{r.get('n')}x" \
            f"{r.get('k')}"
        parts.append(f"===== {name}: {r.get('cmd', r.get('exe'))}\n"
                     f"rc={r.get('rc')} wall_s={fmt(r.get('wall_s'))}\n")
        out = r.get("stdout") or ""
        parts.append(out if not out or out.endswith("\n") else out + "\n")
        if r.get("stderr_tail"):
            parts.append(f"----- stderr (tail)\n{r['stderr_tail']}\n")
    return "".join(parts)


def write_results(res: dict, results: str) -> List[str]:
    os.makedirs(results, exist_ok=True)
    name = f"gpu-{res['device']['slug']}"
    if res.get("tag"):
        name += f"-{slug(res['tag'])}"
    stem = os.path.join(results, name)
    with open(stem + ".json", "w") as f:
        json.dump(res, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    with open(stem + ".txt", "w") as f:
        f.write(raw_text(res))
    with open(stem + ".md", "w") as f:
        f.write(markdown(res))
    return [stem + ext for ext in (".json", ".txt", ".md")]


# -- driver --------------------------------------------------------------


def device_info(dev: str) -> dict:
    if dev.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        name = torch.cuda.get_device_name(0)
        return {"name": name, "slug": slug(name),
                "cc": f"{p.major}.{p.minor}", "total_bytes": p.total_memory}
    return {"name": "cpu", "slug": "cpu", "cc": None, "total_bytes": None}


def run(args) -> dict:
    build = os.path.abspath(args.build)
    man = load_manifest(build)
    cfg = config_of(man)
    work = os.path.abspath(args.work or os.path.join(build, "work"))
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    log = args.log

    log(f"model {cfg.model}: {cfg}")
    model, inputs = build_model(cfg)
    check_signature(man, model, inputs, cfg.model)
    inputs_dir = os.path.join(work, "inputs")
    nbytes = write_inputs(man, model, inputs, inputs_dir)
    log(f"wrote {len(man['inputs'])} inputs ({fmt_bytes(nbytes)}) to "
        f"{inputs_dir}")

    t0 = time.perf_counter()
    refs = reference(model, inputs, man, args.ref_device)
    ref_s = time.perf_counter() - t0
    log(f"reference on {args.ref_device}: loss {float(refs[0]):.9g} "
        f"({ref_s:.1f} s)")

    res = {
        "command": " ".join(["python3", "bench/gpu/run.py"] + args.argv),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "device": device_info(dev), "config": man["config"],
        "manifest": {k: man.get(k) for k in ("generator", "checkpoint",
                                             "policy", "functions", "build")
                     if k in man},
        "tolerance": {"abs": TOL_ABS, "rel": TOL_REL, "rel_floor": REL_FLOOR,
                      "peak": PEAK_TOL},
        "reference": {"device": args.ref_device, "seconds": ref_s,
                      "loss": float(refs[0])},
        "repeat": args.repeat, "tag": args.tag,
        "variants": [], "peer": [], "matmul": [],
    }
    if dev.startswith("cuda"):
        tf = TF32()
        res["tf32_default"] = {"enabled": tf.get(), "setting": tf.raw(),
                               "api": "fp32_precision" if tf.new_api
                               else "allow_tf32"}

    variants = man.get("variants", [])
    if args.variants:
        want = set(args.variants.split(","))
        variants = [v for v in variants if v.get("name") in want]
    none = next((v for v in man.get("variants", [])
                 if v.get("name") == "none"), None)
    base_peak = none.get("predicted_peak_bytes") if none else None
    if not args.skip_variants:
        for v in variants:
            log(f"variant {v.get('name')}: {v.get('exe')}")
            rec = bench_variant(v, build, inputs_dir, work, man, refs, args,
                                base_peak)
            log("  " + ("passed" if rec["passed"] else
                        f"FAILED: {rec.get('error') or rec['checks']}")
                + f"; step {fmt(rec['time'].get('median_ms'))} ms, peak "
                f"{fmt_bytes(rec['measured_peak_bytes'])} (predicted "
                f"{fmt_bytes(rec['predicted_peak_bytes'])})"
                + (f", host {rec['host_peak_bytes']} bytes"
                   if rec.get("host_peak_bytes") else ""))
            res["variants"].append(rec)

    if not args.skip_peer:
        log(f"PyTorch peer on {dev}")
        res["peer"] = run_peer(model, inputs, man, refs, args, dev)
        for p in res["peer"]:
            log(f"  {p['name']}: " + (
                f"step {fmt(p['time']['median_ms'])} ms, peak "
                f"{fmt_bytes(p['measured_peak_bytes'])}" if p["ok"]
                else p["error"]))

    if not args.skip_matmul:
        for entry in man.get("matmul", []):
            log(f"matmul {entry.get('m')}x{entry.get('n')}x{entry.get('k')}")
            try:
                rec = bench_matmul(entry, build, work, args, dev)
            except Exception as e:  # noqa: BLE001 - record, do not crash
                rec = {"name": f"matmul {entry}", "ok": False,
                       "passed": False, "m": entry.get("m"),
                       "n": entry.get("n"), "k": entry.get("k"),
                       "time": {}, "error": f"{type(e).__name__}: {e}"}
            res["matmul"].append(rec)

    res["passed"] = all_passed(res)
    if args.results:
        for path in write_results(res, args.results):
            log(f"wrote {path}")
    return res


def all_passed(res: dict) -> bool:
    return (all(v["passed"] for v in res["variants"]) and
            all(p.get("ok") and p["compare"]["ok"] for p in res["peer"]) and
            all(r.get("passed") for r in res["matmul"]))


def merge(paths: Sequence[str]) -> dict:
    """One result from several partial runs on the same device and config
    (e.g. one device command per variant, to stay under a time limit).
    Rows are keyed by variant name, peer name and matmul shape; a later file
    replaces an earlier file's row."""
    docs = []
    for path in paths:
        with open(path) as f:
            docs.append(json.load(f))
    if not docs:
        raise BenchError("--merge needs at least one JSON file")
    res = copy.deepcopy(docs[0])
    for path, d in zip(paths[1:], docs[1:]):
        for key in ("device", "config"):
            a = res[key].get("name") if key == "device" else res[key]
            b = d[key].get("name") if key == "device" else d[key]
            if a != b:
                raise BenchError(f"{path}: {key} {b!r} differs from "
                                 f"{paths[0]}'s {a!r}")
    for key, ident in (("variants", lambda r: r["name"]),
                       ("peer", lambda r: r["name"]),
                       ("matmul", lambda r: (r.get("m"), r.get("n"),
                                             r.get("k")))):
        rows = {}
        for d in docs:
            for r in d.get(key, []):
                rows[ident(r)] = r
        res[key] = list(rows.values())
    res["command"] = " ; ".join(d["command"] for d in docs)
    res["tag"] = None
    res["merged_from"] = [os.path.basename(p) for p in paths]
    res["passed"] = all_passed(res)
    return res


# -- self-test -------------------------------------------------------------

FAKE_STEP = r'''#!{python}
"""A stand-in for an AOT executable: the step in float32 with PyTorch."""
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--inputs"); p.add_argument("--outputs")
p.add_argument("--repeat", type=int, default=1)
a = p.parse_args()
mode = {mode!r}
if mode == "crash":
    print("remat-device: name=\"fake\" cc=0.0 total_bytes=0", flush=True)
    print("CUDA_ERROR_OUT_OF_MEMORY: out of memory", file=sys.stderr)
    sys.exit(3)
sys.path.insert(0, {python_dir!r})
sys.path.insert(0, {bench_dir!r})
import torch
import run as R
man = json.load(open({manifest!r}))
cfg = R.config_of(man)
model, inputs = R.build_model(cfg)
vals = {{}}
for x in man["inputs"]:
    vals[x["name"]] = R.read_tensor(os.path.join(a.inputs, f"{{x['id']}}.bin"),
                                    R.DTYPES[x["dtype"]], x["shape"])
with torch.no_grad():
    for n, t in list(model.named_parameters()) + list(model.named_buffers()):
        t.copy_(vals[n])
ins = [vals[n] for n, kind, _ in R.primal_values(model, inputs, cfg.model)
       if kind == "input"]
params = dict(model.named_parameters())
plist = [params[o["name"][2:]] for o in man["outputs"][1:]]
print("remat-device: name=\"fake device\" cc=9.0 total_bytes=85520809984")
for r in range(a.repeat):
    t0 = time.perf_counter()
    outs = R.step(model, ins, plist)
    ms = (time.perf_counter() - t0) * 1e3
    print(f"remat-time: step_ms={{ms:.3f}}")
    print(f"remat-heap: peak_bytes={{{peak} + 1000}} peak_buffers=7 "
          f"live_bytes=1000 live_buffers=3 allocations=99 "
          f"phase_peak_bytes={peak}")
if mode == "wrong":
    outs[-1] = outs[-1] * 1.5
for i, t in enumerate(outs):
    t = t.detach().float()
    R.write_tensor(os.path.join(a.outputs, f"{{i}}.bin"), t)
    print(f"tensor {{i}}: numel={{t.numel()}} sum={{float(t.sum()):.9g}} "
          f"abs_sum={{float(t.abs().sum()):.9g}}")
'''

FAKE_MATMUL = r'''#!{python}
import argparse, os, sys, time
sys.path.insert(0, {python_dir!r})
sys.path.insert(0, {bench_dir!r})
import torch
import run as R
p = argparse.ArgumentParser()
p.add_argument("--inputs"); p.add_argument("--outputs")
p.add_argument("--repeat", type=int, default=1)
a = p.parse_args()
A = R.read_tensor(os.path.join(a.inputs, "0.bin"), torch.float32, ({m}, {k}))
B = R.read_tensor(os.path.join(a.inputs, "1.bin"), torch.float32, ({k}, {n}))
for r in range(a.repeat):
    t0 = time.perf_counter()
    C = A @ B
    print(f"remat-time: step_ms={{(time.perf_counter() - t0) * 1e3:.4f}}")
R.write_tensor(os.path.join(a.outputs, "0.bin"), C)
print(f"tensor 0: numel={{C.numel()}} sum={{float(C.sum()):.9g}} "
      f"abs_sum={{float(C.abs().sum()):.9g}}")
'''


def fabricate(build: str, cfg: models.Config) -> dict:
    """A build directory like build.sh's, with Python stand-in executables:
    variants none (prediction = its fake measurement), tight (a budget its
    peak exceeds), wrong (a gradient off by 50%), crash (exits with an
    error), missing (no executable); one matmul."""
    os.makedirs(build, exist_ok=True)
    model, inputs = build_model(cfg)
    ins, outs = signature(model, inputs, cfg.model)
    man = {"format": "remat-manifest", "version": 1,
           "generator": "bench/gpu/run.py --self-test",
           "config": {f: getattr(cfg, f)
                      for f in models.Config.__dataclass_fields__},
           "checkpoint": [], "policy": "nothing", "main": "load",
           "functions": {"step": "train_step", "main": "remat_main"},
           "inputs": ins, "outputs": outs}
    peak = 123456
    variants = [("none", "none", None, peak, "ok"),
                ("tight", "auto", 100000, peak, "ok"),
                ("wrong", "full", None, peak, "wrong"),
                ("crash", "sqrt", "50%", peak // 2, "crash")]
    man["variants"] = []
    mpath = os.path.join(build, "manifest.json")
    for name, strategy, budget, pred, mode in variants:
        exe = os.path.join("bin", f"step-{name}")
        path = os.path.join(build, exe)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(FAKE_STEP.format(
                python=sys.executable, python_dir=os.path.join(REPO, "python"),
                bench_dir=HERE, mode=mode, manifest=mpath, peak=peak))
        os.chmod(path, 0o755)
        man["variants"].append({"name": name, "strategy": strategy,
                                "budget": budget,
                                "predicted_peak_bytes": pred, "exe": exe})
    man["variants"].append({"name": "missing", "strategy": "none",
                            "budget": None, "predicted_peak_bytes": peak,
                            "exe": "bin/does-not-exist"})
    man["variants"].append({"name": "unreachable", "strategy": "auto",
                            "budget": "1000",
                            "infeasible": "remat: budget of 1000 bytes is "
                                          "infeasible: ..."})
    m, n, k = 64, 48, 32
    path = os.path.join(build, "bin", "matmul")
    with open(path, "w") as f:
        f.write(FAKE_MATMUL.format(python=sys.executable,
                                   python_dir=os.path.join(REPO, "python"),
                                   bench_dir=HERE, m=m, n=n, k=k))
    os.chmod(path, 0o755)
    man["matmul"] = [{"m": m, "n": n, "k": k, "exe": "bin/matmul"}]
    with open(mpath, "w") as f:
        json.dump(man, f, indent=1)
    return man


def self_test(args) -> int:
    """Run the flow on fabricated executables and check what it reports."""
    tmp = tempfile.mkdtemp(prefix="remat-bench-selftest-")
    try:
        cfg = models.config("gpt", layers=1, dropout=0.1)
        args.build = os.path.join(tmp, "out")
        fabricate(args.build, cfg)
        results = args.results or os.path.join(tmp, "results")
        args.results = results
        args.repeat = 3
        res = run(args)
        v = {r["name"]: r for r in res["variants"]}
        problems = []

        def expect(cond, what):
            if not cond:
                problems.append(what)

        expect(v["none"]["passed"], "none should pass")
        expect(v["none"]["time"]["n"] == 2, "none: 2 timed repeats")
        expect(v["none"]["measured_peak_bytes"] == 123456, "none: peak")
        expect(v["tight"]["checks"].get("peak_within_budget") is False,
               "tight: over budget")
        expect(not v["wrong"]["passed"] and
               not v["wrong"]["compare"]["ok"], "wrong: numerics fail")
        expect(v["wrong"]["compare"]["failed"][0].startswith(
            str(len(res["variants"][0]["compare"]["tensors"]) - 1)),
            "wrong: the last tensor fails")
        expect(not v["crash"]["ok"] and "OUT_OF_MEMORY" in
               v["crash"]["stderr_tail"], "crash: recorded with stderr")
        expect(v["crash"]["budget_bytes"] == 123456 // 2,
               "crash: 50% budget of none's prediction")
        expect(not v["missing"]["ok"], "missing: recorded")
        expect(v["unreachable"].get("infeasible") and
               v["unreachable"]["passed"], "unreachable: recorded, not run")
        expect(all(p.get("ok") and p["compare"]["ok"] for p in res["peer"]),
               "peer: eager and checkpoint match the reference")
        expect(res["matmul"] and res["matmul"][0]["passed"], "matmul")
        md = open(os.path.join(results, f"gpu-{res['device']['slug']}.md")
                  ).read()
        for row in ("| none |", "| wrong |", "infeasible budget",
                    "| 64 x 48 x 32 | none |", "| pytorch-eager",
                    "| pytorch-checkpoint", "| 64 x 48 x 32 |"):
            expect(row in md, f"table row {row}")
        if problems:
            print("self-test FAILED:\n  " + "\n  ".join(problems))
            return 1
        print(f"self-test OK ({res['device']['name']}); results in "
              f"{results}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/gpu/run.py",
        description="Run remat's AOT GPU executables, check them against "
        "float64 PyTorch, and compare with PyTorch eager and checkpointing.")
    p.add_argument("--build", default=os.path.join("bench", "gpu", "out"),
                   help="build directory with manifest.json and the "
                   "executables (default bench/gpu/out)")
    p.add_argument("--results",
                   help="where gpu-<device>.{json,txt,md} go (default "
                   "bench/results; with --self-test, a temporary directory)")
    p.add_argument("--work", help="scratch for inputs/ and outputs/ "
                   "(default BUILD/work)")
    p.add_argument("--repeat", type=int, default=3,
                   help="repeats per executable; the first is warmup "
                   "(default 3)")
    p.add_argument("--ref-device", default="cpu", choices=("cpu", "cuda"),
                   help="where the float64 reference runs (default cpu; "
                   "cuda is much faster at realistic sizes)")
    p.add_argument("--device", help="device of the PyTorch peer and matmul "
                   "(default cuda when available, else cpu)")
    p.add_argument("--variants", metavar="NAME,...",
                   help="run only these variants")
    p.add_argument("--skip-variants", action="store_true")
    p.add_argument("--skip-peer", action="store_true")
    p.add_argument("--skip-matmul", action="store_true")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds per executable run (default 300)")
    p.add_argument("--peer-iters", type=int, default=5,
                   help="timed PyTorch steps (median reported; default 5)")
    p.add_argument("--peer-warmup", type=int, default=2)
    p.add_argument("--matmul-repeat", type=int, default=10,
                   help="--repeat for matmul executables (default 10)")
    p.add_argument("--matmul-iters", type=int, default=20,
                   help="timed torch.matmul calls (median; default 20)")
    p.add_argument("--self-test", action="store_true",
                   help="run on fabricated executables for a tiny GPT and "
                   "check the report (works on the CPU)")
    p.add_argument("--keep", action="store_true",
                   help="keep the self-test's temporary directory")
    p.add_argument("--tag", help="add -TAG to the result files' names "
                   "(for partial runs; see --merge)")
    p.add_argument("--merge", nargs="+", metavar="RESULT.json",
                   help="combine the JSON results of partial runs into one "
                   "gpu-<device>.{json,txt,md} under --results; runs "
                   "nothing")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv
    args.log = (lambda s: None) if args.quiet else \
        (lambda s: print(s, file=sys.stderr, flush=True))
    if args.ref_device == "cuda" and not torch.cuda.is_available():
        print("error: --ref-device cuda but CUDA is not available",
              file=sys.stderr)
        return 2
    try:
        if args.self_test:
            return self_test(args)
        args.results = args.results or os.path.join("bench", "results")
        if args.merge:
            res = merge(args.merge)
            for path in write_results(res, args.results):
                args.log(f"wrote {path}")
            return 0 if res["passed"] else 1
        res = run(args)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
