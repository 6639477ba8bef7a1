"""Emit a captured joint graph as MLIR in linalg/tensor/arith/math + remat.

The output is one ``func.func`` per training step:

* the forward ops in the function body (optionally grouped into
  ``remat.checkpoint`` regions by module path);
* one ``remat.backward`` whose operands are exactly the forward values the
  backward reads (the values autograd saves), and whose results are the
  gradients of the trainable parameters;
* ``remat.name`` tags on every saved forward value, named after the module
  hierarchy (``blocks.3.attn.softmax``), and a ``loc`` with the same name on
  every op.

Every aten op is lowered by a function in ``LOWERINGS``; an op without one is
an ``UnsupportedOpError`` naming the op and its module.
"""

import fnmatch
import math
import operator
import struct
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx as fx

from .capture import JointGraph

ELEM = {
    torch.float32: "f32",
    torch.bfloat16: "bf16",
    torch.float16: "f16",
    torch.float64: "f64",
    torch.int64: "i64",
    torch.int32: "i32",
    torch.bool: "i1",
}
FLOATS = ("f32", "bf16", "f16", "f64")
# The most elements a traced tensor constant may have that is not a splat.
MAX_DENSE = 4096


class UnsupportedOpError(Exception):
    """An aten op (or a form of one) the importer cannot lower."""


@dataclass(frozen=True)
class V:
    """An SSA tensor value: its name, static shape and element type."""

    name: str
    shape: Tuple[int, ...]
    elem: str

    @property
    def ty(self) -> str:
        return tensor_type(self.shape, self.elem)


def tensor_type(shape, elem) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def float_literal(v: float, elem: str) -> str:
    if math.isinf(v) or math.isnan(v):
        bits = {"f32": (">f", ">I", 8), "f64": (">d", ">Q", 16)}
        if elem in bits:
            f, i, w = bits[elem]
            raw = struct.unpack(i, struct.pack(f, v))[0]
            return f"0x{raw:0{w}X}"
        if elem == "bf16":
            raw = struct.unpack(">I", struct.pack(">f", v))[0] >> 16
            return f"0x{raw:04X}"
        raw = struct.unpack(">H", struct.pack(">e", v))[0]
        return f"0x{raw:04X}"
    return f"{v:.9e}"


def literal(v, elem: str) -> str:
    if elem in FLOATS:
        return float_literal(float(v), elem)
    if elem == "i1":
        return "true" if v else "false"
    return str(int(v))


def constant_text(v, elem: str) -> str:
    """The attribute of an ``arith.constant`` (a boolean carries its type)."""
    return literal(v, elem) if elem == "i1" else f"{literal(v, elem)} : {elem}"


def affine(nloops: int, exprs: Sequence[str]) -> str:
    dims = ", ".join(f"d{i}" for i in range(nloops))
    return f"affine_map<({dims}) -> ({', '.join(exprs)})>"


def broadcast_map(shape, out_shape) -> str:
    """The indexing map reading ``shape`` broadcast (numpy rules) to out."""
    rank, out_rank = len(shape), len(out_shape)
    exprs = []
    for i, d in enumerate(shape):
        j = out_rank - rank + i
        exprs.append("0" if d == 1 and out_shape[j] != 1 else f"d{j}")
    return affine(out_rank, exprs)


class Scalar:
    """Builds the scalar body of a ``linalg.generic``."""

    def __init__(self, em: "Emitter", elem: str):
        self.em, self.elem, self.lines = em, elem, []

    def _op(self, text: str) -> str:
        name = self.em.fresh()
        self.lines.append(f"{name} = {text}")
        return name

    def c(self, v, elem: Optional[str] = None) -> str:
        elem = elem or self.elem
        return self._op(f"arith.constant {constant_text(v, elem)}")

    def val(self, x) -> str:
        return x if isinstance(x, str) else self.c(x)

    def bin(self, op, a, b):
        return self._op(f"arith.{op} {self.val(a)}, {self.val(b)} : "
                        f"{self.elem}")

    def add(self, a, b): return self.bin("addf", a, b)
    def sub(self, a, b): return self.bin("subf", a, b)
    def mul(self, a, b): return self.bin("mulf", a, b)
    def div(self, a, b): return self.bin("divf", a, b)
    def max(self, a, b): return self.bin("maximumf", a, b)

    def un(self, op, a):
        return self._op(f"{op} {self.val(a)} : {self.elem}")

    def neg(self, a): return self.un("arith.negf", a)
    def exp(self, a): return self.un("math.exp", a)
    def log(self, a): return self.un("math.log", a)
    def tanh(self, a): return self.un("math.tanh", a)
    def erf(self, a): return self.un("math.erf", a)
    def sqrt(self, a): return self.un("math.sqrt", a)
    def rsqrt(self, a): return self.un("math.rsqrt", a)

    def sigmoid(self, a):
        return self.div(1.0, self.add(1.0, self.exp(self.neg(a))))

    def select(self, cond, a, b, elem=None):
        return self._op(f"arith.select {cond}, {self.val(a)}, "
                        f"{self.val(b)} : {elem or self.elem}")

    def index(self, dim: int) -> str:
        return self._op(f"linalg.index {dim} : index")

    def to_index(self, x: str, elem: str) -> str:
        return self._op(f"arith.index_cast {x} : {elem} to index")

    def cmpi(self, pred, a, b, elem):
        return self._op(f"arith.cmpi {pred}, {a}, {b} : {elem}")

    def convert(self, x: str, src: str, dst: str) -> str:
        """Element-type conversion, as aten's ``_to_copy`` does it."""
        if src == dst:
            return x
        width = {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}
        if src in FLOATS and dst in FLOATS:
            if src in ("f16", "bf16") and dst in ("f16", "bf16"):
                x = self.convert(x, src, "f32")
                src = "f32"
            op = "extf" if width[dst] > width[src] else "truncf"
            return self._op(f"arith.{op} {x} : {src} to {dst}")
        if src == "i1" and dst in FLOATS:
            return self._op(f"arith.uitofp {x} : i1 to {dst}")
        if src in ("i32", "i64") and dst in FLOATS:
            return self._op(f"arith.sitofp {x} : {src} to {dst}")
        if src in FLOATS and dst == "i1":
            zero = self.c(0.0, src)
            return self._op(f"arith.cmpf une, {x}, {zero} : {src}")
        raise UnsupportedOpError(f"conversion from {src} to {dst}")


