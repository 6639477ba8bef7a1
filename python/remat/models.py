"""The model corpus: small, configurable transformer training graphs.

Every model is an ``nn.Module`` whose ``forward`` takes the batch tensors and
returns the scalar loss, so the importer sees one training step. Dropout
makes its keep-masks from a seed with Philox 4x32-10 (``PhiloxDropout``,
``philox.py``): the seed is the step's last input (``dropout_seed``, passed
down to every block's forward), each
dropout site has its own offset, and the importer emits the generator in the
IR, so a mask is a value the planner can recompute. With
``dropout_rng=False`` masks are non-persistent buffers instead
(``MaskedDropout``), which the importer turns into step inputs.

Configurations are plain dataclasses; ``build(name, **overrides)`` makes one.
"""

import math
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import philox  # registers torch.ops.remat.philox_keep


@dataclass(frozen=True)
class Config:
    model: str
    layers: int = 2
    hidden: int = 16
    heads: int = 2
    seq: int = 8
    batch: int = 2
    vocab: int = 32
    mlp_ratio: int = 4
    dropout: float = 0.0
    dropout_rng: bool = True
    dtype: str = "f32"
    eps: float = 1e-5
    patch_dim: int = 12
    lora_rank: int = 0
    freeze_embedding: bool = False
    autocast: str = ""

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def autocast_dtype(self) -> Optional[torch.dtype]:
        """The element type of ``torch.autocast`` (mixed precision), if
        any."""
        return DTYPES[self.autocast] if self.autocast else None

    @property
    def seeded(self) -> bool:
        """Whether the step takes a dropout seed (generated masks)."""
        return self.dropout > 0 and self.dropout_rng


DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


class MaskedDropout(nn.Module):
    """Dropout with a deterministic keep-mask supplied as an input.

    ``mask`` is a 0/1 tensor of the activation's shape (a buffer, so it is a
    graph input); the output is ``x * mask / (1 - p)``.
    """

    def __init__(self, p: float, shape: Tuple[int, ...]):
        super().__init__()
        self.p = p
        if p > 0:
            self.register_buffer("mask", torch.ones(shape), persistent=False)

    def forward(self, x, seed=None):
        if self.p == 0:
            return x
        return x * self.mask * (1.0 / (1.0 - self.p))


class PhiloxDropout(nn.Module):
    """Dropout whose keep-mask is Philox4x32-10 of the step's seed.

    ``offset`` tells the sites apart (the top-level model numbers them in
    module order); the output is ``x * keep / (1 - p)`` with ``keep`` from
    ``torch.ops.remat.philox_keep(seed, shape, offset, p)``. The seed is an
    argument of every forward down from the model's, so a block run again
    by ``torch.utils.checkpoint`` makes the same mask.
    """

    def __init__(self, p: float):
        super().__init__()
        philox.threshold(p)
        self.p = p
        self.offset = 0

    def forward(self, x, seed=None):
        if self.p == 0:
            return x
        if seed is None:
            raise ValueError("PhiloxDropout needs the step's dropout seed: "
                             "pass it as the model's last input")
        keep = torch.ops.remat.philox_keep(seed, list(x.shape), self.offset,
                                           self.p)
        return x * keep * (1.0 / (1.0 - self.p))


def dropout(cfg: Config, shape: Tuple[int, ...]) -> nn.Module:
    """The corpus' dropout for ``cfg``: generated or input masks."""
    if cfg.dropout_rng:
        return PhiloxDropout(cfg.dropout)
    return MaskedDropout(cfg.dropout, shape)


def number_dropout_sites(model: nn.Module) -> None:
    """Give each ``PhiloxDropout`` its own offset, in module order."""
    sites = [m for m in model.modules() if isinstance(m, PhiloxDropout)]
    for i, m in enumerate(sites):
        m.offset = i


def causal_mask(seq: int) -> torch.Tensor:
    """True above the diagonal: the positions a token must not attend to."""
    return torch.ones(seq, seq).triu(1).bool()


