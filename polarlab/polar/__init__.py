"""Polar-factor methods behind one dispatcher.

``resolve(method, **options)`` validates a method and its options once and returns a
:class:`PolarSolver`, a frozen value that every layer above passes on.
``polar(A, method=...)`` is ``resolve(method, **options)(A)``: it validates and converts
the input once (``polarlab._arrays``), transposes wide input so every method runs on
the short side (:mod:`polarlab.polar.dispatch`), calls the registered method and gives
the result back in the caller's form. Method modules only register functions; they
never convert arrays themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

# Built-in methods register themselves on import.
from polarlab.polar import classical, exact, gram, polynomial, registry  # noqa: F401
from polarlab.polar.dispatch import PolarSolver, resolve
from polarlab.polar.registry import PolarMethod, names, register

__all__ = ["PolarMethod", "PolarSolver", "names", "polar", "polar_iterates", "register", "resolve"]


def polar(
    A,
    method: str | PolarSolver = "svd",
    *,
    out_dtype=None,
    return_info: bool = False,
    check_finite: bool = True,
    **options,
):
    r"""Polar factor of ``A`` by a named method.

    For ``A`` of rank ``r`` with thin SVD ``A = U \Sigma V^T``, the polar factor is
    ``polar(A) = U_r V_r^T``: for full-rank tall ``A`` it equals
    ``A (A^T A)^{-1/2}``, the nearest semi-orthogonal matrix to ``A`` and the
    maximiser of ``<A, X>`` over ``||X||_2 <= 1``.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Real floating input; tall, wide or square; any batch shape.
    method : str or PolarSolver
        A registered method name (see :func:`polarlab.polar.names`; an unknown
        name raises ``ValueError`` listing the valid ones) or a solver made by
        :func:`resolve`.
    out_dtype : dtype or str, optional
        Dtype of the result; default the input's.
    return_info : bool
        Also return the method's ``info`` dict (iterations used, rank, ...).
    check_finite : bool
        Validate that ``A`` is finite and warn on exactly-zero matrices (reads the
        data: a host synchronisation on CUDA). Optimizer hot paths pass ``False``.
    **options
        Method options (e.g. ``rank_tol`` for ``"svd"``); an option the method
        does not take raises ``ValueError`` listing the ones it does.

    Returns
    -------
    U : same kind, shape, device and dtype as ``A`` (dtype ``out_dtype`` if given)
    info : dict, only if ``return_info``

    Notes
    -----
    Empty input (a zero-sized dimension) returns an empty array of the same shape.
    A zero matrix has polar factor zero (the rank-0 partial isometry) for every
    method; with ``check_finite`` a ``RuntimeWarning`` says so.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((6, 3))
    >>> U = polar(A, method="svd")
    >>> bool(np.allclose(U.T @ U, np.eye(3)))
    True
    """
    solver = resolve(method, **options)
    return solver(A, out_dtype=out_dtype, return_info=return_info, check_finite=check_finite)


def polar_iterates(
    A,
    method: str | PolarSolver,
    steps: int,
    *,
    out_dtype=None,
    check_finite: bool = True,
    **options,
) -> Iterator:
    """Yield the iterates ``X_1, ..., X_steps`` of one run of an iterative method.

    One run, O(steps) work: iterate ``k`` is what ``polar(A, method, steps=k, ...)``
    would return in exact arithmetic (for methods whose iteration does not depend
    on the total step count).

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    method : str or PolarSolver
        A registered method that supports iterates, or a solver of one.
    steps : int
        Number of iterates to yield (>= 1).
    out_dtype, check_finite, **options
        As for :func:`polar`.

    Yields
    ------
    X_k : same kind, shape and device as ``A``; dtype ``out_dtype`` or the input's.

    Examples
    --------
    Iterate ``k`` of one run equals a fresh run of ``k`` steps:

    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> opts = dict(schedule="polar_express", dtype="float64")
    >>> X3 = list(polar_iterates(A, "newton_schulz", 3, **opts))[-1]
    >>> bool(np.allclose(X3, polar(A, "newton_schulz", steps=3, **opts), rtol=0, atol=1e-14))
    True
    """
    solver = resolve(method, **options)
    return solver.iterates(A, steps, out_dtype=out_dtype, check_finite=check_finite)