class Emitter:
    """Lowers a ``JointGraph`` to the text of an MLIR module."""

    def __init__(self, jg: JointGraph, *, func_name: str = "train_step",
                 checkpoint: Sequence[str] = (), policy: str = "nothing",
                 accumulate: bool = False, private: bool = False,
                 wide_sums: bool = False):
        self.jg = jg
        # Matmuls and sums of 16-bit floats accumulate in f32, as PyTorch's
        # CPU kernels do under autocast (otherwise in their own type).
        self.wide_sums = wide_sums
        self.func_name = func_name
        self.accumulate = accumulate
        self.private = private
        self.checkpoint = list(checkpoint)
        self.policy = policy
        self.counter = 0
        self.lines: List[str] = []
        self.indent = 1
        self.locs: Dict[str, str] = {}
        self.loc = ""
        self.vals: Dict[fx.Node, object] = {}
        self.node: Optional[fx.Node] = None
        self.tags: Dict[fx.Node, str] = {}
        self.tag_counts: Dict[str, int] = {}
        self.saved_values: List[V] = []
        self.grad_names: List[str] = []

    # -- text helpers -----------------------------------------------------

    def fresh(self) -> str:
        self.counter += 1
        return f"%{self.counter}"

    def loc_alias(self, name: str) -> str:
        if name not in self.locs:
            self.locs[name] = f"#loc{len(self.locs)}"
        return self.locs[name]

    def emit(self, text: str) -> None:
        suffix = f" loc({self.loc})" if self.loc else ""
        self.lines.append("  " * self.indent + text + suffix)

    def raw(self, text: str) -> None:
        self.lines.append("  " * self.indent + text)

    # -- tensor building blocks -----------------------------------------

    def empty(self, shape, elem) -> V:
        v = V(self.fresh(), tuple(shape), elem)
        self.emit(f"{v.name} = tensor.empty() : {v.ty}")
        return v

    def full(self, shape, elem, value) -> V:
        e = self.empty(shape, elem)
        c = self.fresh()
        self.emit(f"{c} = arith.constant {constant_text(value, elem)}")
        v = V(self.fresh(), tuple(shape), elem)
        self.emit(f"{v.name} = linalg.fill ins({c} : {elem}) outs({e.name} : "
                  f"{e.ty}) -> {v.ty}")
        return v

    def generic(self, out_shape, out_elem, ins: Sequence[V],
                in_maps: Sequence[str], out_map: str, iterators: Sequence[str],
                body: Callable[[Scalar, List[str], str], str],
                init: Optional[V] = None) -> V:
        """A ``linalg.generic`` with one result; ``body`` returns the
        yielded scalar given the input block arguments and the output one."""
        init = init or self.empty(out_shape, out_elem)
        args = [self.fresh() for _ in ins] + [self.fresh()]
        s = Scalar(self, out_elem)
        result = body(s, args[:-1], args[-1])
        v = V(self.fresh(), tuple(out_shape), out_elem)
        maps = ", ".join(list(in_maps) + [out_map])
        its = ", ".join(f'"{i}"' for i in iterators)
        ins_text = ""
        if ins:
            ins_text = (f"ins({', '.join(x.name for x in ins)} : "
                        f"{', '.join(x.ty for x in ins)}) ")
        self.raw(f"{v.name} = linalg.generic {{indexing_maps = [{maps}], "
                 f"iterator_types = [{its}]}} {ins_text}"
                 f"outs({init.name} : {init.ty}) {{")
        bargs = ", ".join(f"{a}: {t}" for a, t in
                          zip(args, [x.elem for x in ins] + [out_elem]))
        self.raw(f"^bb0({bargs}):")
        for line in s.lines:
            self.raw("  " + line)
        self.raw(f"  linalg.yield {result} : {out_elem}")
        self.emit(f"}} -> {v.ty}")
        return v

    def ew(self, out_shape, out_elem, ins: Sequence[V],
           body: Callable[..., str], convert: bool = True) -> V:
        """Element-wise op with broadcasting; ``body(s, *args)`` gets the
        inputs converted to the output's element type, or as they are with
        ``convert=False`` (i1 masks for ``select``, casts)."""
        rank = len(out_shape)

        def wrapped(s: Scalar, args, _out):
            if convert:
                args = [s.convert(a, x.elem, out_elem)
                        if x.elem in FLOATS or out_elem in FLOATS else a
                        for a, x in zip(args, ins)]
            return body(s, *args)

        return self.generic(out_shape, out_elem, ins,
                            [broadcast_map(x.shape, out_shape) for x in ins],
                            affine(rank, [f"d{i}" for i in range(rank)]),
                            ["parallel"] * rank, wrapped)

    def reduce(self, x: V, dims: Sequence[int], kind: str = "add",
               keepdim: bool = False, elem: Optional[str] = None) -> V:
        elem = elem or x.elem
        if kind == "add" and self.widens(elem):
            # (In f32, rounded once, as PyTorch sums 16-bit floats.)
            wide = self.reduce(x, dims, kind, keepdim, "f32")
            return self.ew(wide.shape, elem, [wide], lambda s, a: a)
        rank = len(x.shape)
        dims = sorted({d % rank for d in dims}) if rank else []
        out = tuple(s for i, s in enumerate(x.shape) if i not in dims)
        init = self.full(out, elem, 0.0 if kind == "add" else float("-inf"))

        def body(s: Scalar, args, acc):
            a = s.convert(args[0], x.elem, elem)
            return s.add(a, acc) if kind == "add" else s.max(a, acc)

        r = self.generic(out, elem, [x],
                         [affine(rank, [f"d{i}" for i in range(rank)])],
                         affine(rank, [f"d{i}" for i in range(rank)
                                       if i not in dims]),
                         ["reduction" if i in dims else "parallel"
                          for i in range(rank)], body, init=init)
        if keepdim:
            r = self.reshape(r, tuple(1 if i in dims else s
                                      for i, s in enumerate(x.shape)))
        return r

    def reshape(self, x: V, shape) -> V:
        shape = tuple(shape)
        if shape == x.shape:
            return x
        groups = reassociation(x.shape, shape)
        if groups is None:  # one side has rank 0: everything is size 1
            mid = self.collapse(x, [], ()) if x.shape else x
            return self.expand(mid, [], shape) if shape else mid
        src_groups, dst_groups = groups
        mid_shape = tuple(math.prod(x.shape[i] for i in g)
                          for g in src_groups)
        mid = x
        if any(len(g) > 1 for g in src_groups):
            mid = self.collapse(x, src_groups, mid_shape)
        if any(len(g) > 1 for g in dst_groups):
            mid = self.expand(mid, dst_groups, shape)
        return mid

    def collapse(self, x: V, groups, shape) -> V:
        v = V(self.fresh(), tuple(shape), x.elem)
        self.emit(f"{v.name} = tensor.collapse_shape {x.name} "
                  f"{reassoc_text(groups)} : {x.ty} into {v.ty}")
        return v

    def expand(self, x: V, groups, shape) -> V:
        v = V(self.fresh(), tuple(shape), x.elem)
        self.emit(f"{v.name} = tensor.expand_shape {x.name} "
                  f"{reassoc_text(groups)} output_shape "
                  f"[{', '.join(map(str, shape))}] : {x.ty} into {v.ty}")
        return v

    def transpose(self, x: V, perm: Sequence[int]) -> V:
        perm = list(perm)
        if perm == sorted(perm):
            return x
        shape = tuple(x.shape[p] for p in perm)
        e = self.empty(shape, x.elem)
        v = V(self.fresh(), shape, x.elem)
        self.emit(f"{v.name} = linalg.transpose ins({x.name} : {x.ty}) "
                  f"outs({e.name} : {e.ty}) permutation = "
                  f"[{', '.join(map(str, perm))}]")
        return v

    def broadcast_to(self, x: V, shape) -> V:
        shape = tuple(shape)
        if x.shape == shape:
            return x
        return self.ew(shape, x.elem, [x], lambda s, a: a)

    def extract_slice(self, x: V, offsets, sizes) -> V:
        v = V(self.fresh(), tuple(sizes), x.elem)
        ones = ", ".join("1" for _ in sizes)
        self.emit(f"{v.name} = tensor.extract_slice {x.name}"
                  f"[{', '.join(map(str, offsets))}] "
                  f"[{', '.join(map(str, sizes))}] [{ones}] : "
                  f"{x.ty} to {v.ty}")
        return v

    def insert_slice(self, src: V, dst: V, offsets) -> V:
        v = V(self.fresh(), dst.shape, dst.elem)
        ones = ", ".join("1" for _ in src.shape)
        self.emit(f"{v.name} = tensor.insert_slice {src.name} into "
                  f"{dst.name}[{', '.join(map(str, offsets))}] "
                  f"[{', '.join(map(str, src.shape))}] [{ones}] : "
                  f"{src.ty} into {dst.ty}")
        return v

    def widens(self, elem: str) -> bool:
        """Whether sums of ``elem`` accumulate in f32 (``wide_sums``)."""
        return self.wide_sums and elem in ("bf16", "f16")

    def matmul(self, a: V, b: V, shape, elem, batch=False,
               keep_wide=False) -> V:
        """``a @ b`` in ``elem``; with ``wide_sums``, a 16-bit product
        accumulates in f32 and is rounded once (kept in f32 with
        ``keep_wide``, for a caller that adds to it first)."""
        if self.widens(elem):
            wide = self.matmul(a, b, shape, "f32", batch)
            if keep_wide:
                return wide
            return self.ew(tuple(shape), elem, [wide], lambda s, x: x)
        z = self.full(shape, elem, 0.0)
        v = V(self.fresh(), tuple(shape), elem)
        op = "linalg.batch_matmul" if batch else "linalg.matmul"
        self.emit(f"{v.name} = {op} ins({a.name}, {b.name} : {a.ty}, {b.ty}) "
                  f"outs({z.name} : {z.ty}) -> {v.ty}")
        return v

    # -- graph traversal --------------------------------------------------

    def meta(self, node: fx.Node) -> Tuple[Tuple[int, ...], str]:
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            val = node.meta.get("tensor_meta")  # real/meta-mode tracing
        if not hasattr(val, "shape") or not hasattr(val, "dtype"):
            raise UnsupportedOpError(f"'{node.target}' has no tensor type")
        if val.dtype not in ELEM:
            raise UnsupportedOpError(f"element type {val.dtype}")
        return tuple(int(d) for d in val.shape), ELEM[val.dtype]

    def arg(self, a):
        if isinstance(a, fx.Node):
            if a.op == "get_attr" and a not in self.vals:
                self.vals[a] = self.constant(a)
            return self.vals[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.arg(e) for e in a)
        return a

    def constant(self, node: fx.Node) -> V:
        """A tensor constant of the traced module (``_tensor_constant0``):
        a splat, or a dense literal of at most ``MAX_DENSE`` elements."""
        t = getattr(getattr(self.jg, "module", None), str(node.target), None)
        if not isinstance(t, torch.Tensor) or t.dtype not in ELEM:
            raise UnsupportedOpError(f"constant '{node.target}' is not a "
                                     "tensor of a known element type")
        shape, elem = tuple(t.shape), ELEM[t.dtype]
        values = t.detach().reshape(-1).tolist()
        if values and all(v == values[0] for v in values):
            return self.full(shape, elem, values[0])
        if len(values) > MAX_DENSE:
            raise UnsupportedOpError(f"constant '{node.target}' of "
                                     f"{len(values)} distinct elements")
        v = V(self.fresh(), shape, elem)
        body = ", ".join(literal(x, elem) for x in values)
        self.emit(f"{v.name} = arith.constant dense<[{body}]> : "
                  f"{tensor_type((len(values),), elem)}")
        return self.reshape(v, shape)

    def lower(self, node: fx.Node) -> None:
        self.node = node
        scope = node.meta.get("remat_scope", "")
        name = op_name(node)
        self.loc = self.loc_alias(f"{scope}.{name}" if scope else name)
        fn = LOWERINGS.get(target_key(node))
        if fn is None:
            raise UnsupportedOpError(
                f"unsupported op '{target_key(node)}' (node '{node.name}') "
                f"in module '{scope or '<top>'}'")
        args = [self.arg(a) for a in node.args]
        kwargs = {k: self.arg(v) for k, v in node.kwargs.items()}
        try:
            result = fn(self, node, *args, **kwargs)
        except UnsupportedOpError as e:
            raise UnsupportedOpError(
                f"{e} in op '{target_key(node)}' (node '{node.name}') in "
                f"module '{scope or '<top>'}'") from None
        self.vals[node] = result
        # In-place ops: later readers of the mutated tensor see the result.
        if inplace(node) and isinstance(node.args[0], fx.Node):
            self.vals[node.args[0]] = result

    def tag(self, node: fx.Node) -> None:
        """Put a ``remat.name`` on a saved forward value."""
        v = self.vals[node]
        scope = node.meta.get("remat_scope", "")
        base = f"{scope}.{op_name(node)}" if scope else op_name(node)
        n = self.tag_counts.get(base, 0)
        self.tag_counts[base] = n + 1
        tag = base if n == 0 else f"{base}.{n}"
        self.tags[node] = tag
        t = V(self.fresh(), v.shape, v.elem)
        self.emit(f'{t.name} = remat.name "{tag}" {v.name} : {v.ty}')
        self.vals[node] = t

    # -- the function ----------------------------------------------------

    def groups(self) -> List[Tuple[Optional[str], List[fx.Node]]]:
        """Forward nodes split into runs: (checkpoint root or None, nodes)."""
        out: List[Tuple[Optional[str], List[fx.Node]]] = []
        for node in self.jg.forward:
            root = None
            if node.target is operator.getitem:
                root = out[-1][0] if out else None
            else:
                root = self.checkpoint_root(node.meta.get("remat_scope", ""))
            if out and out[-1][0] == root:
                out[-1][1].append(node)
            else:
                out.append((root, [node]))
        return out

    def checkpoint_root(self, scope: str) -> Optional[str]:
        parts = scope.split(".") if scope else []
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if any(fnmatch.fnmatchcase(prefix, p) for p in self.checkpoint):
                return prefix
        return None

    def emit_function(self) -> List[str]:
        jg = self.jg
        saved = set(jg.saved)
        arg_text = []
        for p in jg.primals:
            shape, elem = self.meta(p.node)
            v = V("%" + ssa_name(p.name), shape, elem)
            self.vals[p.node] = v
            arg_text.append(f"{v.name}: {v.ty} loc({self.loc_alias(p.name)})")
        header_at = len(self.lines)

        for root, nodes in self.groups():
            if root is None:
                for node in nodes:
                    self.lower(node)
                    if node in saved and isinstance(self.vals[node], V):
                        self.tag(node)
            else:
                self.emit_checkpoint(root, nodes, saved)

        loss = self.vals[jg.outputs[0]]
        grads = self.emit_backward()
        if self.accumulate:
            grads = self.accumulate_into(grads, arg_text)
        results = [loss] + grads
        self.loc = ""
        self.emit(f"return {', '.join(r.name for r in results)} : "
                  f"{', '.join(r.ty for r in results)}")
        self.lines.insert(
            header_at,
            f"  func.func {'private ' if self.private else ''}"
            f"@{self.func_name}({', '.join(arg_text)}) -> "
            f"({', '.join(r.ty for r in results)}) {{")
        self.lines.append("  }")
        return self.lines

    def accumulate_into(self, grads: List[V], arg_text: List[str]) -> List[V]:
        """Gradient accumulation: an argument per gradient (``%acc.<param>``,
        after the primals) that the step adds its gradient into and returns.
        The add writes into the accumulator (``outs``), so bufferization
        updates the argument's buffer in place."""
        out = []
        for name, g in zip(self.grad_names, grads):
            acc = V("%acc." + ssa_name(name), g.shape, g.elem)
            arg_text.append(f"{acc.name}: {acc.ty} "
                            f"loc({self.loc_alias('acc.' + name)})")
            rank = len(g.shape)
            ident = affine(rank, [f"d{i}" for i in range(rank)])
            self.loc = self.loc_alias("acc." + name)
            out.append(self.generic(
                g.shape, g.elem, [g], [ident], ident, ["parallel"] * rank,
                lambda s, args, acc_value: s.add(acc_value, args[0]),
                init=acc))
        return out

    def unique_values(self, nodes) -> List[V]:
        """The tensor values of ``nodes``, each SSA value once, in order."""
        out: List[V] = []
        seen = set()
        for node in nodes:
            for x in flat_values(self.vals[node]):
                if x.name not in seen:
                    seen.add(x.name)
                    out.append(x)
        return out

    def enter_region(self, operands: List[V]):
        """Makes block arguments for ``operands`` and rebinds every value to
        them while a region body is emitted. Returns the block arguments by
        outer name and the value map to restore afterwards."""
        block = {x.name: V(self.fresh(), x.shape, x.elem) for x in operands}
        outer = dict(self.vals)
        for n, v in outer.items():
            self.vals[n] = rebind(v, block)
        return block, outer

    def emit_checkpoint(self, root: str, nodes: List[fx.Node], saved) -> None:
        inside = set(nodes)
        inputs = self.unique_values(a for node in nodes
                                    for a in node.all_input_nodes
                                    if a not in inside)
        block, outer_vals = self.enter_region(inputs)
        body_start = len(self.lines)
        self.indent += 1
        for node in nodes:
            self.lower(node)
            if node in saved and isinstance(self.vals[node], V):
                self.tag(node)
        self.indent -= 1
        body = self.lines[body_start:]
        del self.lines[body_start:]
        escaping = []
        for node in nodes:
            v = self.vals[node]
            if not isinstance(v, V):
                continue
            if any(u not in inside for u in node.users) or \
                    node in self.jg.outputs:
                if all(e.name != v.name for _, e in escaping):
                    escaping.append((node, v))
        # The region's results replace the escaping values outside it.
        base = self.fresh()
        many = len(escaping) > 1
        results = [V(f"{base}#{i}" if many else base, v.shape, v.elem)
                   for i, (_, v) in enumerate(escaping)]
        by_inner = {v.name: r for (_, v), r in zip(escaping, results)}
        inner_vals = {n: self.vals[n] for n in nodes}
        self.vals = outer_vals
        for node, v in inner_vals.items():
            self.vals[node] = rebind(v, by_inner)
        self.loc = self.loc_alias(root)
        lhs = "" if not results else (
            f"{base}:{len(results)} = " if many else f"{base} = ")
        self.raw(f"{lhs}remat.checkpoint("
                 f"{', '.join(x.name for x in inputs)}) "
                 f"policy(#remat.policy<{self.policy}>) : "
                 f"({', '.join(x.ty for x in inputs)}) -> "
                 f"({', '.join(r.ty for r in results)}) {{")
        bargs = ", ".join(f"{block[x.name].name}: {x.ty}" for x in inputs)
        self.raw(f"^bb0({bargs}):")
        self.lines.extend(body)
        self.indent += 1
        self.loc = ""
        inner = [v for _, v in escaping]
        self.emit(f"remat.yield {', '.join(v.name for v in inner)} : "
                  f"{', '.join(v.ty for v in inner)}")
        self.indent -= 1
        self.loc = self.loc_alias(root)
        self.emit("}")

    def emit_backward(self) -> List[V]:
        jg = self.jg
        operands = self.unique_values(jg.saved)
        self.saved_values = operands
        block, outer = self.enter_region(operands)
        body_start = len(self.lines)
        self.indent += 1
        self.loc = self.loc_alias("loss.backward")
        for t in jg.tangents:
            shape, elem = self.meta(t)
            self.vals[t] = self.full(shape, elem, 1.0)
        for node in jg.backward:
            self.lower(node)
        grads, names = [], []
        for primal, node in jg.grads:
            if node is None:
                continue
            grads.append(self.vals[node])
            names.append(primal.name)
        self.grad_names = names
        self.loc = ""
        self.emit(f"remat.yield {', '.join(g.name for g in grads)} : "
                  f"{', '.join(g.ty for g in grads)}")
        self.indent -= 1
        body = self.lines[body_start:]
        del self.lines[body_start:]
        self.vals = outer
        res = self.fresh()
        lhs = res + (f":{len(grads)}" if len(grads) > 1 else "")
        self.raw(f"{lhs} = remat.backward("
                 f"{', '.join(x.name for x in operands)}) : "
                 f"({', '.join(x.ty for x in operands)}) -> "
                 f"({', '.join(g.ty for g in grads)}) {{")
        self.raw("^bb0(" + ", ".join(f"{block[x.name].name}: {x.ty}"
                                     for x in operands) + "):")
        self.lines.extend(body)
        self.loc = self.loc_alias("loss.backward")
        self.emit("}")
        return [V(f"{res}#{i}" if len(grads) > 1 else res, g.shape, g.elem)
                for i, g in enumerate(grads)]

    def loc_defs(self) -> List[str]:
        return [f'{alias} = loc("{name}")'
                for name, alias in self.locs.items()]


