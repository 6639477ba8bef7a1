#!/usr/bin/env python3
"""Holds a -remat-rematerialize plan against its CPU run.

Reads the planner's summary remark (--remarks), the run's output (--run) and
the run without remat (--base). Checks that the measured phase peak of the
step is at or under the budget and within --tolerance of the prediction, and
that every printed tensor is bitwise equal (same %.9g text) to the base run.
When the plan offloads buffers, the run's host arena must have held exactly
the bytes and buffers the remark names.
Prints one line; exits 1 on any failure.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_peak import host_arena, measured_peak  # noqa: E402

SUMMARY = re.compile(r"remat: predicted peak (\d+) bytes \(without remat (\d+), "
                     r"budget (\d+)\); recompute (\d+) of (\d+) residuals, (\d+) FLOPs")
OFFLOAD = re.compile(r"offloaded (\d+) buffers \((\d+) bytes")


def tensors(path):
    with open(path) as f:
        return [l.rstrip("\n") for l in f if l.startswith("tensor ")]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--label", required=True)
    p.add_argument("--remarks", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--tolerance", type=float, default=0.05)
    a = p.parse_args()
    with open(a.remarks) as f:
        remarks = f.read()
    m = SUMMARY.search(remarks)
    o = OFFLOAD.search(remarks)
    buffers, host = (int(o.group(1)), int(o.group(2))) if o else (0, 0)
    if not m:
        sys.exit(f"{a.label}: no planner summary remark in {a.remarks}")
    pred, base, budget, rec, total, flops = map(int, m.groups())
    with open(a.run) as f:
        run = f.read()
    measured = measured_peak(run)
    host_peak, host_buffers = host_arena(run)
    err = abs(measured - pred) / pred
    same = tensors(a.run) == tensors(a.base) and tensors(a.base)
    host_ok = host_peak == host and host_buffers == buffers
    ok = measured <= budget and err <= a.tolerance and same and host_ok
    print(f"{a.label}: budget {budget}, predicted {pred}, measured {measured} "
          f"(error {100 * err:.2f}%), without remat {base}, recomputed "
          f"{rec}/{total}, {flops} FLOPs, outputs "
          f"{'bitwise equal' if same else 'DIFFERENT'}"
          + (f", host {host_peak} bytes in {host_buffers} buffers (offloaded "
             f"{host} in {buffers})" if host or host_peak else "") + ": "
          f"{'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
