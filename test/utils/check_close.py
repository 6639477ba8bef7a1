#!/usr/bin/env python3
"""Compares `tensor <id>: v0 v1 ...` lines on stdin with a JSON reference, elementwise within atol + rtol*|ref|."""

import argparse
import json
import math
import re
import sys

TENSOR_LINE = re.compile(r"^tensor\s+(-?\d+):(.*)$")


def parse_args():
    p = argparse.ArgumentParser(
        description="Reads program output on stdin and checks every tensor "
        "of REF.json against the line `tensor <id>: v0 v1 ...` with that id: "
        "same element count and |got - ref| <= atol + rtol*|ref| for every "
        "element. Exits 1 if any tensor is missing or differs.")
    p.add_argument("--ref", required=True, metavar="REF.json",
                   help='{"<id>": {"name": str, "values": [floats]}, ...}; '
                   'keys starting with "_" are ignored')
    p.add_argument("--rtol", type=float, required=True)
    p.add_argument("--atol", type=float, default=1e-7)
    p.add_argument("--atol-rel", type=float, default=0.0, metavar="X",
                   help="add X * max|ref| of each tensor to its atol: "
                   "errors relative to the tensor's scale (default 0)")
    return p.parse_args()


def load_ref(path):
    with open(path) as f:
        doc = json.load(f)
    ref = {}
    for key, entry in doc.items():
        if key.startswith("_"):
            continue
        try:
            ident = int(key)
        except ValueError:
            sys.exit("check_close: %s: key %r is not an integer id" % (path, key))
        if not isinstance(entry, dict) or "values" not in entry:
            sys.exit("check_close: %s: id %s has no \"values\"" % (path, key))
        name = entry.get("name", "tensor %d" % ident)
        ref[ident] = (name, [float(v) for v in entry["values"]])
    if not ref:
        sys.exit("check_close: %s: no tensors" % path)
    return ref


def read_output(stream):
    """Maps id -> list of floats, or id -> error string (bad line, duplicate)."""
    got = {}
    for lineno, line in enumerate(stream, 1):
        m = TENSOR_LINE.match(line.strip())
        if not m:
            continue
        ident = int(m.group(1))
        if ident in got:
            got[ident] = "printed more than once (again at stdin line %d)" % lineno
            continue
        try:
            got[ident] = [float(tok) for tok in m.group(2).split()]
        except ValueError as e:
            got[ident] = "unparsable value at stdin line %d: %s" % (lineno, e)
    return got


def compare(name, got, ref, rtol, atol, atol_rel=0.0):
    """Returns (ok, report line)."""
    scale = max((abs(r) for r in ref), default=0.0)
    atol = atol + atol_rel * scale
    if len(got) != len(ref):
        return False, ("%s: MISMATCH element count: got %d, reference has %d"
                       % (name, len(got), len(ref)))
    max_rel = 0.0
    max_abs = 0.0
    worst = None  # (err / tol, index)
    bad = 0
    for i, (g, r) in enumerate(zip(got, ref)):
        err = abs(g - r)
        if math.isnan(err):
            err = math.inf
        tol = atol + rtol * abs(r)
        rel = err / abs(r) if r != 0 else (0.0 if err == 0 else math.inf)
        max_rel = max(max_rel, rel)
        max_abs = max(max_abs, err)
        ratio = err / tol if tol > 0 else (0.0 if err == 0 else math.inf)
        if worst is None or ratio > worst[0]:
            worst = (ratio, i)
        if not err <= tol:
            bad += 1
    summary = "%s: max_rel_err=%.3g max_abs_err=%.3g max_abs_err/max|ref|=%.3g" % (
        name, max_rel, max_abs, max_abs / scale if scale else max_abs)
    if bad == 0:
        return True, summary + " OK"
    i = worst[1]
    return False, ("%s MISMATCH %d of %d elements out of tolerance; worst "
                   "[%d]: got %.9g, ref %.9g, |diff|=%.3g > atol+rtol*|ref|=%.3g"
                   % (summary, bad, len(ref), i, got[i], ref[i],
                      abs(got[i] - ref[i]), atol + rtol * abs(ref[i])))


def main():
    args = parse_args()
    ref = load_ref(args.ref)
    got = read_output(sys.stdin)
    passed = failed = 0
    for ident in sorted(ref):
        name, values = ref[ident]
        label = "%s (id %d)" % (name, ident)
        if ident not in got:
            ok, line = False, ("%s: MISSING: no `tensor %d:` line on stdin"
                               % (label, ident))
        elif isinstance(got[ident], str):
            ok, line = False, "%s: ERROR: %s" % (label, got[ident])
        else:
            ok, line = compare(label, got[ident], values, args.rtol, args.atol,
                               args.atol_rel)
        print(line)
        if ok:
            passed += 1
        else:
            failed += 1
    print("check_close: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