def flat_values(v) -> List[V]:
    if isinstance(v, V):
        return [v]
    if isinstance(v, (list, tuple)):
        return [x for e in v for x in flat_values(e)]
    return []


def rebind(v, table: Dict[str, V]):
    if isinstance(v, V):
        return table.get(v.name, v)
    if isinstance(v, (list, tuple)):
        return type(v)(rebind(e, table) for e in v)
    return v


def reassociation(src, dst):
    """Groups for a static reshape as collapse + expand, or None when one
    side has rank 0."""
    if not src or not dst:
        return None
    sg, dg = [], []
    i = j = 0
    while i < len(src) and j < len(dst):
        gs, gd = [i], [j]
        ps, pd = src[i], dst[j]
        i, j = i + 1, j + 1
        while ps != pd:
            if ps < pd:
                gs.append(i)
                ps *= src[i]
                i += 1
            else:
                gd.append(j)
                pd *= dst[j]
                j += 1
        sg.append(gs)
        dg.append(gd)
    sg[-1].extend(range(i, len(src)))
    dg[-1].extend(range(j, len(dst)))
    return sg, dg


def reassoc_text(groups) -> str:
    return "[" + ", ".join("[" + ", ".join(map(str, g)) + "]"
                           for g in groups) + "]"


def ssa_name(name: str) -> str:
    out = "".join(c if c.isalnum() or c in "._$" else "_" for c in name)
    return out if out[:1].isalpha() or out[:1] == "_" else "_" + out


