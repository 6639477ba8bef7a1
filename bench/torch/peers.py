"""The peer benchmark: remat's plans against PyTorch's own checkpointing,
run by PyTorch, measured side by side in one run.

For GPT and Llama (the corpus models) at two shapes each, every variant
trains the same model on the same batch:

  eager        no checkpointing
  ckpt-all     torch.utils.checkpoint(block, use_reentrant=False) on every
               block; ckpt-2 on every 2nd block
  default      AOTAutograd with functorch's default_partition
  min-cut      AOTAutograd with min_cut_rematerialization_partition
  remat@X      remat.torch.compile with an activation budget of the bytes
               variant X keeps (remat at the budget a peer reaches)
  remat-50%    remat.torch.compile at 50% (30%) of the step's peak without
               remat (remat's model of it)
  budget-B     (PyTorch 2.x, --device cuda) torch.compile with
               torch._functorch.config.activation_memory_budget = B

and each is measured:

  kept    bytes live after the forward that were not live before it, less
          the loss: what the backward keeps (on the CPU, from the
          profiler's memory events between two marker allocations; on
          CUDA, memory_allocated)
  peak    the step's peak of live tensor memory above what was live
          before it (parameters, inputs), gradients included
  time    the step's median time over --repeats runs, as a ratio to eager

Usage: peers.py [--device cpu|cuda] [--quick | --shapes cpu|gpu]
                [--repeats N] [--json FILE] [--markdown FILE]
                [--plot FILE.png] [--check]

On a machine without LLVM (the GPU machine), remat.compiler plans with
build/bin/remat-plan, the planner linked statically (bench/torch/device.sh).
"""

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from remat import models

# Two shapes per model whose steps take a fraction of a second on the
# development machine (Debian's torch: a generic BLAS, 1 thread, ~2 GFLOP/s).
SHAPES = {
    "gpt": [dict(layers=4, hidden=96, heads=4, seq=64, batch=2, vocab=512),
            dict(layers=8, hidden=64, heads=4, seq=128, batch=2,
                 vocab=512)],
    "llama": [dict(layers=4, hidden=96, heads=4, seq=64, batch=2,
                   vocab=512),
              dict(layers=8, hidden=64, heads=4, seq=128, batch=2,
                   vocab=512)],
}
# The device run's shapes (GPT-2 small's width at 12 layers, and a deeper,
# wider one), bf16 is left out: the comparison is of what is kept.
GPU_SHAPES = {
    "gpt": [dict(layers=12, hidden=768, heads=12, seq=1024, batch=4,
                 vocab=50257),
            dict(layers=24, hidden=1024, heads=16, seq=1024, batch=2,
                 vocab=50257)],
    "llama": [dict(layers=12, hidden=768, heads=12, seq=1024, batch=4,
                   vocab=32000),
              dict(layers=24, hidden=1024, heads=16, seq=1024, batch=2,
                   vocab=32000)],
}
QUICK = {
    "gpt": [dict(layers=2, hidden=32, heads=2, seq=16, batch=2, vocab=64)],
    "llama": [dict(layers=2, hidden=32, heads=2, seq=16, batch=2,
                   vocab=64)],
}
# Marker allocations around the forward (sizes nothing else has).
BEFORE, AFTER = 7919, 7927


@dataclass
class Result:
    model: str
    shape: str
    variant: str
    kept: int = 0
    peak: int = 0
    seconds: float = 0.0
    ratio: float = 0.0
    loss: float = 0.0
    predicted_kept: Optional[int] = None
    note: str = ""


def build(name: str, shape: dict, device: str):
    cfg = models.config(name, dropout=0.0, **shape)
    model = models.build(cfg)
    models.randomize(model, cfg)
    inputs = models.example_inputs(cfg)
    return model.to(device), tuple(t.to(device) for t in inputs)


def aot(model: nn.Module, partition) -> Callable:
    from functorch.compile import aot_module
    from remat.torch import eager_compiler
    return aot_module(model, eager_compiler, eager_compiler,
                      partition_fn=partition)


class Meter:
    """Kept bytes and the step's peak, on the CPU (profiler memory events)
    or on CUDA (the caching allocator's statistics)."""

    def __init__(self, device: str):
        self.device = device

    def measure(self, run_forward, run_backward) -> Tuple[int, int]:
        """(kept, peak): the forward's output (the loss) is not kept."""
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            loss = run_forward()
            torch.cuda.synchronize()
            kept = torch.cuda.memory_allocated() - before - _bytes(loss)
            run_backward(loss)
            torch.cuda.synchronize()
            return kept, torch.cuda.max_memory_allocated() - before
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            marker = torch.empty(BEFORE, dtype=torch.uint8)
            del marker
            loss = run_forward()
            marker = torch.empty(AFTER, dtype=torch.uint8)
            del marker
            loss_bytes = _bytes(loss)
            run_backward(loss)
        sizes = [e.nbytes() for e in prof.profiler.kineto_results.events()
                 if e.name() == "[memory]"]
        start = sizes.index(BEFORE)
        end = sizes.index(AFTER)
        live = peak = 0
        kept = None
        for i, n in enumerate(sizes[start:], start):
            if i == end:
                kept = live
            if abs(n) in (BEFORE, AFTER):
                continue
            live += n
            peak = max(peak, live)
        return kept - loss_bytes, peak


