r"""The one Newton-Schulz engine: odd-polynomial polar iterations driven by a schedule.

Every polynomial method in polarlab runs here; a method differs from another only
by its :class:`~polarlab.schedules.Schedule` (the coefficient rows, the input
factor and epsilon, the rule past the table's end). On a tall work tensor
``X`` (``m >= n``) one step with row ``(a, b, c)`` is

.. math::

    A = X^T X \quad (n \times n,\ \text{the short side}), \qquad
    X \leftarrow a X + X (b A + c A^2),

the scalar map ``x -> a x + b x^3 + c x^5`` on every singular value, with the
singular vectors untouched (Amsel, Persson, Musco, Gower, "The Polar Express",
arXiv 2505.16932, sec. 2). A quintic step costs 3 matrix products
(``4 n^2 m + 2 n^3`` flops), a cubic step (``c = 0``) 2 products (``4 n^2 m``).

Normalisation puts the spectrum inside the schedule's design interval: the
schedule assumes ``X_0 = G / (c ||G||_F + eps)`` with ``c`` its input factor
(1.01 in the Polar Express paper's code, 1.02 in modded-nanogpt and
microsoft/dion, 1.0 in Keller Jordan's Muon). Here ``eps`` is capped at
``EPS_CAP`` ``c ||G||_F`` and the norm is taken after an exact power-of-two
prescaling, so ``X_0`` is the same (to a relative 1e-6) for ``t G`` at every
scale ``t`` the input dtype holds.

The iteration has no host synchronisation and no data-dependent Python
branching (the rows and the restart set are Python data), so it can run inside a
``torch.compile``'d optimizer step.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

import torch

from polarlab import schedules
from polarlab._arrays import compute_dtype, resolve_dtype
from polarlab.linalg import max_abs_scale
from polarlab.polar.registry import register

__all__ = ["ARRANGEMENTS", "NORMALIZATIONS", "newton_schulz"]

#: Spectral-norm estimates ``s >= ||G||_2`` the input may be divided by.
#: ``"frobenius"``: ``s = ||G||_F`` (the schedules' own convention);
#: ``"schatten8"``: ``s = ||(G^T G)^2||_F^{1/4}`` (reuses ``A^2`` of step 1);
#: ``"one_inf"``: ``s = sqrt(||G||_1 ||G||_inf)``.
NORMALIZATIONS = ("frobenius", "schatten8", "one_inf")

#: How one step's products are arranged (the same polynomial in exact arithmetic).
#: ``"fused"``: ``X (a I + b A + c A^2)``, polarlab's default; ``"published"``:
#: ``a X + X (b A + c A^2)``, the arrangement of the Polar Express paper's listing
#: (Amsel, Persson, Musco, Gower, arXiv 2505.16932, Algorithm 1: ``A = X X^T``,
#: ``B = b A + c A^2``, ``X <- a X + B X`` on the wide side; here its transpose on the
#: tall side). They differ in rounding only: in bfloat16 the published form rounds
#: ``a X`` and ``X B`` (entries of size ``a``, about 8 in the first steps) before they
#: cancel to ``O(1)``, the fused form rounds the cancelling sum ``a + b A + c A^2`` on
#: the small ``n x n`` side and the rectangular result once.
ARRANGEMENTS = ("fused", "published")


#: Largest share of ``c s`` the schedule's ``eps`` may add: ``X_0 = X / (c s + eps')`` with
#: ``eps' = min(eps, EPS_CAP c s)``. The published ``eps`` (1e-7 in most codes) only guards
#: a zero input; for ``||X|| >= eps / EPS_CAP`` (0.1 for 1e-7) it is used as published, but
#: on a small matrix it would shrink ``X_0`` out of the design interval (``X * 1e-10`` came
#: out far outside the schedule's error bound). Capped, ``X_0`` moves by at most 1e-6
#: relative between any two scales of one matrix, far inside the interval's margins
#: (lower end ``l = 1e-3`` for Polar Express), so ``polar(c X) = polar(X)`` to rounding.
EPS_CAP = 1e-6


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16 -> "bfloat16"`` (for ``info`` dicts)."""
    return str(dtype).removeprefix("torch.")


