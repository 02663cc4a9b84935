r"""The spectrum of a direction ``X``: singular values, norm bound, conditioning, orthogonality.

- :func:`singular_value_range` and :func:`singular_value_deviation`: where the top
  singular values of ``X`` lie, and how far from 1;
- :func:`bound_violation`: how far ``||X||_2`` exceeds 1;
- :func:`condition_number`: ``sigma_1 / sigma_r`` of the input ``A``, reported beside
  every precision number;
- :func:`orthogonality_defect`: ``||X^T X - P||`` on the short side, a backward-type
  error (dion's Polar Express tests use its max-entry form).
"""

from __future__ import annotations

from typing import Literal

import torch

from polarlab.metrics._common import _pair, _require_positive, _scalar, _work64
from polarlab.polar.exact import default_rank_tol

__all__ = [
    "bound_violation",
    "condition_number",
    "orthogonality_defect",
    "singular_value_deviation",
    "singular_value_range",
]

_NORMS = ("fro", "spectral", "max")


def _check_rank(rank: int | None, k: int) -> int:
    if rank is None:
        return k
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= k:
        raise ValueError(f"rank must be an integer in [1, min(m, n) = {k}], got {rank!r}")
    return rank


def _top_singular_values(X, rank: int | None) -> torch.Tensor:
    X64 = _work64(X, "X")
    r = _check_rank(rank, min(X64.shape[-2:]))
    return torch.linalg.svdvals(X64)[..., :r]  # descending


def singular_value_range(X, rank: int | None = None):
    r"""``(sigma_min, sigma_max)`` over the top ``rank`` singular values of ``X``.

    For an approximate polar factor the interval should hug 1; compare it with the
    scalar bound of the method's schedule.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    rank : int, optional
        How many leading singular values to consider (the rank of the matrix whose
        polar factor ``X`` approximates). Default ``min(m, n)``: all of them, so a
        collapsed direction is not hidden by the numerical rank of ``X`` itself.

    Returns
    -------
    (sigma_min, sigma_max) : pair of floats, or of numpy float64 arrays of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> singular_value_range(np.diag([0.5, 1.2, 0.0]), rank=2)
    (0.5, 1.2)
    """
    s = _top_singular_values(X, rank)
    return _scalar(s[..., -1]), _scalar(s[..., 0])


def singular_value_deviation(X, rank: int | None = None):
    r"""``delta_sigma = max_i |sigma_i(X) - 1|`` over the top ``rank`` singular values.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    rank : int, optional
        As for :func:`singular_value_range` (default ``min(m, n)``).

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> round(singular_value_deviation(np.diag([0.75, 1.1, 1.0])), 12)
    0.25
    """
    s = _top_singular_values(X, rank)
    return _scalar((s - 1).abs().amax(dim=-1))


def bound_violation(X):
    r"""How far ``||X||_2`` exceeds 1: ``max(sigma_max(X) - 1, 0)``.

    A direction with ``sigma > 1`` overshoots the spectral-norm ball that Muon's
    update is the steepest-descent step in; it also makes
    :func:`~polarlab.metrics.dual_gap` negative.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> round(bound_violation(np.diag([1.25, 0.5])), 12), bound_violation(np.diag([0.9, 0.5]))
    (0.25, 0.0)
    """
    s = _top_singular_values(X, None)
    return _scalar((s[..., 0] - 1).clamp(min=0))


