"""Capture a module's joint forward+backward graph through AOTAutograd.

``capture(model, inputs)`` traces one training step with
``joint_forward_backward`` (the function AOTAutograd traces, written here
so that torch 1.13 and 2.x trace the same way) under
``make_fx``, in fake-tensor mode by default so that large configurations cost
no compute or memory. Every FX node is annotated with the module it came from:

* ``node.meta["remat_scope"]``: the dotted module path (``blocks.3.attn``)
  active when the node was created. Forward nodes get the innermost module
  whose ``forward`` was running; backward nodes get the module of the forward
  op whose gradient formula produced them (through autograd pre-hooks).
* ``node.meta["remat_phase"]``: ``"forward"`` or ``"backward"`` by creation.

The partition into forward and backward follows functorch's
``default_partition``: forward nodes are those the forward outputs depend on;
everything else is backward; the saved values are the forward nodes (including
primal inputs) that a backward node reads.
"""

import contextlib
import operator
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
from torch.fx.experimental.proxy_tensor import make_fx


try:  # torch >= 1.13
    from torch.nn.utils.stateless import functional_call
except ImportError:  # pragma: no cover
    from torch.func import functional_call


@dataclass
class Primal:
    """A function argument: a parameter, a buffer or a batch input."""

    name: str
    kind: str  # "param" | "buffer" | "input"
    node: fx.Node
    requires_grad: bool


@dataclass
class JointGraph:
    graph: fx.Graph
    primals: List[Primal]
    tangents: List[fx.Node]
    outputs: List[fx.Node]  # forward outputs (the loss)
    grads: List[Tuple[Primal, fx.Node]]  # gradient of each trainable primal
    forward: List[fx.Node] = field(default_factory=list)
    backward: List[fx.Node] = field(default_factory=list)
    saved: List[fx.Node] = field(default_factory=list)

    def partition(self) -> None:
        """Split the nodes as ``default_partition`` does; fill ``saved``."""
        needed = set()
        stack = list(self.outputs)
        while stack:
            n = stack.pop()
            if n in needed or n.op == "placeholder":
                continue
            needed.add(n)
            stack.extend(n.all_input_nodes)
        # Unpacking a forward tuple is forward too: like default_partition,
        # save the tuple's elements, never the tuple. (A multi-output op has
        # no meta["val"] in torch 1.13's traces, and a tuple of tensors
        # there in PyTorch 2.x's; saving the tuple failed in AOTAutograd
        # with "'tuple' object has no attribute 'untyped_storage'".)
        for n in list(needed):
            if not isinstance(n.meta.get("val"), torch.Tensor):
                needed.update(u for u in n.users
                              if u.target is operator.getitem)
        primal_nodes = {p.node for p in self.primals}
        # Backward: what the gradients need beyond the forward (dead nodes
        # such as is_same_size checks are dropped, as fx extraction does).
        live = set()
        stack = [g for _, g in self.grads if g is not None]
        while stack:
            n = stack.pop()
            if n in live or n in needed or n.op == "placeholder":
                continue
            live.add(n)
            stack.extend(n.all_input_nodes)
        self.forward, self.backward = [], []
        for n in self.graph.nodes:
            if n.op != "call_function":
                continue
            if n in needed:
                self.forward.append(n)
            elif n in live:
                self.backward.append(n)
        fwd = needed | primal_nodes
        saved, seen = [], set()
        for n in self.backward:
            for a in n.all_input_nodes:
                if a in fwd and a not in seen:
                    seen.add(a)
                    saved.append(a)
        # Program order: primals first, then forward nodes.
        order = {n: i for i, n in enumerate(self.graph.nodes)}
        self.saved = sorted(saved, key=order.__getitem__)


