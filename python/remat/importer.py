"""Import a PyTorch training step into remat's MLIR.

``import_step(model, inputs, ...)`` captures the joint graph (capture.py) and
emits it (emitter.py). With ``main=True`` it also emits ``@main``, which calls
the step on the model's actual parameter, buffer and input values (as dense
constants) and prints the loss and every gradient with
``rematPrintTensorF32``, around ``rematHeapResetPeak``/``rematPrintHeapStats``
so the CPU run also reports its heap peak. ``reference()`` computes the same
numbers with PyTorch's eager autograd, in float64, for ``check_close.py``.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from .capture import JointGraph, capture
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
                main: bool = False, header: Sequence[str] = ()) -> Imported:
    jg = capture(model, inputs, input_names=input_names,
                 tracing_mode=tracing_mode)
    text, em = emit_module(jg, func_name=func_name, checkpoint=checkpoint,
                           policy=policy, header=header)
    if main:
        # Insert @main and its declarations before the module's closing brace.
        extra = main_function(em, model, inputs, func_name)
        text = text.rstrip("\n")[:-1] + "\n".join(extra) + "\n}\n"
    return Imported(text, em, jg)


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
                  inputs: Sequence[torch.Tensor], func_name: str) -> List[str]:
    """``@main``: constants for every argument, the call, and the prints."""
    values = list(dict(model.named_parameters()).values())
    values += list(dict(model.named_buffers()).values())
    values += list(inputs)
    args, types = [], []
    body = []
    for i, (t, p) in enumerate(zip(values, em.jg.primals)):
        ty = tensor_type(tuple(t.shape), ELEM[t.dtype])
        body.append(f"    %a{i} = arith.constant {dense_literal(t)} : {ty}")
        args.append(f"%a{i}")
        types.append(ty)
    results = [em.vals[em.jg.outputs[0]]]
    nres = 1 + len(em.grad_names)
    res_types = [results[0].ty]
    for g in em.jg.grads:
        if g[1] is not None:
            shape, elem = em.meta(g[1])
            res_types.append(tensor_type(shape, elem))
    if any(not t.endswith("xf32>") and t != "tensor<f32>" for t in res_types):
        raise ValueError("@main prints f32 results only; import in f32")
    body.append("    call @rematHeapResetPeak() : () -> ()")
    body.append(f"    %r:{nres} = call @{func_name}({', '.join(args)}) : "
                f"({', '.join(types)}) -> ({', '.join(res_types)})")
    body.append("    call @rematPrintHeapStats() : () -> ()")
    for i, ty in enumerate(res_types):
        body.append(f"    %u{i} = tensor.cast %r#{i} : {ty} to tensor<*xf32>")
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


def reference(model: nn.Module, inputs: Sequence[torch.Tensor],
              grad_names: Sequence[str]) -> Dict[str, dict]:
    """Loss and gradients from eager autograd in float64 (ids as in @main)."""
    import copy
    ref = copy.deepcopy(model).double()
    for name, b in ref.named_buffers():
        orig = dict(model.named_buffers())[name]
        if not orig.is_floating_point():
            b.data = orig.clone()
    ins = [x.double() if x.is_floating_point() else x for x in inputs]
    loss = ref(*ins)
    params = dict(ref.named_parameters())
    grads = torch.autograd.grad(loss, [params[n] for n in grad_names])
    out = {"0": {"name": "loss", "values": [loss.item()]}}
    for i, (n, g) in enumerate(zip(grad_names, grads), start=1):
        out[str(i)] = {"name": f"d {n}",
                       "values": g.flatten().tolist()}
    return out
