"""Gradient accumulation: the Llama corpus step with an accumulator per
trainable parameter, run on 3 micro-batches by @main, against PyTorch's
accumulation loop (loss.backward() per micro-batch, gradients summed).

Usage: accumulate.py OUT.mlir REF.json
"""

import json
import sys

from remat import models
from remat.importer import import_step, reference_accumulated

cfg = models.config("llama")
model = models.build(cfg)
models.randomize(model, cfg)
micro_batches = [models.example_inputs(cfg, seed=s) for s in (1, 2, 3)]
result = import_step(model, micro_batches[0], input_names=("tokens",
                                                           "targets"),
                     main=True, accumulate=True, micro_batches=micro_batches)
with open(sys.argv[1], "w") as f:
    f.write(result.text)
with open(sys.argv[2], "w") as f:
    json.dump(reference_accumulated(model, micro_batches, result.grad_names),
              f)