def condition_number(A, *, rank_tol: float | None = None):
    r"""``kappa = sigma_1 / sigma_r`` over the numerical rank ``r`` of ``A``.

    The rank uses the same rule as the SVD reference: ``sigma_i > rank_tol sigma_1``
    with default ``rank_tol = max(m, n) 2^-53``. Reported beside every precision
    number because the float64 reference is accurate only to about ``u kappa``.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    rank_tol : float, optional
        Relative rank threshold.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> condition_number(np.diag([4.0, 2.0, 0.5, 0.0]))
    8.0
    """
    A64 = _work64(A, "A")
    m, n = A64.shape[-2:]
    tol = default_rank_tol(m, n) if rank_tol is None else float(rank_tol)
    if not tol >= 0:
        raise ValueError(f"rank_tol must be >= 0, got {rank_tol!r}")
    s = torch.linalg.svdvals(A64)
    keep = s > tol * s[..., :1]
    r = keep.sum(dim=-1)
    _require_positive(r, "rank", "condition_number")
    sigma_r = s.gather(-1, (r - 1).unsqueeze(-1)).squeeze(-1)
    return _scalar(s[..., 0] / sigma_r)


def orthogonality_defect(
    X,
    *,
    norm: Literal["fro", "spectral", "max"] = "fro",
    rank: int | None = None,
    reference=None,
):
    r"""Orthogonality defect on the short side: ``||X^T X - P||`` (tall), ``||X X^T - P||`` (wide).

    A backward-type error: it can be small while ``X`` is far from ``polar(A)``
    (any semi-orthogonal ``X`` scores 0), so pair it with
    :func:`~polarlab.metrics.polar_error`.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    norm : {"fro", "spectral", "max"}
        ``"fro"``: ``||.||_F / sqrt(trace P)`` (``/ sqrt(min(m, n))`` for ``P = I``);
        ``"spectral"``: ``||.||_2``; ``"max"``: largest absolute entry (the
        criterion of dion's Polar Express tests). Only the Frobenius form is
        normalised, so that it reads as an RMS over the short side.
    rank : int, optional
        Rank-deficient variant: ``P = P_r``, the projector onto the top-``r``
        singular subspace of ``X`` on the short side (``V_r V_r^T`` for tall ``X``).
    reference : array, shape (..., m, n), optional
        Rank-deficient variant with the subspace taken from a reference polar factor
        ``Q``: ``P = Q^T Q`` (tall) or ``Q Q^T`` (wide), of rank ``r = ||Q||_F^2``.
        At most one of ``rank`` and ``reference``. Default ``P = I``.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Notes
    -----
    With ``X = W diag(s) V^T`` and ``P = I``, the defect is the norm of
    ``diag(s_i^2 - 1)``: for ``X = diag(s)`` the Frobenius form is
    ``sqrt(sum (s_i^2 - 1)^2 / k)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.diag([2.0, 1.0, 1.0, 1.0])
    >>> orthogonality_defect(X), orthogonality_defect(X, norm="spectral")
    (1.5, 3.0)
    >>> orthogonality_defect(np.diag([1.0, 1.0, 0.0]), rank=2)
    0.0
    """
    if norm not in _NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(_NORMS)}")
    if rank is not None and reference is not None:
        raise ValueError("pass at most one of rank and reference")
    X64 = _work64(X, "X")
    m, n = X64.shape[-2:]
    k = min(m, n)
    tall = m >= n
    gram = X64.mT @ X64 if tall else X64 @ X64.mT  # short side, (..., k, k)
    if reference is not None:
        X64, A64 = _pair(X64, reference, "X", "reference")
        Q = A64
        P = Q.mT @ Q if tall else Q @ Q.mT  # projector onto the reference's short-side subspace
    elif rank is not None:
        r = _check_rank(rank, k)
        W, _, Vh = torch.linalg.svd(X64, full_matrices=False)
        B = Vh[..., :r, :].mT if tall else W[..., :, :r]  # top-r short-side singular basis
        P = B @ B.mT
    else:
        P = torch.eye(k, dtype=torch.float64, device=X64.device)
    E = gram - P
    if norm == "fro":
        trace = torch.round(torch.diagonal(P, dim1=-2, dim2=-1).sum(-1))
        _require_positive(trace, "rank", "orthogonality_defect")
        return _scalar(torch.linalg.matrix_norm(E) / trace.sqrt())
    if norm == "spectral":
        return _scalar(torch.linalg.matrix_norm(E, ord=2))
    return _scalar(E.abs().amax(dim=(-2, -1)))
