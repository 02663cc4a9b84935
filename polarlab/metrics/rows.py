r"""Row (neuron) statistics: row norms, their uniformity, and leverage scores.

For a ``(out, in)`` weight the rows are the output neurons. Muon's update
``polar(G)`` gives rows of a heterogeneous ``G`` very unequal norms; Aurora
(arXiv 2606.27715) equalises them. :func:`row_norms` and the uniformity
statistics :func:`row_norm_ratio`, :func:`row_norm_cv` and
:func:`row_norm_deviation` measure a direction ``X`` (rows, or columns with
``axis="columns"``); :func:`leverage_scores` are the row norms (squared) of
``polar(A)`` itself.
"""

from __future__ import annotations

from typing import Literal

import torch

from polarlab.linalg import max_abs_scale, safe_norm
from polarlab.metrics._common import _reference, _require_positive, _scalar, _vector, _work64

__all__ = ["leverage_scores", "row_norm_cv", "row_norm_deviation", "row_norm_ratio", "row_norms"]

Axis = Literal["rows", "columns"]
_AXES = ("rows", "columns")


def _check_axis(axis: str) -> None:
    if axis not in _AXES:
        raise ValueError(f"unknown axis {axis!r}; choose one of: {', '.join(_AXES)}")


def _vectors(X64: torch.Tensor, axis: str) -> torch.Tensor:
    """The vectors measured by the row statistics, as rows: X (rows) or X^T (columns)."""
    _check_axis(axis)
    return X64 if axis == "rows" else X64.mT


def row_norms(X, *, axis: Axis = "rows"):
    r"""Euclidean norms ``||X_i||`` of the rows (or columns) of ``X``.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        ``"rows"`` (default): the ``m`` output neurons of a ``(out, in)`` weight.
        ``"columns"``: the ``n`` columns; this is what Aurora v1 equalises for wide
        matrices (it transposes them to balance the long axis).

    Returns
    -------
    numpy float64 array, shape (..., m) (or (..., n) for columns)

    Examples
    --------
    >>> import numpy as np
    >>> row_norms(np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]]))
    array([5., 1., 0.])
    """
    return _vector(_row_norm_tensor(X, axis, empty_ok=True))


def _row_norm_tensor(X, axis: Axis, *, empty_ok: bool = False) -> torch.Tensor:
    """Float64 norms of the rows (or columns) of ``X``, shape (..., m) (or (..., n))."""
    # safe_norm: rows of 1e200 or 1e-200 neither overflow nor underflow when squared
    return safe_norm(_vectors(_work64(X, "X", empty_ok=empty_ok), axis), -1)


def row_norm_ratio(X, *, axis: Axis = "rows"):
    r"""Row-uniformity ratio ``rho = max_i ||X_i|| / min_i ||X_i||`` (>= 1).

    ``rho = inf`` when a row is zero (and so for the zero matrix): a dead row is
    infinitely non-uniform, which a study should see rather than have skipped.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        As for :func:`row_norms`.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> row_norm_ratio(np.array([[3.0, 4.0], [0.0, 1.0]]))
    5.0
    >>> row_norm_ratio(np.array([[3.0, 4.0], [0.0, 0.0]]))
    inf
    """
    norms = _row_norm_tensor(X, axis)
    top, low = norms.amax(dim=-1), norms.amin(dim=-1)
    ratio = torch.where(low > 0, top / low.clamp(min=torch.finfo(torch.float64).tiny), torch.inf)
    return _scalar(ratio)


def row_norm_cv(X, *, axis: Axis = "rows"):
    r"""Coefficient of variation ``std_i ||X_i|| / mean_i ||X_i||`` of the row norms.

    Population standard deviation (``ddof = 0``). Raises ``ValueError`` for a zero
    matrix, whose mean row norm is 0.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        As for :func:`row_norms`.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> row_norm_cv(np.array([[1.0, 0.0], [0.0, 3.0]]))
    0.5
    """
    norms = _row_norm_tensor(X, axis)
    # scale-free: divided by a power of two near the largest norm (exact), so the squares in
    # std cannot over- or underflow at any float64 scale (a zero matrix is refused below)
    norms = max_abs_scale(norms, -1)[0]
    mean = norms.mean(dim=-1)
    _require_positive(mean, "mean row norm", "row_norm_cv")
    return _scalar(norms.std(dim=-1, correction=0) / mean)


def row_norm_deviation(X, *, axis: Axis = "rows"):
    r"""``max_i | ||X_i||^2 / t - 1 |`` with the balanced target ``t = min(m, n) / L``.

    ``L`` is the number of vectors measured (``m`` rows or ``n`` columns). A
    semi-orthogonal ``X`` has ``||X||_F^2 = min(m, n)``, so uniform vectors have
    squared norm ``t``: ``n/m`` for the rows of a tall ``X`` (row norm
    ``sqrt(n/m)``, the balanced-Stiefel target of Aurora, arXiv 2606.27715), 1 for
    the rows of a wide one (already unit for a polar factor), ``m/n`` for the
    columns of a wide one (Aurora v1's balanced axis).

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        As for :func:`row_norms`.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])  # target 2/4
    >>> row_norm_deviation(X)
    1.0
    >>> row_norm_deviation(np.full((4, 2), 0.5))
    0.0
    """
    X64 = _work64(X, "X")
    V = _vectors(X64, axis)
    target = min(X64.shape[-2:]) / V.shape[-2]
    squared = V.square().sum(dim=-1)
    return _scalar((squared / target - 1).abs().amax(dim=-1))


def leverage_scores(A, *, reference=None):
    r"""Leverage scores ``l_i = ||polar(A)_i||^2`` of the rows of ``A``.

    ``l_i`` is the squared norm of row ``i`` of ``U_r`` (``U_r V_r^T`` has the row
    norms of ``U_r``): the diagonal of the projector onto the column space of
    ``A``. Hence ``0 <= l_i <= 1`` and ``sum_i l_i = rank(A)``; the mean is ``n/m``
    for a full-rank tall ``A``. Aurora (arXiv 2606.27715) tracks them as the row
    norms Muon's update gives each neuron.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    reference : array, shape (..., m, n), optional
        ``polar(A)`` if already known.

    Returns
    -------
    numpy float64 array, shape (..., m)

    Examples
    --------
    >>> import numpy as np
    >>> leverage_scores(np.vstack([np.diag([2.0, 0.5]), np.zeros((2, 2))]))
    array([1., 1., 0., 0.])
    """
    A64 = _work64(A, "A", empty_ok=True)
    Q, _ = _reference(A64, reference)
    return _vector(Q.square().sum(dim=-1))