def _bytes(t: torch.Tensor) -> int:
    s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
    return s.nbytes()


class Runner:
    """One variant's training step: warmed up (AOTAutograd traces and
    plans on the first call), measured once, then timed one step at a time
    so that the variants of a shape take turns (ratios side by side)."""

    def __init__(self, step, model: nn.Module, inputs, meter: Meter):
        self.step, self.inputs, self.meter = step, inputs, meter
        self.params = list(model.parameters())
        self.times: List[float] = []
        for _ in range(2):
            self.forget_gradients()
            self.backward(self.forward())

    def forget_gradients(self):
        # (Outside the measured region: freeing the last step's gradients
        # is not part of this step.)
        for p in self.params:
            p.grad = None

    def forward(self):
        return self.step(*self.inputs)

    def backward(self, loss):
        loss.backward()

    def measure(self) -> Tuple[int, int]:
        self.forget_gradients()
        return self.meter.measure(self.forward, self.backward)

    def time_one_step(self) -> float:
        self.forget_gradients()
        if self.meter.device == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            self.loss = self.forward()
            self.backward(self.loss)
            stop.record()
            torch.cuda.synchronize()
            seconds = start.elapsed_time(stop) / 1e3
        else:
            t0 = time.perf_counter()
            self.loss = self.forward()
            self.backward(self.loss)
            seconds = time.perf_counter() - t0
        self.times.append(seconds)
        return seconds


def variants(name: str, shape: dict, device: str, kept_of: Dict[str, int],
             torch2: bool):
    """(variant, make) pairs; remat@X reads X's kept bytes, measured
    first."""
    import remat.torch as rt
    from functorch.compile import (default_partition,
                                   min_cut_rematerialization_partition)

    def fresh():
        return build(name, shape, device)

    def eager():
        model, inputs = fresh()
        return model, model, inputs

    def ckpt(every):
        def make():
            model, inputs = fresh()
            models.checkpoint_blocks(model, every)
            return model, model, inputs
        return make

    def partitioned(partition):
        def make():
            model, inputs = fresh()
            return aot(model, partition), model, inputs
        return make

    def remat_at(**options):
        def make():
            model, inputs = fresh()
            step = rt.compile(model, **options)
            return step, model, inputs
        return make

    out = [("eager", eager), ("ckpt-all", ckpt(1)), ("ckpt-2", ckpt(2)),
           ("default", partitioned(default_partition)),
           ("min-cut", partitioned(min_cut_rematerialization_partition))]
    for peer in ("ckpt-all", "ckpt-2", "min-cut"):
        out.append((f"remat@{peer}",
                    lambda peer=peer: remat_at(
                        budget=str(kept_of[peer]),
                        budget_on="activations")()))
    for share in ("50%", "30%"):
        out.append((f"remat-{share}", remat_at(budget=share)))
    if torch2:
        for budget in (0.5, 0.3):
            out.append((f"budget-{budget}", _activation_budget(fresh,
                                                               budget)))
    return out


def _activation_budget(fresh, budget: float):
    """PyTorch 2.x's own memory budget for its min-cut partitioner."""
    def make():
        import torch._functorch.config as fconfig
        model, inputs = fresh()
        fconfig.activation_memory_budget = budget
        step = torch.compile(model, backend="aot_eager")
        return step, model, inputs
    return make


def run(device: str, shapes: Dict[str, List[dict]], repeats: int,
        after_shape: Callable[[List[Result]], None] = lambda rs: None
        ) -> List[Result]:
    """Every variant at every shape; `after_shape` sees the results so far
    after each shape (the outputs are rewritten then, so a run cut short
    keeps what it measured)."""
    torch.manual_seed(0)
    torch2 = int(torch.__version__.split(".")[0]) >= 2 and device == "cuda"
    meter = Meter(device)
    results = []
    for name, model_shapes in shapes.items():
        for shape in model_shapes:
            label = (f"L{shape['layers']} h{shape['hidden']} "
                     f"s{shape['seq']} b{shape['batch']}")
            kept_of: Dict[str, int] = {}
            runners: Dict[str, Runner] = {}
            rows: List[Result] = []
            # Build, warm up and measure memory, variant by variant (a
            # remat@X variant plans for X's measured bytes).
            for variant, make in variants(name, shape, device, kept_of,
                                          torch2):
                r = Result(name, label, variant)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        step, model, inputs = make()
                        runner = Runner(step, model, inputs, meter)
                        r.kept, r.peak = runner.measure()
                    runners[variant] = runner
                    plans = getattr(step, "plans", None)
                    if plans:
                        r.predicted_kept = plans[-1].activation_bytes
                except Exception as e:  # an infeasible budget, for one
                    r.note = _first_error(str(e))
                kept_of[variant] = r.kept
                rows.append(r)
            # Time: the variants take turns, `repeats` rounds.
            for _ in range(repeats):
                for runner in runners.values():
                    runner.time_one_step()
            eager = statistics.median(runners["eager"].times)
            for r in rows:
                if r.variant in runners:
                    runner = runners[r.variant]
                    r.seconds = statistics.median(runner.times)
                    r.ratio = r.seconds / eager
                    r.loss = float(runner.loss)
                print(_row(r), flush=True)
            results += rows
            after_shape(results)
    return results