def target_key(node: fx.Node) -> str:
    if node.target is operator.getitem:
        return "getitem"
    return str(node.target)


TUPLE_PARTS = {
    "layer_norm": ("", "mean", "rstd"),
    "nll_loss_forward": ("", "total_weight"),
}


def op_name(node: fx.Node) -> str:
    """A short name for the op: ``softmax``, ``layer_norm.rstd``, ..."""
    if node.target is operator.getitem:
        if not isinstance(node.args[0], fx.Node):
            return "getitem"
        base, index = op_name(node.args[0]), node.args[1]
        parts = TUPLE_PARTS.get(base)
        if parts and index < len(parts):
            return f"{base}.{parts[index]}" if parts[index] else base
        return f"{base}.{index}"
    key = target_key(node)
    base = key.split(".")[1] if key.startswith(("aten.", "remat.")) else key
    base = base.strip("_") or base
    return base[len("native_"):] if base.startswith("native_") else base


def inplace(node: fx.Node) -> bool:
    key = target_key(node)
    return key.startswith("aten.") and key.split(".")[1].endswith("_") and \
        not key.split(".")[1].startswith("_")


def dims_of(dims, rank) -> List[int]:
    if dims is None:
        return list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    return sorted({d % rank for d in dims}) if rank else []


# ---------------------------------------------------------------------------
# Lowerings: fn(emitter, node, *args, **kwargs) -> V | tuple | list | None
# ---------------------------------------------------------------------------

