"""Ops the corpus does not use, imported, run, and compared with PyTorch.

Usage: ops.py OUT.mlir REF.json. Writes the step with @main and the float64
reference of its loss and gradients.
"""

import json
import sys

import torch
import torch.nn as nn

from remat.importer import import_step, reference


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 6))

    def forward(self, x, keep):
        h = self.lin(x)                                   # addmm
        a = torch.where(keep, h, h * 0.5)                 # where
        b = torch.relu(a) + torch.sigmoid(a) * self.scale  # relu, sigmoid
        c = b.permute(2, 0, 1)                            # permute
        d = torch.cat([c, torch.tanh(c) * 2.0], dim=0)   # cat, tanh
        e = d.exp().sum(dim=(1, 2)) / 3.0                 # exp, sum, div
        f = e.reciprocal().sqrt()                         # reciprocal, sqrt
        return (f - 1.0).pow(3).mean() + d.select(1, 0).sum()


torch.manual_seed(0)
model = Ops()
x = torch.randn(2, 3, 6)
keep = torch.rand(2, 3, 6) > 0.3
result = import_step(model, (x, keep), input_names=("x", "keep"), main=True)
with open(sys.argv[1], "w") as f:
    f.write(result.text)
with open(sys.argv[2], "w") as f:
    json.dump(reference(model, (x, keep), result.grad_names), f)
