r"""The update rule around a direction map: momentum, lr shape scaling, decoupled weight decay.

For a matrix ``W`` (m x n, fan_out x fan_in) with gradient ``G`` and momentum
buffer ``B``, one step of every matrix optimizer in polarlab is

.. math::

    B \leftarrow \operatorname{lerp}(B, G, 1 - \mu) \ \text{(EMA) or }
    \mu B + G \ \text{(sum)}, \qquad
    U = f(M), \qquad
    W \leftarrow W (1 - \eta\, \lambda) - \eta\, s(m, n)\, U,

with ``M`` the buffer or its Nesterov look-ahead, ``f`` the optimizer's
direction map (:class:`polarlab.optim.direction.Direction`), ``s`` the
``adjust_lr`` multiplier and ``lambda`` the weight decay. :func:`matrix_update`
is that step; the optimizer classes (:class:`polarlab.optim.PolarOptimizer`)
and the per-tensor functions (:mod:`polarlab.optim.functional`) both call it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from polarlab._arrays import compute_dtype

__all__ = [
    "ADJUST_LR",
    "MOMENTUM_FORMS",
    "apply_decoupled_update",
    "lr_scale",
    "matrix_update",
    "momentum_step",
    "state_dtype",
]

#: lr multipliers by name for a (fan_out, fan_in) = (m, n) matrix.
ADJUST_LR: dict[str | None, Callable[[int, int], float]] = {
    # KellerJordan/Muon, torch.optim.Muon "original", Aurora reference: tall rows get norm 1.
    "aspect": lambda m, n: math.sqrt(max(1.0, m / n)),
    # dion default: RMS->RMS operator norm of an exact polar step equals lr.
    "spectral_norm": lambda m, n: math.sqrt(m / n),
    # Moonshot (arXiv 2502.16982), torch "match_rms_adamw": entry RMS 0.2 lr.
    "rms_norm": lambda m, n: 0.2 * math.sqrt(max(m, n)),
    None: lambda m, n: 1.0,
}
MOMENTUM_FORMS = ("ema", "sum")


def state_dtype(dtype: torch.dtype, device: torch.device | str) -> torch.dtype:
    """Dtype of optimizer state and of the update arithmetic for parameters of ``dtype``.

    The "scaling" role of ``polarlab._arrays.compute_dtype``: the parameter's
    dtype promoted to at least float32, so the momentum of a bfloat16 weight is not
    rounded to 8 bits every step.

    >>> state_dtype(torch.bfloat16, "cpu"), state_dtype(torch.float64, "cpu")
    (torch.float32, torch.float64)
    """
    return compute_dtype(None, device, role="scaling", input_dtype=dtype)


def lr_scale(adjust_lr: str | None, m: int, n: int) -> float:
    """Learning-rate multiplier for an ``m x n`` = (fan_out, fan_in) matrix.

    ``"aspect"``: ``sqrt(max(1, m/n))``; ``"spectral_norm"``: ``sqrt(m/n)``;
    ``"rms_norm"``: ``0.2 sqrt(max(m, n))``; ``None``: 1 (after KellerJordan/Muon,
    microsoft/dion and arXiv 2502.16982).

    Examples
    --------
    >>> lr_scale("aspect", 512, 128), lr_scale("aspect", 128, 512)
    (2.0, 1.0)
    >>> lr_scale("rms_norm", 100, 25)
    2.0
    """
    if adjust_lr not in ADJUST_LR:
        raise ValueError(
            f"unknown adjust_lr {adjust_lr!r}; choose one of: "
            f"{', '.join(repr(k) for k in ADJUST_LR)}"
        )
    return ADJUST_LR[adjust_lr](m, n)


def momentum_step(
    buf: torch.Tensor, G: torch.Tensor, momentum: float, nesterov: bool, form: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One momentum update; returns ``(new_buffer, M)`` with ``M`` the vector to use.

    EMA: ``B <- mu B + (1 - mu) G``, Nesterov ``M = (1 - mu) G + mu B``
    (KellerJordan/Muon, torch.optim.Muon). Sum: ``B <- mu B + G``, Nesterov
    ``M = G + mu B`` (microsoft/dion). The two differ by the factor ``1/(1 - mu)``.
    Inputs are not modified.

    Examples
    --------
    >>> B, M = momentum_step(torch.zeros(2), torch.ones(2), 0.5, False, "sum")
    >>> B.tolist(), M.tolist()
    ([1.0, 1.0], [1.0, 1.0])
    """
    if form == "ema":
        new = torch.lerp(buf, G, 1.0 - momentum)
        return new, (torch.lerp(G, new, momentum) if nesterov else new)
    if form == "sum":
        new = buf * momentum + G
        return new, (G + new * momentum if nesterov else new)
    raise ValueError(f"unknown momentum_form {form!r}; choose one of: {', '.join(MOMENTUM_FORMS)}")


