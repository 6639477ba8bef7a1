"""remat's planner as an AOTAutograd partitioner.

AOTAutograd traces a training step into one joint forward+backward FX graph
and hands it to a *partitioner*, which decides which forward values the
backward keeps and splits the graph in two. ``partition_fn(budget=...)``
returns such a partitioner: it emits the joint graph as remat IR (the
importer's emitter), plans it with ``-remat-rematerialize`` through remat's
C API, maps the plan's saved set back to FX nodes and extracts the two
modules as functorch's own partitioners do. The backward recomputes every
forward value it needs and is not saved, from the saved ones.

It runs with torch 1.13's functorch (``functorch.compile.aot_module(...,
partition_fn=...)``) and with PyTorch 2.x (``torch._functorch``, for example
``aot_autograd(partition_fn=...)`` as a ``torch.compile`` backend).

The plan is made with ``recompute-twice=never`` and ``rewrites=none``: an FX
backward recomputes a value once, and runs PyTorch's own kernels.
"""

import inspect
from fractions import Fraction
from typing import Dict, List, Optional, Sequence

import torch
import torch.fx as fx
from torch.utils import _pytree as pytree

from .. import compiler
from ..capture import JointGraph, Primal
from ..emitter import emit_module

try:  # PyTorch 2.x
    from torch._functorch import partitioners as _partitioners
except ImportError:  # torch 1.13's functorch
    from functorch._src import partitioners as _partitioners

__all__ = ["partition_fn", "joint_graph_of", "PartitionedPlan"]


def _is_tangent(node: fx.Node) -> bool:
    return node.op == "placeholder" and "tangents" in str(node.target)


def _module_scope(node: fx.Node) -> str:
    """The dotted module path of a node: remat's own annotation when the
    trace had it (``remat.torch.compile``), else PyTorch 2.x's
    ``nn_module_stack`` (its innermost module), else none."""
    scope = node.meta.get("remat_scope")
    if scope is not None:
        return scope
    stack = node.meta.get("nn_module_stack")
    if stack:
        path = list(stack.values())[-1]
        if isinstance(path, tuple):
            path = path[0]
        return str(path).replace("L['self'].", "").replace("L__self___", "")
    return ""


def _is_view(node: fx.Node) -> bool:
    """Whether `node` is an aten op whose result aliases its first input
    (a view: ``t``, ``expand``, ``view``, ``transpose``, ``slice``...)."""
    schema = getattr(node.target, "_schema", None)
    if node.op != "call_function" or schema is None or not schema.returns:
        return False
    alias = schema.returns[0].alias_info
    return alias is not None and not alias.is_write and \
        bool(node.args) and isinstance(node.args[0], fx.Node)


def _view_chain(node: fx.Node) -> List[fx.Node]:
    """The views from `node` back to the first value that is no view,
    outermost first."""
    chain = []
    while _is_view(node):
        chain.append(node)
        node = node.args[0]
    return chain


def _views_for_backward(jg: JointGraph) -> bool:
    """Gives the backward its own copy of each saved view of a primal or of
    another saved value: PyTorch keeps such a view for free (it shares its
    base's storage), while remat's IR materializes transposes and
    broadcasts. With the copy the view is no saved value of the plan, and
    the FX backward recomputes it (a view costs nothing). Returns whether
    anything changed."""
    primals = {p.node for p in jg.primals}
    saved = set(jg.saved)
    backward = set(jg.backward)
    graph = jg.graph
    order = {n: i for i, n in enumerate(graph.nodes)}
    changed = False
    for node in list(jg.saved):
        chain = _view_chain(node)
        if not chain:
            continue
        base = chain[-1].args[0]
        if base not in primals and base not in saved:
            continue
        users = [u for u in node.users if u in backward]
        if not users:
            continue
        first = min(users, key=order.__getitem__)
        env = {base: base}
        with graph.inserting_before(first):
            for view in reversed(chain):
                copy = graph.node_copy(view, lambda a: env.get(a, a))
                copy.meta = dict(view.meta)
                env[view] = copy
        for u in users:
            u.replace_input_with(node, env[node])
        changed = True
    return changed


# `*_like(x, ...)` ops read only x's shape and type: the `new_*` op of the
# same fill, on a primal, makes the same tensor without keeping x.
_LIKE = {
    "aten.zeros_like.default": ("new_zeros", None),
    "aten.ones_like.default": ("new_ones", None),
    "aten.empty_like.default": ("new_empty", None),
    "aten.full_like.default": ("new_full", 1),
}