class _Scopes:
    """Module-path bookkeeping shared by the hooks and the node factory."""

    def __init__(self):
        self.stack: List[str] = [""]
        self.phase = "forward"
        self.bwd_scope = ""
        self.labels: Dict[object, str] = {}  # grad_fn -> module path
        self.handles = []

    @property
    def current(self) -> str:
        return self.stack[-1] if self.phase == "forward" else self.bwd_scope

    def label_from(self, tensors, scope: str) -> None:
        """Label every unlabeled autograd node reachable from ``tensors``."""
        work = [t.grad_fn for t in tensors
                if isinstance(t, torch.Tensor) and t.grad_fn is not None]
        while work:
            fn = work.pop()
            if fn is None or fn in self.labels:
                continue
            self.labels[fn] = scope
            fn.register_prehook(self._prehook(scope))
            work.extend(nxt for nxt, _ in fn.next_functions)

    def _prehook(self, scope: str):
        # Autograd runs this before the node's backward: from the first call
        # on, the trace is in the backward phase.
        def hook(grad_outputs):
            self.phase = "backward"
            self.bwd_scope = scope
        return hook

    def install(self, model: nn.Module) -> None:
        for name, mod in model.named_modules():
            self.handles.append(mod.register_forward_pre_hook(
                self._pre(name)))
            self.handles.append(mod.register_forward_hook(self._post(name)))

    def _pre(self, name: str):
        def hook(mod, args):
            self.label_from(_flatten(args), self.stack[-1])
            self.stack.append(name)
        return hook

    def _post(self, name: str):
        def hook(mod, args, out):
            self.label_from(_flatten(out), name)
            self.stack.pop()
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _flatten(x) -> List[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for e in x for t in _flatten(e)]
    if isinstance(x, dict):
        return [t for e in x.values() for t in _flatten(e)]
    return []


@contextlib.contextmanager
def _annotate_nodes(scopes: _Scopes):
    """Stamp each node the tracer creates with the active module path.

    A trace that replays a graph through an ``fx.Interpreter`` (torch 1.13's
    AOTAutograd traces the joint graph again to functionalize it, where no
    module hook runs) stamps each node with the annotation of the node being
    interpreted instead."""
    original_create_node = fx.Graph.create_node
    original_run_node = fx.Interpreter.run_node
    interpreting: List[fx.Node] = []

    def run_node(self, n):
        interpreting.append(n)
        try:
            return original_run_node(self, n)
        finally:
            interpreting.pop()

    def create_node(graph, op, target, *args, **kwargs):
        node = original_create_node(graph, op, target, *args, **kwargs)
        source = interpreting[-1].meta if interpreting else {}
        node.meta["remat_scope"] = source.get("remat_scope", scopes.current)
        node.meta["remat_phase"] = source.get("remat_phase", scopes.phase)
        return node

    fx.Graph.create_node = create_node
    fx.Interpreter.run_node = run_node
    try:
        yield
    finally:
        fx.Graph.create_node = original_create_node
        fx.Interpreter.run_node = original_run_node


@contextlib.contextmanager
def annotated_trace(model: nn.Module):
    """While a trace of ``model`` runs: every node it creates carries its
    module path (``remat_scope``) and phase (``remat_phase``)."""
    scopes = _Scopes()
    scopes.install(model)
    try:
        with _annotate_nodes(scopes):
            yield scopes
    finally:
        scopes.remove()


