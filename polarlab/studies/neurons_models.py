r"""Data and models of the neuron-death study: Python's own source text, two tiny models.

**Data.** Character-level text from the Python standard library's source files, read
from the running interpreter's ``sysconfig.get_paths()["stdlib"]``: real, varied text
(code, docstrings, comments) that ships with every Python, so the study needs no
download, no extra dependency and no network. The file list is fixed
(:data:`CORPUS_FILES`, read in that order); each file is split by position: its first
80% of bytes go to the training split, the next 10% to the validation split (used to
choose learning rates), the last 10% to the test split (the reported losses). Bytes
are the tokens, with every byte >= 127 mapped to 127 (a 128-symbol vocabulary; the
files are ASCII but for a few characters). The text differs between Python versions,
so a result records the version and the corpus digest (:func:`load_corpus`).

**Models** (PyTorch ``(out, in)`` weights; an MLP up or gate projection is tall,
``(e d) x d``, ``e`` the expansion factor):

* :class:`CharTransformer`: pre-norm decoder (RMSNorm, causal attention with separate
  square ``q, k, v, o``, learned positions), MLP ``W_down (silu(W_gate x) * W_up x)``
  (SwiGLU, Shazeer 2020), separate embedding and head.
* :class:`CharMLP`: the last ``context`` characters' embeddings concatenated, a wide
  input projection, residual blocks ``x + W_down relu(W_up norm(x))^2`` (the ReLU^2 of
  modded-nanogpt; ``phi(0) = phi'(0) = 0``), a head.

:func:`mlp_rows` names the matrices whose rows are the neurons (gate and up, or up).
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "CORPUS_FILES",
    "VOCAB",
    "CharMLP",
    "CharTransformer",
    "Corpus",
    "build_model",
    "load_corpus",
    "mlp_rows",
]

#: Standard-library modules read, in this order (single files in Python 3.9-3.13).
CORPUS_FILES: tuple[str, ...] = (
    "argparse.py",
    "textwrap.py",
    "difflib.py",
    "configparser.py",
    "csv.py",
    "fractions.py",
    "heapq.py",
    "shlex.py",
    "calendar.py",
    "pprint.py",
    "contextlib.py",
    "functools.py",
    "statistics.py",
    "string.py",
    "gettext.py",
    "optparse.py",
)
VOCAB = 128
_SPLITS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}


@dataclass(frozen=True)
class Corpus:
    """Token splits (int64 tensors of byte values < 128) and the corpus' sha256 digest."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    digest: str


def load_corpus(files: tuple[str, ...] = CORPUS_FILES) -> Corpus:
    """Read the standard-library files and split each by position (80/10/10).

    >>> corpus = load_corpus(("string.py",))
    >>> int(corpus.train.max()) < VOCAB and corpus.train.numel() > 7 * corpus.test.numel()
    True
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    digest = hashlib.sha256()
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in _SPLITS}
    for name in files:
        path = root / name
        if not path.is_file():
            raise ValueError(f"standard-library file {name!r} not found in this Python")
        data = path.read_bytes()
        digest.update(data)
        tokens = torch.frombuffer(bytearray(data), dtype=torch.uint8).long().clamp_(max=VOCAB - 1)
        for split, (lo, hi) in _SPLITS.items():
            parts[split].append(tokens[int(lo * len(data)) : int(hi * len(data))])
    return Corpus(**{s: torch.cat(p) for s, p in parts.items()}, digest=digest.hexdigest()[:16])


class _SwiGLU(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.gate = nn.Linear(d, hidden, bias=False)
        self.up = nn.Linear(d, hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.RMSNorm(d), nn.RMSNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.mlp = _SwiGLU(d, hidden)

    def forward(self, x):
        b, t, d = x.shape
        h = self.norm1(x)
        q, k, v = (
            f(h).view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for f in (self.q, self.k, self.v)
        )
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


class CharTransformer(nn.Module):
    """Decoder-only character model with SwiGLU MLPs: tokens (B, T) -> logits (B, T, VOCAB)."""

    def __init__(self, d: int, layers: int, heads: int, context: int, expansion: int):
        super().__init__()
        self.context = context
        self.tok_emb = nn.Embedding(VOCAB, d)
        self.pos_emb = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(_Block(d, heads, expansion * d) for _ in range(layers))
        self.norm = nn.RMSNorm(d)
        self.head = nn.Linear(d, VOCAB, bias=False)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb.weight[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class CharMLP(nn.Module):
    """Next-character MLP on the last ``context`` characters: tokens (B, T) -> logits (B, T,
    VOCAB) for the positions with a full window (the first ``context - 1`` are dropped)."""

    def __init__(self, d: int, layers: int, context: int, expansion: int, embed: int = 16):
        super().__init__()
        self.context = context
        self.tok_emb = nn.Embedding(VOCAB, embed)
        self.proj = nn.Linear(context * embed, d, bias=False)
        self.norms = nn.ModuleList(nn.RMSNorm(d) for _ in range(layers))
        self.ups = nn.ModuleList(nn.Linear(d, expansion * d, bias=False) for _ in range(layers))
        self.downs = nn.ModuleList(nn.Linear(expansion * d, d, bias=False) for _ in range(layers))
        self.norm = nn.RMSNorm(d)
        self.head = nn.Linear(d, VOCAB, bias=False)

    def forward(self, tokens):
        e = self.tok_emb(tokens)  # (B, T, embed)
        windows = e.unfold(1, self.context, 1)  # (B, T - context + 1, embed, context)
        x = self.proj(windows.transpose(-1, -2).flatten(-2))
        for norm, up, down in zip(self.norms, self.ups, self.downs):
            x = x + down(F.relu(up(norm(x))).square())
        return self.head(self.norm(x))


def build_model(kind: str, *, d: int, layers: int, heads: int, context: int, expansion: int):
    """A fresh :class:`CharTransformer` (``"transformer"``) or :class:`CharMLP` (``"mlp"``)."""
    if kind == "transformer":
        return CharTransformer(d, layers, heads, context, expansion)
    if kind == "mlp":
        return CharMLP(d, layers, context, expansion)
    raise ValueError(f"unknown model {kind!r}; choose one of: transformer, mlp")


def mlp_rows(model: nn.Module) -> list[tuple[str, str | None]]:
    """The neuron matrices: ``(gate, up)`` qualified names per SwiGLU layer, ``(up, None)``
    per MLP layer (one row per neuron)."""
    if isinstance(model, CharTransformer):
        return [
            (f"blocks.{i}.mlp.gate.weight", f"blocks.{i}.mlp.up.weight")
            for i in range(len(model.blocks))
        ]
    return [(f"ups.{i}.weight", None) for i in range(len(model.ups))]
