#!/usr/bin/env python3
"""Checks -remat-rematerialize strategy=optimal against strategy=exhaustive.

Generates random training steps (a forward of element-wise ops and matmuls
on 16x16 f32 tensors, every value tagged; a backward that reads a random
subset of them in random order between temporaries of random sizes), and
for each at several budgets compares the two plans' recompute FLOPs
(cost=flops). The budgets are fractions of the peak without remat, or with
--feasible, points between the lowest peak the optimal planner reports
reaching (from its infeasible-budget error at 1 byte) and the peak without
remat: feasible budgets, where the enumeration's cost pruning keeps 2^25
subsets tractable. Both must meet the budget with the same least cost, or both
must find it infeasible. Prints one line per graph and a summary; exits 1
on any difference.
"""

import argparse
import random
import re
import subprocess
import sys
import time

N = 16
T = f"tensor<{N}x{N}xf32>"
MAP = "affine_map<(i, j) -> (i, j)>"


def unary(out, x, fn, e):
    return (f"  {e} = tensor.empty() : {T}\n"
            f"  {out}_r = linalg.generic {{indexing_maps = [{MAP}, {MAP}], "
            f"iterator_types = [\"parallel\", \"parallel\"]}} ins({x} : {T}) "
            f"outs({e} : {T}) {{\n  ^bb0(%a: f32, %o: f32):\n"
            f"    %r = {fn} %a : f32\n    linalg.yield %r : f32\n  }} -> {T}\n")


def matmul(out, a, b, e):
    return (f"  {e} = tensor.empty() : {T}\n"
            f"  {e}f = linalg.fill ins(%zero : f32) outs({e} : {T}) -> {T}\n"
            f"  {out}_r = linalg.matmul ins({a}, {b} : {T}, {T}) "
            f"outs({e}f : {T}) -> {T}\n")


def generate(rng, residuals):
    ops = []
    values = ["%x"]
    n = residuals + rng.randint(0, 3)
    for i in range(n):
        out, e = f"%v{i}", f"%e{i}"
        if rng.random() < 0.3:
            a, b = rng.choice(values), rng.choice(values + ["%w"])
            ops.append(matmul(out, a, b, e))
        else:
            fn = rng.choice(["math.exp", "math.tanh", "math.sqrt", "math.log"])
            ops.append(unary(out, rng.choice(values[-3:]), fn, e))
        ops.append(f"  {out} = remat.name \"v{i}\" {out}_r : {T}\n")
        values.append(out)
    saved = rng.sample(values[1:], residuals)
    body = ["  ^bb0(" + ", ".join(f"%b{i}: {T}" for i in range(residuals)) + "):\n",
            f"    %zb = arith.constant 0.0 : f32\n",
            f"    %acc0e = tensor.empty() : {T}\n",
            f"    %acc0 = linalg.fill ins(%zb : f32) outs(%acc0e : {T}) -> {T}\n"]
    order = list(range(residuals))
    rng.shuffle(order)
    acc = "%acc0"
    pending = []
    for step, i in enumerate(order):
        if rng.random() < 0.5:
            cols = rng.choice([16, 32, 64, 128])
            tt = f"tensor<{N}x{cols}xf32>"
            body.append(f"    %t{step}e = tensor.empty() : {tt}\n"
                        f"    %t{step} = linalg.fill ins(%zb : f32) outs(%t{step}e : {tt}) -> {tt}\n")
            pending.append((f"%t{step}", tt))
        nxt = f"%acc{step + 1}"
        body.append(f"    {nxt} = arith.addf {acc}, %b{i} : {T}\n")
        acc = nxt
        if pending and rng.random() < 0.5:
            t, tt = pending.pop(0)
            body.append(f"    %s{step} = tensor.extract_slice {t}[0, 0] [{N}, {N}] [1, 1] : {tt} to {T}\n"
                        f"    %u{step} = arith.addf {acc}, %s{step} : {T}\n")
            acc = f"%u{step}"
    for j, (t, tt) in enumerate(pending):
        body.append(f"    %sl{j} = tensor.extract_slice {t}[0, 0] [{N}, {N}] [1, 1] : {tt} to {T}\n"
                    f"    %ul{j} = arith.addf {acc}, %sl{j} : {T}\n")
        acc = f"%ul{j}"
    body.append(f"    remat.yield {acc} : {T}\n")
    args = ", ".join(saved)
    types = ", ".join([T] * residuals)
    return (f"func.func @step(%x: {T}, %w: {T}) -> {T} {{\n"
            f"  %zero = arith.constant 0.0 : f32\n" + "".join(ops) +
            f"  %g = remat.backward({args}) : ({types}) -> {T} {{\n" +
            "".join(body) + "  }\n  return %g : " + T + "\n}\n")


