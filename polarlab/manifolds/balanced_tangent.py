r"""The tangent space of the balanced Stiefel manifold and its multiplier system.

On ``{U : U^T U = I_n, ||U_i||^2 = n/m}`` (tall ``U``) the normal space at ``U`` is
``{U S + diag(lambda) U : S symmetric}``, so the tangent part of ``V`` is
``V - U S - diag(lambda) U`` where ``lambda`` solves an ``m x m`` graph-Laplacian
system with weights ``(U U^T)_ij^2``; tilde-research/aurora-release's
``riemannian_aurora.py`` solves the same system by conjugate gradients. Here: the
matrix-free matvec, conjugate gradients (for the Riemannian ascent) and a dense
eigensolve (for references), and :func:`tangent_balanced_stiefel`.
"""

from __future__ import annotations

import torch

from polarlab._arrays import meta_result, to_caller, unit_roundoff
from polarlab.manifolds._common import row_sq, tangent_inputs

__all__ = ["tangent_balanced_stiefel"]


def _laplacian_matvec(U: torch.Tensor, sq: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``(diag(l) - P o P) v`` with ``P = U U^T`` never formed; ``sq`` holds ``l``.

    ``(P o P) v = rowsum((U (U^T diag(v) U)) o U)``; ``l_i = ||U_i||^2 = sum_j P_ij^2``
    for semi-orthogonal ``U``, so the matrix is a graph Laplacian with weights
    ``P_ij^2``: positive semi-definite with ``1`` in its kernel.
    """
    UtDU = U.mT @ (v * U)  # U^T diag(v) U, shape (..., n, n)
    return sq * v - ((U @ UtDU) * U).sum(dim=-1, keepdim=True)


def _relative_residual(
    U: torch.Tensor, sq: torch.Tensor, lam: torch.Tensor, q: torch.Tensor
) -> torch.Tensor:
    """``||(diag(l) - P o P) lambda - q|| / ||q||`` per slice, shape (...)."""
    res = _laplacian_matvec(U, sq, lam) - q
    qn = torch.linalg.vector_norm(q, dim=(-2, -1)).clamp(min=torch.finfo(U.dtype).tiny)
    return torch.linalg.vector_norm(res, dim=(-2, -1)) / qn


def _cg_multipliers(
    U: torch.Tensor, q: torch.Tensor, steps: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Conjugate gradients for ``(diag(l) - P o P) lambda = q``, with ``q`` and the
    iterates kept orthogonal to the kernel vector ``1``.

    A fixed number of steps with masked updates (no data-dependent Python branch):
    a slice whose residual is below ``tol * ||q||`` (or whose curvature ``p^T A p``
    vanishes) stops moving. Returns ``(lambda, relative residual)``.
    """
    sq = row_sq(U)
    tiny = torch.finfo(U.dtype).tiny
    lam = torch.zeros_like(q)
    res = q.clone()
    p = res.clone()
    rr = (res * res).sum(dim=-2, keepdim=True)
    stop = tol * tol * rr
    for _ in range(steps):
        Ap = _laplacian_matvec(U, sq, p)
        pAp = (p * Ap).sum(dim=-2, keepdim=True)
        active = (rr > stop) & (pAp > tiny)
        alpha = torch.where(active, rr / torch.where(active, pAp, 1.0), 0.0)
        lam = lam + alpha * p
        res = res - alpha * Ap
        rr_new = (res * res).sum(dim=-2, keepdim=True)
        p = res + torch.where(active, rr_new / torch.where(active, rr, 1.0), 0.0) * p
        rr = torch.where(active, rr_new, rr)
    lam = lam - lam.mean(dim=-2, keepdim=True)
    return lam, _relative_residual(U, sq, lam, q)


def direct_multipliers(U: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Minimum-norm solution of ``(diag(l) - P o P) lambda = q`` by a dense
    symmetric eigensolve (m x m: for references, not hot paths)."""
    P = U @ U.mT
    L = torch.diag_embed(row_sq(U)[..., 0]) - P * P
    w, Q = torch.linalg.eigh(L)
    # The kernel (eigenvalue 0, eigenvector 1/sqrt(m)) is dropped: pseudo-inverse
    # with the relative threshold m * u * ||L||_2.
    cut = L.shape[-1] * unit_roundoff(L.dtype) * w[..., -1:].abs()
    winv = torch.where(w.abs() > cut, 1.0 / torch.where(w.abs() > cut, w, 1.0), 0.0)
    return Q @ (winv.unsqueeze(-1) * (Q.mT @ q))


def balanced_tangent(
    U: torch.Tensor, V: torch.Tensor, *, cg_steps: int | None, cg_tol: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tangent part ``Z = V - U S - diag(lambda) U`` of ``V`` at a semi-orthogonal ``U``.

    ``sym(U^T Z) = 0`` gives ``S = B - U^T diag(lambda) U`` with ``B = sym(U^T V)``;
    ``<Z_i, U_i> = 0`` then gives ``(diag(l) - P o P) lambda = q`` with
    ``q_i = <V_i, U_i> - (U B U^T)_ii``. Returns ``(Z, lambda, residual)``;
    ``cg_steps=None`` solves directly (residual of the dense solve).
    """
    VtU = U.mT @ V
    B = (VtU + VtU.mT) / 2
    q = (V * U).sum(dim=-1, keepdim=True) - ((U @ B) * U).sum(dim=-1, keepdim=True)
    q = q - q.mean(dim=-2, keepdim=True)  # sum q = tr(U^T V) - tr(B) = 0; remove round-off
    if cg_steps is None:
        lam = direct_multipliers(U, q)
        residual = _relative_residual(U, row_sq(U), lam, q)
    else:
        lam, residual = _cg_multipliers(U, q, cg_steps, cg_tol)
    S = B - U.mT @ (lam * U)
    return V - U @ S - lam * U, lam, residual


def tangent_balanced_stiefel(U, V):
    r"""Project ``V`` onto the tangent space of the balanced Stiefel manifold at ``U``.

    The tangent space at ``U`` (``U^T U = I``, ``||U_i||^2 = n/m``) is
    ``{Z : sym(U^T Z) = 0, <Z_i, U_i> = 0 for all i}``; its orthogonal complement
    is ``{U S + diag(lambda) U : S symmetric}``. So ``P_U(V) = V - U S - diag(lambda) U``
    where ``S = sym(U^T V) - U^T diag(lambda) U`` and ``lambda`` solves the
    ``m x m`` system ``(diag(l) - P o P) lambda = q``, ``P = U U^T``,
    ``l_i = ||U_i||^2``, ``q_i = <V_i, U_i> - (U sym(U^T V) U^T)_ii`` (a graph
    Laplacian with weights ``P_ij^2``; the minimum-norm solution is taken). For
    a point on the manifold ``l_i = n/m``, the system of tilde-research's
    ``riemannian_aurora.py``. Solved densely in the work dtype (a reference; the
    Riemannian optimizer uses conjugate gradients instead).

    Parameters
    ----------
    U : numpy.ndarray or torch.Tensor, shape (..., m, n), m >= n
        A point of the balanced Stiefel manifold (semi-orthogonal at least).
    V : same kind as ``U``, shape (..., m, n)

    Returns
    -------
    same kind, shape, device and dtype as ``V``

    Examples
    --------
    >>> import numpy as np
    >>> U = np.kron(np.eye(2), np.ones((2, 1))) / np.sqrt(2)  # 4x2, rows of norm^2 1/2
    >>> Z = tangent_balanced_stiefel(U, np.random.default_rng(0).standard_normal((4, 2)))
    >>> bool(np.allclose(U.T @ Z + Z.T @ U, 0) and np.allclose((Z * U).sum(1), 0))
    True
    """
    Uw, Vw, kind = tangent_inputs(U, V, ("U", "V"), "tangent_balanced_stiefel")  # dtypes promote
    if Vw.is_meta:
        return meta_result(Vw.shape, kind)
    if Uw.shape[-2] < Uw.shape[-1]:
        raise ValueError(f"U must be tall or square (m >= n); got shape {tuple(Uw.shape)}")
    Z, _, _ = balanced_tangent(Uw, Vw, cg_steps=None)
    return to_caller(Z, kind)