def _first_error(message: str) -> str:
    """The diagnostic's own line (not its notes), shortened."""
    lines = [line for line in message.splitlines() if "error:" in line]
    line = (lines[0] if lines else message.strip().splitlines()[-1])
    return line.split("error: ", 1)[-1][:160]


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f}"


HEADER = ("| model | shape | variant | kept MiB | peak MiB | time / eager "
          "| loss |\n|---|---|---|---:|---:|---:|---|")


def _row(r: Result) -> str:
    if r.note:
        return (f"| {r.model} | {r.shape} | {r.variant} | – | – | – | "
                f"{r.note} |")
    predicted = ""
    if r.predicted_kept is not None and r.predicted_kept != r.kept:
        predicted = f" (plan {_mib(r.predicted_kept)})"
    return (f"| {r.model} | {r.shape} | {r.variant} | {_mib(r.kept)}"
            f"{predicted} | {_mib(r.peak)} | {r.ratio:.2f} | {r.loss:.6f} |")


def check(results: List[Result]) -> List[str]:
    """The issue's claims, per model and shape: at a peer's kept bytes,
    remat's step is no slower than the peer's; at a peer's step time or
    less, remat keeps fewer bytes than it. Returns the violations."""
    problems = []
    groups: Dict[Tuple[str, str], Dict[str, Result]] = {}
    for r in results:
        groups.setdefault((r.model, r.shape), {})[r.variant] = r
    for (model, shape), rs in groups.items():
        for peer in ("ckpt-all", "ckpt-2", "min-cut"):
            ours, theirs = rs.get(f"remat@{peer}"), rs.get(peer)
            if not ours or not theirs or ours.note or theirs.note:
                continue
            if ours.kept > theirs.kept:
                problems.append(f"{model} {shape}: remat@{peer} keeps "
                                f"{ours.kept} B, {peer} {theirs.kept} B")
            if ours.seconds > theirs.seconds:
                problems.append(
                    f"{model} {shape}: remat@{peer} takes "
                    f"{ours.ratio:.2f}x eager, {peer} {theirs.ratio:.2f}x")
    return problems


def plot(results: List[Result], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups: Dict[Tuple[str, str], List[Result]] = {}
    for r in results:
        if not r.note:
            groups.setdefault((r.model, r.shape), []).append(r)
    columns = min(2, len(groups))
    rows = (len(groups) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(6 * columns, 4 * rows),
                             squeeze=False)
    for ax, ((model, shape), rs) in zip(axes.flat, groups.items()):
        for r in rs:
            ours = r.variant.startswith("remat")
            ax.scatter(r.kept / 2**20, r.ratio, marker="o" if ours else "s",
                       color="tab:red" if ours else "tab:blue")
            ax.annotate(r.variant, (r.kept / 2**20, r.ratio), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_title(f"{model} {shape}", fontsize=9)
        ax.set_xlabel("kept by the backward (MiB)")
        ax.set_ylabel("step time / eager")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--quick", action="store_true",
                   help="one tiny shape per model (for the tests)")
    p.add_argument("--shapes", choices=("cpu", "gpu"), default="cpu",
                   help="the development machine's shapes (default) or "
                        "the device run's")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json")
    p.add_argument("--markdown")
    p.add_argument("--plot")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when remat is beaten at a peer's budget")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("peers.py: no CUDA device", file=sys.stderr)
        return 2
    print(f"device {args.device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(HEADER)
    shapes = QUICK if args.quick else \
        GPU_SHAPES if args.shapes == "gpu" else SHAPES

    def write(results: List[Result]) -> None:
        if args.json:
            with open(args.json, "w") as f:
                json.dump([r.__dict__ for r in results], f, indent=1)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(HEADER + "\n" + "\n".join(_row(r) for r in results)
                        + "\n")
        if args.plot:
            plot(results, args.plot)

    results = run(args.device, shapes, args.repeats, write)
    problems = check(results)
    for line in problems:
        print("not met: " + line)
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