SUMMARY = re.compile(r"predicted peak (\d+) bytes \(without remat (\d+), "
                     r"budget (\d+)\); recompute (\d+) of (\d+) residuals, (\d+) FLOPs")


LOWEST = re.compile(r"lowest peak the optimal planner reaches is (\d+) bytes "
                    r"\(.*?without remat: (\d+) bytes\)")


def feasible_budgets(opt, path, points):
    """Budgets at `points` (0: the lowest peak, 1: no remat) of the way
    from the lowest peak the optimal planner reaches to the baseline."""
    r = subprocess.run([opt, path, "-o", "/dev/null",
                        "-remat-rematerialize=strategy=optimal budget=1 "
                        "cost=flops work-limit=1000000000000"],
                       capture_output=True, text=True)
    m = LOWEST.search(r.stderr)
    if not m:
        sys.exit(f"{path}: no lowest peak in:\n{r.stderr[-2000:]}")
    lowest, baseline = int(m.group(1)), int(m.group(2))
    return [str(lowest + int((baseline - lowest) * f)) for f in points]


def plan(opt, path, strategy, budget):
    r = subprocess.run([opt, path, "-o", "/dev/null",
                        f"-remat-rematerialize=strategy={strategy} budget={budget} "
                        "cost=flops remarks=true work-limit=1000000000000"],
                       capture_output=True, text=True)
    m = SUMMARY.search(r.stderr)
    if r.returncode == 0 and m:
        return ("ok", int(m.group(6)), int(m.group(1)))
    if "infeasible" in r.stderr:
        return ("infeasible", None, None)
    sys.exit(f"{path} {strategy} {budget}: unexpected failure:\n{r.stderr[-2000:]}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--remat-opt", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--graphs", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--min-residuals", type=int, default=6)
    p.add_argument("--max-residuals", type=int, default=14)
    p.add_argument("--feasible", action="store_true",
                   help="budgets between the lowest peak and no remat")
    p.add_argument("--points", type=float, nargs="+",
                   default=[0.75, 0.5, 0.25, 0.0],
                   help="with --feasible: where the budgets lie between the "
                   "lowest peak (0) and no remat (1)")
    p.add_argument("--timing", action="store_true",
                   help="print each budget's exhaustive/optimal wall time")
    a = p.parse_args()
    rng = random.Random(a.seed)
    same = compared = 0
    for g in range(a.graphs):
        k = rng.randint(a.min_residuals, a.max_residuals)
        path = f"{a.dir}/graph{g}.mlir"
        budgets = ["95%", "85%", "75%", "65%"]
        for _ in range(20):
            with open(path, "w") as f:
                f.write(generate(rng, k))
            if not a.feasible:
                break
            # A graph where recomputing lowers no peak checks nothing.
            budgets = feasible_budgets(a.remat_opt, path, a.points)
            if len(set(budgets)) == len(budgets):
                break
        line = []
        for budget in budgets:
            t0 = time.monotonic()
            ex = plan(a.remat_opt, path, "exhaustive", budget)
            t1 = time.monotonic()
            op = plan(a.remat_opt, path, "optimal", budget)
            t2 = time.monotonic()
            compared += 1
            ok = ex[0] == op[0] and ex[1] == op[1]
            same += ok
            line.append(f"{budget} {ex[0] if ex[0] != 'ok' else ex[1]}"
                        f"{'=' if ok else '!='}{op[0] if op[0] != 'ok' else op[1]}"
                        + (f" ({t1 - t0:.1f} s/{t2 - t1:.2f} s)"
                           if a.timing else ""))
        print(f"graph {g} ({k} residuals): " + ", ".join(line))
    print(f"optimal equals exhaustive in {same} of {compared} cases")
    return 0 if same == compared else 1


if __name__ == "__main__":
    sys.exit(main())