def apply_decoupled_update(
    W: torch.Tensor,
    U: torch.Tensor,
    lr: float | torch.Tensor,
    scale: float,
    weight_decay: float,
    cautious: bool = False,
) -> torch.Tensor:
    """``W (1 - lr wd) - lr scale U``, with cautious decay if asked; a new tensor.

    Weight decay uses the *unadjusted* lr (torch.optim.Muon, microsoft/dion).
    Cautious decay (arXiv 2510.12402) decays only entries with ``W * U >= 0``,
    i.e. where the update already moves toward zero.

    Examples
    --------
    >>> W = torch.tensor([1.0, -1.0]); U = torch.tensor([1.0, 1.0])
    >>> [round(x, 6) for x in apply_decoupled_update(W, U, 0.1, 1.0, 1.0, cautious=True).tolist()]
    [0.8, -1.1]
    """
    if cautious:
        decay = W * (lr * weight_decay) * (W * U >= 0)
        W = W - decay
    elif weight_decay != 0:
        W = W * (1 - lr * weight_decay)
    return W - U * (lr * scale)


def matrix_update(
    direction: Callable[[torch.Tensor, Mapping], tuple[torch.Tensor, dict]],
    W: torch.Tensor,
    G: torch.Tensor,
    buf: torch.Tensor,
    state: Mapping[str, torch.Tensor],
    *,
    lr: float | torch.Tensor,
    momentum: float,
    nesterov: bool,
    momentum_form: str,
    weight_decay: float,
    cautious_wd: bool,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """One step of the update rule on work tensors; nothing is modified in place.

    Parameters
    ----------
    direction : callable
        ``direction(M, state) -> (U, new_state)``, e.g. a
        :class:`~polarlab.optim.direction.Direction`.
    W, G, buf : torch.Tensor, shape (..., m, n)
        Weights, gradient and momentum buffer, all in the state dtype (float32
        or wider); leading dimensions are independent matrices.
    state : mapping of str to torch.Tensor
        The direction's own state, batched like ``W``.
    lr, momentum, nesterov, momentum_form, weight_decay, cautious_wd
        As the optimizer options of the same names.
    scale : float
        The ``adjust_lr`` multiplier (:func:`lr_scale`).

    Returns
    -------
    W_new, buf_new : torch.Tensor, shape (..., m, n)
    U : torch.Tensor, shape (..., m, n)
        The direction, in the state dtype.
    new_state : dict of str to torch.Tensor

    Examples
    --------
    >>> sign = lambda M, state: (torch.sign(M), {})
    >>> W1, B1, U, _ = matrix_update(sign, torch.zeros(2, 2), torch.eye(2), torch.zeros(2, 2),
    ...     {}, lr=0.5, momentum=0.9, nesterov=False, momentum_form="ema", weight_decay=0.0,
    ...     cautious_wd=False, scale=1.0)
    >>> W1.tolist()
    [[-0.5, 0.0], [0.0, -0.5]]
    """
    new_buf, M = momentum_step(buf, G, momentum, nesterov, momentum_form)
    U, new_state = direction(M, state)
    U = U.to(buf.dtype)
    W_new = apply_decoupled_update(W, U, lr, scale, weight_decay, cautious_wd)
    return W_new, new_buf, U, new_state
