"""Polar-factor methods behind one dispatcher.

``polar(A, method=...)`` validates and converts the input once (``polarlab._arrays``),
transposes wide input so every method runs on the short side, calls the
registered method and gives the result back in the caller's form. Method modules
only register functions; they never convert arrays themselves.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

from polarlab._arrays import as_work, to_caller

# Built-in methods register themselves on import.
from polarlab.polar import classical, exact, gram, polynomial, registry  # noqa: F401
from polarlab.polar.registry import PolarMethod, names, register

__all__ = ["PolarMethod", "names", "polar", "polar_iterates", "register"]


def _prepare(A, method: str, options: dict, check_finite: bool, extra=()):
    spec = registry.get(method)
    spec.check_options(options, extra=extra)
    work, kind = as_work(A, check_finite=check_finite)
    wide = work.shape[-2] < work.shape[-1]
    X = work.mT if wide else work
    if check_finite and X.numel():
        zero = (X == 0).all(dim=-1).all(dim=-1)
        if bool(zero.any()):
            warnings.warn(
                f"exactly zero input ({int(zero.sum())} of {zero.numel()} matrices): its polar "
                "factor is defined as the zero matrix (the rank-0 partial isometry)",
                RuntimeWarning,
                stacklevel=3,
            )
    return spec, X, kind, wide


def polar(
    A,
    method: str = "svd",
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
    method : str
        A registered method name; see :func:`polarlab.polar.names`. An unknown
        name raises ``ValueError`` listing the valid ones.
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
    spec, X, kind, wide = _prepare(A, method, options, check_finite)
    if X.numel() == 0:
        U, info = X.clone(), {}
    else:
        U, info = spec.solve(X, **options)
    if wide:
        U = U.mT
    U = to_caller(U, kind, out_dtype)
    return (U, info) if return_info else U


def polar_iterates(
    A,
    method: str,
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
    method : str
        A registered method that supports iterates.
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
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    spec, X, kind, wide = _prepare(A, method, options, check_finite)
    if spec.iterates is None:
        iterative = [n for n in names() if registry.get(n).iterates is not None]
        raise ValueError(
            f"method {method!r} is not iterative; methods with iterates: {', '.join(iterative)}"
        )
    # Validation above runs at call time; the generator below only computes.
    if X.numel() == 0:
        inner = (X for _ in range(steps))
    else:
        inner = spec.iterates(X, steps, **options)
    return (to_caller(Xk.mT if wide else Xk, kind, out_dtype) for Xk in inner)
