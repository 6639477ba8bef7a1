#!/usr/bin/env python3
"""auto's frontier against every fixed schedule, on the cost and memory model.

For each model and shape: plans the step with every fixed schedule (full,
sqrt, selective, mincut, every-n for n = 1 .. layers), then with auto

  * at each schedule's own peak (`budget=<its peak bytes>`), and
  * at each schedule's saved activations (`budget-on=activations`),

and checks that auto's plan has no more peak (or activations) and no more
recompute time than the schedule's, and that auto never calls such a budget
infeasible. Then it walks auto's ladder from the peak without remat down in
5% steps to the lowest peak it reaches, and checks that recompute time
never rises as the budget grows. Every figure comes from `plan-file=` (the
JSON plan summary; docs/UserGuide.md).

Prints one table per model and shape, then the violations; exits 1 if there
is any. With --plot, draws each model's frontier (peak against recompute
overhead) into a PNG.

With --offload LINK (pcie4, pcie5, c2c or GB/s), the ladder is walked again
with offload=true over that link: each rung's overhead then counts the
transfer time the step waits for, the budgets where offload beats
recomputation are listed, and a rung with offload that costs more than the
one without, or misses its budget, is a violation. The plot gets that
ladder too.

Usage: bench/frontier.py [--build build] [--shapes default,small[,tiny]]
                         [--models gpt,llama] [--jobs 2] [--plot out.png]
                         [--dropout-masks generated|inputs] [--offload LINK]

--dropout-masks inputs imports with --no-dropout-rng (masks as step inputs,
the graph of issue 15's figures); the default is the importer's own,
generated masks (Philox in the step).
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> remat emit options (dropout at its default, 0.1). "default" is
# GPT-2 small's width at batch 4; "small" is a second, attention-heavy one.
SHAPES = {
    "default": dict(layers=12, hidden=768, heads=12, seq=1024, batch=4,
                    vocab=50257),
    "small": dict(layers=8, hidden=512, heads=8, seq=2048, batch=1,
                  vocab=32000),
    # A quick look (half a minute): sizes in KiB.
    "tiny": dict(layers=4, hidden=64, heads=4, seq=64, batch=1, vocab=256),
}
# Relative slack for comparing two modeled figures (float sums).
EPS = 1e-9
FIXED = ["full", "sqrt", "selective", "mincut"]


def emit(model, shape, path, masks="generated"):
    opts = SHAPES[shape]
    cmd = [sys.executable, "-m", "remat", "emit", model, "--dtype", "bf16",
           "-o", path]
    if masks == "inputs":
        cmd.append("--no-dropout-rng")
    for k, v in opts.items():
        cmd += [f"--{k}", str(v)]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def plan(build, src, spec, tmp, tag):
    """Runs -remat-rematerialize with `spec`; returns the plan-file's plan
    (with "error" set when the pass failed)."""
    pf = os.path.join(tmp, tag + ".json")
    r = subprocess.run([f"{build}/bin/remat-opt", src, "-o", os.devnull,
                        f"-remat-rematerialize={spec} plan-file={pf}"],
                       capture_output=True, text=True)
    try:
        with open(pf) as f:
            p = json.load(f)["plans"][0]
    except (OSError, ValueError, IndexError, KeyError):
        p = {"feasible": False}
    if r.returncode != 0:
        p["error"] = (r.stderr.strip().splitlines() or ["failed"])[0][:200]
    return p


UNIT = [2**20, "MiB"]


def mib(b):
    return f"{b / UNIT[0]:,.1f}"


def row(name, p, base_step):
    if "error" in p and not p.get("feasible", False):
        low = p.get("peak_bytes")
        return f"  {name:<34} infeasible" + (f" (lowest {mib(low)} {UNIT[1]})" if low else "")
    return (f"  {name:<34} {mib(p['peak_bytes']):>10} {mib(p['activation_bytes']):>10} "
            f"{p['recompute_seconds'] * 1e6:>10.4g} {p['overhead_percent']:>7.2f}%  "
            f"{p['strategy']}{' every=%d' % p['every'] if 'every' in p else ''}"
            f"{'' if p.get('search_complete', True) else ' (search cut)'}")


def offload_row(name, p):
    if "error" in p:
        return f"  {name:<34} infeasible"
    return (f"  {name:<34} {mib(p['peak_bytes']):>10} {mib(p['activation_bytes']):>10} "
            f"{p['recompute_seconds'] * 1e6:>10.4g} {p['overhead_percent']:>7.2f}%  "
            f"{p['offloaded']} offloaded ({mib(p['offloaded_bytes'])} {UNIT[1]}), "
            f"transfer {p['transfer_seconds'] * 1e6:.4g} us")


def study(build, model, shape, jobs, tmp, masks="generated", offload=None):
    src = os.path.join(tmp, f"{model}-{shape}.mlir")
    emit(model, shape, src, masks)
    UNIT[:] = [2**10, "KiB"] if shape == "tiny" else [2**20, "MiB"]
    layers = SHAPES[shape]["layers"]
    pool = concurrent.futures.ThreadPoolExecutor(jobs)

    def run_all(specs):
        futs = {k: pool.submit(plan, build, src, s, tmp, f"{model}-{shape}-{k}")
                for k, s in specs.items()}
        return {k: f.result() for k, f in futs.items()}

    specs = {s: f"strategy={s}" for s in FIXED}
    specs.update({f"every-{n}": f"strategy=every-n every={n}"
                  for n in range(1, layers + 1)})
    specs["none"] = "strategy=none"
    sched = run_all(specs)
    none = sched.pop("none")
    checks = {}
    for k, p in sched.items():
        if p.get("feasible") and "error" not in p:
            checks[k + "@peak"] = f"budget={p['peak_bytes']}"
            checks[k + "@act"] = (f"budget-on=activations "
                                  f"budget={p['activation_bytes']}")
    auto = run_all(checks)
    # The ladder: 100%, 95%, ... of the peak without remat, until auto
    # calls the budget infeasible.
    ladder = []
    for pct in range(100, 0, -5):
        p = plan(build, src, f"budget={pct}%", tmp, f"{model}-{shape}-l{pct}")
        ladder.append((pct, p))
        if "error" in p:
            break
    # The same rungs with offload over the link.
    offloaded = []
    if offload:
        offloaded = list(run_all({
            pct: f"budget={pct}% offload=true link={offload}"
            for pct, p in ladder if "error" not in p}).items())
        offloaded.sort(key=lambda kv: -kv[0])
    pool.shutdown()

    violations = []
    for k, p in sched.items():
        if "error" in p:
            continue
        for where, measure in (("peak", "peak_bytes"), ("act", "activation_bytes")):
            a = auto.get(f"{k}@{where}")
            label = f"{model}/{shape}: auto at {k}'s {'peak' if where == 'peak' else 'activations'}"
            if a is None:
                continue
            if "error" in a:
                violations.append(f"{label}: {a['error']}")
                continue
            # At the activations point, the plan must not peak higher
            # either (issue 15, point 2).
            for m in {measure, "peak_bytes"}:
                if a[m] > p[m]:
                    violations.append(f"{label}: {m} {a[m]} > {p[m]}")
            if a["recompute_seconds"] > p["recompute_seconds"] * (1 + EPS):
                violations.append(
                    f"{label}: recompute {a['recompute_seconds'] * 1e6:.4g} us > "
                    f"{p['recompute_seconds'] * 1e6:.4g} us")
    feasible = [(pct, p) for pct, p in ladder if "error" not in p]
    for (hi, ph), (lo, pl) in zip(feasible, feasible[1:]):
        if ph["recompute_seconds"] > pl["recompute_seconds"] * (1 + EPS):
            violations.append(
                f"{model}/{shape}: ladder not monotone: {hi}% recomputes "
                f"{ph['recompute_seconds'] * 1e6:.4g} us, {lo}% "
                f"{pl['recompute_seconds'] * 1e6:.4g} us")
    by_pct = dict(ladder)
    beats = []
    for pct, p in offloaded:
        label = f"{model}/{shape}: offload over {offload} at {pct}%"
        if "error" in p:
            violations.append(f"{label}: {p['error']}")
            continue
        base = by_pct[pct]
        if p["peak_bytes"] > p["budget_bytes"]:
            violations.append(f"{label}: peak {p['peak_bytes']} over the "
                              f"budget {p['budget_bytes']}")
        if p["step_seconds"] > base["step_seconds"] * (1 + EPS):
            violations.append(
                f"{label}: step {p['step_seconds'] * 1e6:.6g} us > "
                f"{base['step_seconds'] * 1e6:.6g} us without offload")
        if p["offloaded"] and p["step_seconds"] < base["step_seconds"] * (1 - EPS):
            beats.append(f"{pct}% ({base['overhead_percent']:.2f}% -> "
                         f"{p['overhead_percent']:.2f}%)")
    floor = ladder[-1][1] if ladder and "error" in ladder[-1][1] else None
    if floor and floor.get("peak_bytes"):
        for k, p in sched.items():
            if "error" not in p and p["peak_bytes"] < floor["peak_bytes"]:
                violations.append(
                    f"{model}/{shape}: auto's lowest peak {floor['peak_bytes']} "
                    f"is above {k}'s {p['peak_bytes']}")

    lines = [f"{model}, shape {shape} ({', '.join(f'{k} {v}' for k, v in SHAPES[shape].items())}, bf16): "
             f"without remat {mib(none['peak_bytes'])} {UNIT[1]} peak, "
             f"{mib(none['activation_bytes'])} {UNIT[1]} activations, step "
             f"{none['step_seconds'] * 1e6:,.0f} us",
             f"  {'plan':<34} {'peak ' + UNIT[1]:>10} {'act ' + UNIT[1]:>10} {'recomp us':>10} {'overhead':>8}  chosen"]
    base_step = none["step_seconds"]
    for k in sorted(sched, key=lambda k: (k.startswith("every"), int(k.split("-")[1]) if k.startswith("every-") else 0, k)):
        lines.append(row(k, sched[k], base_step))
        for where in ("peak", "act"):
            a = auto.get(f"{k}@{where}")
            if a is not None:
                lines.append(row(f"  auto at its {'peak' if where == 'peak' else 'activations'}", a, base_step))
    for pct, p in ladder:
        lines.append(row(f"auto budget={pct}%", p, base_step))
    for pct, p in offloaded:
        lines.append(offload_row(f"auto budget={pct}% offload={offload}", p))
    if offload:
        lines.append(f"  offload over {offload} beats recomputation at: "
                     + (", ".join(beats) if beats else "no budget"))
    points = {"schedules": {k: v for k, v in sched.items() if "error" not in v},
              "ladder": [(pct, p) for pct, p in feasible], "none": none,
              "offload": [(pct, p) for pct, p in offloaded if "error" not in p],
              "link": offload}
    return lines, violations, points


def plot(results, path):
    try:
        import matplotlib
    except ImportError:
        print(f"frontier: no plot: matplotlib is missing "
              f"(apt-get install python3-matplotlib)", file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5),
                             squeeze=False)
    for ax, ((model, shape), pts) in zip(axes[0], results.items()):
        none = pts["none"]["peak_bytes"]
        lad = pts["ladder"]
        ax.plot([p["peak_bytes"] / 2**30 for _, p in lad],
                [p["overhead_percent"] for _, p in lad], "o-", label="auto (5% ladder)")
        off = pts.get("offload")
        if off:
            ax.plot([p["peak_bytes"] / 2**30 for _, p in off],
                    [p["overhead_percent"] for _, p in off], "x--",
                    color="tab:green",
                    label=f"auto with offload ({pts['link']}), recompute + transfer")
        for k, p in pts["schedules"].items():
            marker = "s" if not k.startswith("every") else "^"
            ax.plot(p["peak_bytes"] / 2**30, p["overhead_percent"], marker,
                    color="tab:red" if marker == "s" else "tab:orange")
            if marker == "s":
                ax.annotate(k, (p["peak_bytes"] / 2**30, p["overhead_percent"]),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.plot([], [], "^", color="tab:orange", label="every-n, n = 1 .. layers")
        ax.axvline(none / 2**30, color="gray", ls=":", label="without remat")
        ax.set_title(f"{model}, {shape} shape")
        ax.set_xlabel("peak (GiB, model)")
        ax.set_ylabel("recompute (+ transfer), % of the modeled step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default="gpt,llama")
    ap.add_argument("--shapes", default="default,small")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--plot")
    ap.add_argument("--offload", metavar="LINK",
                    help="also walk the ladder with offload=true over LINK "
                         "(pcie4, pcie5, c2c or GB/s)")
    ap.add_argument("--dropout-masks", choices=("generated", "inputs"),
                    default="generated",
                    help="dropout masks made in the step from a seed (the "
                         "importer's default) or step inputs")
    a = ap.parse_args()
    all_violations, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for shape in a.shapes.split(","):
            for model in a.models.split(","):
                lines, violations, points = study(a.build, model, shape,
                                                  a.jobs, tmp, a.dropout_masks,
                                                  a.offload)
                print("\n".join(lines) + "\n", flush=True)
                all_violations += violations
                results[(model, shape)] = points
    if a.plot:
        plot(results, a.plot)
    print(f"frontier: {len(all_violations)} violations")
    for v in all_violations:
        print("  " + v)
    return 1 if all_violations else 0


if __name__ == "__main__":
    sys.exit(main())
