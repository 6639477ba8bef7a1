"""Checks the manifest bench/gpu/build.py wrote (aot-gpt-peak.test): each
variant's device peak on the fake libcuda against the prediction."""
import json
import os
import sys

manifest = json.load(open(sys.argv[1]))
for v in manifest["variants"]:
    measured, predicted = v["fake_cuda_peak_bytes"], v["predicted_peak_bytes"]
    line = v["name"]
    if abs(measured - predicted) <= 0.01 * predicted:
        line += " within 1%"
    else:
        line += f" off: measured {measured}, predicted {predicted}"
    if "budget_bytes" in v:
        line += " under budget" if measured <= v["budget_bytes"] else " OVER"
    print(line)
for m in manifest["matmul"]:
    exe = os.path.join(os.path.dirname(sys.argv[1]), m["exe"])
    if os.access(exe, os.X_OK):
        print(f"matmul {m['m']}x{m['n']}x{m['k']} {m['mma']} built")
