"""Import a PyTorch training step into remat's MLIR.

``import_step(model, inputs, ...)`` captures the joint graph (capture.py) and
emits it (emitter.py). With ``main=True`` it also emits ``@main``, which calls
the step on the model's actual parameter, buffer and input values (as dense
constants) and prints the loss and every gradient with
``rematPrintTensorF32``, around ``rematHeapResetPeak``/``rematPrintHeapStats``
so the CPU run also reports its heap peak. ``reference()`` computes the same
numbers with PyTorch's eager autograd, in float64, for ``check_close.py``.

With ``main="load"`` it emits ``@remat_main`` instead, which needs no values
(the model may live on the meta device, at any size): it allocates a buffer for
every argument and fills it with ``rematLoadTensor<T>(id, buffer)`` (the
runtime reads ``$REMAT_INPUTS/<id>.bin``), times the step with
``rematTimerStart``/``rematTimerStop``, reports the heap (or device) peak, and
hands every result to ``rematSaveTensorF32(id, tensor)`` (the runtime writes
``$REMAT_OUTPUTS/<id>.bin``). ``io_signature()`` lists those ids, names,
shapes and element types, for the JSON manifest an AOT driver reads.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .capture import JointGraph, autocast_context, capture
from .emitter import ELEM, Emitter, V, emit_module, tensor_type


@dataclass
class Imported:
    text: str
    emitter: Emitter
    joint: JointGraph

    @property
    def saved(self) -> List[V]:
        """The operands of ``remat.backward``: the saved forward values."""
        return self.emitter.saved_values

    @property
    def grad_names(self) -> List[str]:
        return self.emitter.grad_names


def import_step(model: nn.Module, inputs: Sequence[torch.Tensor], *,
                input_names: Optional[Sequence[str]] = None,
                checkpoint: Sequence[str] = (), policy: str = "nothing",
                func_name: str = "train_step", tracing_mode: str = "fake",
                main: Union[bool, str, None] = False,
                header: Sequence[str] = (), accumulate: bool = False,
                micro_batches: Optional[Sequence[Sequence[torch.Tensor]]]
                = None, autocast: Optional[torch.dtype] = None) -> Imported:
    """Capture and emit one training step of ``model(*inputs)``.

    ``main``: ``False``/``None`` emits the step alone; ``True`` or
    ``"constants"`` adds ``@main`` with the actual values as constants;
    ``"load"`` adds ``@remat_main`` (``LOAD_MAIN``), which loads them at run
    time and works on meta tensors.

    ``accumulate``: the step takes a gradient accumulator per trainable
    parameter (after its other arguments) and returns it with the step's
    gradient added, in place after bufferization; ``@main`` then runs the
    step on each of ``micro_batches`` (default: ``inputs`` alone), threading
    the accumulators from zero, and prints the last loss and the
    accumulated gradients (``reference_accumulated``).

    ``autocast``: mixed precision, the forward under ``torch.autocast`` in
    this element type; the graph holds its casts of the f32 parameters
    (the master weights), and 16-bit matmuls and sums accumulate in f32.
    """
    if main is True:
        main = "constants"
    if main and main not in MAIN_KINDS:
        raise ValueError(f"unknown main kind '{main}' (known: "
                         f"{', '.join(MAIN_KINDS)})")
    if main and accumulate and main != "constants":
        raise ValueError("accumulate supports main='constants' only")
    jg = capture(model, inputs, input_names=input_names,
                 tracing_mode=tracing_mode, autocast=autocast)
    # With @main driving accumulation, only @main calls the step: private,
    # so that bufferization drops the results that are its accumulator
    # arguments (-drop-equivalent-buffer-results), which deallocation would
    # otherwise copy at each return.
    text, em = emit_module(jg, func_name=func_name, checkpoint=checkpoint,
                           policy=policy, header=header,
                           accumulate=accumulate,
                           private=bool(main and accumulate),
                           wide_sums=autocast is not None)
    if main:
        # Insert the entry and its declarations before the closing brace.
        extra = (main_function(em, model, inputs, func_name, micro_batches)
                 if main == "constants" else load_main_function(em, func_name))
        text = text.rstrip("\n")[:-1] + "\n".join(extra) + "\n}\n"
    return Imported(text, em, jg)


# The kinds of entry function ``import_step(main=...)`` can add.
MAIN_KINDS = ("constants", "load")
# The name of the load entry, and the runtime functions it calls.
LOAD_MAIN = "remat_main"
LOAD_FUNCS = {"f32": "rematLoadTensorF32", "i64": "rematLoadTensorI64",
              "i1": "rematLoadTensorI1"}
SAVE_FUNC = "rematSaveTensorF32"
# Bytes per element in the raw input and output files (i1 is one byte, 0 or
# 1, as LLVM stores i1 in memory and as torch.bool is laid out).
FILE_BYTES = {"f32": 4, "i64": 8, "i1": 1}


def dense_literal(t: torch.Tensor) -> str:
    """A ``dense<...>`` attribute holding ``t`` exactly."""
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.float32, torch.float16, torch.bfloat16,
                   torch.float64):
        raw = t.view(torch.uint8) if t.numel() else t
        return 'dense<"0x' + bytes(raw.numpy().tobytes()).hex().upper() + '">'
    if t.dtype == torch.bool:
        return "dense<" + _nested(t.tolist(), lambda b: "true" if b else
                                  "false") + ">"
    return "dense<" + _nested(t.tolist(), str) + ">"


def _nested(x, fmt) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_nested(e, fmt) for e in x) + "]"
    return fmt(x)


def main_function(em: Emitter, model: nn.Module,
                  inputs: Sequence[torch.Tensor], func_name: str,
                  micro_batches: Optional[Sequence[Sequence[torch.Tensor]]]
                  = None) -> List[str]:
    """``@main``: constants for every argument, the call, and the prints.
    With an accumulating step (``em.accumulate``), one call per micro-batch
    (``micro_batches``, default ``[inputs]``), the accumulators zero-filled
    before the first and threaded through."""
    shared = list(dict(model.named_parameters()).values())
    shared += list(dict(model.named_buffers()).values())
    batches = [list(b) for b in (micro_batches if em.accumulate and
                                 micro_batches else [inputs])]
    nres = 1 + len(em.grad_names)
    res_types = [tensor_type(s, e) for s, e in result_shapes(em)]
    if any(not t.endswith("xf32>") and t != "tensor<f32>" for t in res_types):
        raise ValueError("@main prints f32 results only; import in f32")
    body = []

    def constants(values, first):
        args, types = [], []
        for i, t in enumerate(values, first):
            ty = tensor_type(tuple(t.shape), ELEM[t.dtype])
            body.append(f"    %a{i} = arith.constant {dense_literal(t)} : "
                        f"{ty}")
            args.append(f"%a{i}")
            types.append(ty)
        return args, types

    args, types = constants(shared, 0)
    # The accumulators: zero-filled buffers of their own (writable, so the
    # step adds into them in place), allocated before the heap's peak reset.
    # (`bufferization.alloc_tensor`, not `tensor.empty`: CSE would merge the
    # empty tensors and fills of one type, and bufferization then copy the
    # shared buffer for each call that writes it, inside the measured span.)
    accs = []
    if em.accumulate:
        body.append("    %zero = arith.constant 0.0 : f32")
    for j, ty in enumerate(res_types[1:] if em.accumulate else []):
        body.append(f"    %e{j} = bufferization.alloc_tensor() : {ty}")
        body.append(f"    %acc{j}_0 = linalg.fill ins(%zero : f32) "
                    f"outs(%e{j} : {ty}) -> {ty}")
        accs.append(f"%acc{j}_0")
    inputs_at = len(args)
    batch_args = []
    for k, batch in enumerate(batches):
        batch_args.append(constants(batch, inputs_at + k * len(batch)))
    body.append("    call @rematHeapResetPeak() : () -> ()")
    for k, (b_args, b_types) in enumerate(batch_args):
        call_args = args + b_args + accs
        call_types = types + b_types + (res_types[1:] if em.accumulate
                                        else [])
        r = "%r" if len(batch_args) == 1 else f"%r{k}"
        body.append(f"    {r}:{nres} = call @{func_name}"
                    f"({', '.join(call_args)}) : ({', '.join(call_types)}) "
                    f"-> ({', '.join(res_types)})")
        accs = [f"{r}#{j + 1}" for j in range(nres - 1)]
    body.append("    call @rematPrintHeapStats() : () -> ()")
    for i, ty in enumerate(res_types):
        body.append(f"    %u{i} = tensor.cast {r}#{i} : {ty} to tensor<*xf32>")
        body.append(f"    %id{i} = arith.constant {i} : i64")
        body.append(f"    call @rematPrintTensorF32(%id{i}, %u{i}) : "
                    "(i64, tensor<*xf32>) -> ()")
    return [
        "  func.func private @rematHeapResetPeak()",
        "  func.func private @rematPrintHeapStats()",
        "  func.func private @rematPrintTensorF32(i64, tensor<*xf32>) "
        "attributes {llvm.emit_c_interface}",
        "  func.func @main() {",
        *body,
        "    return",
        "  }",
    ]


def result_shapes(em: Emitter) -> List[Tuple[Tuple[int, ...], str]]:
    """Shape and element type of each result of the step: loss, gradients."""
    loss = em.vals[em.jg.outputs[0]]
    out = [(tuple(loss.shape), loss.elem)]
    for _, node in em.jg.grads:
        if node is not None:
            out.append(em.meta(node))
    return out


def io_signature(em: Emitter) -> Tuple[List[dict], List[dict]]:
    """The step's arguments and results, as ids, names, shapes and types.

    Inputs are numbered in argument order (named parameters, named buffers,
    batch inputs), outputs in result order (the loss, then the gradient of
    each trainable parameter, named ``d <param>``). These are the ids of
    ``@remat_main``'s loads and saves and of ``@main``'s prints.
    """
    inputs = []
    for i, p in enumerate(em.jg.primals):
        shape, elem = em.meta(p.node)
        inputs.append({"id": i, "name": p.name, "kind": p.kind,
                       "shape": list(shape), "dtype": elem})
    names = ["loss"] + [f"d {n}" for n in em.grad_names]
    outputs = [{"id": i, "name": n, "shape": list(s), "dtype": e}
               for i, (n, (s, e)) in enumerate(zip(names, result_shapes(em)))]
    return inputs, outputs


def memref_type(shape, elem) -> str:
    return "memref<" + "".join(f"{d}x" for d in shape) + elem + ">"


def load_main_function(em: Emitter, func_name: str,
                       entry: str = LOAD_MAIN) -> List[str]:
    """``@remat_main``: load every argument, time the step, save results.

    Each argument gets a fresh buffer that ``rematLoadTensor<T>`` fills from
    the file of its id; ``bufferization.to_tensor ... restrict writable``
    hands the buffer to the step without a copy. The timer and the heap's
    phase peak bracket the step call alone, so loading is not measured and
    the arguments count as resident, as the memory model has it.
    """
    inputs, outputs = io_signature(em)
    body, args, types = [], [], []
    for x in inputs:
        i, elem = x["id"], x["dtype"]
        if elem not in LOAD_FUNCS:
            raise ValueError(
                f"@{entry} loads f32, i64 and i1 arguments only; argument "
                f"{i} ('{x['name']}') is {elem}: import in f32")
        mty = memref_type(x["shape"], elem)
        tty = tensor_type(x["shape"], elem)
        body += [
            f"    %m{i} = memref.alloc() : {mty}",
            f"    %c{i} = memref.cast %m{i} : {mty} to memref<*x{elem}>",
            f"    %i{i} = arith.constant {i} : i64",
            f"    call @{LOAD_FUNCS[elem]}(%i{i}, %c{i}) : "
            f"(i64, memref<*x{elem}>) -> ()",
            f"    %t{i} = bufferization.to_tensor %m{i} restrict writable : "
            f"{mty} to {tty}",
        ]
        args.append(f"%t{i}")
        types.append(tty)
    res_types = [tensor_type(y["shape"], y["dtype"]) for y in outputs]
    bad = [y for y in outputs if y["dtype"] != "f32"]
    if bad:
        raise ValueError(f"@{entry} saves f32 results only; result "
                         f"{bad[0]['id']} ('{bad[0]['name']}') is "
                         f"{bad[0]['dtype']}: import in f32")
    nres = len(res_types)
    lhs = "%r" + (f":{nres}" if nres > 1 else "")
    body += [
        "    call @rematTimerStart() : () -> ()",
        "    call @rematHeapResetPeak() : () -> ()",
        f"    {lhs} = call @{func_name}({', '.join(args)}) : "
        f"({', '.join(types)}) -> ({', '.join(res_types)})",
        "    call @rematTimerStop() : () -> ()",
        "    call @rematPrintHeapStats() : () -> ()",
    ]
    for y, ty in zip(outputs, res_types):
        i = y["id"]
        r = f"%r#{i}" if nres > 1 else "%r"
        body += [
            f"    %u{i} = tensor.cast {r} : {ty} to tensor<*xf32>",
            f"    %o{i} = arith.constant {i} : i64",
            f"    call @{SAVE_FUNC}(%o{i}, %u{i}) : "
            "(i64, tensor<*xf32>) -> ()",
        ]
    used = sorted({x["dtype"] for x in inputs}, key=list(LOAD_FUNCS).index)
    decls = [f"  func.func private @{LOAD_FUNCS[e]}(i64, memref<*x{e}> "
             '{bufferization.access = "write"}) '
             "attributes {llvm.emit_c_interface}" for e in used]
    return decls + [
        f"  func.func private @{SAVE_FUNC}(i64, tensor<*xf32> "
        '{bufferization.access = "read"}) '
        "attributes {llvm.emit_c_interface}",
        "  func.func private @rematTimerStart()",
        "  func.func private @rematTimerStop()",
        "  func.func private @rematHeapResetPeak()",
        "  func.func private @rematPrintHeapStats()",
        f"  func.func @{entry}() attributes {{llvm.emit_c_interface}} {{",
        *body,
        "    return",
        "  }",
    ]


def reference_accumulated(model: nn.Module,
                          micro_batches: Sequence[Sequence[torch.Tensor]],
                          grad_names: Sequence[str],
                          autocast: Optional[torch.dtype] = None
                          ) -> Dict[str, dict]:
    """A k-micro-batch accumulation loop in float64, as PyTorch trains with
    gradient accumulation (``loss.backward()`` per micro-batch, gradients
    summed): the last micro-batch's loss and the summed gradients, ids as
    in ``@main``."""
    total: Dict[str, dict] = {}
    for batch in micro_batches:
        one = reference(model, batch, grad_names, autocast=autocast)
        for key, entry in one.items():
            if key == "0" or key not in total:
                total[key] = entry
            else:
                total[key] = {"name": entry["name"], "values": [
                    a + b for a, b in zip(total[key]["values"],
                                          entry["values"])]}
    return total


def reference(model: nn.Module, inputs: Sequence[torch.Tensor],
              grad_names: Sequence[str],
              autocast: Optional[torch.dtype] = None) -> Dict[str, dict]:
    """Loss and gradients from eager autograd in float64 (ids as in @main);
    with ``autocast``, as PyTorch trains in mixed precision: float32
    parameters, the forward under ``torch.autocast`` in that type."""
    import copy
    if autocast is not None:
        ref, ins = copy.deepcopy(model), list(inputs)
    else:
        ref = copy.deepcopy(model).double()
        for name, b in ref.named_buffers():
            orig = dict(model.named_buffers())[name]
            if not orig.is_floating_point():
                b.data = orig.clone()
        ins = [x.double() if x.is_floating_point() else x for x in inputs]
    with autocast_context(autocast):
        loss = ref(*ins)
    params = dict(ref.named_parameters())
    grads = torch.autograd.grad(loss, [params[n] for n in grad_names])
    out = {"0": {"name": "loss", "values": [loss.item()]}}
    for i, (n, g) in enumerate(zip(grad_names, grads), start=1):
        out[str(i)] = {"name": f"d {n}",
                       "values": g.flatten().tolist()}
    return out
