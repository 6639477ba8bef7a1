"""Models outside the corpus, for the tests of remat.torch and the importer.

* ``ParallelLM``: GPT-J's parallel-residual blocks.
* ``Mixer``: MLP-Mixer (an MLP across tokens, then one across channels).
* ``TiedLM``: an ALBERT-style model whose output head shares the
  embedding's weight, with a label-smoothed cross-entropy that ignores
  some targets.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ParallelBlock(nn.Module):
    """GPT-J's block: attention and MLP read the same normalized input."""

    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.ln = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.fc1 = nn.Linear(hidden, 4 * hidden)
        self.fc2 = nn.Linear(4 * hidden, hidden)

    def forward(self, x):
        b, s, h = x.shape
        y = self.ln(x)
        q, k, v = self.qkv(y).split(h, dim=-1)
        q, k, v = (t.reshape(b, s, self.heads, h // self.heads)
                   .transpose(1, 2) for t in (q, k, v))
        a = torch.softmax(q @ k.transpose(-2, -1) /
                          math.sqrt(h // self.heads), dim=-1) @ v
        a = self.proj(a.transpose(1, 2).reshape(b, s, h))
        return x + a + self.fc2(F.gelu(self.fc1(y)))


class ParallelLM(nn.Module):
    def __init__(self, vocab=32, hidden=16, heads=2, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.blocks = nn.ModuleList(ParallelBlock(hidden, heads)
                                    for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens, targets):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               targets.reshape(-1))


class MixerBlock(nn.Module):
    """MLP-Mixer: an MLP across tokens, then one across channels."""

    def __init__(self, tokens, channels):
        super().__init__()
        self.ln1 = nn.LayerNorm(channels)
        self.token1 = nn.Linear(tokens, 2 * tokens)
        self.token2 = nn.Linear(2 * tokens, tokens)
        self.ln2 = nn.LayerNorm(channels)
        self.channel1 = nn.Linear(channels, 4 * channels)
        self.channel2 = nn.Linear(4 * channels, channels)

    def forward(self, x):
        y = self.ln1(x).transpose(1, 2)
        x = x + self.token2(F.gelu(self.token1(y))).transpose(1, 2)
        return x + self.channel2(F.gelu(self.channel1(self.ln2(x))))


class Mixer(nn.Module):
    def __init__(self, tokens=8, patch=12, channels=16, layers=2,
                 classes=10):
        super().__init__()
        self.stem = nn.Linear(patch, channels)
        self.blocks = nn.ModuleList(MixerBlock(tokens, channels)
                                    for _ in range(layers))
        self.ln = nn.LayerNorm(channels)
        self.head = nn.Linear(channels, classes)

    def forward(self, patches, labels):
        x = self.stem(patches)
        for block in self.blocks:
            x = block(x)
        return F.cross_entropy(self.head(self.ln(x).mean(dim=1)), labels)


class TiedLM(nn.Module):
    """ALBERT-style weight tying; label smoothing and ignore_index."""

    def __init__(self, vocab=32, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.ln = nn.LayerNorm(hidden)
        self.fc = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens, targets):
        x = self.embed(tokens)
        x = x + F.gelu(self.fc(self.ln(x)))
        logits = self.head(x) * 0.25
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               targets.reshape(-1), label_smoothing=0.1,
                               ignore_index=-100)
