"""AdamW and Lion parameter groups: elementwise updates for vectors, embeddings and heads.

A group with ``algorithm="adamw"`` or ``"lion"`` inside any polarlab optimizer
is updated by the functions here (any parameter shape); see
:func:`polarlab.optim.split_params` for the usual split. State lives in float32
or wider; a parameter whose gradient is not finite keeps its weights and state
for the step, chosen by ``torch.where`` (no host synchronisation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import torch

from polarlab.optim.options import COMMON_HEAD
from polarlab.optim.rule import apply_decoupled_update, state_dtype

__all__ = ["DEFAULTS", "STEPS", "adamw_step", "check_group", "lion_step"]

#: Group defaults per algorithm (torch.optim.AdamW; Lion, arXiv 2302.06675).
DEFAULTS: dict[str, dict[str, Any]] = {
    "adamw": {"betas": (0.9, 0.999), "eps": 1e-8},
    "lion": {"betas": (0.9, 0.99)},
}
_CHECKED = tuple(o for o in COMMON_HEAD if o.name in ("lr", "weight_decay"))

State = MutableMapping[torch.Tensor, dict[str, Any]]


def check_group(group: dict[str, Any]) -> None:
    """Validate an AdamW/Lion group: ``lr``, ``weight_decay``, ``betas``, ``eps`` (AdamW)."""
    for option in _CHECKED:
        option.validate(group[option.name])
    b1, b2 = group["betas"]
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must lie in [0, 1), got {group['betas']!r}")
    if group["algorithm"] == "adamw" and not group["eps"] > 0:
        raise ValueError(f"eps must be > 0, got {group['eps']!r}")


def _params(group: dict[str, Any], state: State) -> Iterator[tuple]:
    """Yield ``(p, state, state_dtype, grad, ok)`` for the params of an AdamW/Lion group.

    ``exp_avg`` is created on first use. ``ok`` is a 0-d bool tensor (all-finite
    gradient) and a non-finite ``grad`` comes back zeroed, so callers select with
    ``torch.where`` and never synchronise.
    """
    for p in group["params"]:
        if p.grad is None:
            continue
        st = state[p]
        sdtype = state_dtype(p.dtype, p.device)
        if "exp_avg" not in st:
            st["exp_avg"] = torch.zeros_like(p, dtype=sdtype)
        g = p.grad.to(sdtype)
        ok = torch.isfinite(g).all()
        yield p, st, sdtype, torch.where(ok, g, 0.0), ok


def adamw_step(group: dict[str, Any], state: State) -> None:
    """AdamW (Loshchilov & Hutter, arXiv 1711.05101), decoupled decay, bias-corrected.

    Examples
    --------
    >>> w = torch.tensor([1.0, -1.0])
    >>> w.grad = torch.tensor([0.5, -2.0])
    >>> adamw_step({"params": [w], "betas": (0.9, 0.999), "eps": 0.0, "lr": 0.1,
    ...             "weight_decay": 0.0}, {w: {}})
    >>> [round(x, 5) for x in w.tolist()]  # first step: w - lr g / |g| (bias-corrected)
    [0.9, -0.9]
    """
    b1, b2 = group["betas"]
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    for p, st, sdtype, g, ok in _params(group, state):
        if "exp_avg_sq" not in st:
            st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            st["exp_avg_sq"] = torch.zeros_like(p, dtype=sdtype)
        step = st["step"] + 1
        m1 = torch.lerp(st["exp_avg"], g, 1 - b1)
        m2 = torch.lerp(st["exp_avg_sq"], g * g, 1 - b2)
        # bias corrections 1 - beta^t, as tensors: no host sync
        t = step.to(sdtype)
        c1 = 1 - torch.pow(b1, t)
        c2 = 1 - torch.pow(b2, t)
        U = (m1 / c1) / ((m2 / c2).sqrt() + eps)
        W = p.to(sdtype)
        W_new = torch.where(ok, apply_decoupled_update(W, U, lr, 1.0, wd), W)
        p.copy_(W_new)
        st["step"] = torch.where(ok, step, st["step"])
        st["exp_avg"] = torch.where(ok, m1, st["exp_avg"])
        st["exp_avg_sq"] = torch.where(ok, m2, st["exp_avg_sq"])


def lion_step(group: dict[str, Any], state: State) -> None:
    """Lion (Chen et al., arXiv 2302.06675): ``W -= lr sign(lerp(m, g, 1-b1))``.

    Examples
    --------
    >>> w = torch.tensor([1.0, -1.0])
    >>> w.grad = torch.tensor([0.5, -2.0])
    >>> lion_step({"params": [w], "betas": (0.9, 0.99), "lr": 0.1, "weight_decay": 0.0},
    ...           {w: {}})
    >>> w.detach().tolist()
    [0.8999999761581421, -0.8999999761581421]
    """
    b1, b2 = group["betas"]
    lr, wd = group["lr"], group["weight_decay"]
    for p, st, sdtype, g, ok in _params(group, state):
        U = torch.sign(torch.lerp(st["exp_avg"], g, 1 - b1))
        W = p.to(sdtype)
        p.copy_(torch.where(ok, apply_decoupled_update(W, U, lr, 1.0, wd), W))
        st["exp_avg"] = torch.where(ok, torch.lerp(st["exp_avg"], g, 1 - b2), st["exp_avg"])


#: The step function of each elementwise algorithm.
STEPS: dict[str, Callable[[dict[str, Any], State], None]] = {
    "adamw": adamw_step,
    "lion": lion_step,
}
