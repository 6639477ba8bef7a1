#!/usr/bin/python3
"""PyTorch reference for test/Integration/CPU/mlp-train-step.mlir (loss, dW1, dW2).

How the reference was obtained: mlp_reference.json next to this file was
written by

    cd test/Integration/CPU/Inputs
    /usr/bin/python3 mlp_reference.py --emit-json mlp_reference.json

with Debian's /usr/bin/python3 and torch 1.13.0a0 (CPU; numpy 1.24.2). The
JSON records the torch version it was made with. The constants in the .mlir
test were printed by

    /usr/bin/python3 mlp_reference.py --emit-mlir-constants

Model (one training step of a two-layer MLP without biases):

    a    = tanh(x @ W1)            x: 4x8, W1: 8x16, a: 4x16
    out  = a @ W2                  W2: 16x4, out: 4x4
    loss = mean((out - y)^2)       y: 4x4
    dW1, dW2 = d loss / d W1, d loss / d W2   (torch autograd)

The inputs come from closed formulas (see `inputs`), are rounded to float32
(the precision of the MLIR test), and the reference is then computed in
float64 from those rounded values, so that it differs from the f32 program
only by the f32 rounding of the arithmetic. A float32 torch run is reported
too, as a measure of how far an honest f32 computation lands from the
reference.

JSON format (read by test/utils/check_close.py): {"<id>": {"name": str,
"values": [floats, row-major]}, ...}; ids are the ones the test passes to
rematPrintTensorF32: 0 = loss (1 element), 1 = dW1 (8x16), 2 = dW2 (16x4).
A key starting with "_" is metadata, not a tensor.
"""

import argparse
import json
import math
import sys

import numpy as np
import torch

B, D, H, O = 4, 8, 16, 4


def formula(rows, cols, f):
    """A rows x cols float32 array with element (i, j) = f(i, j)."""
    return np.array([[f(i, j) for j in range(cols)] for i in range(rows)],
                    dtype=np.float32)


def inputs():
    """The deterministic inputs x, W1, W2, y as float32 numpy arrays."""
    x = formula(B, D, lambda i, j: 0.5 * math.sin(0.7 * i + 0.3 * j + 0.1))
    w1 = formula(D, H, lambda i, j: 0.3 * math.cos(0.37 * i - 0.23 * j + 0.5))
    w2 = formula(H, O, lambda i, j: 0.25 * math.sin(0.19 * i + 0.41 * j - 0.2))
    y = formula(B, O, lambda i, j: 0.2 * math.cos(0.9 * i + 0.5 * j))
    return x, w1, w2, y


def train_step(dtype):
    """Returns loss, dW1, dW2 (torch tensors of `dtype`) via autograd."""
    x, w1, w2, y = (torch.from_numpy(a).to(dtype) for a in inputs())
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    a = torch.tanh(x @ w1)
    out = a @ w2
    loss = torch.mean((out - y) ** 2)
    loss.backward()
    return loss.detach().reshape(1), w1.grad, w2.grad


def results(dtype):
    loss, dw1, dw2 = train_step(dtype)
    return {"loss": loss, "dW1": dw1, "dW2": dw2}


def max_rel(got, ref):
    got = got.double().flatten()
    ref = ref.double().flatten()
    return float(((got - ref).abs() / ref.abs().clamp_min(1e-30)).max())


def fmt(v):
    return "%.9g" % float(v)


def mlir_dense(a):
    """`dense<[[...], ...]> : tensor<RxCxf32>` with exact float32 values."""
    rows = ", ".join("[" + ", ".join(fmt(v) for v in row) + "]" for row in a)
    shape = "x".join(str(s) for s in a.shape)
    return "dense<[%s]> : tensor<%sxf32>" % (rows, shape)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--emit-json", metavar="PATH",
                   help="write the float64 reference JSON to PATH")
    p.add_argument("--emit-mlir-constants", action="store_true",
                   help="print the arith.constant lines for x, W1, W2, y")
    args = p.parse_args()

    if args.emit_mlir_constants:
        for name, a in zip(("x", "w1", "w2", "y"), inputs()):
            print("  %%%s = arith.constant %s" % (name, mlir_dense(a)))
        return 0

    ref64 = results(torch.float64)
    ref32 = results(torch.float32)
    print("torch %s" % torch.__version__, file=sys.stderr)
    for name in ref64:
        print("%s: float64 vs float32 torch max_rel_err=%.3g (f64 max|v|=%.3g)"
              % (name, max_rel(ref32[name], ref64[name]),
                 float(ref64[name].abs().max())), file=sys.stderr)

    if args.emit_json:
        doc = {"_meta": {
            "generator": "test/Integration/CPU/Inputs/mlp_reference.py "
                         "--emit-json mlp_reference.json",
            "torch": torch.__version__,
            "dtype": "float64 from float32-rounded inputs"}}
        for i, name in enumerate(("loss", "dW1", "dW2")):
            doc[str(i)] = {"name": name,
                           "values": [float(v) for v in
                                      ref64[name].flatten().tolist()]}
        with open(args.emit_json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
