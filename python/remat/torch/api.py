"""One line for any model: ``remat.torch.compile`` and ``remat.torch.plan``.

    import remat.torch
    step = remat.torch.compile(model, budget="50%")
    loss = step(*batch); loss.backward(); optimizer.step()

    summary = remat.torch.plan(model, batch, budget="50%")
    summary["peak_bytes"], summary["modules"]["blocks.0.attn"]

``compile`` wraps the model in AOTAutograd (functorch's ``aot_module``) with
remat's partitioner; PyTorch runs the forward and backward with its own
kernels, and the backward recomputes what the plan does not save. The joint
graph is traced on the first call, with every node annotated with the
module it came from (so the planner sees the model's layers and the plan
names submodules). ``plan`` makes that first call on example inputs and
returns the plan summary.
"""

import warnings
from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn as nn

from ..capture import annotated_trace
from ..emitter import UnsupportedOpError
from .partition import partition_fn

try:
    from functorch.compile import aot_module, default_partition, \
        make_boxed_func
except ImportError:  # pragma: no cover  (PyTorch 2.x without functorch)
    from torch._functorch.aot_autograd import aot_module  # noqa: F401
    from torch._functorch.partitioners import default_partition
    from torch._functorch.aot_autograd import make_boxed_func

__all__ = ["compile", "plan", "RematModule", "eager_compiler"]

FALLBACKS = ("error", "default")


def eager_compiler(gm, _example_inputs):
    """An AOTAutograd compiler that runs an FX module as it is (PyTorch's
    eager kernels)."""
    return make_boxed_func(gm)


class RematModule(nn.Module):
    """``model`` trained with remat's plan (``remat.torch.compile``).

    Its parameters are the model's; ``plans`` lists the plan of each trace
    (``PartitionedPlan``); ``fallback_reason`` says why PyTorch's default
    partition was used instead, when it was."""

    def __init__(self, model: nn.Module, budget=None, strategy="auto",
                 fallback="error", **options):
        super().__init__()
        if fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, not "
                             f"{fallback!r}")
        self.model = model
        self.fallback = fallback
        self.fallback_reason: Optional[str] = None
        self._partition = partition_fn(budget=budget, strategy=strategy,
                                       **options)
        self._compiled = aot_module(model, eager_compiler, eager_compiler,
                                    partition_fn=self._partition_or_fallback)
        self._traced = False

    @property
    def plans(self):
        return self._partition.plans

    def _partition_or_fallback(self, joint_module, joint_inputs, **kwargs):
        names = _primal_names(self.model, joint_inputs)
        try:
            return self._partition(joint_module, joint_inputs, names=names,
                                   **kwargs)
        except UnsupportedOpError as e:
            if self.fallback == "error":
                raise
            self.fallback_reason = str(e)
            warnings.warn(f"remat: {e}; training with PyTorch's default "
                          "partition (nothing recomputed)")
            return default_partition(joint_module, joint_inputs, **kwargs)

    def forward(self, *args):
        if self._traced:
            return self._compiled(*args)
        with annotated_trace(self.model):
            out = self._compiled(*args)
        self._traced = True
        return out


def _primal_names(model: nn.Module, joint_inputs) -> Optional[Sequence[str]]:
    """The joint graph's primals by name (parameters, buffers, inputs), when
    AOTAutograd hands the real tensors (torch 1.13 without fake tensors);
    else None (placeholder names)."""
    try:
        flat = list(joint_inputs[0])
    except (TypeError, IndexError):
        return None
    known = {}
    for name, t in model.named_parameters():
        known.setdefault(id(t), name)
    for name, t in model.named_buffers():
        known.setdefault(id(t), name)
    names, inputs = [], 0
    for t in flat:
        if id(t) in known:
            names.append(known[id(t)])
        else:
            names.append(f"input{inputs}")
            inputs += 1
    return names


def compile(model: nn.Module, budget=None, strategy: str = "auto",
            fallback: str = "error", **options) -> RematModule:
    """``model`` (whose forward returns the loss, or outputs) as a module
    that trains with remat's plan: forward and ``loss.backward()`` as usual.

    ``budget``: a share of the step's peak without remat (``"50%"``), bytes
    or ``"6GiB"``; ``budget_on="activations"`` bounds the saved activations
    instead. ``strategy``, ``cost``, ``target`` and any other option of
    ``-remat-rematerialize`` by its name with ``_`` for ``-``. An op the
    importer does not know raises ``UnsupportedOpError`` naming it, or with
    ``fallback="default"`` warns and trains with PyTorch's default
    partition."""
    return RematModule(model, budget=budget, strategy=strategy,
                       fallback=fallback, **options)


def plan(model: nn.Module, example_inputs: Sequence[torch.Tensor],
         budget=None, strategy: str = "auto", **options) -> dict:
    """The plan ``compile`` would make for ``model(*example_inputs)``.

    Returns the plan summary (``-remat-rematerialize``'s plan file for the
    step: ``peak_bytes`` and ``baseline_peak_bytes``, ``activation_bytes``
    and ``baseline_activation_bytes``, ``overhead_percent``, ``decisions``,
    ...) with ``"modules"``: for each submodule, in program order, the
    values it saves and recomputes and their bytes. Runs the model's
    forward once (AOTAutograd traces it)."""
    step = compile(model, budget=budget, strategy=strategy, **options)
    step(*example_inputs)
    p = step.plans[-1]
    summary = dict(p.summary)
    modules = OrderedDict()
    by_tag = {d["value"]: d for d in summary["decisions"]}
    for node, tag in p.tags.items():
        d = by_tag.get(tag)
        if d is None:
            continue
        scope = node.meta.get("remat_scope", "") or "<top>"
        m = modules.setdefault(scope, {"saved": [], "recomputed": [],
                                       "saved_bytes": 0,
                                       "recomputed_bytes": 0})
        kind = "recomputed" if d["recompute"] else "saved"
        m[kind].append(tag)
        m[kind + "_bytes"] += d["bytes"]
    summary["modules"] = modules
    return summary
