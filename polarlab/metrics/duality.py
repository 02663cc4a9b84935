r"""Duality of a direction ``X`` with the matrix ``A``: the dual gap and the alignment.

``polar(A)`` maximises ``<A, X>`` over ``||X||_2 <= 1`` with value ``||A||_*``
(the nuclear norm), so :func:`dual_gap` ``1 - <A, X> / ||A||_*`` is 0 there, and
:func:`alignment` ``<A, X> / (||A||_* ||X||_2)`` is 1 for every positive multiple
of it (Hoelder's inequality). Both weight directions by ``sigma_i(A)``.
"""

from __future__ import annotations

import torch

from polarlab.metrics._common import _pair, _require_positive, _scalar

__all__ = ["alignment", "dual_gap"]


def _nuclear_and_inner(A, X) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    X64, A64 = _pair(X, A, "X", "A")
    nuclear = torch.linalg.matrix_norm(A64, ord="nuc")
    inner = (A64 * X64).sum(dim=(-2, -1))  # <A, X> = trace(A^T X)
    return X64, nuclear, inner


def dual_gap(A, X):
    r"""Dual gap ``1 - <A, X> / ||A||_*`` of a direction ``X`` for the matrix ``A``.

    ``polar(A)`` maximises ``<A, X>`` over ``||X||_2 <= 1`` with value ``||A||_*``,
    so the gap is 0 there and positive for every other feasible ``X``. It weights
    directions by ``sigma_i`` (far smaller than :func:`~polarlab.metrics.polar_error`),
    and it is *negative* when ``sigma(X) > 1``: pair it with
    :func:`~polarlab.metrics.singular_value_range`.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
        The matrix (gradient, momentum); must not be zero.
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        The direction.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> abs(dual_gap(A, polar(A))) < 1e-14, round(dual_gap(A, 0.5 * polar(A)), 12)
    (True, 0.5)
    """
    _, nuclear, inner = _nuclear_and_inner(A, X)
    _require_positive(nuclear, "||A||_*", "dual_gap")
    return _scalar(1 - inner / nuclear)


def alignment(A, X):
    r"""Normalised alignment ``<A, X> / (||A||_* ||X||_2)``, in ``[-1, 1]``.

    Scale-free, so it compares directions that are not semi-orthogonal (NorMuon-
    like row-normalised updates, Aurora); it equals 1 exactly for ``X`` a positive
    multiple of ``polar(A)`` (Hoelder: ``<A, X> <= ||A||_* ||X||_2``).

    Parameters
    ----------
    A, X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Neither may be zero.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> round(alignment(A, 3 * polar(A)), 12), round(alignment(A, -polar(A)), 12)
    (1.0, -1.0)
    """
    X64, nuclear, inner = _nuclear_and_inner(A, X)
    spectral = torch.linalg.matrix_norm(X64, ord=2)
    _require_positive(nuclear, "||A||_*", "alignment")
    _require_positive(spectral, "||X||_2", "alignment")
    return _scalar(inner / (nuclear * spectral))
