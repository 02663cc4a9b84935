"""Per-tensor update functions: one optimizer step on one weight, state passed explicitly.

Each function takes the weight ``W``, its gradient ``G`` and the state arrays,
and returns the new weight and new state as new arrays (nothing is modified in
place), in the caller's kind of array (numpy or torch). They compose the same
pieces as the optimizer classes (:func:`polarlab.optim.base.momentum_step`,
the direction maps, :func:`polarlab.optim.base.apply_decoupled_update`), so
``Muon(...).step()`` and :func:`muon_update` agree. Unlike the classes they do
not guard against non-finite gradients.

Shapes: ``W``, ``G`` and the momentum are ``(..., m, n)``; leading dimensions are
a batch of independent matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from polarlab._arrays import as_work, to_caller
from polarlab.optim.aro import aro_direction
from polarlab.optim.aurora import aurora_direction
from polarlab.optim.base import _compute_dtype, apply_decoupled_update, lr_scale, momentum_step
from polarlab.optim.muon import polar_direction
from polarlab.optim.normuon import normuon_direction
from polarlab.polar import registry

__all__ = ["aro_update", "aurora_update", "muon_update", "normuon_update"]


def _polar_opts(method: str, schedule, steps, dtype, device) -> dict[str, Any]:
    spec = registry.get(method)
    given = {"schedule": schedule, "steps": steps, "dtype": dtype}
    opts = {k: v for k, v in given.items() if v is not None}
    spec.check_options(opts)
    if "dtype" in spec.options:
        opts["dtype"] = _compute_dtype(dtype, device)
    return opts


def _step(
    W,
    G,
    momentum_buffer,
    direction: Callable[[torch.Tensor], tuple[torch.Tensor, tuple]],
    extra_state: tuple,
    *,
    lr,
    momentum: float,
    nesterov: bool,
    momentum_form: str,
    weight_decay: float,
    cautious_wd: bool,
    adjust_lr: str | None,
):
    Wt, kind = as_work(W, name="W", check_finite=False)
    Gt, _ = as_work(G, name="G", check_finite=False)
    Bt, bkind = as_work(momentum_buffer, name="momentum", check_finite=False)
    if not Wt.shape == Gt.shape == Bt.shape:
        raise ValueError(
            f"W, G and momentum must have the same shape; got {tuple(Wt.shape)}, "
            f"{tuple(Gt.shape)}, {tuple(Bt.shape)}"
        )
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
    work = torch.promote_types(Bt.dtype, torch.float32)
    new_buf, M = momentum_step(Bt.to(work), Gt.to(work), momentum, nesterov, momentum_form)
    U, new_extra = direction(M)
    m, n = Wt.shape[-2:]
    W_new = apply_decoupled_update(
        Wt.to(work), U.to(work), lr, lr_scale(adjust_lr, m, n), weight_decay, cautious_wd
    )
    out = [to_caller(W_new, kind), to_caller(new_buf, bkind)]
    out += [to_caller(s, k) for s, k in zip(new_extra, extra_state)]
    return tuple(out)


_COMMON_DOC = """
    lr : float or 0-d tensor
        Learning rate.
    momentum, nesterov, momentum_form
        As for :class:`polarlab.optim.Muon` (defaults 0.95, True, ``"ema"``).
    weight_decay, cautious_wd
        Decoupled weight decay ``W (1 - lr wd)`` (optionally cautious).
    adjust_lr : {"aspect", "spectral_norm", "rms_norm", None}
        lr multiplier by shape (default ``"aspect"``)."""


def muon_update(
    W,
    G,
    momentum_buffer,
    *,
    lr: float | torch.Tensor,
    momentum: float = 0.95,
    nesterov: bool = True,
    momentum_form: str = "ema",
    weight_decay: float = 0.0,
    cautious_wd: bool = False,
    adjust_lr: str | None = "aspect",
    method: str = "polar_express",
    schedule: str | None = None,
    steps: int | None = None,
    dtype: str | None = None,
):
    """One Muon step: ``W <- W (1 - lr wd) - lr s(m, n) polar(M)``.

    Parameters
    ----------
    W, G, momentum_buffer : numpy.ndarray or torch.Tensor, shape (..., m, n)
    method, schedule, steps, dtype
        Registered polar method and its options (dtype default: bf16 on CUDA,
        float32 elsewhere).
    {common}

    Returns
    -------
    W_new, momentum_buffer_new : same kinds as the inputs

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> W, G = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    >>> W1, B1 = muon_update(W, G, np.zeros_like(W), lr=0.1, method="svd", adjust_lr=None)
    >>> s = np.linalg.svd(W - W1, compute_uv=False)  # lr * polar(G): singular values 0.1
    >>> bool(np.allclose(s, 0.1)), bool(np.allclose(B1, 0.05 * G))
    (True, True)
    """
    device = as_work(W, name="W", check_finite=False)[0].device
    opts = _polar_opts(method, schedule, steps, dtype, device)
    return _step(
        W,
        G,
        momentum_buffer,
        lambda M: (polar_direction(M, method, **opts), ()),
        (),
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        momentum_form=momentum_form,
        weight_decay=weight_decay,
        cautious_wd=cautious_wd,
        adjust_lr=adjust_lr,
    )


def normuon_update(
    W,
    G,
    momentum_buffer,
    row_second_moment,
    *,
    lr: float | torch.Tensor,
    beta2: float = 0.95,
    uniform: bool = False,
    momentum: float = 0.95,
    nesterov: bool = True,
    momentum_form: str = "ema",
    weight_decay: float = 0.0,
    cautious_wd: bool = False,
    adjust_lr: str | None = "aspect",
    method: str = "polar_express",
    schedule: str | None = None,
    steps: int | None = None,
    dtype: str | None = None,
):
    """One NorMuon (``uniform=False``) or U-NorMuon (``uniform=True``) step.

    Parameters
    ----------
    W, G, momentum_buffer : shape (..., m, n)
    row_second_moment : shape (..., m)
        Per-row second moment ``v`` (zeros at the start).
    beta2 : float
        EMA factor of ``v`` (default 0.95).
    uniform : bool
        U-NorMuon's ``sqrt(n)`` Frobenius target instead of NorMuon's grafting.
    method, schedule, steps, dtype
        Polar method and options.
    {common}

    Returns
    -------
    W_new, momentum_buffer_new, row_second_moment_new

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W, G = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    >>> out = normuon_update(W, G, torch.zeros_like(W), torch.zeros(8, dtype=torch.float64),
    ...                      lr=1.0, uniform=True, method="svd", adjust_lr=None)
    >>> bool(torch.allclose((W - out[0]).norm(dim=1), torch.full((8,), 0.5, dtype=torch.float64)))
    True
    """
    Vt, vkind = as_work(row_second_moment, name="row_second_moment", min_ndim=1)
    device = Vt.device
    opts = _polar_opts(method, schedule, steps, dtype, device)

    def direction(M):
        U, v = normuon_direction(
            M, Vt.to(M.dtype), beta2=beta2, uniform=uniform, method=method, **opts
        )
        return U, (v,)

    return _step(
        W,
        G,
        momentum_buffer,
        direction,
        (vkind,),
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        momentum_form=momentum_form,
        weight_decay=weight_decay,
        cautious_wd=cautious_wd,
        adjust_lr=adjust_lr,
    )


def aurora_update(
    W,
    G,
    momentum_buffer,
    *,
    lr: float | torch.Tensor,
    iters: int = 2,
    beta: float = 0.5,
    form: str = "preconditioned",
    wide: str = "transpose",
    eps: float = 1e-7,
    momentum: float = 0.95,
    nesterov: bool = True,
    momentum_form: str = "ema",
    weight_decay: float = 0.0,
    cautious_wd: bool = False,
    adjust_lr: str | None = "aspect",
    method: str = "polar_express",
    schedule: str | None = None,
    steps: int | None = None,
    dtype: str | None = None,
):
    """One Aurora step: ``W <- W (1 - lr wd) - lr s(m, n) P(M)``, ``P`` the balanced polar.

    Parameters
    ----------
    W, G, momentum_buffer : shape (..., m, n)
    iters, beta, form, wide, eps
        Aurora options (see :func:`polarlab.optim.aurora.aurora_direction`).
    method, schedule, steps, dtype
        Polar method and options.
    {common}

    Returns
    -------
    W_new, momentum_buffer_new

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W, G = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 4, dtype=torch.float64)
    >>> W1, B1 = aurora_update(W, G * torch.rand(16, 1, dtype=torch.float64),
    ...                        torch.zeros_like(W), lr=1.0, iters=12, method="svd", adjust_lr=None)
    >>> bool(torch.allclose((W - W1).norm(dim=1), torch.full((16,), 0.5, dtype=torch.float64),
    ...                     rtol=1e-3))
    True
    """
    device = as_work(W, name="W", check_finite=False)[0].device
    opts = _polar_opts(method, schedule, steps, dtype, device)

    def direction(M):
        U = aurora_direction(
            M, iters=iters, beta=beta, form=form, wide=wide, eps=eps, method=method, **opts
        )
        return U, ()

    return _step(
        W,
        G,
        momentum_buffer,
        direction,
        (),
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        momentum_form=momentum_form,
        weight_decay=weight_decay,
        cautious_wd=cautious_wd,
        adjust_lr=adjust_lr,
    )


def aro_update(
    W,
    G,
    momentum_buffer,
    rotation,
    *,
    lr: float | torch.Tensor,
    base: str = "sinkhorn",
    qr: str = "cholesky",
    momentum: float = 0.95,
    nesterov: bool = True,
    momentum_form: str = "ema",
    weight_decay: float = 0.0,
    cautious_wd: bool = False,
    adjust_lr: str | None = None,
):
    """One ARO step (short-side rotation): ``U = R f(R^T M)``, ``R`` from QR.

    Parameters
    ----------
    W, G, momentum_buffer : shape (..., m, n)
    rotation : shape (..., k, k), k = min(m, n)
        Rotation state (identity at the start).
    base, qr
        See :func:`polarlab.optim.aro.aro_direction`.
    {common} ARO's default is ``None`` (its update entries have RMS about 1).

    Returns
    -------
    W_new, momentum_buffer_new, rotation_new

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W, G = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    >>> W1, B1, R1 = aro_update(W, G, torch.zeros_like(W), torch.eye(3, dtype=torch.float64),
    ...                         lr=0.1, base="sign")
    >>> bool(torch.allclose(R1.T @ R1, torch.eye(3, dtype=torch.float64)))
    True
    """
    Rt, rkind = as_work(rotation, name="rotation", check_finite=False)

    def direction(M):
        U, R = aro_direction(M, Rt.to(M.dtype), base, qr)
        return U, (R,)

    return _step(
        W,
        G,
        momentum_buffer,
        direction,
        (rkind,),
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        momentum_form=momentum_form,
        weight_decay=weight_decay,
        cautious_wd=cautious_wd,
        adjust_lr=adjust_lr,
    )


for _f in (muon_update, normuon_update, aurora_update, aro_update):
    _f.__doc__ = _f.__doc__.replace("{common}", _COMMON_DOC.strip())