def _shapes_for_backward(jg: JointGraph) -> bool:
    """Rewrites each backward ``*_like(x)`` into the ``new_*`` op on a
    primal, so that the backward does not keep a forward tensor (or the
    base of a view) for its shape: remat's IR reads no value there, so its
    plan saves nothing for it. Returns whether anything changed."""
    if not jg.primals:
        return False
    anchor = jg.primals[0].node
    changed = False
    for node in list(jg.backward):
        like = _LIKE.get(str(node.target))
        if like is None or not isinstance(node.args[0], fx.Node):
            continue
        meta = node.meta.get("tensor_meta")
        if meta is None:
            continue
        name, value_index = like
        args = [anchor, list(meta.shape)]
        if value_index is not None:
            args.append(node.args[value_index])
        with jg.graph.inserting_before(node):
            new = jg.graph.call_function(
                getattr(torch.ops.aten, name).default, tuple(args),
                {"dtype": meta.dtype})
        new.meta = dict(node.meta)
        node.replace_all_uses_with(new)
        jg.graph.erase_node(node)
        changed = True
    return changed


def _num_fwd_outputs(joint_module: fx.GraphModule,
                     given: Optional[int]) -> int:
    """The joint graph's forward outputs: as PyTorch 2.x passes them, or
    from the output's tree spec as torch 1.13's partitioners read it."""
    if given is not None:
        return given
    return joint_module._out_spec.children_specs[0].num_leaves


def joint_graph_of(joint_module: fx.GraphModule,
                   num_fwd_outputs: Optional[int] = None,
                   names: Optional[Sequence[str]] = None) -> JointGraph:
    """The importer's view of an AOTAutograd joint graph: primals (named by
    ``names`` when given, else by placeholder), tangents, forward outputs and
    the gradient of each primal that has one, partitioned as
    ``default_partition`` does."""
    graph = joint_module.graph
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    primal_nodes = [n for n in placeholders if not _is_tangent(n)]
    tangents = [n for n in placeholders if _is_tangent(n)]
    output = next(n for n in graph.nodes if n.op == "output")
    flat = pytree.tree_flatten(output.args)[0]
    num_fwd_outputs = _num_fwd_outputs(joint_module, num_fwd_outputs)
    fwd_outputs, grads = flat[:num_fwd_outputs], flat[num_fwd_outputs:]
    if len(grads) != len(primal_nodes):
        raise ValueError(f"the joint graph has {len(primal_nodes)} primals "
                         f"but {len(grads)} gradient outputs")
    names = list(names) if names is not None else \
        [str(n.target) for n in primal_nodes]
    if len(names) != len(primal_nodes):
        raise ValueError(f"{len(names)} names for {len(primal_nodes)} "
                         "primals")
    primals = []
    for name, node, grad in zip(names, primal_nodes, grads):
        trainable = isinstance(grad, fx.Node)
        primals.append(Primal(name, "param" if trainable else "input", node,
                              trainable))
    for node in graph.nodes:
        node.meta["remat_scope"] = _module_scope(node)
    jg = JointGraph(graph, primals, tangents,
                    [o for o in fwd_outputs if isinstance(o, fx.Node)],
                    [(p, g) for p, g in zip(primals, grads)
                     if isinstance(g, fx.Node)])
    jg.module = joint_module
    jg.partition()
    if _shapes_for_backward(jg):
        jg.partition()
    if _views_for_backward(jg):
        jg.partition()
    joint_module.recompile()
    return jg


class PartitionedPlan:
    """One partitioning: the plan summary (``-remat-rematerialize``'s
    plan file, one function), the FX nodes it saves and recomputes, the
    emitted IR and the name (``remat.name`` tag) of each saved node."""

    def __init__(self, summary: dict, saved: List[fx.Node],
                 recomputed: List[fx.Node], text: str,
                 tags: Dict[fx.Node, str], forward: List[fx.Node]):
        self.summary = summary
        self.forward = forward
        self.tags = tags
        self.saved = saved
        self.recomputed = recomputed
        self.text = text

    @property
    def activation_bytes(self) -> int:
        """The planner's predicted saved-activation bytes."""
        return self.summary["activation_bytes"]


