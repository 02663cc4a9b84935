"""AdamW and Lion parameter groups: elementwise updates for vectors, embeddings and heads.

A group with ``algorithm="adamw"`` or ``"lion"`` inside any polarlab optimizer
is updated by the functions here (any parameter shape); see
:func:`polarlab.optim.split_params` for the usual split. State lives in float32
or wider; a parameter whose gradient is not finite keeps its weights and state
for the step, by factors 1 or 0 chosen on a device flag (no host
synchronisation). Weights and state are updated in place, with the operations
(hence the bits) of the out-of-place formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import torch

from polarlab.optim.options import COMMON_HEAD
from polarlab.optim.rule import apply_decoupled_update_, finite_, gate, is_finite, state_dtype

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
    """Yield ``(p, state, grad, ok)`` for the params of an AdamW/Lion group.

    ``exp_avg`` is created on first use. ``grad`` is a copy of the gradient in
    the state dtype with non-finite entries set to 0; ``ok`` is a 0-d bool tensor
    (all entries of the gradient finite, :func:`~polarlab.optim.rule.is_finite`),
    on which callers choose factors (1 or 0) and never synchronise.
    """
    for p in group["params"]:
        if p.grad is None:
            continue
        st = state[p]
        sdtype = state_dtype(p.dtype, p.device)
        if "exp_avg" not in st:
            st["exp_avg"] = torch.zeros_like(p, dtype=sdtype)
        g = p.grad.to(sdtype)  # a copy only if the dtype differs
        yield p, st, finite_(g, in_place=g is not p.grad), is_finite(p.grad)


def _apply(p: torch.Tensor, U: torch.Tensor, lr, wd: float, ok: torch.Tensor) -> None:
    """``p <- p (1 - lr wd) - lr U`` where ``ok``, in place (in the state dtype of ``U``)."""
    W = p if p.dtype == U.dtype else p.to(U.dtype)
    apply_decoupled_update_(W, U, lr, 1.0, wd, ok=ok)
    if W is not p:
        p.copy_(W)


def adamw_step(group: dict[str, Any], state: State) -> None:
    """AdamW (Loshchilov & Hutter, arXiv 1711.05101), decoupled decay, bias-corrected.

    Weights and moments are updated in place (``lerp_`` by ``1 - beta`` where the
    gradient is finite, by 0 elsewhere); at most two temporaries of a parameter's
    size are alive at once (the gradient's copy, then the update and its
    denominator).

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
    for p, st, g, ok in _params(group, state):
        if "exp_avg_sq" not in st:
            st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            st["exp_avg_sq"] = torch.zeros_like(p, dtype=g.dtype)
        step = st["step"] + 1
        # bias corrections 1 - beta^t, as tensors: no host sync
        t = step.to(g.dtype)
        c1 = 1 - torch.pow(b1, t)
        c2 = 1 - torch.pow(b2, t)
        m1, m2 = st["exp_avg"], st["exp_avg_sq"]
        m1.lerp_(g, gate(ok, 1 - b1, 0.0, m1))
        m2.lerp_(g.mul_(g), gate(ok, 1 - b2, 0.0, m2))  # g is a copy: g * g in place
        del g
        U = m1 / c1  # (m1 / c1) / (sqrt(m2 / c2) + eps)
        U.div_((m2 / c2).sqrt_().add_(eps))
        _apply(p, U, lr, wd, ok)
        torch.where(ok, step, st["step"], out=st["step"])


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
    for p, st, g, ok in _params(group, state):
        m = st["exp_avg"]
        _apply(p, torch.lerp(m, g, 1 - b1).sign_(), lr, wd, ok)
        m.lerp_(g, gate(ok, 1 - b2, 0.0, m))


#: The step function of each elementwise algorithm.
STEPS: dict[str, Callable[[dict[str, Any], State], None]] = {
    "adamw": adamw_step,
    "lion": lion_step,
}
