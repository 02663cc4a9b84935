"""Split a model's parameters into matrix groups and elementwise (AdamW/Lion) groups.

The recipe for mixed models (KellerJordan/Muon; torch.optim.Muon's docs;
microsoft/dion): hidden-layer weight matrices take the matrix optimizer;
vectors (biases, norm gains), embeddings and output heads take AdamW (or Lion).
Embeddings and heads are 2-D but are not hidden-layer linear maps: an embedding
row is touched only by its token, and the head's rows are per-class, so an
orthogonalised update spreads them in ways the polar geometry does not justify.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["split_params"]


def split_params(
    model: torch.nn.Module,
    embedding_modules: tuple[str, ...] | list[str] = (),
    head_modules: tuple[str, ...] | list[str] = (),
    *,
    flatten: bool = False,
    algorithm: str = "adamw",
    other_options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Parameter groups: hidden matrices, and everything else under ``algorithm``.

    Parameters
    ----------
    model : torch.nn.Module
    embedding_modules, head_modules : sequence of str
        Qualified module names (as in ``model.named_modules()``, e.g.
        ``"tok_emb"``, ``"lm_head"``) whose parameters go to the elementwise
        group. An unknown name raises ``ValueError`` listing the module names.
    flatten : bool
        Put N-D (conv) weights in the matrix group (the optimizer must then be
        built with ``flatten=True``); otherwise they go to the elementwise group.
    algorithm : {"adamw", "lion"}
        Algorithm of the elementwise group.
    other_options : dict, optional
        Extra options of the elementwise group (e.g. ``{"lr": 3e-4, "betas":
        (0.9, 0.95)}``). Without an ``lr`` it inherits the optimizer's.

    Returns
    -------
    list of dict
        ``[{"params": matrices}, {"params": others, "algorithm": algorithm, ...}]``;
        empty groups are left out. Only parameters with ``requires_grad``.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 8),
    ...                           torch.nn.Linear(8, 3))
    >>> groups = split_params(net, ["0"], ["2"], other_options={"lr": 1e-3})
    >>> [len(g["params"]) for g in groups], groups[1]["algorithm"]
    ([1, 4], 'adamw')
    """
    if algorithm not in ("adamw", "lion"):
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of: adamw, lion")
    modules = dict(model.named_modules())
    special = [*embedding_modules, *head_modules]
    unknown = [name for name in special if name not in modules]
    if unknown:
        listing = ", ".join(repr(n) for n in modules if n) or "(none)"
        raise ValueError(f"no module named {', '.join(map(repr, unknown))}; modules are: {listing}")
    excluded = {id(p) for name in special for p in modules[name].parameters()}
    matrices, others = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_matrix = p.ndim == 2 or (flatten and p.ndim > 2)
        (matrices if is_matrix and id(p) not in excluded else others).append(p)
    groups: list[dict[str, Any]] = []
    if matrices:
        groups.append({"params": matrices})
    if others:
        groups.append({"params": others, "algorithm": algorithm, **(other_options or {})})
    return groups
