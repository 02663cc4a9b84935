r"""Gram Newton-Schulz: the Newton-Schulz engine run on the small Gram matrix.

Every Newton-Schulz iterate is ``X_t = X_0 q_t(X_0^T X_0)`` for a polynomial
``q_t`` (tall form), so for ``m > n`` one can iterate on the ``n x n`` Gram
matrix ``R = X^T X`` and touch the ``m x n`` matrix only at the start, at
restarts and at the end (Zhang, Amsel, Chen, Dao, "Gram Newton-Schulz: A Fast,
Hardware-Aware Newton-Schulz Algorithm for Muon", 2026, package
``gram-newton-schulz``; precursor: Polar Express, arXiv 2505.16932, App. F,
Algorithm 4). In scalar form, with ``r = x^2`` and
``h_t(r) = a_t + b_t r + c_t r^2``:

.. math::

    q \leftarrow q\,h_t(r), \qquad r \leftarrow r\,h_t(r)^2,

and the result is ``x q``. In exact arithmetic this equals standard
Newton-Schulz for every restart set. In half precision ``R`` drifts (spurious
eigenvalues near ``-u ||R||``) and ``Q`` becomes ill-conditioned; a *restart*
before step ``t`` rebuilds ``X <- X Q`` and ``R <- X^T X`` from the tall matrix.

Cost (2 flops per multiply-add; ``T`` steps, restart set ``S``): ``2 n^2 m``
for the first Gram, ``4 n^2 m`` per restart, ``2 n^2 m`` for the final ``X Q``,
about ``8 n^3`` per middle step; for ``T = 5``, ``S = {2}`` that is
``8 n^2 m + 28 n^3`` against ``20 n^2 m + 10 n^3`` for standard Newton-Schulz:
fewer flops once ``m / n`` exceeds about 1.5 (ratio 0.667 at ``m = 4 n``).
"""

from __future__ import annotations

import numbers
from collections import deque
from collections.abc import Iterable, Iterator

import torch

from polarlab import schedules
from polarlab._arrays import compute_dtype
from polarlab.polar import polynomial
from polarlab.polar.polynomial import (
    batch_view,
    dtype_name,
    normalize,
    tall_run,
    tall_solve,
)
from polarlab.polar.registry import register

__all__ = ["gram_newton_schulz"]

#: The package's default restart set: rebuild from ``X`` before 0-based step 2.
DEFAULT_RESTARTS = (2,)


def _check_restarts(restarts: Iterable[int]) -> frozenset[int]:
    """The restart set as a frozenset; ``ValueError`` unless indices are ints >= 1."""
    try:
        S = tuple(restarts)
    except TypeError:
        S = (restarts,)
    if not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) and t >= 1 for t in S):
        raise ValueError(
            f"restarts must be 0-based step indices >= 1 (a restart before step 0 is the "
            f"start itself), e.g. (2,) or (); got {restarts!r}"
        )
    return frozenset(int(t) for t in S)


def dense_product(A, B, C=None, *, beta: float = 1.0, alpha: float = 1.0) -> torch.Tensor:
    """``beta C + alpha A B`` (``A B`` without ``C``) for batches ``(B, n, n)``."""
    return torch.bmm(A, B) if C is None else torch.baddbmm(C, A, B, beta=beta, alpha=alpha)


def dense_gram(X: torch.Tensor) -> torch.Tensor:
    """``X^T X`` for a batch ``(B, m, n)``."""
    return torch.bmm(X.mT, X)


