r"""The Stiefel manifold ``{U : U^T U = I_n}`` (tall ``U``): projection and tangents.

The Frobenius projection is the polar factor (Higham, *Functions of Matrices*,
2008, Thm 8.4), taken by any registered method of :mod:`polarlab.polar`; the
tangent projection is that of the embedded metric (Absil, Mahony & Sepulchre,
*Optimization Algorithms on Matrix Manifolds*, 2008).
"""

from __future__ import annotations

from polarlab._arrays import meta_result, to_caller
from polarlab.manifolds._common import tangent_inputs
from polarlab.polar import PolarSolver, resolve

__all__ = ["project_stiefel", "tangent_stiefel"]


def project_stiefel(
    X, method: str | PolarSolver = "svd", *, check_finite: bool = True, **polar_options
):
    r"""Nearest semi-orthogonal matrix: the polar factor ``polar(X) = U_r V_r^T``.

    For ``X = U Sigma V^T`` (thin SVD, rank ``r``) the Frobenius projection onto the
    Stiefel manifold is ``U V^T`` (Higham, *Functions of Matrices*, 2008, Thm 8.4);
    for rank ``r < min(m, n)`` the method's partial isometry is returned (see the
    method). This is ``resolve(method, **polar_options)(X)``
    (:func:`polarlab.polar.resolve`) under the manifold's name: any registered
    method can be plugged in.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    method : str or PolarSolver
        A registered polar method (:func:`polarlab.polar.names`), default
        ``"svd"`` (exact, float64), or a solver from :func:`polarlab.polar.resolve`.
    check_finite : bool
        Validate the input (a host synchronisation on CUDA); hot paths pass False.
    **polar_options
        Options of the method (e.g. ``rank_tol`` for ``"svd"``), validated once.

    Returns
    -------
    same kind, shape, device and dtype as ``X``

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((7, 3))
    >>> U = project_stiefel(X)
    >>> bool(np.allclose(U.T @ U, np.eye(3)))
    True
    """
    return resolve(method, **polar_options)(X, check_finite=check_finite, name="X")


def tangent_stiefel(X, V):
    r"""Project ``V`` onto the tangent space of the Stiefel manifold at ``X``.

    With the embedded (Euclidean) metric, ``P_X(V) = V - X sym(X^T V)``,
    ``sym(A) = (A + A^T)/2``; the result ``T`` satisfies ``sym(X^T T) = 0`` when
    ``X^T X = I``. Shapes (..., m, n) with ``m >= n`` (tall or square).

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        A semi-orthogonal point.
    V : same kind as ``X``, shape (..., m, n)

    Returns
    -------
    same kind, shape, device and dtype as ``V``

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = np.linalg.qr(rng.standard_normal((6, 3)))[0]
    >>> T = tangent_stiefel(X, rng.standard_normal((6, 3)))
    >>> bool(np.allclose(X.T @ T + T.T @ X, 0.0))
    True
    """
    Xw, Vw, kind = tangent_inputs(X, V, routine="tangent_stiefel")  # mixed dtypes promote
    if Vw.is_meta:
        return meta_result(Vw.shape, kind)
    XtV = Xw.mT @ Vw
    return to_caller(Vw - Xw @ ((XtV + XtV.mT) / 2), kind)
