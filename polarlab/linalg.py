"""Small dense kernels shared by the optimizers: positive-diagonal QR and Sinkhorn scaling.

Both run on batched torch work tensors ``(..., p, q)`` with matrix products and
small factorisations only, without host synchronisation, so they can sit inside
an optimizer step. Inputs are never modified.
"""

from __future__ import annotations

import math

import torch

from polarlab._arrays import unit_roundoff

__all__ = ["QR_METHODS", "cholesky_qr", "positive_qr", "sinkhorn"]

#: Ways :func:`positive_qr` computes the Q factor.
QR_METHODS = ("cholesky", "householder")


def cholesky_qr(
    A: torch.Tensor, shift: torch.Tensor | float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """One (shifted) CholeskyQR pass: ``A^T A + s I = L L^T``, ``Q = A L^{-T}``.

    Parameters
    ----------
    A : torch.Tensor, shape (..., p, k)
    shift : float or torch.Tensor broadcastable to (..., 1, 1)
        ``s >= 0``, added to the diagonal of the Gram matrix.

    Returns
    -------
    Q : torch.Tensor, shape (..., p, k)
    info : torch.Tensor of int, shape (...)
        ``torch.linalg.cholesky_ex``'s flag: 0 where the factorisation succeeded.

    Examples
    --------
    >>> A = torch.tensor([[3.0, 0.0], [4.0, 5.0]], dtype=torch.float64)
    >>> Q, info = cholesky_qr(A)
    >>> bool(torch.allclose(Q.mT @ Q, torch.eye(2, dtype=torch.float64))), int(info)
    (True, 0)
    """
    k = A.shape[-1]
    eye = torch.eye(k, dtype=A.dtype, device=A.device)
    gram = A.mT @ A + shift * eye
    L, info = torch.linalg.cholesky_ex(gram)
    Q = torch.linalg.solve_triangular(L, A.mT, upper=False).mT  # A L^{-T}
    return Q, info


def positive_qr(A: torch.Tensor, method: str = "cholesky") -> tuple[torch.Tensor, torch.Tensor]:
    """Q factor of ``A = QR`` with ``diag(R) > 0`` (deterministic), and a success flag.

    Parameters
    ----------
    A : torch.Tensor, shape (..., k, k)
        Square (batched) input; float32 or float64.
    method : {"cholesky", "householder"}
        ``"cholesky"``: shifted CholeskyQR3 (Fukaya, Kannan, Nakatsukasa, Yamamoto,
        Yanagisawa, "Shifted Cholesky QR for computing the QR factorization of
        ill-conditioned matrices", SIAM J. Sci. Comput. 2020): one pass with
        shift ``s = 11 (k^2 + k(k+1)) u ||A||_F^2`` (which keeps the shifted
        Gram matrix numerically positive definite), then two plain passes
        (CholeskyQR2). Matmuls and k x k Cholesky only: fast on GPUs, no
        host synchronisation. ``"householder"``: ``torch.linalg.qr`` with the
        signs fixed so ``diag(R) > 0``.

    Returns
    -------
    Q : torch.Tensor, shape (..., k, k)
    ok : torch.Tensor of bool, shape (...)
        False where a Cholesky factorisation failed or ``Q`` is not finite
        (e.g. ``A = 0``); callers keep their previous factor there (``torch.where``).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> A = torch.randn(3, 5, 5, dtype=torch.float64)
    >>> Q, ok = positive_qr(A)
    >>> Qh, _ = positive_qr(A, "householder")
    >>> bool(ok.all()), bool(torch.allclose(Q, Qh))
    (True, True)
    """
    if method == "householder":
        Q, R = torch.linalg.qr(A)
        s = torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))
        Q = Q * torch.where(s == 0, 1.0, s).unsqueeze(-2)
        return Q, torch.isfinite(Q).flatten(-2).all(-1)
    if method != "cholesky":
        raise ValueError(f"unknown qr method {method!r}; choose one of: {', '.join(QR_METHODS)}")
    k = A.shape[-1]
    u = unit_roundoff(A.dtype)
    fro2 = A.square().sum((-2, -1), keepdim=True)
    Q, info0 = cholesky_qr(A, 11 * (k * k + k * (k + 1)) * u * fro2)
    Q, info1 = cholesky_qr(Q)
    Q, info2 = cholesky_qr(Q)
    ok = (info0 == 0) & (info1 == 0) & (info2 == 0) & torch.isfinite(Q).flatten(-2).all(-1)
    return Q, ok


def sinkhorn(X: torch.Tensor, rounds: int = 5) -> torch.Tensor:
    """SR-Sinkhorn (SinkGD, arXiv 2502.06742) on ``X`` (..., p, q).

    ``rounds`` alternations of rows to norm ``sqrt(q)``, then columns to ``sqrt(p)``
    (columns last, so the column norms are exact), each norm clamped below at
    1e-8, as in microsoft/dion ``dev/aro``.

    Examples
    --------
    >>> X = sinkhorn(torch.randn(4, 9, dtype=torch.float64))
    >>> bool(torch.allclose(X.norm(dim=0), torch.full((9,), 2.0, dtype=torch.float64)))
    True
    """
    p, q = X.shape[-2:]
    for _ in range(rounds):
        X = X * (math.sqrt(q) / X.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        X = X * (math.sqrt(p) / X.norm(dim=-2, keepdim=True).clamp_min(1e-8))
    return X