def _gram_run(
    X: torch.Tensor,
    sched: schedules.Schedule,
    steps: int | None,
    restarts: frozenset[int],
    dtype: torch.dtype,
    normalization: str,
    *,
    gram=dense_gram,
    product=dense_product,
    overwrite: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(X_r, Q_t)`` after each step ``t``, with iterate ``X_t = X_r Q_t``.

    ``X`` is tall (``m > n``), shape ``(B, m, n)``; ``X_r`` is the tall matrix of
    the last (re)start and ``Q_t`` the accumulated ``n x n`` polynomial. ``gram``
    and ``product`` compute ``X^T X`` and the ``n x n`` products (every one of them
    is a product of commuting symmetric matrices, so a caller may pass kernels
    that compute only half of each; the defaults are plain batched products).
    ``overwrite``: ``X`` is the caller's scratch (see ``polynomial.normalize``); the run
    drops its reference to ``X`` once normalised, so a scratch nobody else holds is freed
    before the iteration (in half precision the iteration works on a cast copy).
    """
    rows = sched.rows(steps)
    T = len(rows)
    n, device = X.shape[-1], X.device
    Xr, R, R2 = normalize(X, sched, normalization, dtype, overwrite)
    del X
    if R is None:
        R = gram(Xr)
    eye = torch.eye(n, dtype=dtype, device=device)
    Q = None
    for t, (a, b, c) in enumerate(rows):
        restart = t in restarts
        if restart:  # rebuild from the tall matrix: X <- X Q, R <- X^T X
            Xr = torch.bmm(Xr, Q)
            R = gram(Xr)
        # Z = b R + c R^2; h_t(R) = a I + Z (a polynomial in R: everything commutes)
        if c == 0.0:
            Z = R * b
        elif R2 is not None:  # R^2 from the Schatten-8 normalisation
            Z = torch.add(R2 * c, R, alpha=b)
        else:
            Z = product(R, R, R, beta=b, alpha=c)
        R2 = None
        H = torch.add(Z, eye, alpha=a)
        # Q h_t(R) = a Q + Q Z in one fused call: rounding a I + Z first adds an error the
        # float16 bound test sees; the saving would be only an n x n copy.
        Q = H if (t == 0 or restart) else product(Q, Z, Q, beta=a)
        if t < T - 1 and (t + 1) not in restarts:
            R = product(H, product(R, H))  # r <- r h_t(r)^2
        yield Xr, Q


def _tall_gram_solve(
    X: torch.Tensor,
    schedule: str | schedules.Schedule,
    steps: int | None,
    restarts: Iterable[int],
    dtype: torch.dtype | str | None,
    normalization: str,
) -> tuple[torch.Tensor, dict]:
    """Gram Newton-Schulz on tall ``X`` (..., m, n); square falls back (see info)."""
    sched = schedules.get(schedule)
    S = _check_restarts(restarts)
    T = len(sched.rows(steps))
    cd = compute_dtype(dtype, X.device)
    if X.shape[-2] == X.shape[-1]:
        U, info = tall_solve(X, sched, steps, cd, normalization)
        return U, {**info, "engine": "newton_schulz", "restarts": []}
    info = {
        "schedule": sched.name,
        "steps": T,
        "dtype": dtype_name(cd),
        "engine": "gram",
        "restarts": sorted(t for t in S if t < T),
    }
    if T == 0:
        return normalize(batch_view(X), sched, normalization, cd).X.reshape(X.shape), info
    # run to the end, keeping only the last (X_r, Q) pair
    (Xr, Q) = deque(_gram_run(batch_view(X), sched, steps, S, cd, normalization), maxlen=1)[0]
    return torch.bmm(Xr, Q).reshape(X.shape), info


def gram_newton_schulz(
    G,
    schedule: str | schedules.Schedule = "gram_ns",
    steps: int | None = None,
    *,
    restarts: Iterable[int] = DEFAULT_RESTARTS,
    dtype: torch.dtype | str | None = None,
    normalization: str = "frobenius",
    out_dtype: torch.dtype | str | None = None,
    check_finite: bool = True,
):
    r"""Approximate polar factor by Newton-Schulz iterated on the Gram matrix.

    For ``G`` of shape ``(m, n)`` with ``m > n`` (wide input is transposed,
    so ``n`` is always the short side), ``X_0 = G / (c\,s + \epsilon)`` as in
    :func:`~polarlab.polar.polynomial.newton_schulz` and ``R = X_0^T X_0``; for
    each row ``(a_t, b_t, c_t)``:

    .. math::

        Z = b_t R + c_t R^2, \quad H = a_t I + Z, \quad
        Q \leftarrow Q H \ (Q \leftarrow H \text{ at } t = 0 \text{ or a restart}), \quad
        R \leftarrow H R H,

    and the result is ``X Q``. A restart before step ``t`` sets ``X <- X Q`` and
    ``R <- X^T X``. In exact arithmetic the result equals
    ``newton_schulz(G, schedule, steps)`` for every restart set (Zhang, Amsel,
    Chen, Dao, "Gram Newton-Schulz", 2026; Polar Express, arXiv 2505.16932,
    App. F).

    Square input (``m = n``) gains nothing from the Gram form (its flop count is
    1.2 times standard Newton-Schulz at ``T = 5``), so it runs the standard
    engine, as the reference package does; ``polar(..., return_info=True)``
    reports ``info["engine"] == "newton_schulz"`` then.

    Validation as in :func:`~polarlab.polar.polynomial.newton_schulz` (finite
    entries, a ``RuntimeWarning`` for a zero matrix; off with ``check_finite=False``
    and under ``torch.compile``); the iteration itself has no host
    synchronisation and no data-dependent branching.

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Tall, wide or square; any batch shape. Never modified.
    schedule : str or Schedule
        Default ``"gram_ns"`` (the package's Polar Express rows with safety
        factor 1.05 on every row, fixed length 5).
    steps : int, optional
        Default the schedule's ``default_steps``.
    restarts : iterable of int
        0-based step indices (>= 1) before which ``X`` and ``R`` are rebuilt;
        default ``(2,)``. Indices at or past the step count have no effect.
    dtype : str or torch.dtype, optional
        Compute dtype; default float32 on every device. (The reference package
        iterates in float16, not bfloat16: ``R`` needs the mantissa.)
    normalization : {"frobenius", "schatten8", "one_inf"}
        As in :func:`~polarlab.polar.polynomial.newton_schulz`; ``"schatten8"``
        reuses its ``R`` and ``R^2`` for the first step.
    out_dtype : str or torch.dtype, optional
        Dtype of the result; default ``G``'s.
    check_finite : bool
        Validate ``G`` (reads the data); hot paths pass ``False``. Default ``True``.

    Returns
    -------
    X_k : same kind, shape and device as ``G``; dtype ``out_dtype`` or ``G``'s.

    Raises
    ------
    ValueError
        As :func:`~polarlab.polar.polynomial.newton_schulz`, and for bad ``restarts``.
    TypeError
        ``G`` is neither a numpy array nor a torch tensor.

    Notes
    -----
    *Half precision.* Measured on one ``32 x 96`` matrix of each
    ``polarlab.matrices`` family (seed 0), ``gram_ns`` rows, 5 steps, CPU
    rounding, against the schedule's exact-arithmetic bound 1.124 on the
    largest singular value: float16 with restart ``(2,)`` stays within it on
    every family (largest 1.124); float16 without restarts reaches 7.2
    (low-rank plus noise) and 6.3 (log-spaced spectrum); bfloat16 with restart
    ``(2,)`` reaches 1.24 (log-spaced) and without restarts blows up (about
    3e7, spike-and-flat). Standard Newton-Schulz in bfloat16 on the same
    inputs stays at or below 1.126. Hence float16 with a restart, as in the
    reference package; ``tests/test_gram.py`` checks the float16 bound.

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab.polar.polynomial import newton_schulz
    >>> G = np.random.default_rng(0).standard_normal((64, 16))
    >>> X = gram_newton_schulz(G, "pade_quintic", 8, restarts=(3,), dtype="float64")
    >>> Y = newton_schulz(G, "pade_quintic", 8, dtype="float64")
    >>> bool(np.allclose(X, Y, rtol=0, atol=1e-12))
    True
    """
    from polarlab.polar.dispatch import resolve

    solver = resolve(
        "gram_newton_schulz",
        schedule=schedule,
        steps=steps,
        restarts=restarts,
        dtype=dtype,
        normalization=normalization,
    )
    return solver(G, out_dtype=out_dtype, check_finite=check_finite, name="G")


def solve_gram_newton_schulz(
    X: torch.Tensor,
    *,
    schedule: str | schedules.Schedule = "gram_ns",
    steps: int | None = None,
    restarts: Iterable[int] = DEFAULT_RESTARTS,
    dtype: torch.dtype | str | None = None,
    normalization: str = "frobenius",
) -> tuple[torch.Tensor, dict]:
    """Registry ``solve`` for ``"gram_newton_schulz"`` on tall ``X``.

    ``info``: ``schedule``, ``steps``, ``dtype``, ``engine`` (``"gram"``, or
    ``"newton_schulz"`` for square input) and the ``restarts`` applied.
    """
    return _tall_gram_solve(X, schedule, steps, restarts, dtype, normalization)


def iterates_gram_newton_schulz(
    X: torch.Tensor,
    steps: int,
    *,
    schedule: str | schedules.Schedule = "gram_ns",
    restarts: Iterable[int] = DEFAULT_RESTARTS,
    dtype: torch.dtype | str | None = None,
    normalization: str = "frobenius",
) -> Iterator[torch.Tensor]:
    """Registry ``iterates``: ``X_t = X_r Q_t`` after each step of one run.

    Forming each ``X_t`` costs one extra ``m x n x n`` product per iterate (the
    run itself only needs the last one); square input yields the standard
    engine's iterates.
    """
    # The arguments were validated by resolve(); the generators below run lazily.
    sched = schedules.get(schedule)
    S = frozenset(restarts)
    cd = compute_dtype(dtype, X.device)
    if X.shape[-2] == X.shape[-1]:
        run = tall_run(X, sched, steps, cd, normalization)
        next(run)  # X_0 is not an iterate
        return run
    run = _gram_run(batch_view(X), sched, steps, S, cd, normalization)
    return (torch.bmm(Xr, Q).reshape(X.shape) for Xr, Q in run)


def check_options(options: dict) -> dict:
    """The engine's checks plus the restart set, stored as a sorted tuple (hashable)."""
    checked = polynomial.check_options(options)
    return {**checked, "restarts": tuple(sorted(_check_restarts(options["restarts"])))}


register(
    "gram_newton_schulz",
    solve_gram_newton_schulz,
    "Newton-Schulz iterated on the n x n Gram matrix with restarts (square: standard engine)",
    iterates=iterates_gram_newton_schulz,
    check=check_options,
)