LOWERINGS: Dict[str, Callable] = {}


def lowers(*names):
    def deco(fn):
        for n in names:
            LOWERINGS[n] = fn
        return fn
    return deco


def out_meta(em: Emitter):
    return em.meta(em.node)


def binary(fn):
    """An element-wise op of two operands, each a tensor or a scalar."""
    def lower(em: Emitter, node, a, b, *, alpha=1, **_):
        shape, elem = out_meta(em)
        ins = [x for x in (a, b) if isinstance(x, V)]

        def body(s, *args):
            it = iter(args)
            x = next(it) if isinstance(a, V) else s.c(a)
            y = next(it) if isinstance(b, V) else s.c(b)
            return fn(s, x, y, alpha)
        return em.ew(shape, elem, ins, body)
    return lower


def _scaled(s, y, alpha):
    return y if alpha == 1 else s.mul(y, float(alpha))


LOWERINGS.update({
    "aten.add.Tensor": binary(lambda s, x, y, al: s.add(x, _scaled(s, y, al))),
    "aten.add.Scalar": binary(lambda s, x, y, al: s.add(x, _scaled(s, y, al))),
    "aten.sub.Tensor": binary(lambda s, x, y, al: s.sub(x, _scaled(s, y, al))),
    "aten.sub.Scalar": binary(lambda s, x, y, al: s.sub(x, _scaled(s, y, al))),
    "aten.rsub.Scalar": binary(lambda s, x, y, al:
                               s.sub(y, _scaled(s, x, al))),
    "aten.rsub.Tensor": binary(lambda s, x, y, al:
                               s.sub(y, _scaled(s, x, al))),
    "aten.mul.Tensor": binary(lambda s, x, y, al: s.mul(x, y)),
    "aten.mul.Scalar": binary(lambda s, x, y, al: s.mul(x, y)),
    "aten.div.Tensor": binary(lambda s, x, y, al: s.div(x, y)),
    "aten.div.Scalar": binary(lambda s, x, y, al: s.div(x, y)),
})


def unary(fn):
    def lower(em: Emitter, node, x, *rest, **kw):
        shape, elem = out_meta(em)
        return em.ew(shape, elem, [x], lambda s, a: fn(s, a, *rest, **kw))
    return lower


def _pow(s, a, e):
    if e == 2:
        return s.mul(a, a)
    if e == 1:
        return a
    if e == 0.5:
        return s.sqrt(a)
    if e == -0.5:
        return s.rsqrt(a)
    if e == -1:
        return s.div(1.0, a)
    if e == 3:
        return s.mul(s.mul(a, a), a)
    return s.bin("powf", a, float(e))


SQRT_2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu(s, x, approximate="none"):
    if approximate == "tanh":
        inner = s.mul(SQRT_2_OVER_PI,
                      s.add(x, s.mul(0.044715, s.mul(s.mul(x, x), x))))
        return s.mul(s.mul(0.5, x), s.add(1.0, s.tanh(inner)))
    return s.mul(s.mul(0.5, x), s.add(1.0, s.erf(s.mul(x, 1.0 / SQRT_2))))


def _gelu_backward(s, g, x, approximate="none"):
    if approximate == "tanh":
        x2 = s.mul(x, x)
        inner = s.mul(SQRT_2_OVER_PI, s.add(x, s.mul(0.044715, s.mul(x2, x))))
        t = s.tanh(inner)
        left_d = s.mul(0.5, s.add(1.0, t))
        tanh_d = s.sub(1.0, s.mul(t, t))
        inner_d = s.mul(SQRT_2_OVER_PI, s.add(1.0, s.mul(3 * 0.044715, x2)))
        right_d = s.mul(s.mul(s.mul(0.5, x), tanh_d), inner_d)
        return s.mul(g, s.add(left_d, right_d))
    cdf = s.mul(0.5, s.add(1.0, s.erf(s.mul(x, 1.0 / SQRT_2))))
    pdf = s.mul(INV_SQRT_2PI, s.exp(s.mul(-0.5, s.mul(x, x))))
    return s.mul(g, s.add(cdf, s.mul(x, pdf)))


def _silu_backward(s, g, x):
    sg = s.sigmoid(x)
    return s.mul(s.mul(g, sg), s.add(1.0, s.mul(x, s.sub(1.0, sg))))


LOWERINGS.update({
    "aten.neg.default": unary(lambda s, a: s.neg(a)),
    "aten.exp.default": unary(lambda s, a: s.exp(a)),
    "aten.log.default": unary(lambda s, a: s.log(a)),
    "aten.tanh.default": unary(lambda s, a: s.tanh(a)),
    "aten.sqrt.default": unary(lambda s, a: s.sqrt(a)),
    "aten.rsqrt.default": unary(lambda s, a: s.rsqrt(a)),
    "aten.reciprocal.default": unary(lambda s, a: s.div(1.0, a)),
    "aten.sigmoid.default": unary(lambda s, a: s.sigmoid(a)),
    "aten.silu.default": unary(lambda s, a: s.mul(a, s.sigmoid(a))),
    "aten.relu.default": unary(lambda s, a: s.max(a, 0.0)),
    "aten.pow.Tensor_Scalar": unary(_pow),
    "aten.gelu.default": unary(_gelu),
})


def ew_multi(fn):
    """Element-wise op over several tensor operands (backward formulas)."""
    def lower(em: Emitter, node, *args, **kw):
        shape, elem = out_meta(em)
        tensors = [a for a in args if isinstance(a, V)]
        extra = [a for a in args if not isinstance(a, V)]
        return em.ew(shape, elem, tensors,
                     lambda s, *xs: fn(s, *xs, *extra, **kw))
    return lower


