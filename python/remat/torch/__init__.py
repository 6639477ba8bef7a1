"""remat for PyTorch: plans that PyTorch runs, on its own kernels.

* ``partition_fn(budget=...)``: an AOTAutograd partitioner that saves what
  remat's plan saves (``partition.py``).
* ``compile(model, budget=...)``: the model as a module that trains with
  remat's plan; ``plan(model, inputs, budget=...)``: that plan's summary
  (``api.py``).
"""

from .api import RematModule, compile, eager_compiler, plan
from .partition import PartitionedPlan, joint_graph_of, partition_fn

__all__ = ["compile", "plan", "partition_fn", "joint_graph_of",
           "PartitionedPlan", "RematModule", "eager_compiler"]