class Attention(nn.Module):
    """Multi-head self-attention; causal and rotary are options."""

    def __init__(self, cfg: Config, *, bias=True, causal=True, rotary=False):
        super().__init__()
        h = cfg.hidden
        self.cfg = cfg
        self.qkv = nn.Linear(h, 3 * h, bias=bias)
        self.proj = nn.Linear(h, h, bias=bias)
        self.attn_drop = dropout(cfg, (cfg.batch, cfg.heads, cfg.seq, cfg.seq))
        self.causal = causal
        self.rotary = rotary
        if causal:
            self.register_buffer("causal_mask", causal_mask(cfg.seq),
                                 persistent=False)
        if rotary:
            cos, sin = rotary_tables(cfg.seq, cfg.head_dim)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

    def forward(self, x, seed=None):
        b, t, c = x.shape
        nh, hd = self.cfg.heads, self.cfg.head_dim
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, nh, hd).transpose(1, 2)
        k = k.view(b, t, nh, hd).transpose(1, 2)
        v = v.view(b, t, nh, hd).transpose(1, 2)
        if self.rotary:
            q = apply_rotary(q, self.cos, self.sin)
            k = apply_rotary(k, self.cos, self.sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        if self.causal:
            att = att.masked_fill(self.causal_mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_drop(att, seed)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.proj(y)


def rotary_tables(seq: int, dim: int, base: float = 10000.0):
    inv = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    ang = torch.outer(torch.arange(seq).float(), inv)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


class GeluMLP(nn.Module):
    def __init__(self, cfg: Config, approximate: str):
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden, cfg.mlp_ratio * cfg.hidden)
        self.fc2 = nn.Linear(cfg.mlp_ratio * cfg.hidden, cfg.hidden)
        self.approximate = approximate

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


class GPTBlock(nn.Module):
    """GPT-2 block: pre-LN, causal attention, GELU (tanh) MLP."""

    def __init__(self, cfg: Config):
        super().__init__()
        shape = (cfg.batch, cfg.seq, cfg.hidden)
        self.ln1 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.attn = Attention(cfg)
        self.drop1 = dropout(cfg, shape)
        self.ln2 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.mlp = GeluMLP(cfg, "tanh")
        self.drop2 = dropout(cfg, shape)

    def forward(self, x, seed=None):
        x = x + self.drop1(self.attn(self.ln1(x), seed), seed)
        return x + self.drop2(self.mlp(self.ln2(x)), seed)


def lm_loss(logits, targets):
    return F.cross_entropy(logits.view(-1, logits.shape[-1]).float(),
                           targets.view(-1))


class GPT(nn.Module):
    """GPT-2-style decoder with a tied-free LM head and cross-entropy loss."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab, cfg.hidden)
        self.wpe = nn.Embedding(cfg.seq, cfg.hidden)
        self.register_buffer("pos", torch.arange(cfg.seq), persistent=False)
        self.blocks = nn.ModuleList(GPTBlock(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        number_dropout_sites(self)

    def forward(self, tokens, targets, seed=None):
        x = self.wte(tokens) + self.wpe(self.pos)
        for block in self.blocks:
            x = block(x, seed)
        return lm_loss(self.head(self.ln_f(x)), targets)


class RMSNorm(nn.Module):
    """RMSNorm written as the decomposed ops Llama uses."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        inner = cfg.mlp_ratio * cfg.hidden
        self.gate = nn.Linear(cfg.hidden, inner, bias=False)
        self.up = nn.Linear(cfg.hidden, inner, bias=False)
        self.down = nn.Linear(inner, cfg.hidden, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class LlamaBlock(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.attn = Attention(cfg, bias=False, rotary=True)
        self.mlp_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, seed=None):
        x = x + self.attn(self.attn_norm(x), seed)
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    """Llama-style decoder: RMSNorm, rotary attention, SwiGLU, no biases."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab, cfg.hidden)
        self.blocks = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.hidden, cfg.eps)
        self.head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        number_dropout_sites(self)

    def forward(self, tokens, targets, seed=None):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, seed)
        return lm_loss(self.head(self.norm(x)), targets)


class BertLayer(nn.Module):
    """BERT encoder layer: post-LN, bidirectional attention, GELU (erf)."""

    def __init__(self, cfg: Config):
        super().__init__()
        shape = (cfg.batch, cfg.seq, cfg.hidden)
        self.attn = Attention(cfg, causal=False)
        self.drop1 = dropout(cfg, shape)
        self.ln1 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.mlp = GeluMLP(cfg, "none")
        self.drop2 = dropout(cfg, shape)
        self.ln2 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)

    def forward(self, x, seed=None):
        x = self.ln1(x + self.drop1(self.attn(x, seed), seed))
        return self.ln2(x + self.drop2(self.mlp(x), seed))


class Bert(nn.Module):
    """A stack of BERT layers over given embeddings, regressed with MSE."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.blocks = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.layers))
        number_dropout_sites(self)

    def forward(self, x, target, seed=None):
        for block in self.blocks:
            x = block(x, seed)
        return (x.float() - target).pow(2).mean()


class ViTBlock(nn.Module):
    """ViT block: pre-LN, bidirectional attention, GELU (erf) MLP."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.attn = Attention(cfg, causal=False)
        self.ln2 = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.mlp = GeluMLP(cfg, "none")

    def forward(self, x, seed=None):
        x = x + self.attn(self.ln1(x), seed)
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """Patch embedding, ViT blocks, mean-pooled linear head, cross-entropy."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.patch = nn.Linear(cfg.patch_dim, cfg.hidden)
        self.pos = nn.Parameter(torch.zeros(cfg.seq, cfg.hidden))
        self.blocks = nn.ModuleList(ViTBlock(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.head = nn.Linear(cfg.hidden, cfg.vocab)
        number_dropout_sites(self)

    def forward(self, patches, labels, seed=None):
        x = self.patch(patches) + self.pos
        for block in self.blocks:
            x = block(x, seed)
        logits = self.head(self.norm(x).mean(dim=1))
        return F.cross_entropy(logits.float(), labels)


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update (LoRA):
    ``base(x) + scale * lora_b(lora_a(x))`` with rank ``r`` and scale
    ``alpha / r`` (alpha = 2r). LoRA starts ``lora_b`` at zero; ``randomize``
    gives it values like every parameter, so its gradients are non-trivial."""

    def __init__(self, base: nn.Linear, rank: int):
        super().__init__()
        self.base = base
        self.lora_a = nn.Linear(base.in_features, rank, bias=False)
        self.lora_b = nn.Linear(rank, base.out_features, bias=False)
        nn.init.zeros_(self.lora_b.weight)
        self.scale = 2.0

    def forward(self, x):
        return self.base(x) + self.lora_b(self.lora_a(x)) * self.scale


# The projections LoRA adapts: attention's and the MLP's.
LORA_TARGETS = ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2", "mlp.gate",
                "mlp.up", "mlp.down")


def adapt(model: nn.Module, cfg: Config) -> nn.Module:
    """``cfg``'s fine-tuning setup: with ``lora_rank`` > 0, a LoRA adapter on
    every block's attention and MLP projections and every other parameter
    frozen (``requires_grad=False``); with ``freeze_embedding``, the token
    embedding frozen."""
    if cfg.lora_rank > 0:
        for block in model.blocks:
            for path in LORA_TARGETS:
                parent_path, _, name = path.rpartition(".")
                parent = block.get_submodule(parent_path)
                base = getattr(parent, name, None)
                if isinstance(base, nn.Linear):
                    setattr(parent, name, LoRALinear(base, cfg.lora_rank))
        for name, p in model.named_parameters():
            p.requires_grad_(".lora_" in name)
    if cfg.freeze_embedding:
        for name, p in model.named_parameters():
            if name.startswith("embed.") or name.startswith("wte."):
                p.requires_grad_(False)
    return model


class CheckpointedBlock(nn.Module):
    """A block run under ``torch.utils.checkpoint`` (non-reentrant): the
    field's gradient checkpointing, the benchmarks' peer."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, *args):
        from torch.utils.checkpoint import checkpoint
        return checkpoint(self.block, *args, use_reentrant=False)


def checkpoint_blocks(model: nn.Module, every: int = 1) -> nn.ModuleList:
    """Puts every ``every``-th block of ``model.blocks`` (from the first)
    under ``torch.utils.checkpoint``; returns the blocks it replaced, to
    restore them (``model.blocks = ...``)."""
    blocks = model.blocks
    model.blocks = nn.ModuleList(
        CheckpointedBlock(b) if i % every == 0 else b
        for i, b in enumerate(blocks))
    return blocks


MODELS = {"gpt": GPT, "llama": Llama, "bert": Bert, "vit": ViT}

# The small configurations the committed fixtures and numerical tests use.
SMALL = {
    "gpt": Config("gpt", dropout=0.1),
    "llama": Config("llama"),
    "bert": Config("bert", dropout=0.1),
    "vit": Config("vit", vocab=10),
}


def config(model: str, **overrides) -> Config:
    if model not in MODELS:
        raise ValueError(f"unknown model '{model}' (known: "
                         f"{', '.join(sorted(MODELS))})")
    return replace(SMALL[model], **overrides)


def build(cfg: Config, *, meta: bool = False) -> nn.Module:
    """Construct the model for ``cfg`` in its element type.

    With ``meta=True`` the parameters and buffers live on the meta device:
    no memory, no initialisation, only shapes and types, which is all that
    fake-tensor tracing of a large configuration needs.
    """
    if meta:
        with _skip_init():
            model = adapt(MODELS[cfg.model](cfg), cfg)
        return model.to(device="meta").to(dtype=_float_only(cfg))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = adapt(MODELS[cfg.model](cfg), cfg)
    return model.to(dtype=cfg.torch_dtype)


def _float_only(cfg: Config):
    return cfg.torch_dtype


class _skip_init:
    """Turn torch.nn.init and the buffer constructors into no-ops."""

    NAMES = ("kaiming_uniform_", "uniform_", "normal_", "ones_", "zeros_",
             "trunc_normal_", "xavier_uniform_")

    def __enter__(self):
        self.saved = {n: getattr(nn.init, n) for n in self.NAMES}
        for n in self.NAMES:
            setattr(nn.init, n, lambda t, *a, **k: t)
        self.ones, self.cm, self.rt = torch.ones, globals()["causal_mask"], \
            globals()["rotary_tables"]
        globals()["causal_mask"] = lambda s: torch.empty(
            s, s, dtype=torch.bool, device="meta")
        globals()["rotary_tables"] = lambda s, d: (
            torch.empty(s, d, device="meta"), torch.empty(s, d, device="meta"))
        torch.ones = lambda *a, **k: torch.empty(*a, **{**k, "device": "meta"})
        return self

    def __exit__(self, *exc):
        for n, f in self.saved.items():
            setattr(nn.init, n, f)
        torch.ones = self.ones
        globals()["causal_mask"] = self.cm
        globals()["rotary_tables"] = self.rt


def randomize(model: nn.Module, cfg: Config, seed: int = 0) -> None:
    """Deterministic, non-trivial values for parameters and dropout masks.

    Norm weights get 1 + noise and biases small noise, so that their
    gradients exercise every term of the backward formulas.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen)
            if p.dim() >= 2:
                v = r / math.sqrt(p.shape[-1])
            elif name.endswith("weight"):
                v = 1.0 + 0.1 * r
            else:
                v = 0.1 * r
            p.copy_(v.to(p.dtype))
        for name, b in model.named_buffers():
            if name.endswith(".mask"):
                m = torch.rand(b.shape, generator=gen) >= cfg.dropout
                b.copy_(m.to(b.dtype))


def example_inputs(cfg: Config, seed: int = 1) -> Tuple[torch.Tensor, ...]:
    """The batch for one training step of ``cfg``, then the dropout seed (a
    0-d int64) when ``cfg.seeded``."""
    gen = torch.Generator().manual_seed(seed)
    b, t = cfg.batch, cfg.seq
    if cfg.model in ("gpt", "llama"):
        tokens = torch.randint(cfg.vocab, (b, t), generator=gen)
        targets = torch.randint(cfg.vocab, (b, t), generator=gen)
        batch = (tokens, targets)
    elif cfg.model == "bert":
        x = torch.randn(b, t, cfg.hidden, generator=gen)
        target = torch.randn(b, t, cfg.hidden, generator=gen)
        batch = (x.to(cfg.torch_dtype), target)
    else:
        patches = torch.randn(b, t, cfg.patch_dim, generator=gen)
        labels = torch.randint(cfg.vocab, (b,), generator=gen)
        batch = (patches.to(cfg.torch_dtype), labels)
    if not cfg.seeded:
        return batch
    return batch + (torch.randint(2 ** 62, (), generator=gen),)
