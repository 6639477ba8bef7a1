#!/usr/bin/env python3
"""Generated dropout masks against mask inputs, at equal memory (model).

Imports GPT at the default shape of bench/frontier.py (12 layers, hidden
768, 12 heads, sequence 1024, batch 4, vocab 50257, bf16, dropout 0.1)
twice: with masks as step inputs (--no-dropout-rng) and with masks made in
the step by the IR's Philox generator (the default). Mask inputs are
resident arguments, outside the planner's peak; so each budget of auto's
ladder on the mask-input step is compared with the generated step planned
at that peak plus the mask inputs' bytes: the same memory. Prints both
plans' peak, recompute time (h100 roofline model) and strategy, from
plan-file.

Usage: bench/dropout_rng.py [--build build] [--layers 12]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = dict(hidden=768, heads=12, seq=1024, batch=4, vocab=50257)
MiB = 2 ** 20


def emit(path, layers, masks):
    cmd = [sys.executable, "-m", "remat", "emit", "gpt", "--dtype", "bf16",
           "--layers", str(layers), "--dropout", "0.1", "-o", path]
    for k, v in SHAPE.items():
        cmd += [f"--{k}", str(v)]
    if masks == "inputs":
        cmd.append("--no-dropout-rng")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def plan(build, src, spec, pf):
    subprocess.run([f"{build}/bin/remat-opt", src, "-o", os.devnull,
                    f"-remat-rematerialize={spec} plan-file={pf}"],
                   capture_output=True, text=True)
    with open(pf) as f:
        return json.load(f)["plans"][0]


def mask_input_bytes(layers):
    """bf16 masks: attention (batch x heads x seq x seq) and two residual
    dropouts (batch x seq x hidden) per layer."""
    b, h, s, d = SHAPE["batch"], SHAPE["heads"], SHAPE["seq"], SHAPE["hidden"]
    return layers * 2 * (b * h * s * s + 2 * b * s * d)


def describe(p):
    if not p.get("feasible"):
        return "infeasible"
    return (f"{p['peak_bytes'] / MiB:9,.1f} {p['recompute_seconds'] * 1e6:9,.1f}"
            f"  {p['strategy']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--layers", type=int, default=12)
    a = ap.parse_args()
    masks = mask_input_bytes(a.layers)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "inputs.mlir")
        generated = os.path.join(tmp, "generated.mlir")
        emit(inputs, a.layers, "inputs")
        emit(generated, a.layers, "generated")
        pf = os.path.join(tmp, "plan.json")
        base_in = plan(a.build, inputs, "strategy=none", pf)
        base_gen = plan(a.build, generated, "strategy=none", pf)
        print(f"gpt, {a.layers} layers, default shape, bf16, dropout 0.1; "
              f"mask inputs {masks / MiB:,.1f} MiB (resident arguments)")
        print(f"without remat: mask inputs peak "
              f"{base_in['peak_bytes'] / MiB:,.1f} MiB (+ masks = "
              f"{(base_in['peak_bytes'] + masks) / MiB:,.1f}), step "
              f"{base_in['step_seconds'] * 1e6:,.0f} us; generated peak "
              f"{base_gen['peak_bytes'] / MiB:,.1f} MiB, step "
              f"{base_gen['step_seconds'] * 1e6:,.0f} us")
        print(f"{'budget':>7}  {'inputs: peak':>12} {'+ masks':>9} "
              f"{'recomp us':>9}  {'strategy':<10} | generated at peak + "
              f"masks: {'peak':>9} {'recomp us':>9}  strategy")
        for pct in list(range(100, 35, -5)):
            p = plan(a.build, inputs, f"budget={pct}%", pf)
            if not p.get("feasible"):
                print(f"{pct:>6}%  inputs infeasible (lowest "
                      f"{p.get('peak_bytes', 0) / MiB:,.1f} MiB)")
                lowest = p.get("peak_bytes", 0)
                q = plan(a.build, generated,
                         f"budget={lowest + masks}", pf)
                print(f"{'floor':>7}  {lowest / MiB:12,.1f} "
                      f"{(lowest + masks) / MiB:9,.1f} {'-':>9}  "
                      f"{'-':<10} | {describe(q)}")
                break
            q = plan(a.build, generated,
                     f"budget={p['peak_bytes'] + masks}", pf)
            print(f"{pct:>6}%  {p['peak_bytes'] / MiB:12,.1f} "
                  f"{(p['peak_bytes'] + masks) / MiB:9,.1f} "
                  f"{p['recompute_seconds'] * 1e6:9,.1f}  "
                  f"{p['strategy']:<10} | {describe(q)}")
        low = plan(a.build, generated, "budget=1", pf)
        print(f"generated: lowest peak "
              f"{low.get('peak_bytes', 0) / MiB:,.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
