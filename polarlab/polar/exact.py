"""Exact references: the SVD polar factor in float64 (and the mpmath oracle).

The polar factor of ``A = U_r diag(s) V_r^T`` (thin SVD, rank ``r``) is the
partial isometry ``U_r V_r^T``; for full column rank it is the nearest
semi-orthogonal matrix to ``A`` in every unitarily invariant norm
(Higham, *Functions of Matrices*, 2008, Thm 8.4).
"""

from __future__ import annotations

import torch

from polarlab._arrays import unit_roundoff
from polarlab.polar.registry import register

__all__: list[str] = []  # reached through polarlab.polar(method="svd")


def default_rank_tol(m: int, n: int) -> float:
    """Relative rank threshold ``max(m, n) * u`` (u: float64 unit round-off).

    Singular values ``s_i <= s_1 * max(m, n) * u`` are treated as zero
    (REFERENCE section 2; the same rule as ``numpy.linalg.matrix_rank``, up to
    ``u`` versus ``eps``).
    """
    return max(m, n) * unit_roundoff(torch.float64)


def polar_svd(X: torch.Tensor, *, rank_tol: float | None = None) -> tuple[torch.Tensor, dict]:
    """Polar factor ``U_r V_r^T`` from a thin SVD computed in float64.

    Parameters
    ----------
    X : torch.Tensor, shape (..., m, n), m >= n
        Tall or square work tensor (any floating dtype; cast to float64).
    rank_tol : float, optional
        Relative threshold: singular values ``s_i <= rank_tol * s_1`` are dropped,
        giving the partial isometry of rank ``r`` (zero matrices give zeros).
        Default :func:`default_rank_tol` ``= max(m, n) * 2**-53``.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), float64
    info : dict
        ``rank``: the numerical rank of each slice, as a list (a single int for
        unbatched input).
    """
    m, n = X.shape[-2:]
    tol = default_rank_tol(m, n) if rank_tol is None else float(rank_tol)
    if not tol >= 0:
        raise ValueError(f"rank_tol must be >= 0, got {rank_tol!r}")
    A = X.to(torch.float64)
    W, s, Vh = torch.linalg.svd(A, full_matrices=False)
    keep = s > tol * s[..., :1]  # s[..., 0] = s_1; zero matrices keep nothing
    U = (W * keep.unsqueeze(-2).to(A.dtype)) @ Vh
    rank = keep.sum(-1)
    return U, {"rank": rank.tolist()}


register(
    "svd",
    polar_svd,
    "U_r V_r^T from a float64 SVD; rank-deficient input gives the partial isometry",
)
