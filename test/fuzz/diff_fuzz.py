#!/usr/bin/env python3
"""Differential fuzzer: every planning strategy against no remat on the CPU.

For each of --steps random training steps (random_steps.py, reproducible from
--seed), plans the step with every strategy of -remat-rematerialize (the
searching ones at budgets drawn from --budgets, the fixed schedules without
and with a budget), lowers all the plans together with the step without
remat into one program (the plans made for the fused program,
fuse-pointwise=true, into a second one lowered with fusion), runs it once on
the CPU (remat-lower-to-llvm, mlir-runner, the tracking heap), and checks,
for each plan:

  - its outputs are bitwise equal to the step without remat's;
  - its measured heap peak is at or under the budget it was planned for
    (a plan made with verify=false, which skips the check on the bufferized
    program, is counted apart when it is not);
  - its measured peak is within --tolerance of the planner's prediction
    (reported apart: a miss there is a model error, not a wrong plan).

Budgets are drawn from points between the lowest peak auto reaches and the
peak without remat, and from percentages of the latter.

A plan the planner refuses must be refused with a diagnostic of a known
kind (an infeasible budget, a schedule that does not apply to the step);
any other failure, a crash or a hang is a bug. Prints one line per step and
a summary; exits 1 on any crash, hang, unexpected failure or mismatch.
Inputs of failing steps are kept under --keep.
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import random_steps  # noqa: E402

FIXED = ["strategy=none", "strategy=full", "strategy=every-n every=2",
         "strategy=sqrt", "strategy=selective", "strategy=mincut"]
SEARCHING = ["strategy=greedy", "strategy=optimal", "strategy=exhaustive",
             "strategy=layered", "strategy=auto"]
# Variants of auto's options, one drawn per step.
VARIANTS = ["", "cost=flops", "recompute-twice=never", "recompute-twice=to-fit",
            "peak-model=bufferized", "verify=false", "fuse-pointwise=true",
            "budget-on=activations"]
CLEAN = re.compile(r"is infeasible|needs layers|found no attention core|"
                   r"enumerates at most|every plan the search found peaks")
SUMMARY = re.compile(r"remat: predicted peak (\d+) bytes \(without remat (\d+), "
                     r"(activation )?budget (\d+)\)")
LOWEST = re.compile(r"lowest peak the auto planner reaches is (\d+) bytes "
                    r"\(.*?without remat: (\d+) bytes\)")
CRASH = re.compile(r"LLVM ERROR|Sanitizer|runtime error|Stack dump|"
                   r"PLEASE submit a bug report")


def run(cmd, timeout, stdin=None):
    """(returncode, stdout, stderr); returncode None on a time-out."""
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                           timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return None, "", ""


def extract_function(module_text, new_name):
    """The func.func @step of a printed module, renamed."""
    start = module_text.find("func.func @step(")
    if start < 0:
        return None
    # The function ends at the first line that is exactly "  }" after it
    # (the module is printed with two-space indentation).
    end = module_text.find("\n  }\n", start)
    if end < 0:
        return None
    text = module_text[start:end + 4]
    return text.replace("func.func @step(", f"func.func @{new_name}(", 1)


def check_step(a, index):
    """Plans, runs and checks one step. Returns (line, counts, problems)."""
    rng = random.Random(f"{a.seed}/{index}")
    step, layers = random_steps.generate(rng, a.max_residuals)
    work = tempfile.mkdtemp(prefix=f"diff-fuzz-{index}-", dir=a.tmp)
    path = os.path.join(work, "step.mlir")
    with open(path, "w") as f:
        f.write(step)
    # Budgets between the lowest peak auto reaches (from its error at a
    # budget of 1 byte) and the peak without remat, where plans differ, and
    # a few percentages of the latter.
    budgets = list(a.budgets)
    rc, _, err = run([a.remat_opt, path, "-o", os.devnull,
                      "-remat-rematerialize=budget=1"], a.timeout)
    m = LOWEST.search(err)
    if m:
        lowest, baseline = int(m.group(1)), int(m.group(2))
        budgets += [str(lowest + int((baseline - lowest) * f))
                    for f in a.points]
    specs = [(s, None) for s in FIXED]
    specs += [(s, rng.choice(budgets)) for s in FIXED[1:]]
    for s in SEARCHING:
        for b in rng.sample(budgets, min(a.budgets_per_strategy,
                                         len(budgets))):
            specs.append((s, b))
    specs.append(("strategy=auto " + rng.choice(VARIANTS),
                  rng.choice(budgets)))
    counts = {"planned": 0, "refused": 0, "equal": 0, "within budget": 0,
              "prediction within tolerance": 0}
    problems = []
    functions = []  # (name, spec, budget, predicted)

    def plan(item):
        spec, budget = item
        option = spec + (f" budget={budget}" if budget else "")
        cmd = [a.remat_opt, path, "-mlir-print-local-scope",
               f"-remat-rematerialize={option} remarks=true"]
        return option, run(cmd, a.timeout)

    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(plan, specs))
    for k, (option, (rc, out, err)) in enumerate(results):
        if rc is None:
            problems.append(f"hang: {option}")
            continue
        if rc < 0 or CRASH.search(err):
            problems.append(f"crash ({rc}): {option}: {err[-300:]}")
            continue
        if rc != 0:
            if "error:" in err and CLEAN.search(err):
                counts["refused"] += 1
            else:
                problems.append(f"unexpected failure: {option}: {err[-300:]}")
            continue
        m = SUMMARY.search(err)
        func = extract_function(out, f"step_{k}")
        if not func:
            problems.append(f"no function in the output: {option}")
            continue
        predicted = int(m.group(1)) if m else None
        on_activations = bool(m and m.group(3))
        # A budget bounds the peak unless it is on activations.
        limit = int(m.group(4)) if m and "budget=" in option and \
            not on_activations else None
        functions.append((func, option, limit, predicted, f"step_{k}"))
        counts["planned"] += 1

    # The step without remat, then every plan, in one program.
    rc, printed, err = run([a.remat_opt, path, "-mlir-print-local-scope"],
                           a.timeout)
    base = extract_function(printed, "step_base") if rc == 0 else None
    if base is None:
        problems.append(f"the step does not parse: {err[-300:]}")
        base = ""
    # A plan made for the fused program (fuse-pointwise=true, as the GPU
    # pipeline compiles it) runs lowered with fusion; the others without.
    groups = {}
    for f in functions:
        fused = "fuse-pointwise=true" in f[1]
        groups.setdefault(fused, []).append(f)
    base_out = None
    for fused, group in sorted(groups.items()):
        names = ["step_base"] + [f[4] for f in group]
        program = "\n".join([base] + [f[0] for f in group]) + "\n" + \
            random_steps.main_function(random.Random(f"{a.seed}/{index}/inputs"),
                                       layers, names)
        with open(os.path.join(work, f"program{'-fused' if fused else ''}.mlir"),
                  "w") as f:
            f.write(program)
        lowering = "-remat-lower-to-llvm" + ("=fuse-pointwise=true" if fused
                                             else "")
        rc, llvm_ir, err = run([a.remat_opt, "-", lowering], a.timeout,
                               stdin=program)
        if rc != 0:
            problems.append(f"lowering failed ({rc}): {err[-400:]}")
            continue
        rc, out, err = run([a.mlir_runner, "-e", "main",
                            "-entry-point-result=void",
                            "-shared-libs=" + ",".join(a.shared_libs)],
                           a.timeout * 2, stdin=llvm_ir)
        if rc != 0:
            problems.append(f"run failed ({rc}): {err[-400:]}")
            continue
        peaks = [int(p) for p in re.findall(r"phase_peak_bytes=(\d+)", out)]
        tensors = {}
        for line in out.splitlines():
            mt = re.match(r"tensor (\d+): (.*)", line)
            if mt:
                tensors[int(mt.group(1))] = mt.group(2)
        # Every program's unplanned step must agree with the first's.
        group_base = (tensors.get(0), tensors.get(1))
        if base_out is None:
            base_out = group_base
        elif group_base != base_out:
            problems.append("the unplanned step's outputs differ between "
                            "the fused and unfused lowerings")
        for j, (func, option, limit, predicted, _) in enumerate(group, 1):
            got = (tensors.get(2 * j), tensors.get(2 * j + 1))
            measured = peaks[j] if j < len(peaks) else None
            if got != base_out or None in got:
                problems.append(f"outputs differ: {option}")
            else:
                counts["equal"] += 1
            over = limit is not None and measured is not None and \
                measured > limit
            if over and "verify=false" in option:
                # The plan was not checked on the bufferized program: the
                # tensor model's error, which verify=true exists to catch.
                counts.setdefault("unverified over budget", [])
                counts["unverified over budget"].append(
                    f"{option}: measured {measured} > {limit}")
            elif over:
                problems.append(f"over budget: {option}: measured "
                                f"{measured} > {limit}")
            else:
                counts["within budget"] += 1
            if predicted and measured is not None and \
                    abs(measured - predicted) <= a.tolerance * predicted:
                counts["prediction within tolerance"] += 1
            elif predicted:
                counts.setdefault("prediction misses", [])
                counts["prediction misses"].append(
                    f"{option}: predicted {predicted}, measured {measured}")
    if problems and a.keep:
        dest = os.path.join(a.keep, f"step-{a.seed}-{index}")
        shutil.copytree(work, dest, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    line = (f"step {index}: {layers} layers, {counts['planned']} plans "
            f"({counts['refused']} refused cleanly), {counts['equal']} "
            f"bitwise equal, {counts['within budget']} within budget" +
            (f"; {len(problems)} PROBLEMS" if problems else ""))
    return line, counts, problems


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--remat-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--shared-libs", required=True, nargs="+",
                   help="runner utils, c runner utils, libRematRuntime")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--first", type=int, default=0,
                   help="index of the first step (to resume a long run)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-residuals", type=int, default=12)
    p.add_argument("--budgets", nargs="+", default=["90%", "60%"],
                   help="percentages of the peak without remat to draw from")
    p.add_argument("--points", type=float, nargs="+",
                   default=[0.0, 0.2, 0.4, 0.6, 0.8],
                   help="budgets to draw from, as points between the lowest "
                   "peak auto reaches (0) and the peak without remat (1)")
    p.add_argument("--budgets-per-strategy", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--tmp", default=None)
    p.add_argument("--keep", default=None,
                   help="directory to keep the inputs of failing steps")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only failing steps and the summary")
    a = p.parse_args()
    a.budgets = [b for b in a.budgets if b]
    start = time.monotonic()
    totals = {}
    misses = []
    unverified = []
    bad = 0
    for index in range(a.first, a.first + a.steps):
        line, counts, problems = check_step(a, index)
        for key, value in counts.items():
            if key == "prediction misses":
                misses += value
            elif key == "unverified over budget":
                unverified += value
            else:
                totals[key] = totals.get(key, 0) + value
        if problems:
            bad += 1
        if problems or not a.quiet:
            print(line, flush=True)
        for prob in problems:
            print("  " + prob, flush=True)
    plans = totals.get("planned", 0)
    print(f"diff-fuzz: seed {a.seed}, steps {a.first}..{a.first + a.steps - 1}: "
          f"{plans} plans, {totals.get('refused', 0)} refused cleanly; "
          f"{totals.get('equal', 0)} bitwise equal, "
          f"{totals.get('within budget', 0)} within budget, "
          f"{totals.get('prediction within tolerance', 0)} predictions within "
          f"{100 * a.tolerance:.0f}% ({len(misses)} outside); {bad} failing "
          f"steps; {time.monotonic() - start:.0f} s")
    if unverified:
        print(f"diff-fuzz: {len(unverified)} plans made with verify=false "
              f"(not checked on the bufferized program) measured over "
              f"their budget")
    for miss in unverified[:10]:
        print("  verify=false: " + miss)
    for miss in misses[:20]:
        print("  prediction: " + miss)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
