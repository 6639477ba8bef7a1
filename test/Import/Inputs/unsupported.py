"""A module whose forward uses an op the importer does not lower."""

import torch
import torch.nn as nn

from remat.emitter import UnsupportedOpError
from remat.importer import import_step


class Scan(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.blocks = nn.ModuleList([Scan()])

    def forward(self, x):
        return self.blocks[0](self.proj(x)).sum()


try:
    import_step(Model(), (torch.randn(2, 4),))
except UnsupportedOpError as e:
    print(f"error: {e}")