class Normalized(NamedTuple):
    """The normalised start of an iteration on a batch of tall matrices.

    Attributes
    ----------
    X : torch.Tensor, shape (B, m, n)
        ``X_0 = G / (c s + eps)`` in the compute dtype.
    gram : torch.Tensor or None, shape (B, n, n)
        ``X_0^T X_0`` when the normalisation already formed it, else ``None``.
    gram_sq : torch.Tensor or None, shape (B, n, n)
        ``(X_0^T X_0)^2`` likewise.
    """

    X: torch.Tensor
    gram: torch.Tensor | None
    gram_sq: torch.Tensor | None


def normalize(
    X: torch.Tensor,
    schedule: schedules.Schedule,
    normalization: str,
    dtype: torch.dtype,
    overwrite: bool = False,
) -> Normalized:
    r"""Scale a batch of tall matrices into the schedule's design interval.

    ``X_0 = X / (c\,s + \epsilon')`` per slice, with ``c`` the schedule's input
    factor, ``\epsilon' = min(\epsilon, 10^{-6} c s)`` its epsilon capped
    (``EPS_CAP``) and ``s >= ||X||_2`` the chosen bound (see
    :data:`NORMALIZATIONS`). ``X`` is first divided by the power of two nearest
    below ``max |x_ij|`` (:func:`polarlab.linalg.max_abs_scale`; exact), so ``s``
    neither overflows nor underflows at any scale of the input dtype. The
    scalars are computed in float32 (float64 when computing in float64) and
    ``X_0`` is then cast to ``dtype``, so half precision never sees an
    unnormalised matrix.

    What each bound does to the schedule's design: the schedules are designed
    for ``x = sigma / ||G||_F`` in ``[l, 1]`` (``l = 1e-3`` for Polar Express).
    Every ``s`` here is an upper bound on ``sigma_max``, so the upper end of the
    design interval still holds; a tighter ``s`` only moves the small singular
    values up (``sigma / s >= sigma / ||G||_F`` when ``s <= ||G||_F``), which can
    only shorten the way to convergence.

    - ``"frobenius"``: ``s = ||X||_F``, over-estimates ``sigma_max`` by up to
      ``sqrt(rank)``.
    - ``"schatten8"``: ``s = ||(X^T X)^2||_F^{1/4} = (sum sigma_i^8)^{1/8}``,
      over-estimates by at most ``rank^{1/8}``; always ``<= ||X||_F``. It forms
      ``A`` and ``A^2`` which the first step reuses (the optax and CANS trick,
      arXiv 2506.10935), so it costs no extra product.
    - ``"one_inf"``: ``s = sqrt(||X||_1 ||X||_inf)`` (Higham's bound, used to start
      QDWH), over-estimates by at most ``(m n)^{1/4}``; tighter than Frobenius
      for spiky or low-rank inputs, looser for Gaussian ones.

    Parameters
    ----------
    X : torch.Tensor, shape (B, m, n), m >= n
        Work tensor; read only unless ``overwrite``.
    schedule : Schedule
    normalization : {"frobenius", "schatten8", "one_inf"}
    dtype : torch.dtype
        Compute dtype of the result.
    overwrite : bool
        ``X`` is scratch: the Frobenius and one-inf scalings divide it in place
        (same operations, same bits) instead of allocating a full-size copy, and
        ``X_0`` may be ``X`` itself. Ignored under autograd and for a layout whose
        elements share memory (an expanded view).

    Returns
    -------
    Normalized
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"unknown normalization {normalization!r}; choose one of: {', '.join(NORMALIZATIONS)}"
        )
    # X = a G exactly, a a power of two near max |x| (taken in the input's own range, at
    # least float32): every norm of G lies in [1, 2 sqrt(mn)], so nothing over- or
    # underflows at any scale the input dtype holds (before, ||1e20 X|| overflowed float32
    # and the result was 0), and at ordinary scales the scalars below are those of the
    # unscaled matrix, bit for bit. They are computed in float32 (float64 when computing
    # in float64). In units of a the schedule's eps is eps / a, capped at EPS_CAP c s (see
    # the constant); a zero slice stays zero.
    scalar = torch.float64 if dtype == torch.float64 else torch.float32
    in_place = overwrite and normalization != "schatten8" and X.dtype == scalar
    G, a = max_abs_scale(X, overwrite=in_place)
    G, a = G.to(scalar), a.to(scalar)
    c, eps = schedule.input_factor, schedule.eps
    if normalization in ("frobenius", "one_inf"):
        if normalization == "frobenius":
            s = torch.linalg.vector_norm(G, dim=(-2, -1), keepdim=True)
        else:  # ||G||_2 <= sqrt(||G||_1 ||G||_inf) (Higham, Functions of Matrices, eq. 8.37)
            s = torch.sqrt(
                torch.linalg.matrix_norm(G, 1, keepdim=True)
                * torch.linalg.matrix_norm(G, math.inf, keepdim=True)
            )
        cs = s * c
        # (c ||X|| + eps) / a with eps capped; d = 0 only for a zero slice, which stays zero
        d = torch.minimum(eps / a, cs * EPS_CAP).add_(cs).clamp_min_(torch.finfo(scalar).tiny)
        # G is a fresh tensor (X / a): divided in place the step holds one copy, as it did
        # before the scaling; not under autograd, which saved G for the norm's gradient
        X0 = G / d if G.requires_grad else G.div_(d)
        return Normalized(X0.to(dtype), None, None)
    # schatten8: first scale by ||G||_F so A and A^2 cannot overflow in half precision.
    f = torch.linalg.vector_norm(G, dim=(-2, -1), keepdim=True)
    f = torch.where(f > 0, f, 1.0)  # a zero slice stays zero, without 0/0
    Y = G / f
    Yc = Y.to(dtype)
    A = Yc.mT @ Yc
    A2 = A @ A
    # ||A^2||_F^{1/4} = (sum sigma_i^8)^{1/8} / ||G||_F >= ||G||_2 / ||G||_F
    t = torch.linalg.matrix_norm(A2.to(scalar), "fro", keepdim=True) ** 0.25
    d = c * t + torch.minimum(eps / (a * f), EPS_CAP * c * t)  # (c s + eps) / ||X||_F, capped
    d = torch.where(d > 0, d, 1.0)  # a zero slice
    return Normalized(
        (Y / d).to(dtype), (A.to(scalar) / d**2).to(dtype), (A2.to(scalar) / d**4).to(dtype)
    )


def polynomial_step(
    X: torch.Tensor,
    row: tuple[float, float, float],
    gram: torch.Tensor | None = None,
    gram_sq: torch.Tensor | None = None,
    arrangement: str = "fused",
) -> torch.Tensor:
    """One odd-polynomial step ``X <- a X + X (b A + c A^2)`` on a batch ``(B, m, n)``.

    ``gram``/``gram_sq`` are ``A = X^T X`` and ``A^2`` when already known (the
    Schatten-8 normalisation forms them); otherwise they are computed here.
    ``arrangement`` (:data:`ARRANGEMENTS`) orders the products. ``"fused"`` writes
    the step ``X (a I + b A + c A^2)``: the coefficient ``a`` goes on the diagonal
    of the small ``n x n`` factor, so the rectangular update is one plain product
    with no extra pass over the ``m x n`` iterate (a fused ``a X + X B`` epilogue
    copies ``X`` first; profiled at about 8% of the step on CPU). ``"published"``
    is ``a X + X B`` with ``B = b A + c A^2`` (Amsel et al., arXiv 2505.16932,
    Algorithm 1, transposed to the tall side): the same polynomial, other rounding.
    """
    a, b, c = row
    A = torch.bmm(X.mT, X) if gram is None else gram
    if c == 0.0:  # cubic: X (a I + b A), 2 products in all
        P = A * b
    elif gram_sq is None:
        P = torch.baddbmm(A, A, A, beta=b, alpha=c)  # b A + c A^2
    else:
        P = torch.add(gram_sq * c, A, alpha=b)
    if arrangement == "published":
        return a * X + times(X, P)  # as the listing: a X and X B rounded, then added
    P.diagonal(dim1=-2, dim2=-1).add_(a)  # P is a fresh n x n tensor: + a I
    return times(X, P)


def times(X: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """``X P`` for a batch ``(B, m, n)`` times ``(B, n, n)``, in ``X``'s layout.

    A tall ``X`` that is the transposed view of a row-major wide matrix ``W`` (the
    orientation :meth:`~polarlab.polar.PolarSolver.apply` gives wide input) gets the
    product as ``(P W)^T``: the iterates, and the result handed back transposed, stay
    contiguous in the caller's layout, so nothing downstream needs a transposing copy
    (slow on CPU). ``(P W)^T = X P^T``, and ``P`` is a polynomial in the symmetric
    ``X^T X``, symmetric up to rounding: the same step to rounding, with both factors
    read untransposed (a Muon step on 768 x 3072 matrices in bfloat16 on CPU: 1.03x
    ``torch.optim.Muon``'s with ``P^T W``, 1.01x with ``P W``).
    """
    if X.mT.is_contiguous() and not X.is_contiguous():
        return torch.bmm(P, X.mT).mT
    return torch.bmm(X, P)


def batch_view(X: torch.Tensor) -> torch.Tensor:
    """``(..., m, n) -> (B, m, n)``, a view whenever the layout allows.

    A batch of one gets the batch stride ``m n`` whatever ``reshape`` chose (it is never
    used to address memory): for the transposed view of a wide matrix ``reshape`` gives
    ``m``, and CPU ``bmm`` then copies both operands of the first product (measured:
    two 3072 x 768 bfloat16 copies per call, half of the engine's gap to
    ``torch.optim.Muon``'s iteration on 768 x 3072).
    """
    m, n = X.shape[-2:]
    Y = X.reshape(math.prod(X.shape[:-2]), m, n)
    if Y.shape[0] == 1 and Y.stride(0) != m * n:
        Y = Y.as_strided(Y.shape, (m * n, *Y.stride()[1:]), Y.storage_offset())
    return Y


def tall_run(
    X: torch.Tensor,
    schedule: str | schedules.Schedule,
    steps: int | None,
    dtype: torch.dtype | str | None,
    normalization: str,
    arrangement: str = "fused",
    overwrite: bool = False,
) -> Iterator[torch.Tensor]:
    """Yield ``X_0, X_1, ..., X_k`` of one run on tall ``X`` (..., m, n), m >= n.

    Generators run lazily, so callers validate the arguments first (see
    :func:`iterates_newton_schulz`). ``overwrite``: ``X`` is scratch (see
    :func:`normalize`).
    """
    sched = schedules.get(schedule)
    rows = sched.rows(steps)
    cd = compute_dtype(dtype, X.device)
    Xk, A, A2 = normalize(batch_view(X), sched, normalization, cd, overwrite)
    yield Xk.reshape(X.shape)
    for row in rows:
        Xk = polynomial_step(Xk, row, A, A2, arrangement)
        A = A2 = None  # only the first step can reuse the normalisation's products
        yield Xk.reshape(X.shape)


def tall_solve(
    X: torch.Tensor,
    schedule: str | schedules.Schedule,
    steps: int | None,
    dtype: torch.dtype | str | None,
    normalization: str,
    arrangement: str = "fused",
    overwrite: bool = False,
) -> tuple[torch.Tensor, dict]:
    """Run the whole schedule on tall ``X``; returns ``(X_k, info)``."""
    sched = schedules.get(schedule)
    k = len(sched.rows(steps))
    cd = compute_dtype(dtype, X.device)
    run = tall_run(X, sched, steps, cd, normalization, arrangement, overwrite)
    Xk = deque(run, maxlen=1)[0]  # the last iterate
    return Xk, {"schedule": sched.name, "steps": k, "dtype": dtype_name(cd)}


def newton_schulz(
    G,
    schedule: str | schedules.Schedule = "polar_express",
    steps: int | None = None,
    *,
    dtype: torch.dtype | str | None = None,
    normalization: str = "frobenius",
    out_dtype: torch.dtype | str | None = None,
    arrangement: str = "fused",
    check_finite: bool = True,
):
    r"""Approximate polar factor of ``G`` by ``k`` Newton-Schulz steps of a schedule.

    With ``X_0 = G / (c\,s + \epsilon)`` (``c``, ``\epsilon`` the schedule's input
    factor and epsilon, ``s`` the chosen norm bound) and rows ``(a_t, b_t, c_t)``
    of ``schedule.rows(steps)``, on the short side (``A = X^T X`` for tall ``G``,
    ``X X^T`` for wide):

    .. math:: X_t = a_t X_{t-1} + X_{t-1}(b_t A_{t-1} + c_t A_{t-1}^2).

    In exact arithmetic ``X_k = U f_k(\Sigma / (c s + \epsilon)) V^T`` for
    ``G = U \Sigma V^T`` with ``f_k = p_k \circ \dots \circ p_1`` the scalar
    composition, ``p_t(x) = a_t x + b_t x^3 + c_t x^5`` (Amsel et al., "The Polar
    Express", arXiv 2505.16932, sec. 2), so
    ``schedule.apply_scalar(schedule.normalize_scalar(sigma, ||G||_F), k)``
    predicts the singular values exactly (``normalization="frobenius"``) for
    ``||G||_F >= eps / (10^{-6} c)``; below that the schedule's ``eps`` is capped
    (``EPS_CAP``), so the result does not depend on the scale of ``G``.

    The same checked call as ``polarlab.polar(G, "newton_schulz", ...)``: by
    default ``G`` is validated (finite entries, else ``ValueError``; an exactly
    zero matrix gives zeros and a ``RuntimeWarning``), which reads the data.
    With ``check_finite=False``, or under ``torch.compile``, nothing is read:
    no host synchronisation, no data-dependent branching (the tensor-level
    entry point for optimizers).

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Tall, wide or square; any batch shape. Never modified.
    schedule : str or Schedule
        A registered schedule name (``polarlab.schedules.names()``) or a
        :class:`~polarlab.schedules.Schedule`. Default ``"polar_express"``.
    steps : int, optional
        Number of steps ``k``; default the schedule's ``default_steps``. Past the
        table's end the schedule's rule applies (a fixed-length table raises
        ``ValueError``). ``steps=0`` returns ``X_0``.
    dtype : str or torch.dtype, optional
        Compute dtype: ``"float64"``, ``"float32"``, ``"float16"`` or
        ``"bfloat16"``. Default float32 on every device (one rule; the
        schedule's own ``dtype`` is informative only). Normalisation scalars are
        always computed in float32 or better.
    normalization : {"frobenius", "schatten8", "one_inf"}
        Norm bound ``s``; see :func:`normalize` for what each does to the
        schedule's design interval. Default the schedules' own ``"frobenius"``.
    out_dtype : str or torch.dtype, optional
        Dtype of the result; default ``G``'s.
    arrangement : {"fused", "published"}
        Order of one step's products (:data:`ARRANGEMENTS`): polarlab's
        ``X (a I + b A + c A^2)`` or the Polar Express paper's ``a X + X (b A + c A^2)``
        (arXiv 2505.16932, Algorithm 1). Equal in exact arithmetic; they differ in
        half precision.
    check_finite : bool
        Validate ``G`` (reads the data: a host synchronisation on CUDA); hot paths
        pass ``False``. Default ``True``.

    Returns
    -------
    X_k : same kind, shape and device as ``G``; dtype ``out_dtype`` or ``G``'s.

    Raises
    ------
    ValueError
        Unknown schedule, normalisation or arrangement, steps beyond a fixed-length table,
        unsupported dtype on the device; ``G`` not a real floating array of at least 2
        dimensions, or (``check_finite``) with NaN or infinite entries.
    TypeError
        ``G`` is neither a numpy array nor a torch tensor.

    Notes
    -----
    *Zero singular values.* They stay exactly zero in exact arithmetic
    (``p_t(0) = 0``). In finite precision the rounding noise in their
    directions, of size about ``u`` relative to ``||X||``, is multiplied by the
    slope at zero, ``f_k'(0) = prod a_t`` (about 980 for the five Polar Express
    rows), so in bfloat16 (``u = 2^-8``) they come out at order 0.1-1.
    Measured on rank-16 ``32 x 64`` Gaussian products, 10 seeds, 5 Polar
    Express steps: the sixteen "zero" singular values end between 0.11 and
    0.49 in bfloat16, 0.015 and 0.065 in float16, 5e-6 and 2e-5 in float32 and
    1e-14 and 8e-14 in float64, while the largest stays within the schedule's
    bound (1.124; ``tests/test_polynomial.py`` checks the bound on every matrix
    family, rank-deficient ones included).

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import schedules
    >>> G = np.random.default_rng(0).standard_normal((40, 10))
    >>> X = newton_schulz(G, "simple_quintic", steps=12, dtype="float64")
    >>> s = schedules.get("simple_quintic")
    >>> sigma = np.linalg.svd(G, compute_uv=False)
    >>> predicted = s.apply_scalar(s.normalize_scalar(sigma, np.linalg.norm(G)), 12)
    >>> bool(np.allclose(np.linalg.svd(X, compute_uv=False), predicted, atol=1e-12))
    True
    >>> bool(np.allclose(newton_schulz(G.T, "simple_quintic", 12, dtype="float64"), X.T))
    True
    """
    from polarlab.polar.dispatch import resolve

    solver = resolve(
        "newton_schulz",
        schedule=schedule,
        steps=steps,
        dtype=dtype,
        normalization=normalization,
        arrangement=arrangement,
    )
    return solver(G, out_dtype=out_dtype, check_finite=check_finite, name="G")


# --- Registered methods (tall work tensors; the dispatcher transposes wide input). ----


def solve_newton_schulz(
    X: torch.Tensor,
    overwrite: bool = False,
    /,
    *,
    schedule: str | schedules.Schedule = "polar_express",
    steps: int | None = None,
    dtype: torch.dtype | str | None = None,
    normalization: str = "frobenius",
    arrangement: str = "fused",
) -> tuple[torch.Tensor, dict]:
    """Registry ``solve`` for ``"newton_schulz"``: :func:`newton_schulz` on tall ``X``.

    Returns the iterate in the compute dtype and
    ``info = {"schedule": name, "steps": k, "dtype": name}``. ``overwrite``
    (positional, so not a method option): ``X`` is scratch, as in
    ``solve_newton_schulz_in_place``.
    """
    return tall_solve(X, schedule, steps, dtype, normalization, arrangement, overwrite)


def solve_newton_schulz_in_place(X: torch.Tensor, **options) -> tuple[torch.Tensor, dict]:
    """Registry ``solve_in_place``: ``solve_newton_schulz`` with ``X`` as scratch.

    The same result, bit for bit; ``X``'s values are lost (the normalisation divides it
    in place when it is in the scalar dtype, instead of allocating a full-size copy).
    """
    return solve_newton_schulz(X, True, **options)


def iterates_newton_schulz(
    X: torch.Tensor,
    steps: int,
    *,
    schedule: str | schedules.Schedule = "polar_express",
    dtype: torch.dtype | str | None = None,
    normalization: str = "frobenius",
    arrangement: str = "fused",
) -> Iterator[torch.Tensor]:
    """Registry ``iterates``: ``X_1, ..., X_steps`` of one run (one step of work each).

    Iterate ``k`` equals ``solve_newton_schulz(X, steps=k)`` whenever the
    schedule's first ``k`` rows do not depend on the total (true for every
    repeat rule).
    """
    run = tall_run(X, schedule, steps, dtype, normalization, arrangement)
    next(run)  # X_0 is not an iterate; the arguments were validated by resolve()
    return run


def check_options(options: dict) -> dict:
    """Validate and normalise the engine's options once (the registry's ``check``).

    The schedule becomes a :class:`~polarlab.schedules.Schedule`, the dtype a torch
    dtype (or ``None``: the dtype policy decides per device); ``steps`` must be
    ``None`` or reachable in the schedule.

    >>> check_options(dict(schedule="jordan", steps=None, dtype="bfloat16",
    ...                    normalization="frobenius"))["dtype"]
    torch.bfloat16
    """
    sched = schedules.get(options["schedule"])
    sched.rows(options["steps"])  # a bad count, or steps past a fixed-length table
    if options["normalization"] not in NORMALIZATIONS:
        raise ValueError(
            f"unknown normalization {options['normalization']!r}; choose one of: "
            f"{', '.join(NORMALIZATIONS)}"
        )
    return {**options, "schedule": sched, "dtype": resolve_dtype(options["dtype"])}


def check_arrangement(name: str, value) -> None:
    """The declared check of the ``arrangement`` option (:data:`ARRANGEMENTS`).

    >>> check_arrangement("arrangement", "paper")
    Traceback (most recent call last):
    ...
    ValueError: unknown arrangement 'paper'; choose one of: fused, published
    """
    if value not in ARRANGEMENTS:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(ARRANGEMENTS)}")


register(
    "newton_schulz",
    solve_newton_schulz,
    "odd-polynomial Newton-Schulz iteration driven by any coefficient schedule",
    iterates=iterates_newton_schulz,
    solve_in_place=solve_newton_schulz_in_place,
    check=check_options,
    option_checks={"arrangement": check_arrangement},
)
# The same engine with its default schedule declared on the method (any schedule may be given).
register(
    "polar_express",
    solve_newton_schulz,
    "Newton-Schulz with the Polar Express schedule by default (arXiv 2505.16932)",
    iterates=iterates_newton_schulz,
    solve_in_place=solve_newton_schulz_in_place,
    defaults={"schedule": "polar_express"},
    check=check_options,
    option_checks={"arrangement": check_arrangement},
)
