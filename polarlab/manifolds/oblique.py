r"""The row-oblique manifold ``{U : ||U_i|| = rho for every row i}``: projection and tangents.

Its Frobenius projection is the row normalisation ``P(X)_i = rho X_i / ||X_i||``;
pymanopt's ``Oblique`` is the same manifold on columns (Absil, Mahony &
Sepulchre, *Optimization Algorithms on Matrix Manifolds*, 2008).
"""

from __future__ import annotations

import torch

from polarlab._arrays import meta_result, to_caller
from polarlab.linalg import max_abs_scale
from polarlab.manifolds._common import (
    check_positive,
    projection_input,
    row_sq,
    tangent_inputs,
)

__all__ = ["project_row_oblique", "tangent_row_oblique"]


def project_row_oblique(
    X, radius: float = 1.0, *, eps: float | None = None, check_finite: bool = True
):
    r"""Scale every row to Euclidean norm ``radius`` (projection onto the row-oblique manifold).

    ``P(X)_i = radius * X_i / max(||X_i||, eps)``: the nearest point to ``X`` in the
    Frobenius norm with all rows of norm ``radius``, for every row with
    ``||X_i|| >= eps``. A row with ``||X_i|| < eps`` is only scaled by
    ``radius / eps``; in particular **an exactly-zero row stays zero** (it has no
    direction to project onto). Note pymanopt's ``Oblique`` normalises columns.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    radius : float
        Target row norm ``rho > 0``.
    eps : float, optional
        Clamp on the row norm; default the smallest normal number of the dtype,
        so every non-zero row is normalised.
    check_finite : bool
        Raise ``ValueError`` on NaN/inf input (reads the data: a host
        synchronisation on CUDA). Optimizer paths pass False.

    Returns
    -------
    same kind, shape, device and dtype as ``X``

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    >>> project_row_oblique(X, radius=2.0)
    array([[ 1.2,  1.6],
           [ 0. ,  0. ],
           [ 0. , -2. ]])
    """
    check_positive(radius, "radius")
    work, kind = projection_input(X, "project_row_oblique", name="X", check_finite=check_finite)
    if work.is_meta:
        return meta_result(work.shape, kind)
    if eps is None:
        eps = torch.finfo(work.dtype).tiny
    check_positive(eps, "eps")
    # X_i = a_i Y_i exactly, a_i a power of two near max_j |x_ij| (scaling dtype): ||Y_i|| is
    # in [1, 2 sqrt(n)], so no row norm over- or underflows, and
    # X_i / max(||X_i||, eps) = Y_i / max(||Y_i||, eps / a_i) (a zero row: eps / 0 = inf).
    Y, a = max_abs_scale(work, -1)
    norms = torch.linalg.vector_norm(Y, dim=-1, keepdim=True)
    return to_caller(Y * (radius / torch.maximum(norms, eps / a)), kind)


def tangent_row_oblique(X, V):
    r"""Project ``V`` onto the tangent space of the row-oblique manifold at ``X``.

    ``P_X(V)_i = V_i - (<V_i, X_i> / ||X_i||^2) X_i``, so that every row of the
    result is orthogonal to the matching row of ``X``. The radius does not enter.
    Zero rows of ``X`` (not on the manifold) leave the row of ``V`` unchanged.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Point on (or scaled onto) the row-oblique manifold.
    V : same kind as ``X``, shape (..., m, n)
        Ambient direction.

    Returns
    -------
    same kind, shape, device and dtype as ``V``

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, V = rng.standard_normal((2, 5, 3))
    >>> T = tangent_row_oblique(X, V)
    >>> bool(np.allclose((T * X).sum(axis=1), 0.0))
    True
    """
    Xw, Vw, kind = tangent_inputs(X, V, routine="tangent_row_oblique")  # mixed dtypes promote
    if Vw.is_meta:
        return meta_result(Vw.shape, kind)
    Xw, _ = max_abs_scale(Xw, -1)  # only the rows' directions enter: no overflow in ||X_i||^2
    sq = row_sq(Xw)
    coef = (Vw * Xw).sum(dim=-1, keepdim=True) / torch.where(sq > 0, sq, 1.0)
    return to_caller(Vw - coef * Xw, kind)