LOWERINGS.update({
    "aten.gelu_backward.default": ew_multi(_gelu_backward),
    "aten.silu_backward.default": ew_multi(_silu_backward),
    "aten.tanh_backward.default": ew_multi(
        lambda s, g, y: s.mul(g, s.sub(1.0, s.mul(y, y)))),
    "aten.sigmoid_backward.default": ew_multi(
        lambda s, g, y: s.mul(s.mul(g, y), s.sub(1.0, y))),
})


@lowers("aten.threshold_backward.default")
def _threshold_backward(em, node, g, x, threshold):
    shape, elem = out_meta(em)

    def body(s, gv, xv):
        c = s._op(f"arith.cmpf ole, {xv}, {s.c(threshold)} : {elem}")
        return s.select(c, 0.0, gv)
    return em.ew(shape, elem, [g, x], body)


@lowers("aten.masked_fill.Scalar", "aten.masked_fill.Tensor")
def _masked_fill(em, node, x, mask, value):
    shape, elem = out_meta(em)
    ins = [x, mask] + ([value] if isinstance(value, V) else [])

    def body(s, xv, mv, *vv):
        fill = vv[0] if vv else s.c(value)
        return s.select(mv, fill, xv)
    # The mask is i1: do not convert it to the float compute type.
    return em.ew(shape, elem, ins, body, convert=False)


@lowers("aten.where.self")
def _where(em, node, cond, a, b):
    shape, elem = out_meta(em)
    ins = [cond] + [x for x in (a, b) if isinstance(x, V)]

    def body(s, c, *xs):
        it = iter(xs)
        x = s.convert(next(it), a.elem, elem) if isinstance(a, V) else s.c(a)
        y = s.convert(next(it), b.elem, elem) if isinstance(b, V) else s.c(b)
        return s.select(c, x, y)
    return em.ew(shape, elem, ins, body, convert=False)


@lowers("aten._to_copy.default")
def _to_copy(em, node, x, **kw):
    shape, elem = out_meta(em)
    if elem == x.elem:
        return x

    def body(s, a):
        return s.convert(a, x.elem, elem)
    return em.ew(shape, elem, [x], body, convert=False)


@lowers("aten.clone.default", "aten.detach.default", "aten.alias.default",
        "aten.lift_fresh_copy.default", "aten.contiguous.default")
def _identity(em, node, x, *rest, **kw):
    return x


@lowers("aten.view.default", "aten._unsafe_view.default",
        "aten._reshape_alias.default", "aten.reshape.default",
        "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.default",
        "aten.flatten.using_ints", "aten.view.dtype")
def _view(em, node, x, *rest, **kw):
    shape, elem = out_meta(em)
    if elem != x.elem:
        raise UnsupportedOpError("a view that changes the element type")
    return em.reshape(x, shape)


@lowers("aten.expand.default")
def _expand(em, node, x, *rest, **kw):
    shape, _ = out_meta(em)
    return em.broadcast_to(x, shape)


@lowers("aten.t.default")
def _t(em, node, x):
    return em.transpose(x, [1, 0]) if len(x.shape) == 2 else x


@lowers("aten.transpose.int")
def _transpose(em, node, x, d0, d1):
    rank = len(x.shape)
    perm = list(range(rank))
    d0, d1 = d0 % rank, d1 % rank
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return em.transpose(x, perm)


@lowers("aten.permute.default")
def _permute(em, node, x, dims):
    rank = len(x.shape)
    return em.transpose(x, [d % rank for d in dims])


def _slice_bounds(size, start, end, step):
    if step != 1:
        raise UnsupportedOpError(f"slice with step {step}")
    start = 0 if start is None else start
    end = size if end is None else end
    start = start + size if start < 0 else start
    end = end + size if end < 0 else end
    start, end = max(0, min(start, size)), max(0, min(end, size))
    return start, max(end, start)


@lowers("aten.slice.Tensor")
def _slice(em, node, x, dim=0, start=None, end=None, step=1):
    dim %= len(x.shape)
    lo, hi = _slice_bounds(x.shape[dim], start, end, step)
    if lo == 0 and hi == x.shape[dim]:
        return x
    offsets = [lo if i == dim else 0 for i in range(len(x.shape))]
    sizes = [hi - lo if i == dim else s for i, s in enumerate(x.shape)]
    return em.extract_slice(x, offsets, sizes)


@lowers("aten.select.int")
def _select(em, node, x, dim, index):
    dim %= len(x.shape)
    index %= x.shape[dim]
    offsets = [index if i == dim else 0 for i in range(len(x.shape))]
    sizes = [1 if i == dim else s for i, s in enumerate(x.shape)]
    shape, _ = out_meta(em)
    return em.reshape(em.extract_slice(x, offsets, sizes), shape)


@lowers("aten.slice_backward.default")
def _slice_backward(em, node, g, input_sizes, dim, start, end, step):
    dim %= len(input_sizes)
    lo, _ = _slice_bounds(input_sizes[dim], start, end, step)
    zeros = em.full(input_sizes, g.elem, 0.0)
    offsets = [lo if i == dim else 0 for i in range(len(input_sizes))]
    return em.insert_slice(g, zeros, offsets)


@lowers("aten.select_backward.default")
def _select_backward(em, node, g, input_sizes, dim, index):
    dim %= len(input_sizes)
    index %= input_sizes[dim]
    zeros = em.full(input_sizes, g.elem, 0.0)
    row = em.reshape(g, [1 if i == dim else s
                         for i, s in enumerate(input_sizes)])
    return em.insert_slice(row, zeros, [index if i == dim else 0
                                        for i in range(len(input_sizes))])


@lowers("aten.split.Tensor", "aten.split_with_sizes.default")
def _split(em, node, x, size_or_sizes, dim=0):
    dim %= len(x.shape)
    total = x.shape[dim]
    if isinstance(size_or_sizes, int):
        sizes = [min(size_or_sizes, total - o)
                 for o in range(0, total, size_or_sizes)]
    else:
        sizes = list(size_or_sizes)
    outs, off = [], 0
    for sz in sizes:
        offsets = [off if i == dim else 0 for i in range(len(x.shape))]
        shape = [sz if i == dim else s for i, s in enumerate(x.shape)]
        outs.append(em.extract_slice(x, offsets, shape))
        off += sz
    return outs


@lowers("aten.cat.default")
def _cat(em, node, tensors, dim=0):
    shape, elem = out_meta(em)
    tensors = [t for t in tensors if math.prod(t.shape) > 0]
    dim %= len(shape)
    acc = em.empty(shape, elem)
    off = 0
    for t in tensors:
        acc = em.insert_slice(t, acc, [off if i == dim else 0
                                       for i in range(len(shape))])
        off += t.shape[dim]
    return acc


@lowers("getitem")
def _getitem(em, node, seq, index):
    return seq[index]


@lowers("aten.empty_like.default", "aten.zeros_like.default",
        "aten.new_zeros.default", "aten.zeros.default",
        "aten.new_empty.default", "aten.empty.memory_format")
def _zeros(em, node, *args, **kw):
    shape, elem = out_meta(em)
    if target_key(node).startswith(("aten.empty", "aten.new_empty")):
        return em.empty(shape, elem)
    return em.full(shape, elem, 0)


@lowers("aten.ones_like.default", "aten.new_ones.default", "aten.ones.default")
def _ones(em, node, *args, **kw):
    shape, elem = out_meta(em)
    return em.full(shape, elem, 1)


