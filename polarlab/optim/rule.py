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
``adjust_lr`` multiplier and ``lambda`` the weight decay. The pieces are
:func:`momentum_buffer`, :func:`lookahead` and :func:`apply_decoupled_update_`
(in place) / :func:`apply_decoupled_update`. :func:`matrix_update` composes them
into one step on new tensors, as the per-tensor functions
(:mod:`polarlab.optim.functional`) use it; the optimizer classes
(:class:`polarlab.optim.PolarOptimizer`) compose the same pieces in place, a
bounded batch of matrices at a time, with the same operations in the same
order, so both give the same bits.
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
    "apply_decoupled_update_",
    "finite_",
    "gate",
    "is_finite",
    "land",
    "lookahead",
    "lr_scale",
    "matrix_update",
    "momentum_buffer",
    "momentum_buffer_",
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


def is_finite(X: torch.Tensor, dim: tuple[int, ...] | None = None) -> torch.Tensor:
    """Whether every entry of ``X`` is finite, over ``dim`` (default: all of ``X``).

    From the maximum and the minimum, which propagate NaN and reach +-Inf: two
    vectorised reductions, no full-size temporary (``torch.isfinite(X).all()``
    allocates one flag per entry; a max-abs norm is not vectorised on CPU), and
    no host synchronisation.

    Examples
    --------
    >>> is_finite(torch.tensor([[1.0, float("nan")], [2.0, 3.0]]), dim=(-1,)).tolist()
    [False, True]
    """
    if X.numel() == 0:
        kept = X.sum(dim=dim) if dim is not None else X.sum()  # the reduced shape
        return torch.ones_like(kept, dtype=torch.bool)
    if dim is None:
        return torch.isfinite(X.amax()) & torch.isfinite(X.amin())
    return torch.isfinite(X.amax(dim=dim)) & torch.isfinite(X.amin(dim=dim))


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


def momentum_buffer(
    buf: torch.Tensor, G: torch.Tensor, momentum: float, form: str, *, out=None
) -> torch.Tensor:
    """The new momentum buffer: ``lerp(B, G, 1 - mu)`` (EMA) or ``mu B + G`` (sum).

    Written into ``out`` when given (which may be ``buf`` itself, for an update
    in place); otherwise a new tensor. Nothing else is modified.

    Examples
    --------
    >>> momentum_buffer(torch.ones(2), torch.zeros(2), 0.9, "sum").tolist()
    [0.8999999761581421, 0.8999999761581421]
    """
    if form == "ema":
        return torch.lerp(buf, G, 1.0 - momentum, out=out)
    if form == "sum":
        return torch.mul(buf, momentum, out=out).add_(G)  # mu B, then + G
    raise ValueError(f"unknown momentum_form {form!r}; choose one of: {', '.join(MOMENTUM_FORMS)}")


def lookahead(
    new: torch.Tensor, G: torch.Tensor, momentum: float, nesterov: bool, form: str, *, out=None
) -> torch.Tensor:
    """The vector the direction map sees: the buffer ``new``, or its Nesterov look-ahead.

    EMA: ``lerp(G, B, mu)`` (KellerJordan/Muon, torch.optim.Muon); sum:
    ``G + mu B`` (microsoft/dion). Written into ``out`` when given (``out`` may
    be ``new`` itself); without Nesterov and without ``out``, ``new`` itself.
    """
    if not nesterov:
        return new if out is None or out is new else out.copy_(new)
    if form == "ema":
        return torch.lerp(G, new, momentum, out=out)
    return torch.mul(new, momentum, out=out).add_(G)  # G + mu B (addition commutes exactly)


