"""LoRA against a full fine-tune of the same model, with and without
checkpointing, from remat's model: the shape of the published "without /
with checkpointing / memory saved / speed cost" rows.

For each setup (full: every parameter trains; LoRA rank r on every attention
and MLP projection, the rest frozen) the Llama step is imported on the meta
device (no memory, any size) and planned with -remat-rematerialize (the C API):

  without   strategy=none: autograd's saved set
  full      strategy=full: every block checkpointed (what
            gradient_checkpointing_enable() does)
  auto      strategy=auto at full's peak: remat's plan for the same budget

and the table gives each plan's modeled peak (parameters, gradients and
activations), the memory saved against `without`, and the speed cost (the
plan's recompute as a share of the modeled step, h100 roofline).

Usage: finetune.py [--layers N --hidden H --heads A --seq S --batch B
                    --vocab V --rank R] [--json FILE]
"""

import argparse
import json
import sys

from remat import compiler, models
from remat.__main__ import emit


def gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


def plan(text: str, **options) -> dict:
    return compiler.plan(text, **options)["plans"][0]


def rows_for(setup: str, cfg: models.Config) -> list:
    result, model, _ = emit(cfg)  # on the meta device
    text = result.text
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    base = plan(text, strategy="none")
    full = plan(text, strategy="full")
    auto = plan(text, strategy="auto", budget=str(full["peak_bytes"]))
    out = []
    for name, p in (("without checkpointing", base),
                    ("checkpoint every block (full)", full),
                    ("remat auto at full's peak", auto)):
        out.append({
            "setup": setup, "plan": name,
            "trainable": trainable, "parameters": total,
            "peak_bytes": p["peak_bytes"],
            "activation_bytes": p["activation_bytes"],
            "saved_percent": 100.0 * (1 - p["peak_bytes"] /
                                      base["peak_bytes"]),
            "overhead_percent": p["overhead_percent"],
        })
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--json")
    args = p.parse_args(argv)
    shape = dict(layers=args.layers, hidden=args.hidden, heads=args.heads,
                 seq=args.seq, batch=args.batch, vocab=args.vocab,
                 dtype="bf16")
    rows = rows_for("full fine-tune", models.config("llama", **shape))
    rows += rows_for(f"LoRA r={args.rank}",
                     models.config("llama", lora_rank=args.rank, **shape))
    print(f"Llama {args.layers} layers, hidden {args.hidden}, sequence "
          f"{args.seq}, batch {args.batch}, bf16 (remat's model, h100)\n")
    print("| setup | trainable | plan | peak GiB | saved activations GiB "
          "| memory saved | speed cost |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['setup']} | {r['trainable'] / 1e6:.1f} M of "
              f"{r['parameters'] / 1e6:.1f} M | {r['plan']} | "
              f"{gib(r['peak_bytes'])} | {gib(r['activation_bytes'])} | "
              f"{r['saved_percent']:.1f}% | {r['overhead_percent']:.1f}% |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