@lowers("aten.full_like.default", "aten.fill.Scalar")
def _full_like(em, node, x, value, **kw):
    shape, elem = out_meta(em)
    return em.full(shape, elem, value)


@lowers("aten.full.default", "aten.new_full.default")
def _full(em, node, *args, **kw):
    shape, elem = out_meta(em)
    return em.full(shape, elem, args[-1])


@lowers("aten.scalar_tensor.default")
def _scalar_tensor(em, node, value, **kw):
    shape, elem = out_meta(em)
    return em.full(shape, elem, value)


@lowers("aten.is_same_size.default", "aten.sym_size")
def _no_value(em, node, *args, **kw):
    return None


@lowers("aten.sum.dim_IntList", "aten.sum.default")
def _sum(em, node, x, dims=None, keepdim=False, *, dtype=None):
    shape, elem = out_meta(em)
    r = em.reduce(x, dims_of(dims, len(x.shape)), "add", keepdim, elem)
    return em.reshape(r, shape)


@lowers("aten.mean.dim", "aten.mean.default")
def _mean(em, node, x, dims=None, keepdim=False, *, dtype=None):
    shape, elem = out_meta(em)
    dl = dims_of(dims, len(x.shape))
    r = em.reduce(x, dl, "add", keepdim, elem)
    n = float(math.prod(x.shape[d] for d in dl))
    return em.reshape(em.ew(r.shape, elem, [r], lambda s, a: s.div(a, n)),
                      shape)


@lowers("aten.amax.default")
def _amax(em, node, x, dims=(), keepdim=False):
    shape, elem = out_meta(em)
    r = em.reduce(x, dims_of(dims or None, len(x.shape)), "max", keepdim)
    return em.reshape(r, shape)


@lowers("aten.mm.default")
def _mm(em, node, a, b):
    shape, elem = out_meta(em)
    return em.matmul(a, b, shape, elem)


@lowers("aten.bmm.default")
def _bmm(em, node, a, b):
    shape, elem = out_meta(em)
    return em.matmul(a, b, shape, elem, batch=True)


@lowers("aten.addmm.default")
def _addmm(em, node, bias, a, b, *, beta=1, alpha=1):
    shape, elem = out_meta(em)
    # (With wide sums, the bias joins the f32 product before the one
    # rounding, as PyTorch's addmm adds it.)
    m = em.matmul(a, b, shape, elem, keep_wide=True)

    def body(s, mv, bv):
        # (The arithmetic in the product's type, then one conversion.)
        s.elem = m.elem
        bv = s.convert(bv, bias.elem, m.elem)
        mv = mv if alpha == 1 else s.mul(mv, float(alpha))
        bv = bv if beta == 1 else s.mul(bv, float(beta))
        total = s.add(mv, bv)
        s.elem = elem
        return s.convert(total, m.elem, elem)
    return em.ew(shape, elem, [m, bias], body, convert=False)


def _softmax_parts(em, x, dim, elem):
    m = em.reduce(x, [dim], "max", keepdim=True)
    shifted = em.ew(x.shape, elem, [x, m], lambda s, a, b: s.sub(a, b))
    e = em.ew(x.shape, elem, [shifted], lambda s, a: s.exp(a))
    total = em.reduce(e, [dim], "add", keepdim=True)
    return shifted, e, total


@lowers("aten._softmax.default")
def _softmax(em, node, x, dim, half_to_float=False):
    shape, elem = out_meta(em)
    _, e, total = _softmax_parts(em, x, dim, elem)
    return em.ew(shape, elem, [e, total], lambda s, a, b: s.div(a, b))


@lowers("aten._log_softmax.default")
def _log_softmax(em, node, x, dim, half_to_float=False):
    shape, elem = out_meta(em)
    shifted, _, total = _softmax_parts(em, x, dim, elem)
    return em.ew(shape, elem, [shifted, total],
                 lambda s, a, b: s.sub(a, s.log(b)))


@lowers("aten._softmax_backward_data.default")
def _softmax_backward(em, node, g, y, dim, input_dtype):
    shape, elem = out_meta(em)
    gy = em.ew(shape, elem, [g, y], lambda s, a, b: s.mul(a, b))
    total = em.reduce(gy, [dim], "add", keepdim=True)
    return em.ew(shape, elem, [gy, y, total],
                 lambda s, a, b, c: s.sub(a, s.mul(b, c)))


@lowers("aten._log_softmax_backward_data.default")
def _log_softmax_backward(em, node, g, y, dim, input_dtype):
    shape, elem = out_meta(em)
    total = em.reduce(g, [dim], "add", keepdim=True)
    return em.ew(shape, elem, [g, y, total],
                 lambda s, a, b, c: s.sub(a, s.mul(s.exp(b), c)))


@lowers("aten.native_layer_norm.default")
def _layer_norm(em, node, x, normalized_shape, w, b, eps):
    k = len(normalized_shape)
    rank = len(x.shape)
    dims = list(range(rank - k, rank))
    n = float(math.prod(normalized_shape))
    elem = x.elem
    mean = em.ew(tuple(1 if i in dims else s for i, s in enumerate(x.shape)),
                 elem, [em.reduce(x, dims, "add", keepdim=True)],
                 lambda s, a: s.div(a, n))
    xc = em.ew(x.shape, elem, [x, mean], lambda s, a, m: s.sub(a, m))
    var = em.reduce(em.ew(x.shape, elem, [xc], lambda s, a: s.mul(a, a)),
                    dims, "add", keepdim=True)
    rstd = em.ew(var.shape, elem, [var],
                 lambda s, v: s.rsqrt(s.add(s.div(v, n), float(eps))))
    ins = [xc, rstd] + [t for t in (w, b) if isinstance(t, V)]

    def body(s, c, r, *wb):
        y = s.mul(c, r)
        it = iter(wb)
        if isinstance(w, V):
            y = s.mul(y, next(it))
        if isinstance(b, V):
            y = s.add(y, next(it))
        return y
    out = em.ew(x.shape, elem, ins, body)
    return (out, mean, rstd)


@lowers("aten.native_layer_norm_backward.default")
def _layer_norm_backward(em, node, g, x, normalized_shape, mean, rstd, w, b,
                         output_mask):
    k = len(normalized_shape)
    rank = len(x.shape)
    dims = list(range(rank - k, rank))
    batch_dims = list(range(rank - k))
    n = float(math.prod(normalized_shape))
    elem = x.elem
    xhat = em.ew(x.shape, elem, [x, mean, rstd],
                 lambda s, a, m, r: s.mul(s.sub(a, m), r))
    gw = em.ew(x.shape, elem, [g, w], lambda s, a, c: s.mul(a, c)) \
        if isinstance(w, V) else g
    dx = dw = db = None
    if output_mask[0]:
        sum_g = em.reduce(gw, dims, "add", keepdim=True)
        gx = em.ew(x.shape, elem, [gw, xhat], lambda s, a, c: s.mul(a, c))
        sum_gx = em.reduce(gx, dims, "add", keepdim=True)

        def body(s, gv, xh, r, sg, sgx):
            t = s.sub(s.sub(s.mul(gv, n), sg), s.mul(xh, sgx))
            return s.mul(s.div(r, n), t)
        dx = em.ew(x.shape, elem, [gw, xhat, rstd, sum_g, sum_gx], body)
    if output_mask[1] and isinstance(w, V):
        gxh = em.ew(x.shape, elem, [g, xhat], lambda s, a, c: s.mul(a, c))
        dw = em.reshape(em.reduce(gxh, batch_dims, "add"), w.shape)
    if output_mask[2] and isinstance(b, V):
        db = em.reshape(em.reduce(g, batch_dims, "add"), b.shape)
    return (dx, dw, db)


