"""TRANSITIONAL (delete): NorMuon row normalisations until polarlab.optim.normuon has them."""

from __future__ import annotations

import math

import torch

from polarlab._arrays import as_work, to_caller
from polarlab.manifolds._common import check_positive, scaling_dtype


def _second_moment(U: torch.Tensor, v, beta2: float, check_finite: bool) -> torch.Tensor:
    if not isinstance(beta2, (int, float)) or not 0.0 <= beta2 < 1.0:
        raise ValueError(f"beta2 must be a number in [0, 1), got {beta2!r}")
    mean_sq = (U * U).mean(dim=-1)  # one value per row, shape (..., m)
    if v is None:
        return (1.0 - beta2) * mean_sq  # zero initial state (no bias correction)
    v_work, _ = as_work(v, name="v", min_ndim=1, check_finite=check_finite)
    if v_work.shape != mean_sq.shape:
        raise ValueError(
            f"v must have shape {tuple(mean_sq.shape)} (..., m); got {tuple(v_work.shape)}"
        )
    # v <- beta2 v + (1 - beta2) mean_j U_ij^2 (an EMA, no bias correction)
    return torch.lerp(v_work.to(mean_sq.dtype), mean_sq, 1.0 - beta2)


def normuon_normalize(
    U, v=None, *, beta2: float = 0.95, eps: float = 1e-8, check_finite: bool = True
):
    r"""NorMuon's row normalisation of an orthogonalised update, with its state explicit.

    ``v <- beta2 v + (1 - beta2) mean_j U_ij^2`` (one second moment per row, no
    bias correction); ``U_hat = U / (sqrt(v) + eps)``; then Frobenius grafting
    ``U_hat <- U_hat ||U||_F / max(||U_hat||_F, eps)`` (Li et al., arXiv
    2510.05491, in the form of microsoft/dion's NorMuon and the speedrun code).
    Rows become (nearly) equal in norm at the cost of orthogonality: the singular
    values of ``U_hat`` spread, the more the more heterogeneous the rows of ``U``.

    Parameters
    ----------
    U : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Typically ``polar(M)`` of the momentum ``M``.
    v : same kind as ``U``, shape (..., m), optional
        Previous second-moment state; ``None`` means the zero initial state.
    beta2 : float
        EMA factor in [0, 1) (default 0.95, dion's ``muon_beta2``).
    eps : float
        Added to ``sqrt(v)`` and clamping ``||U_hat||_F`` (default 1e-8, as released).
    check_finite : bool
        Validate that ``U`` and ``v`` are finite (reads the data: a host sync on
        CUDA). Optimizer steps pass ``False`` and guard finiteness themselves.

    Returns
    -------
    U_hat : same kind, shape, device and dtype as ``U``
    v : same kind as ``U``, shape (..., m), dtype of ``U`` promoted to float32
        The new state (a new array; the input state is not modified).

    """
    check_positive(eps, "eps")
    work, kind = as_work(U, name="U", check_finite=check_finite)
    X = work.to(scaling_dtype(work))
    v_new = _second_moment(X, v, beta2, check_finite)
    X_hat = X / (v_new.sqrt().unsqueeze(-1) + eps)
    fro = torch.linalg.vector_norm(X, dim=(-2, -1), keepdim=True)
    X_hat = X_hat * (
        fro / torch.linalg.vector_norm(X_hat, dim=(-2, -1), keepdim=True).clamp(min=eps)
    )
    return to_caller(X_hat, kind), to_caller(v_new, kind, v_new.dtype)


def u_normuon_normalize(
    U, v=None, *, beta2: float = 0.95, eps: float = 1e-8, check_finite: bool = True
):
    r"""U-NorMuon's row normalisation: NorMuon aimed at row norm ``sqrt(n/m)``.

    As :func:`normuon_normalize`, but the Frobenius norm is set to ``sqrt(n)``
    (the value of an exact polar factor, whatever ``||U||_F`` is):
    ``U_hat = sqrt(n) W / ||W||_F`` with ``W = U / (sqrt(v) + eps)``. With the
    instantaneous second moment (``beta2 = 0``, or the first step from the zero
    state) every row then has norm ``sqrt(n/m)``, the row norm of a balanced
    Stiefel point (unofficial gvlassis/U-NorMuon, as summarised by a third
    party). The singular values of ``U_hat`` are not 1: the "loss of polar
    precision".

    Parameters
    ----------
    U : numpy.ndarray or torch.Tensor, shape (..., m, n)
    v : same kind as ``U``, shape (..., m), optional
        Previous second-moment state (``None``: zero initial state).
    beta2, eps, check_finite
        As for :func:`normuon_normalize`.

    Returns
    -------
    U_hat : same kind, shape, device and dtype as ``U``
    v : same kind as ``U``, shape (..., m)

    """
    check_positive(eps, "eps")
    work, kind = as_work(U, name="U", check_finite=check_finite)
    X = work.to(scaling_dtype(work))
    n = X.shape[-1]
    v_new = _second_moment(X, v, beta2, check_finite)
    W = X / (v_new.sqrt().unsqueeze(-1) + eps)
    X_hat = W * (
        math.sqrt(n) / torch.linalg.vector_norm(W, dim=(-2, -1), keepdim=True).clamp(min=eps)
    )
    return to_caller(X_hat, kind), to_caller(v_new, kind, v_new.dtype)
