#!/usr/bin/env python3
"""The planner's rewrites (-remat-fuse-attention, -remat-chunk-loss) on its
frontier.

For each model: imports the step (bf16, dropout 0.1 with generated masks)
and plans it twice from the imported step, with rewrites=none and with
rewrites=auto (the planner may fuse attention and chunk the loss first,
and takes the plan that meets the budget in the least modeled step time):

  * without remat (strategy=none): with rewrites=auto, the step with fused
    attention and the chunked loss and nothing recomputed, the strongest
    baseline that does not choose what to save ("vs fused" is each plan's
    step time over that one's),
  * auto's lowest peak (the infeasible error's floor at a 1-byte budget),
  * auto at budgets given as fractions of the imported step's peak
    without remat.

Every figure is read from the planner's plan file (plan-file=), whose
baseline is the imported step whatever the rewrites: peak as a share of
its peak without remat, saved activations cut against its activations,
and overhead_percent = (recompute + what the rewrite changes in the step
time) / its step time. Prints a table (and, with --plot, draws the two
frontiers).

Usage: bench/rewrites.py [--build build] [--models gpt,llama]
                           [--shape default|tiny] [--budgets 60%,50%,40%,30%]
                           [--target h100] [--plot out.png]
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from frontier import SHAPES, plan  # noqa: E402


def emit(model, shape, path):
    cmd = [sys.executable, "-m", "remat", "emit", model, "--dtype", "bf16",
           "--dropout", "0.1", "-o", path]
    for k, v in SHAPES[shape].items():
        cmd += [f"--{k}", str(v)]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def rewrite_remarks(build, src, target):
    """What -remat-fuse-attention (its first attention) and
    -remat-chunk-loss do to the step, as the planner applies them with
    rewrites=auto."""
    remarks = []
    for option in ("-remat-fuse-attention", f"-remat-chunk-loss=target={target}"):
        r = subprocess.run([f"{build}/bin/remat-opt", src, "-o", os.devnull,
                            option], capture_output=True, text=True, check=True)
        remarks.append(r.stderr.strip().splitlines()[0].split("remark: ", 1)[-1])
    return remarks


def study(args, model, tmp):
    src = os.path.join(tmp, f"{model}.mlir")
    emit(model, args.shape, src)
    specs = [("none", "strategy=none"), ("lowest", "budget=1")]
    specs += [(f"auto {b}", f"budget={b}") for b in args.budgets.split(",") if b]
    rows, points = [], {"floors": {}}
    remark = rewrite_remarks(args.build, src, args.target)
    for rewrites in ("none", "auto"):
        points[rewrites] = []
        for label, spec in specs:
            p = plan(args.build, src,
                     f"{spec} rewrites={rewrites} target={args.target}", tmp,
                     f"{model}-{rewrites}-{label.replace(' ', '')}")
            rows.append((rewrites, label, p))
            if label == "lowest" and p.get("peak_bytes"):
                points["floors"][rewrites] = p["peak_bytes"]
            elif "error" not in p:
                points[rewrites].append((p["peak_bytes"], p["overhead_percent"]))
    return remark, rows, points


def mib(b):
    return f"{b / 2**20:,.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default="gpt,llama")
    ap.add_argument("--shape", default="default", choices=sorted(SHAPES))
    ap.add_argument("--budgets", default="60%,50%,40%,30%")
    ap.add_argument("--target", default="h100")
    ap.add_argument("--plot")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            remark, rows, points = study(args, model, tmp)
            results[model] = points
            base = rows[0][2]
            base_peak, base_act = base["peak_bytes"], base["activation_bytes"]
            print(f"{model}, shape {args.shape} "
                  f"({', '.join(f'{k} {v}' for k, v in SHAPES[args.shape].items())}"
                  f", bf16, dropout 0.1 generated), target {args.target}: "
                  f"imported step without remat {mib(base_peak)} MiB peak, "
                  f"{mib(base_act)} MiB saved activations, step "
                  f"{base['step_seconds'] * 1e6:,.0f} us")
            for line in remark:
                print(f"  {line}")
            fused = next((p for r, label, p in rows
                          if r == "auto" and label == "none" and "error" not in p),
                         None)
            print(f"  {'rewrites':<9} {'plan':<10} {'peak MiB':>10} {'of base':>8} "
                  f"{'act MiB':>10} {'act cut':>8} {'overhead':>9} {'vs fused':>9}"
                  f"  rewrites used")
            floors = {}
            for rewrites, label, p in rows:
                used = ",".join(p.get("rewrites", [])) or "-"
                if label == "lowest":
                    # Infeasible by construction: its peak is the floor.
                    floors[rewrites] = p.get("peak_bytes")
                    print(f"  {rewrites:<9} {label:<10} {mib(p['peak_bytes']):>10} "
                          f"{p['peak_bytes'] / base_peak * 100:>7.1f}%"
                          f"{'':>20}{'':>10}  {used}")
                    continue
                if "error" in p:
                    error = p["error"].split("error: ", 1)[-1][:160]
                    print(f"  {rewrites:<9} {label:<10} infeasible: {error}")
                    continue
                vs = ""
                if fused:
                    vs = (f"{((1 + p['overhead_percent'] / 100) / (1 + fused['overhead_percent'] / 100) - 1) * 100:>8.2f}%")
                print(f"  {rewrites:<9} {label:<10} {mib(p['peak_bytes']):>10} "
                      f"{p['peak_bytes'] / base_peak * 100:>7.1f}% "
                      f"{mib(p['activation_bytes']):>10} "
                      f"{(1 - p['activation_bytes'] / base_act) * 100:>7.1f}% "
                      f"{p['overhead_percent']:>8.2f}% {vs:>9}  {used}")
            if all(floors.get(k) for k in ("none", "auto")):
                print(f"  lowest peak: {floors['none'] / floors['auto']:.2f}x "
                      f"lower with rewrites=auto")
            print()
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5),
                                 squeeze=False)
        for ax, (model, points) in zip(axes[0], results.items()):
            for (name, pts), color in zip(
                    ((k, v) for k, v in points.items() if k != "floors"),
                    ("tab:blue", "tab:orange")):
                pts = sorted(pts)
                ax.plot([p / 2**30 for p, _ in pts], [o for _, o in pts], "o-",
                        color=color, label=f"auto, rewrites={name}")
                floor = points["floors"].get(name)
                if floor:
                    ax.axvline(floor / 2**30, color=color, ls=":",
                               label=f"lowest peak, rewrites={name}")
            ax.axhline(0, color="gray", lw=0.5)
            ax.set_title(f"{model}, {args.shape} shape")
            ax.set_xlabel("peak (GiB, model)")
            ax.set_ylabel("step time over the imported step's, % (model)")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