@lowers("aten.embedding.default")
def _embedding(em, node, weight, indices, padding_idx=-1,
               scale_grad_by_freq=False, sparse=False):
    shape, elem = out_meta(em)
    k = len(indices.shape)
    rank = len(shape)

    def body(s, args, _out):
        i = s.to_index(args[0], indices.elem)
        h = s.index(rank - 1)
        return s._op(f"tensor.extract {weight.name}[{i}, {h}] : {weight.ty}")
    return em.generic(shape, elem, [indices],
                      [affine(rank, [f"d{i}" for i in range(k)])],
                      affine(rank, [f"d{i}" for i in range(rank)]),
                      ["parallel"] * rank, body)


@lowers("aten.embedding_dense_backward.default")
def _embedding_backward(em, node, g, indices, num_weights, padding_idx,
                        scale_grad_by_freq):
    if scale_grad_by_freq:
        raise UnsupportedOpError("embedding backward with scale_grad_by_freq")
    shape, elem = out_meta(em)
    hidden = shape[1]
    tokens = math.prod(indices.shape)
    g2 = em.reshape(g, (tokens, hidden))
    i1 = em.reshape(indices, (tokens,))
    init = em.full(shape, elem, 0.0)

    def body(s, args, acc):
        gv, iv = args
        v = s.index(0)
        hit = s.cmpi("eq", s.to_index(iv, indices.elem), v, "index")
        if padding_idx is not None and padding_idx >= 0:
            pad = s._op(f"arith.constant {padding_idx} : index")
            keep = s.cmpi("ne", v, pad, "index")
            hit = s._op(f"arith.andi {hit}, {keep} : i1")
        return s.add(acc, s.select(hit, gv, 0.0))
    # Loops (v, h, t): a one-hot contraction over the tokens, which keeps the
    # scatter-add in plain, parallel-safe linalg.
    return em.generic(shape, elem, [g2, i1],
                      [affine(3, ["d2", "d1"]), affine(3, ["d2"])],
                      affine(3, ["d0", "d1"]),
                      ["parallel", "parallel", "reduction"], body, init=init)


def _nll_valid(s, t, ignore_index, elem):
    ign = s._op(f"arith.constant {int(ignore_index)} : {elem}")
    return s.cmpi("ne", t, ign, elem)


@lowers("aten.nll_loss_forward.default")
def _nll_loss_forward(em, node, logp, target, weight, reduction,
                      ignore_index):
    if weight is not None:
        raise UnsupportedOpError("nll_loss with class weights")
    elem = logp.elem
    n = logp.shape[0] if len(logp.shape) == 2 else 1
    lp = em.reshape(logp, (n, logp.shape[-1]))
    tg = em.reshape(target, (n,))

    def picked(s, args, _out):
        t = args[0]
        valid = _nll_valid(s, t, ignore_index, target.elem)
        zero = s._op(f"arith.constant 0 : {target.elem}")
        safe = s.select(valid, t, zero, target.elem)
        v = s._op(f"tensor.extract {lp.name}[{s.index(0)}, "
                  f"{s.to_index(safe, target.elem)}] : {lp.ty}")
        return s.select(valid, s.neg(v), 0.0)
    losses = em.generic((n,), elem, [tg], [affine(1, ["d0"])],
                        affine(1, ["d0"]), ["parallel"], picked)
    counts = em.generic((n,), elem, [tg], [affine(1, ["d0"])],
                        affine(1, ["d0"]), ["parallel"],
                        lambda s, args, _o: s.convert(
                            _nll_valid(s, args[0], ignore_index, target.elem),
                            "i1", elem))
    total_weight = em.reduce(counts, [0], "add")
    if reduction == 0:
        out = em.reshape(losses, target.shape)
    else:
        total = em.reduce(losses, [0], "add")
        out = total if reduction == 2 else em.ew(
            (), elem, [total, total_weight], lambda s, a, b: s.div(a, b))
    return (out, total_weight)


@lowers("aten.nll_loss_backward.default")
def _nll_loss_backward(em, node, g, logp, target, weight, reduction,
                       ignore_index, total_weight):
    if weight is not None:
        raise UnsupportedOpError("nll_loss with class weights")
    shape, elem = out_meta(em)
    n = logp.shape[0] if len(logp.shape) == 2 else 1
    c = logp.shape[-1]
    tg = em.reshape(target, (n,))
    gg = g if reduction != 0 else em.reshape(g, (n,))

    def body(s, args, _out):
        t, gv, tw = args
        valid = _nll_valid(s, t, ignore_index, target.elem)
        hit = s.cmpi("eq", s.to_index(t, target.elem), s.index(1), "index")
        hit = s._op(f"arith.andi {hit}, {valid} : i1")
        scale = s.div(gv, tw) if reduction == 1 else gv
        return s.select(hit, s.neg(scale), 0.0)
    gmap = affine(2, []) if reduction != 0 else affine(2, ["d0"])
    r = em.generic((n, c), elem, [tg, gg, total_weight],
                   [affine(2, ["d0"]), gmap, affine(2, [])],
                   affine(2, ["d0", "d1"]), ["parallel", "parallel"], body)
    return em.reshape(r, shape)


def emit_module(jg: JointGraph, *, func_name: str = "train_step",
                checkpoint: Sequence[str] = (), policy: str = "nothing",
                header: Sequence[str] = (), extra: Sequence[str] = (),
                accumulate: bool = False, private: bool = False,
                wide_sums: bool = False) -> Tuple[str, Emitter]:
    """The text of a module holding the step function (and ``extra``);
    with ``accumulate``, the step adds its gradients into accumulators it
    takes and returns (``Emitter.accumulate_into``); with ``private``, the
    step is a private function (only the module calls it); with
    ``wide_sums``, 16-bit matmuls and sums accumulate in f32."""
    em = Emitter(jg, func_name=func_name, checkpoint=checkpoint,
                 policy=policy, accumulate=accumulate, private=private,
                 wide_sums=wide_sums)
    body = em.emit_function()
    lines = [f"// {h}" if h else "//" for h in header]
    lines += em.loc_defs()
    lines.append("module {")
    lines += body
    lines += extra
    lines.append("}")
    return "\n".join(lines) + "\n", em


from . import philox_ir  # noqa: E402,F401  (registers remat.philox_keep)
from . import masks_ir  # noqa: E402,F401  (comparisons and boolean masks)
from . import activations_ir  # noqa: E402,F401  (leaky_relu, mish, ...)

# In-place twins (add_.Tensor, fill_.Scalar, index_put_.default, ...) lower
# as their functional ops; Emitter.lower rebinds the mutated value to the
# result.
for _key in list(LOWERINGS):
    _base, _, _overload = _key.rpartition(".")
    if _base.startswith("aten.") and not _base.split(".")[1].startswith("_"):
        LOWERINGS.setdefault(f"{_base}_.{_overload}", LOWERINGS[_key])
