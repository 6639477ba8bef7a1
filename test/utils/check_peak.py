#!/usr/bin/python3
"""Holds the memory model's predicted peak against a run's measured peak.

Usage: check_peak.py --prediction PRED --run RUN --function NAME [--tolerance 0.05]

PRED is the output of `remat-opt -remat-test-print-liveness` (a line
`function @NAME` followed by `  peak=N at point ...`); RUN is the output of
the program, whose tracking heap printed `remat-heap: ... phase_peak_bytes=M`
right after the call (the peak of that call alone). Prints one line with both
figures and the relative error, and exits 1 when the error exceeds the
tolerance.
"""

import argparse
import re
import sys


def predicted_peak(text, function):
    current = None
    for line in text.splitlines():
        m = re.match(r"function @(\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"\s+peak=(\d+) at point", line)
        if m and current == function:
            return int(m.group(1))
    sys.exit(f"check_peak: no prediction for function @{function}")


def measured_peak(text):
    values = re.findall(r"^remat-heap:.*phase_peak_bytes=(\d+)", text,
                        re.MULTILINE)
    if len(values) != 1:
        sys.exit(f"check_peak: expected one remat-heap line with "
                 f"phase_peak_bytes, found {len(values)}")
    return int(values[0])


def host_arena(text):
    """The host arena's (peak bytes, allocations), from the `remat-host:`
    line, or (0, 0) when the run offloaded nothing."""
    m = re.search(r"^remat-host: peak_bytes=(\d+) .*allocations=(\d+)", text,
                  re.MULTILINE)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prediction", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--function", required=True)
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    with open(args.prediction) as f:
        predicted = predicted_peak(f.read(), args.function)
    with open(args.run) as f:
        measured = measured_peak(f.read())
    error = abs(predicted - measured) / max(measured, 1)
    verdict = "OK" if error <= args.tolerance else "MISMATCH"
    print(f"@{args.function}: predicted {predicted} bytes, measured "
          f"{measured} bytes, error {100 * error:.2f}% "
          f"(tolerance {100 * args.tolerance:.0f}%) {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
