"""Activations the corpus does not use (leaky_relu, ReLU6 as hardtanh,
hardswish, softplus, mish), imported, run, and compared with PyTorch.

Usage: activations.py OUT.mlir REF.json
"""

import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from remat.importer import import_step, reference


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.out = nn.Linear(8, 8)

    def forward(self, x):
        h = self.lin(x) * 4.0  # past hardswish's and ReLU6's knees
        a = F.leaky_relu(h, 0.2) + F.relu6(h) + F.hardswish(h)
        b = F.softplus(h, beta=2.0, threshold=5.0) + F.mish(h)
        return self.out(a * b).pow(2).mean()


torch.manual_seed(0)
model = Activations()
x = torch.randn(4, 6, 8)
result = import_step(model, (x,), input_names=("x",), main=True)
with open(sys.argv[1], "w") as f:
    f.write(result.text)
with open(sys.argv[2], "w") as f:
    json.dump(reference(model, (x,), result.grad_names), f)