def _extract(joint_module, saved_values, num_fwd_outputs):
    """functorch's ``_extract_fwd_bwd_modules``, in 1.13's and 2.x's
    signatures."""
    extract = _partitioners._extract_fwd_bwd_modules
    params = inspect.signature(extract).parameters
    kwargs = {}
    if "saved_sym_nodes" in params:
        kwargs["saved_sym_nodes"] = []
    if "num_fwd_outputs" in params:
        kwargs["num_fwd_outputs"] = num_fwd_outputs
    return extract(joint_module, saved_values, **kwargs)


def plan_joint(joint_module: fx.GraphModule, *, budget=None,
               strategy: str = "auto", cost: str = "time",
               target: str = "h100",
               num_fwd_outputs: Optional[int] = None,
               names: Optional[Sequence[str]] = None,
               **options) -> PartitionedPlan:
    """Plans an AOTAutograd joint graph with remat; does not split it."""
    jg = joint_graph_of(joint_module, num_fwd_outputs, names)
    text, em = emit_module(jg, func_name="train_step")
    spec = dict(recompute_twice="never", rewrites="none", cost=cost,
                target=target)
    spec.update(options)
    summary = compiler.plan(text, budget=budget, strategy=strategy, **spec)
    plan = summary["plans"][0]
    recomputed_tags = {d["value"] for d in plan["decisions"]
                       if d["recompute"]}
    by_tag: Dict[str, fx.Node] = {tag: n for n, tag in em.tags.items()}
    unknown = sorted(recomputed_tags - set(by_tag))
    if unknown:
        raise RuntimeError("remat: the plan recomputes values the importer "
                           "did not tag: " + ", ".join(unknown[:5]))
    recomputed = [by_tag[t] for t in sorted(recomputed_tags)]
    dropped = set(recomputed)
    primal_nodes = [p.node for p in jg.primals]
    # Every primal may be read by a recomputation (functorch drops those
    # the backward does not read).
    skip = dropped | set(primal_nodes)
    saved = primal_nodes + [n for n in jg.saved if n not in skip]
    return PartitionedPlan(plan, saved, recomputed, text, dict(em.tags),
                           list(jg.forward))


def _recompute_at_first_use(module: fx.GraphModule, forward_names) -> None:
    """Moves each recomputed forward op of the backward, and each view, to
    just before its first user, as remat's IR places a recomputation.

    functorch's extraction keeps the joint graph's order, in which every
    forward op comes first: the backward would recompute all it needs at
    its start and hold it all at once, as high a peak as saving it."""
    graph = module.graph
    # Positions in the current order (exact midpoints for moved nodes).
    position = {n: Fraction(i) for i, n in enumerate(graph.nodes)}
    for node in reversed(list(graph.nodes)):
        # (Views too: autograd's `detach` of a softmax output, traced with
        # the forward, would pin its recomputation to the backward's start.)
        if node.op != "call_function" or not (node.name in forward_names or
                                              _is_view(node)):
            continue
        users = list(node.users)
        if not users:
            continue
        first = min(users, key=position.__getitem__)
        if first.prev is node:
            continue
        position[node] = (position[first.prev] + position[first]) / 2
        first.prepend(node)
    graph.lint()
    module.recompile()


def partition_fn(budget=None, strategy: str = "auto", cost: str = "time",
                 target: str = "h100", names: Optional[Sequence[str]] = None,
                 **options):
    """An AOTAutograd partitioner that saves what remat's plan saves.

    ``budget``: the peak budget (``"50%"`` of the step's peak without remat,
    ``"6GiB"`` or bytes); ``strategy``, ``cost`` and ``target`` as the pass
    options of ``-remat-rematerialize``, and any other option of that pass
    by its name with ``_`` for ``-``. The returned function takes
    ``(joint_module, joint_inputs, *, num_fwd_outputs=None, names=None)``;
    each plan it makes is appended to its ``plans`` list
    (``PartitionedPlan``). ``names`` (here or per call) name the primals in
    the emitted IR."""
    default_names = names

    def partition(joint_module: fx.GraphModule, _joint_inputs=None, *,
                  num_fwd_outputs: Optional[int] = None,
                  names: Optional[Sequence[str]] = None, **_kwargs):
        plan = plan_joint(joint_module, budget=budget, strategy=strategy,
                          cost=cost, target=target,
                          num_fwd_outputs=num_fwd_outputs,
                          names=names or default_names, **options)
        partition.plans.append(plan)
        forward, backward = _extract(
            joint_module, list(plan.saved),
            _num_fwd_outputs(joint_module, num_fwd_outputs))
        _recompute_at_first_use(backward, {n.name for n in plan.forward})
        return forward, backward

    partition.plans = []
    return partition
