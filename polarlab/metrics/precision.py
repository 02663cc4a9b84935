r"""Errors of an approximate polar factor against the exact one, and the input-cast floor.

``Q = polar(A)`` is the float64 SVD polar factor (rank ``r`` by the threshold
``sigma_i > sigma_1 max(m, n) u``) or the caller's ``reference=``:

- :func:`polar_error`: ``||X - Q||_F / sqrt(r)``, the headline precision number;
- :func:`spectral_error`: ``||X - Q||_2``, the worst-case criterion of Polar
  Express (Amsel et al., arXiv 2505.16932);
- :func:`distance_to_polar`: ``||U - Q||_F / sqrt(min(m, n))``, how far a
  constrained direction (Aurora, arXiv 2606.27715) is from Muon's;
- :func:`input_cast_floor`: ``||polar(fl(A)) - Q||_F / sqrt(r)``, the error no
  method reading ``A`` in a low-precision dtype can beat.
"""

from __future__ import annotations

import math

import torch

from polarlab._arrays import resolve_dtype
from polarlab.metrics._common import _pair, _reference, _require_positive, _scalar, _work64
from polarlab.polar import polar

__all__ = ["distance_to_polar", "input_cast_floor", "polar_error", "spectral_error"]


def polar_error(X, A, *, reference=None):
    r"""Relative Frobenius error ``||X - Q||_F / sqrt(r)`` of an approximate polar factor.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Approximate polar factor (any floating dtype; measured in float64).
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
        The matrix whose polar factor ``X`` approximates.
    reference : array, shape (..., m, n), optional
        ``Q = polar(A)`` if already known; default the float64 SVD polar factor.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Notes
    -----
    ``Q = U_r V_r^T`` for the thin SVD ``A = U Sigma V^T`` of rank ``r``. The
    normalisation makes ``X = c Q`` score ``|c - 1|`` at every size. This is the
    headline number of precision studies, but it is dominated by the small-sigma
    singular directions and is meaningless for near-rank-deficient input in
    bfloat16: report :func:`input_cast_floor` beside it. Raises ``ValueError`` if a
    slice of ``A`` has rank 0.

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> round(polar_error(1.25 * polar(A), A), 12)
    0.25
    """
    X64, A64 = _pair(X, A, "X", "A")
    Q, r = _reference(A64, reference)
    _require_positive(r, "rank", "polar_error")
    return _scalar(torch.linalg.matrix_norm(X64 - Q) / r.sqrt())


def spectral_error(X, A, *, reference=None):
    r"""Spectral-norm error ``||X - Q||_2`` with ``Q = polar(A)``.

    For a polynomial iterate ``X = U f(Sigma) V^T`` of full-rank ``A`` this equals
    ``max_i |f(sigma_i) - 1|`` in exact arithmetic: the worst-case criterion
    Polar Express optimises (Amsel et al., arXiv 2505.16932).

    Parameters
    ----------
    X, A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    reference : array, shape (..., m, n), optional
        ``Q = polar(A)`` if already known.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> round(spectral_error(0.5 * polar(A), A), 12)
    0.5
    """
    X64, A64 = _pair(X, A, "X", "A")
    Q, _ = _reference(A64, reference)
    return _scalar(torch.linalg.matrix_norm(X64 - Q, ord=2))


def distance_to_polar(U, G, *, reference=None):
    r"""Distance ``||U - polar(G)||_F / sqrt(min(m, n))`` of a direction from the polar factor.

    What a constrained direction such as Aurora's balanced-Stiefel update gives up
    relative to Muon's ``polar(G)`` (Aurora, arXiv 2606.27715). Unlike
    :func:`polar_error` it is normalised by the short side, not the rank, so it
    stays defined for rank-deficient ``G``; the two agree for full-rank ``G``.

    Parameters
    ----------
    U, G : numpy.ndarray or torch.Tensor, shape (..., m, n)
    reference : array, shape (..., m, n), optional
        ``polar(G)`` if already known.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> G = np.diag([3.0, 2.0, 1.0])
    >>> d = distance_to_polar(np.diag([1.0, 1.0, -1.0]), G)  # one entry off by 2
    >>> abs(d - 2 / 3**0.5) < 1e-15
    True
    """
    U64, G64 = _pair(U, G, "U", "G")
    Q, _ = _reference(G64, reference)
    k = min(G64.shape[-2:])
    return _scalar(torch.linalg.matrix_norm(U64 - Q) / math.sqrt(k))


def input_cast_floor(A, dtype, *, reference=None):
    r"""Input-cast floor ``||polar(fl(A)) - polar(A)||_F / sqrt(r)``, ``fl`` = round to ``dtype``.

    No method that reads ``A`` in ``dtype`` can beat this error: it is the error of
    the *exact* polar factor of the rounded input. Print it beside every
    low-precision number; it dominates for ill-conditioned input (first-order
    perturbation: about ``u ||A||_2 / sigma_min``).

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    dtype : torch dtype or name
        The storage dtype to round to (``"bfloat16"``, ``"float16"``, ...).
    reference : array, shape (..., m, n), optional
        ``polar(A)`` if already known.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Raises
    ------
    ValueError
        ``A`` overflows or rounds to zero in ``dtype``, or has rank 0.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((16, 4))
    >>> input_cast_floor(A, "float64")
    0.0
    >>> bool(input_cast_floor(A, "float16") < input_cast_floor(A, "bfloat16"))
    True
    """
    A64 = _work64(A, "A")
    target = resolve_dtype(dtype)
    if target is None:
        raise ValueError("dtype is required: one of float64, float32, float16, bfloat16")
    fl = A64.to(target).to(torch.float64)  # fl(A): rounded once, measured in float64
    if not bool(torch.isfinite(fl).all()):
        raise ValueError(
            f"A overflows in {target}: max |A| = {float(A64.abs().max()):.3g}; rescale A first"
        )
    Q, r = _reference(A64, reference)
    _require_positive(r, "rank", "input_cast_floor")
    _require_positive(fl.abs().amax(dim=(-2, -1)), f"||fl(A)|| in {target}", "input_cast_floor")
    Q_fl = polar(fl, method="svd", check_finite=False)
    return _scalar(torch.linalg.matrix_norm(Q_fl - Q) / r.sqrt())
