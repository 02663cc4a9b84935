"""AdamW and Lion parameter groups: elementwise updates for vectors, embeddings and heads.

A group with ``algorithm="adamw"`` or ``"lion"`` inside any polarlab optimizer
is updated by the functions here (any parameter shape); see
:func:`polarlab.optim.split_params` for the usual split. State lives in float32
or wider; a parameter whose gradient is not finite keeps its weights and state
for the step, by factors 1 or 0 chosen on a device flag (no host
synchronisation), and counts the skip in ``state["nonfinite_skips"]`` (as the
matrix optimizers do). For AdamW that includes a finite gradient whose square
overflows the state dtype (``|g| > 1.8e19`` in float32): its second moment would
be infinite and the update silently zero. Weights and state are updated in place, with the
operations (hence the bits) of the out-of-place formulas.

Under ``torch.distributed`` every rank updates its own tensors: for a DTensor
parameter (FSDP2) its local shard, which may be empty (a vector shorter than
the world size), with the moments laid out like the parameter. The skip
decision is the whole parameter's: the flags of a DTensor's pieces are agreed
over its device mesh (always, as a single process skips the whole parameter),
those of plain tensors across ranks when the optimizer's ``distributed`` option
is set (DDP: a NaN in one rank's copy cannot make the replicas drift apart),
by one all-reduce (MIN) of the group's stacked flags per process group
(:func:`polarlab.optim.distributed.agree_flags`); with plain tensors and
``distributed=None`` there is no collective.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import torch

from polarlab.optim import distributed
from polarlab.optim.options import COMMON_HEAD, COMMON_KEYWORD, finite_positive
from polarlab.optim.rule import apply_decoupled_update_, finite_, gate, is_finite, state_dtype

__all__ = ["DEFAULTS", "STEPS", "adamw_step", "check_group", "lion_step"]

#: Group defaults per algorithm (torch.optim.AdamW; Lion, arXiv 2302.06675).
DEFAULTS: dict[str, dict[str, Any]] = {
    "adamw": {"betas": (0.9, 0.999), "eps": 1e-8},
    "lion": {"betas": (0.9, 0.99)},
}
_CHECKED = tuple(o for o in COMMON_HEAD if o.name in ("lr", "weight_decay"))
_OPTIONAL = COMMON_KEYWORD  # distributed: checked where a group has it


def _is_beta(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value < 1


State = MutableMapping[torch.Tensor, dict[str, Any]]


def check_group(group: dict[str, Any]) -> None:
    """Validate an AdamW/Lion group: ``lr``, ``weight_decay``, ``betas``, ``eps`` (AdamW).

    >>> check_group({"algorithm": "lion", "lr": 0.1, "weight_decay": 0.0, "betas": (0.9, 1)})
    Traceback (most recent call last):
    ...
    ValueError: betas must be a pair of numbers in [0, 1), got (0.9, 1)
    """
    needed = ("lr", "weight_decay", "betas", *(("eps",) if group["algorithm"] == "adamw" else ()))
    missing = [key for key in needed if key not in group]
    if missing:
        raise ValueError(f"the group has no {', '.join(map(repr, missing))}")
    for option in _CHECKED:
        option.validate(group[option.name])
    for option in _OPTIONAL:
        if option.name in group:
            option.validate(group[option.name])
    betas = group["betas"]
    pair = isinstance(betas, (tuple, list)) and len(betas) == 2
    if not (pair and all(_is_beta(b) for b in betas)):
        raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
    if group["algorithm"] == "adamw":
        finite_positive("eps", group["eps"])


def _finite(grad: torch.Tensor, sdtype: torch.dtype, square: bool) -> torch.Tensor:
    """Whether every entry of ``grad`` (a local tensor, maybe empty) is finite, and with
    ``square`` also its square in ``sdtype``: a 0-d bool tensor, from two reductions.

    AdamW needs ``g^2`` finite too: in float32 it overflows for ``|g| > 1.8e19``, and
    an infinite second moment would give a silent zero update. ``sdtype`` is at
    least as wide as ``grad``'s dtype, so converting the extremes is exact.
    """
    if not square or grad.numel() == 0:
        return is_finite(grad)
    ends = torch.stack([grad.amax(), grad.amin()]).to(sdtype)  # NaN and +-Inf reach these
    return torch.isfinite(ends.square_()).all()


def _params(
    group: dict[str, Any], state: State, moments: tuple[str, ...], square: bool = False
) -> Iterator[tuple]:
    """Yield ``(w, state, grad, ok)`` for the params of an AdamW/Lion group.

    ``w`` is the weight to update in place (the local shard of a DTensor,
    :func:`polarlab.optim.distributed.local`, possibly empty). The state tensors
    named in ``moments`` are created on first use, zeros laid out like the
    parameter (a DTensor for a DTensor parameter, so that
    ``torch.distributed.checkpoint`` re-shards them); use them through
    :func:`~polarlab.optim.distributed.local`. ``grad`` is a copy of the local
    gradient in the state dtype with non-finite entries set to 0. ``ok`` is a 0-d
    bool tensor, the step's decision for the whole parameter: its gradient
    (squared too with ``square``) is finite, on every rank that holds a piece of
    it when :func:`~polarlab.optim.distributed.agree_flags` says so (one
    all-reduce of the group's stacked flags; none for plain tensors with
    ``distributed=None``). Callers choose factors (1 or 0) on ``ok`` and never
    synchronise. Once the caller is done with a parameter, ``nonfinite_skips``
    (int32 count of skipped steps, created at the first) grows by ``~ok``.
    """
    params = [p for p in group["params"] if p.grad is not None]
    grads = [distributed.local(p.grad) for p in params]
    dtypes = [state_dtype(p.dtype, p.device) for p in params]
    flags = [_finite(g, d, square) for g, d in zip(grads, dtypes)]
    oks = distributed.agree_flags(params, flags, group.get("distributed"))
    for p, grad, sdtype, ok in zip(params, grads, dtypes, oks):
        st = state[p]
        for name in moments:
            if name not in st:
                st[name] = torch.zeros_like(p, dtype=sdtype)
        g = grad.to(sdtype)  # a copy only if the dtype differs
        yield distributed.local(p), st, finite_(g, in_place=g is not grad), ok
        skipped = (~ok).to(torch.int32)
        count = st.get("nonfinite_skips")
        st["nonfinite_skips"] = skipped if count is None else count.add_(skipped)


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
    for w, st, g, ok in _params(group, state, ("exp_avg", "exp_avg_sq"), square=True):
        if "step" not in st:
            st["step"] = torch.zeros((), dtype=torch.float32, device=w.device)
        step = st["step"] + 1
        # bias corrections 1 - beta^t, as tensors: no host sync
        t = step.to(g.dtype)
        c1 = 1 - torch.pow(b1, t)
        c2 = 1 - torch.pow(b2, t)
        m1, m2 = distributed.local(st["exp_avg"]), distributed.local(st["exp_avg_sq"])
        m1.lerp_(g, gate(ok, 1 - b1, 0.0, m1))
        # g is a copy: g * g in place, an overflow to inf set to 0 (0 * inf would be NaN)
        m2.lerp_(finite_(g.mul_(g)), gate(ok, 1 - b2, 0.0, m2))
        del g
        U = m1 / c1  # (m1 / c1) / (sqrt(m2 / c2) + eps)
        U.div_((m2 / c2).sqrt_().add_(eps))
        _apply(w, U, lr, wd, ok)
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
    for w, st, g, ok in _params(group, state, ("exp_avg",)):
        m = distributed.local(st["exp_avg"])
        _apply(w, torch.lerp(m, g, 1 - b1).sign_(), lr, wd, ok)
        m.lerp_(g, gate(ok, 1 - b2, 0.0, m))


#: The step function of each elementwise algorithm.
STEPS: dict[str, Callable[[dict[str, Any], State], None]] = {
    "adamw": adamw_step,
    "lion": lion_step,
}
