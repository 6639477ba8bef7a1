"""A tied-embedding language model (ALBERT-style: the output head shares the
embedding's weight) whose loss uses label smoothing and ignore_index,
imported (real-tensor tracing: label smoothing makes a tensor constant and
a data-dependent selection), run, and compared with PyTorch.

Usage: tied_loss.py OUT.mlir REF.json
       tied_loss.py --fake   (prints the importer's error under fake tensors)
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "python", "tests"))
from extra_models import TiedLM  # noqa: E402

from remat.emitter import UnsupportedOpError  # noqa: E402
from remat.importer import import_step, reference  # noqa: E402


torch.manual_seed(0)
model = TiedLM()
g = torch.Generator().manual_seed(1)
tokens = torch.randint(0, 32, (2, 8), generator=g)
targets = torch.randint(0, 32, (2, 8), generator=g)
targets[0, :3] = -100  # ignored positions
names = ("tokens", "targets")
if sys.argv[1] == "--fake":
    try:
        import_step(model, (tokens, targets), input_names=names)
    except UnsupportedOpError as e:
        print(f"UnsupportedOpError: {e}")
    sys.exit(0)
result = import_step(model, (tokens, targets), input_names=names, main=True,
                     tracing_mode="real")
with open(sys.argv[1], "w") as f:
    f.write(result.text)
with open(sys.argv[2], "w") as f:
    json.dump(reference(model, (tokens, targets), result.grad_names), f)
