#!/usr/bin/env python3
"""remat's auto planner against the field's schedules, measured on CPU.

For GPT and Llama corpus models at a sequence length where attention
dominates the activations (seq 64, hidden 16, 2 heads, 2 layers), runs the
step without remat and with full, sqrt, selective, mincut, greedy and auto,
the searching strategies at the peaks the field's schedules reach, and auto
also at the activation bytes that mincut and sqrt save
(`budget-on=activations`). Each row:
strategy, budget, predicted peak, measured CPU heap peak, recompute FLOPs,
recompute time on the h100 roofline model, and whether the outputs are
bitwise equal to the run without remat. Writes a markdown table.

Usage: bench/field.py [--build build] [--out bench/results/field-cpu.md]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "utils"))
from check_peak import measured_peak  # noqa: E402

SUMMARY = re.compile(r"predicted peak (\d+) bytes \(without remat (\d+), (?:activation )?budget (\d+)\); "
                     r"recompute (\d+) of (\d+) residuals, (\d+) FLOPs, ([0-9.e+-]+) us; "
                     r"saved activations (\d+) bytes; plan ([a-z-]+)")
LLVM = "/usr/lib/llvm-22"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def execute(build, mlir):
    lowered = run([f"{build}/bin/remat-opt", mlir, "-remat-lower-to-llvm"]).stdout
    libs = ",".join([f"{LLVM}/lib/libmlir_runner_utils.so",
                     f"{LLVM}/lib/libmlir_c_runner_utils.so",
                     f"{build}/lib/libRematRuntime.so"])
    out = run([f"{LLVM}/bin/mlir-runner", "-e", "main", "-entry-point-result=void",
               f"-shared-libs={libs}"], input=lowered).stdout
    return out, [l for l in out.splitlines() if l.startswith("tensor ")]


def plan(build, src, tmp, spec):
    out = os.path.join(tmp, "plan.mlir")
    r = subprocess.run([f"{build}/bin/remat-opt", src, "-o", out,
                        f"-remat-rematerialize={spec} remarks=true"],
                       capture_output=True, text=True)
    m = SUMMARY.search(r.stderr)
    if r.returncode != 0 or not m:
        return None
    return out, m


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "field-cpu.md"))
    a = p.parse_args()
    lines = ["| model | strategy | budget (bytes) | predicted peak | measured CPU peak "
             "| saved activations | recompute FLOPs | recompute time (us, h100 model) "
             "| bitwise equal |",
             "|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in ["gpt", "llama"]:
            src = os.path.join(tmp, f"{model}.mlir")
            env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
            run(["/usr/bin/python3", "-m", "remat", "emit", model, "--seq", "64",
                 "--main", "-o", src], env=env)
            _, base = execute(a.build, src)
            rows = {}

            def row(label, spec):
                r = plan(a.build, src, tmp, spec)
                if r is None:
                    lines.append(f"| {model} | {label} | | infeasible | | | | | |")
                    return None
                path, m = r
                out, tensors = execute(a.build, path)
                measured = measured_peak(out)
                pred, _, budget, _, _, flops, us, act, _ = m.groups()
                lines.append(f"| {model} | {label} | {budget} | {pred} | {measured} | {act} "
                             f"| {flops} | {us} | {'yes' if tensors == base else 'NO'} |")
                rows[label] = (int(pred), int(flops), int(act), float(us))
                return rows[label]

            row("none", "strategy=none")
            for s in ["full", "sqrt", "selective", "mincut"]:
                row(s, f"strategy={s}")
            for s in ["selective", "mincut", "sqrt"]:
                if s not in rows:
                    continue
                peak = rows[s][0]
                row(f"greedy @ {s}'s peak", f"strategy=greedy budget={peak}")
                got = row(f"auto @ {s}'s peak", f"budget={peak}")
                if got:
                    # The planner's objective (cost=time): roofline seconds.
                    ok = got[3] <= rows[s][3]
                    verdicts.append(f"{model}: auto at {s}'s peak ({peak} bytes) recomputes "
                                    f"{got[3]} us ({got[1]} FLOPs) vs {s}'s {rows[s][3]} us "
                                    f"({rows[s][1]} FLOPs): time "
                                    f"{'no higher' if ok else 'HIGHER'}")
                else:
                    verdicts.append(f"{model}: auto at {s}'s peak ({peak} bytes): "
                                    "NO PLAN (see the table)")
            # The same at the activation bytes the schedules save.
            for s in ["mincut", "sqrt"]:
                if s not in rows:
                    continue
                act = rows[s][2]
                got = row(f"auto @ {s}'s activations",
                          f"budget-on=activations budget={act}")
                if got:
                    ok = got[3] <= rows[s][3] and got[2] <= act
                    verdicts.append(f"{model}: auto at {s}'s activation bytes ({act}) saves "
                                    f"{got[2]} and recomputes {got[3]} us ({got[1]} FLOPs) "
                                    f"vs {s}'s {rows[s][3]} us ({rows[s][1]} FLOPs): time "
                                    f"{'no higher' if ok else 'HIGHER'}")
                else:
                    verdicts.append(f"{model}: auto at {s}'s activation bytes ({act}): "
                                    "NO PLAN (see the table)")
    text = "\n".join(lines) + "\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n"
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