def capture(model: nn.Module, inputs: Sequence[torch.Tensor], *,
            input_names: Optional[Sequence[str]] = None,
            tracing_mode: str = "fake",
            autocast: Optional[torch.dtype] = None) -> JointGraph:
    """Trace one training step of ``model(*inputs)`` (a scalar loss).

    ``autocast``: run the forward under ``torch.autocast`` with this
    element type (mixed precision: the parameters stay as they are, the
    master weights, and the graph holds autocast's casts)."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    input_names = list(input_names or
                       [f"input{i}" for i in range(len(inputs))])
    if len(input_names) != len(inputs):
        raise ValueError(f"{len(input_names)} input names for "
                         f"{len(inputs)} inputs")
    pnames, bnames = list(params), list(buffers)
    np_, nb = len(pnames), len(bnames)
    aliases = tied_names(model)

    def step(*flat):
        state = dict(zip(pnames, flat[:np_]))
        state.update(zip(bnames, flat[np_:np_ + nb]))
        # A tied tensor (an output head sharing the embedding's weight) is
        # one primal under every name it has.
        state.update({alias: state[name] for alias, name in aliases.items()})
        with autocast_context(autocast):
            loss = functional_call(model, state, tuple(flat[np_ + nb:]))
        scopes.label_from([loss], "")
        return (loss,)

    joint = joint_forward_backward(step)

    # A frozen parameter (requires_grad=False: LoRA's base weights) is a
    # primal without a gradient.
    primals = [p.detach().requires_grad_(p.requires_grad)
               for p in params.values()]
    primals += [b for b in buffers.values()]
    primals += list(inputs)
    seeds = [torch.ones((), dtype=torch.float32, device=primals[0].device)]
    try:
        with annotated_trace(model) as scopes:
            gm = make_fx(joint, tracing_mode=tracing_mode)(primals, seeds)
    except Exception as e:
        # Fake tensors cannot trace an op that makes a tensor constant of
        # its own (label smoothing's index_put_) or whose output shape
        # depends on the data (masked_select).
        message = str(e)
        if tracing_mode != "fake" or not ("non-Fake Tensor" in message or
                                          "DynamicOutputShape" in
                                          type(e).__name__):
            raise
        from .emitter import UnsupportedOpError
        op = message.split("Found in ")[-1].split("(")[0] \
            if "Found in " in message else type(e).__name__
        raise UnsupportedOpError(
            f"fake-tensor tracing cannot run '{op}' (it makes a tensor "
            "constant or a data-dependent shape); import with "
            "tracing_mode='real' (real values, real memory)") from None

    graph = gm.graph
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    names = pnames + bnames + input_names
    kinds = ["param"] * np_ + ["buffer"] * nb + ["input"] * len(inputs)
    trainable = [p.requires_grad for p in params.values()] + \
        [False] * (nb + len(inputs))
    prims = [Primal(nm, kd, nd, t)
             for nm, kd, nd, t in zip(names, kinds, placeholders, trainable)]
    tangents = placeholders[len(prims):]
    out_node = next(n for n in graph.nodes if n.op == "output")
    flat_out = list(_flatten_nodes(out_node.args[0]))
    outputs = flat_out[:1]
    grad_nodes = flat_out[1:1 + np_]
    jg = JointGraph(graph, prims, tangents, outputs,
                    list(zip(prims[:np_], grad_nodes)))
    jg.module = gm
    jg.partition()
    return jg


def autocast_context(dtype: Optional[torch.dtype]):
    """``torch.autocast`` on the CPU with ``dtype`` (nothing when None), as
    the importer captures and its reference runs a mixed-precision step."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=dtype)


def joint_forward_backward(fn):
    """``fn``'s forward and backward as one function of (primals,
    tangents) returning (outputs, the gradient of each primal or None), as
    AOTAutograd's joint function is (functorch's private
    ``create_joint_forward_backward`` in 1.13, ``create_joint`` in 2.x)."""
    def joint(primals, tangents):
        outs = fn(*primals)
        wanted = [p for p in primals
                  if isinstance(p, torch.Tensor) and p.requires_grad]
        pairs = [(o, t) for o, t in zip(outs, tangents)
                 if isinstance(o, torch.Tensor) and o.requires_grad]
        grads = []
        if wanted and pairs:
            grads = list(torch.autograd.grad([o for o, _ in pairs], wanted,
                                             grad_outputs=[t for _, t in
                                                           pairs],
                                             allow_unused=True))
        it = iter(grads)
        return outs, [next(it, None) if isinstance(p, torch.Tensor) and
                      p.requires_grad else None for p in primals]
    return joint


def tied_names(model: nn.Module) -> Dict[str, str]:
    """Each parameter or buffer name that ``named_parameters`` and
    ``named_buffers`` leave out because its tensor is shared (tied), mapped
    to the name they give that tensor."""
    first: Dict[int, str] = {}
    for name, t in list(model.named_parameters()) + \
            list(model.named_buffers()):
        first.setdefault(id(t), name)
    aliases = {}
    for prefix, module in model.named_modules(remove_duplicate=False):
        members = list(module._parameters.items()) + \
            list(module._buffers.items())
        for local, t in members:
            if t is None:
                continue
            name = f"{prefix}.{local}" if prefix else local
            if first.get(id(t), name) != name:
                aliases[name] = first[id(t)]
    return aliases


def _flatten_nodes(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _flatten_nodes(e)
    else:
        yield x