def momentum_step(
    buf: torch.Tensor, G: torch.Tensor, momentum: float, nesterov: bool, form: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One momentum update; returns ``(new_buffer, M)`` with ``M`` the vector to use.

    EMA: ``B <- mu B + (1 - mu) G``, Nesterov ``M = (1 - mu) G + mu B``
    (KellerJordan/Muon, torch.optim.Muon). Sum: ``B <- mu B + G``, Nesterov
    ``M = G + mu B`` (microsoft/dion). The two differ by the factor ``1/(1 - mu)``.
    Inputs are not modified (:func:`momentum_buffer` and :func:`lookahead`).

    Examples
    --------
    >>> B, M = momentum_step(torch.zeros(2), torch.ones(2), 0.5, False, "sum")
    >>> B.tolist(), M.tolist()
    ([1.0, 1.0], [1.0, 1.0])
    """
    new = momentum_buffer(buf, G, momentum, form)
    return new, lookahead(new, G, momentum, nesterov, form)


def gate(ok: torch.Tensor | None, value, other: float, like: torch.Tensor):
    """``value`` where ``ok``, else ``other``: a scalar factor of an in-place update.

    ``None`` for ``ok`` gives ``value`` itself. Otherwise a tensor of ``ok``'s
    shape in ``like``'s dtype, so that multiplying by it rounds ``value`` exactly
    as multiplying by the Python scalar would (the kernels cast a scalar to the
    tensor's dtype). Used in place of ``torch.where`` on whole matrices, which is
    several times slower than a multiplication on CPU.
    """
    if ok is None:
        return value
    if isinstance(value, torch.Tensor):  # e.g. a tensor lr: cast on its device
        value = value.to(device=like.device, dtype=like.dtype)
    else:  # a fill kernel, not a host-to-device copy
        value = torch.full((), value, dtype=like.dtype, device=like.device)
    return torch.where(ok, value, other)


def finite_(
    X: torch.Tensor, *, in_place: bool = True, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``X`` with NaN and +-Inf replaced by 0 (finite entries are kept exactly).

    In place; with ``out``, written there (``X`` unchanged); with ``in_place=False``, in a
    new tensor. One pass in each case.
    """
    if out is not None:
        return torch.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0, out=out)
    fn = torch.nan_to_num_ if in_place else torch.nan_to_num
    return fn(X, nan=0.0, posinf=0.0, neginf=0.0)


def land(U: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """``U`` in ``M``'s dtype and (contiguous) layout, written into ``M`` when it is not.

    ``M`` is dead scratch of ``U``'s shape (the momentum batch after the direction
    has used it): landing there costs one pass (the cast and, for a transposed
    ``U``, the transpose) and no allocation. ``U`` itself is returned when it
    already has that dtype and layout; a ``U`` that is a view of ``M`` is copied
    out first.

    Examples
    --------
    >>> M = torch.zeros(2, 3)
    >>> U = land(torch.ones(3, 2, dtype=torch.bfloat16).mT, M)
    >>> U is M, U.dtype, U.tolist()
    (True, torch.float32, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    """
    if U.dtype == M.dtype and U.is_contiguous():
        return U
    if _shares_memory(U, M):  # e.g. a direction that returned a view of its input
        U = U.clone()
    return M.copy_(U)


def _shares_memory(A: torch.Tensor, B: torch.Tensor) -> bool:
    """Whether ``A`` and ``B`` are views of one storage (never, as far as a compiled step
    is concerned: there functionalization gives ``copy_`` its value semantics)."""
    if torch.compiler.is_compiling():
        return False
    return A.untyped_storage().data_ptr() == B.untyped_storage().data_ptr()


def momentum_buffer_(
    buf: torch.Tensor,
    G: torch.Tensor,
    momentum: float,
    form: str,
    ok: torch.Tensor | None,
    *,
    scratch: torch.Tensor | None = None,
) -> torch.Tensor:
    """In place: ``buf`` becomes :func:`momentum_buffer` where ``ok``; elsewhere it is kept.

    The same operations in the same order as :func:`momentum_buffer` where
    ``ok`` (a bool tensor broadcastable against ``buf``); elsewhere the factors
    are 1 and 0, so ``buf`` keeps its value, whatever ``G`` holds there (NaN
    and Inf included). ``G`` is not modified; its finite copy goes into
    ``scratch`` (a tensor of ``buf``'s shape and dtype, overwritten) when given,
    else into a new tensor.

    Examples
    --------
    >>> B = torch.ones(2, 2); G = torch.tensor([[1.0, 3.0], [float("nan"), 0.0]])
    >>> momentum_buffer_(B, G, 0.5, "ema", ok=torch.tensor([[True], [False]])).tolist()
    [[1.0, 2.0], [1.0, 1.0]]
    """
    if ok is not None:  # finite, so that a factor 0 gives 0
        G = finite_(G, in_place=False) if scratch is None else finite_(G, out=scratch)
    if form == "ema":
        return buf.lerp_(G, gate(ok, 1.0 - momentum, 0.0, buf))
    if form == "sum":
        buf.mul_(gate(ok, momentum, 1.0, buf))  # mu B, then + G
        return buf.add_(G if ok is None else G.mul_(ok))
    raise ValueError(f"unknown momentum_form {form!r}; choose one of: {', '.join(MOMENTUM_FORMS)}")


def apply_decoupled_update_(
    W: torch.Tensor,
    U: torch.Tensor,
    lr: float | torch.Tensor,
    scale: float,
    weight_decay: float,
    cautious: bool = False,
    ok: torch.Tensor | None = None,
) -> torch.Tensor:
    """In place: ``W <- W (1 - lr wd) - lr scale U``; ``U`` is overwritten (scratch).

    The in-place form of :func:`apply_decoupled_update`, with the same
    operations in the same order (so the same rounding). ``ok`` (a bool tensor
    broadcastable against ``W``, e.g. 0-d for one matrix) selects the entries
    that are updated; elsewhere ``W`` keeps its value, whatever ``U`` holds
    there (NaN and Inf included), without a host synchronisation.

    Examples
    --------
    >>> W = torch.tensor([[1.0, -1.0], [2.0, 2.0]])
    >>> U = torch.tensor([[1.0, 1.0], [float("nan"), 0.0]])
    >>> _ = apply_decoupled_update_(W, U, 0.5, 1.0, 0.0, ok=torch.tensor([[True], [False]]))
    >>> W.tolist()
    [[0.5, -1.5], [2.0, 2.0]]
    """
    if ok is not None:
        finite_(U)  # finite where ok already; elsewhere, so that a factor 0 gives 0
    if cautious:
        mask = W * U >= 0  # decay only where the update moves toward zero
        if ok is not None:
            mask &= ok
        W.sub_(W * (lr * weight_decay) * mask)
    elif weight_decay != 0:
        W.mul_(gate(ok, 1 - lr * weight_decay, 1.0, W))
    return W.sub_(U.mul_(gate(ok, lr * scale, 0.0, W)))


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
    i.e. where the update already moves toward zero. Inputs are not modified
    (:func:`apply_decoupled_update_` on copies).

    Examples
    --------
    >>> W = torch.tensor([1.0, -1.0]); U = torch.tensor([1.0, 1.0])
    >>> [round(x, 6) for x in apply_decoupled_update(W, U, 0.1, 1.0, 1.0, cautious=True).tolist()]
    [0.8, -1.1]
    """
    return apply_decoupled_update_(W.clone(), U.clone(), lr, scale, weight_decay, cautious)


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
