"""Classical polar iterations in float64: QDWH and scaled Newton.

Both compute the polar factor of a full-rank matrix to float64 working accuracy in
a handful of iterations, using inverses or factorisations (QR, Cholesky, LU)
rather than matrix products only. They are references and baselines for the
product-only Newton-Schulz family, not fast paths.

``"qdwh"``
    Dynamically weighted Halley iteration (Nakatsukasa, Bai and Gygi, SIAM J.
    Matrix Anal. Appl. 31(5), 2010). Cubically convergent, at most 6 iterations
    for condition numbers up to 1e16; handles rank-deficient input.
``"newton"``
    Scaled Newton iteration ``X <- (mu X + X^{-T} / mu) / 2`` (Higham, SIAM J. Sci.
    Stat. Comput. 7(4), 1986; *Functions of Matrices*, 2008, Ch. 8), after a QR
    reduction for rectangular input. Quadratically convergent; full rank only.

Every routine here takes the tall work tensor the dispatcher hands it (``m >= n``,
any batch shape), computes in float64 and treats each slice of a batch as its own
problem: weights, scalings and stopping decisions are per slice, and a slice that
has converged is frozen while the others continue, so a batched call reproduces the
per-slice calls.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import torch

from polarlab._arrays import unit_roundoff
from polarlab.linalg import max_abs_scale
from polarlab.polar.registry import register

__all__: list[str] = []  # reached through polarlab.polar(method="qdwh" | "newton")

_U64 = unit_roundoff(torch.float64)

# QDWH: NBG 2010 prove at most 6 iterations for l0 >= 1e-16; 10 leaves room (JAX uses 10).
_QDWH_MAX_ITERATIONS = 10
# Smallest user `lower` taken as given: NBG 2010 prove <= 6 steps from l0 = 1e-16, and far
# below it l^4 underflows and the weights overflow.
_QDWH_MIN_LOWER = 1e-16
# Cholesky is safe once I + c X^T X is well conditioned; switch from QR at c <= 100
# as Nakatsukasa and Higham (SIAM J. Sci. Comput. 35(3), 2013) and JAX do.
_QDWH_CHOLESKY_MAX_C = 100.0

# Newton: Byers and Xu (SIAM J. Matrix Anal. Appl. 30(2), 2008) bound 9 iterations for
# kappa <= 1e16 with their scaling; 1,inf scaling behaves alike. 20 is a safety net.
_NEWTON_MAX_ITERATIONS = 20
# Relative step below which scaling is switched off (it only perturbs near convergence).
_NEWTON_UNSCALED_BELOW = 1e-2
_NEWTON_SCALINGS = ("1inf", "frobenius")


def _per_slice(t: torch.Tensor) -> int | float | list:
    """A per-slice tensor as a plain Python value: a scalar when unbatched, else a list."""
    return t.tolist()


def _norm_1(X: torch.Tensor) -> torch.Tensor:
    """||X||_1 = max column sum of |x_ij|, per slice, shape (...)."""
    return X.abs().sum(-2).amax(-1)


def _norm_inf(X: torch.Tensor) -> torch.Tensor:
    """||X||_inf = max row sum of |x_ij|, per slice, shape (...)."""
    return X.abs().sum(-1).amax(-1)


def _frobenius(X: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(X)


def _run_to_convergence(
    run: Iterator[tuple[torch.Tensor, torch.Tensor]], max_iterations: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Consume ``(X_k, converged)`` pairs until every slice has converged or the cap.

    Returns the last iterate, the steps each slice took before it converged, and the
    converged mask.
    """
    for k, (X, converged) in enumerate(run, start=1):
        if k == 1:
            iterations = torch.zeros(converged.shape, dtype=torch.int64, device=X.device)
            done = torch.zeros_like(converged)
        iterations = iterations + (~done).to(torch.int64)  # frozen slices stop counting
        done = converged
        if bool(done.all()) or k == max_iterations:
            return X, iterations, done
    raise AssertionError("iteration generators never end")


# --------------------------------------------------------------------------------- QDWH


def _qdwh_weights(l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dynamical weights ``(a, b, c)`` for lower bound ``l`` in (0, 1] (NBG 2010).

    They make ``f(x) = x (a + b x^2) / (1 + c x^2)`` the best type-(3, 2) rational
    map of ``[l, 1]`` towards 1; ``l = 1`` gives Halley's ``(3, 1, 3)``.
    """
    l2 = l * l
    gamma = (4 * (1 - l2) / (l2 * l2)) ** (1 / 3)
    root = torch.sqrt(1 + gamma)
    a = root + 0.5 * torch.sqrt(8 - 4 * gamma + 8 * (2 - l2) / (l2 * root))
    b = (a - 1) ** 2 / 4
    c = a + b - 1
    return a, b, c


def _qdwh_lower_bound(X0: torch.Tensor) -> torch.Tensor:
    """Lower bound on ``sigma_min(X0)`` per slice, from ``X0 = QR``.

    ``sigma_min(X0) = sigma_min(R) = 1 / ||R^{-1}||_2 >= 1 / (sqrt(n) ||R^{-1}||_1)``.
    Singular or nearly singular ``R`` gives 0 or round-off; the caller floors the bound.
    """
    n = X0.shape[-1]
    R = torch.linalg.qr(X0, mode="r")[1]
    eye = torch.eye(n, dtype=R.dtype, device=R.device).expand_as(R)
    R_inv = torch.linalg.solve_triangular(R, eye, upper=True)
    bound = 1 / (math.sqrt(n) * _norm_1(R_inv))
    return torch.nan_to_num(bound, nan=0.0, posinf=1.0, neginf=0.0)


def _qdwh_start(
    X: torch.Tensor, lower: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``X0 = A / alpha``, the lower bounds ``l0`` and the zero-slice mask."""
    if lower is not None and not 0 < lower <= 1:
        raise ValueError(
            f"lower must lie in (0, 1] (a lower bound on sigma_min(X0)), got {lower!r}"
        )
    # Divided by max |a_ij| first (the polar factor does not change): the norms below
    # then neither overflow nor underflow at any scale float64 holds.
    A, _ = max_abs_scale(X.to(torch.float64))
    # alpha = sqrt(||A||_1 ||A||_inf) >= ||A||_2, so sigma(X0) lies in [0, 1].
    alpha = torch.sqrt(_norm_1(A) * _norm_inf(A))
    zero = alpha == 0
    X0 = A / torch.where(zero, 1.0, alpha)[..., None, None]
    # Floor at u: below it the weights overflow (l^4 underflows) and nothing is resolved
    # anyway (singular values under u * ||A|| are round-off); NBG's 6-step bound holds.
    if lower is None:  # a choice of weights, not part of the value: no gradient through it
        l0 = _qdwh_lower_bound(X0.detach()).clamp(min=_U64, max=1.0)
    else:
        lower = max(float(lower), _QDWH_MIN_LOWER)
        l0 = torch.full(alpha.shape, lower, dtype=torch.float64, device=A.device)
    # A zero slice has no singular values to lift: it starts (and stays) converged.
    return X0, torch.where(zero, 1.0, l0), zero


def _qdwh_step(X: torch.Tensor, l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One QDWH step ``X <- (b/c) X + (a - b/c) X (I + c X^T X)^{-1}`` and the new bound."""
    a, b, c = _qdwh_weights(l)
    n = X.shape[-1]
    eye = torch.eye(n, dtype=X.dtype, device=X.device)
    a_, b_, c_ = (w[..., None, None] for w in (a, b, c))
    if bool((c > _QDWH_CHOLESKY_MAX_C).any()):
        # QR form (stable for any c): [sqrt(c) X; I] = [Q1; Q2] R gives
        # X (I + c X^T X)^{-1} = c^{-1/2} Q1 Q2^T.
        stacked = torch.cat([torch.sqrt(c_) * X, eye.expand(*X.shape[:-2], n, n)], dim=-2)
        Q = torch.linalg.qr(stacked)[0]
        Q1, Q2 = Q[..., : X.shape[-2], :], Q[..., X.shape[-2] :, :]
        inverse_term = (Q1 @ Q2.mT) / torch.sqrt(c_)
    else:
        # Cholesky form: Z = I + c X^T X = L L^T (cond(Z) <= 1 + c <= 101);
        # X Z^{-1} = (Z^{-1} X^T)^T since Z is symmetric.
        L = torch.linalg.cholesky(eye + c_ * (X.mT @ X))
        inverse_term = torch.cholesky_solve(X.mT, L).mT
    X_next = (b_ / c_) * X + (a_ - b_ / c_) * inverse_term
    # The scalar map sends the lower bound l to f(l); rounding may push it past 1.
    l_next = (l * (a + b * l * l) / (1 + c * l * l)).clamp(max=1.0)
    return X_next, l_next


def _qdwh_run(X0: torch.Tensor, l0: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(X_k, converged)`` for k = 1, 2, ...; converged slices are frozen.

    Stop rule (NBG 2010): a slice has converged once ``|1 - l_k| <= 10 u``
    and ``||X_k - X_{k-1}||_F <= u^{1/3}``. Cubic convergence makes the error of
    ``X_k`` about the cube of the last step, i.e. about ``u``.
    """
    X, l = X0, l0
    converged = torch.zeros(l.shape, dtype=torch.bool, device=X.device)
    while True:
        X_next, l_next = _qdwh_step(X, l)
        moved = _frobenius(X_next - X)
        frozen = converged[..., None, None]
        X = torch.where(frozen, X, X_next)
        l = torch.where(converged, l, l_next)
        converged = converged | ((1 - l <= 10 * _U64) & (moved <= _U64 ** (1 / 3)))
        yield X, converged


def polar_qdwh(X: torch.Tensor, *, lower: float | None = None) -> tuple[torch.Tensor, dict]:
    r"""Polar factor by the QR-based dynamically weighted Halley iteration (QDWH).

    Nakatsukasa, Bai and Gygi, "Optimizing Halley's iteration for computing the
    matrix polar decomposition", SIAM J. Matrix Anal. Appl. 31(5), 2010. In float64:

    * start ``X_0 = A / alpha`` with ``alpha = sqrt(||A||_1 ||A||_inf) >= ||A||_2``;
    * ``l_0 <= sigma_min(X_0)``;
    * weights ``gamma = (4 (1 - l^2) / l^4)^{1/3}``,
      ``a = sqrt(1 + gamma) + sqrt(8 - 4 gamma + 8 (2 - l^2) / (l^2 sqrt(1 + gamma))) / 2``,
      ``b = (a - 1)^2 / 4``, ``c = a + b - 1``;
    * ``X_{k+1} = (b/c) X_k + (a - b/c) X_k (I + c X_k^T X_k)^{-1}``, evaluated in the
      QR form ``[sqrt(c) X; I] = [Q_1; Q_2] R``, ``X <- (b/c) X + (a - b/c) Q_1 Q_2^T / sqrt(c)``
      while ``c > 100`` and by Cholesky of ``I + c X^T X`` afterwards;
    * ``l_{k+1} = l_k (a + b l_k^2) / (1 + c l_k^2)``;
    * stop once ``|1 - l_k| <= 10 u`` and ``||X_k - X_{k-1}||_F <= u^{1/3}``.

    Every singular value in ``[l_0, 1]`` reaches 1 within ``u`` in at most 6 iterations
    for ``l_0 >= 1e-16``.

    Parameters
    ----------
    X : torch.Tensor, shape (..., m, n), m >= n
        Tall or square work tensor (cast to float64).
    lower : float, optional
        A lower bound ``l_0`` in (0, 1] on ``sigma_min(X_0) = sigma_min(A) / alpha``,
        used for every slice; values below ``1e-16`` are raised to ``1e-16`` (far
        below it the weights overflow, and NBG's 6-step bound holds from there).
        Default: per slice, ``l_0 = max(1 / (sqrt(n) ||R^{-1}||_1), u)`` from a QR
        factorisation ``X_0 = QR`` (one extra QR and triangular inverse;
        ``||R^{-1}||_2 <= sqrt(n) ||R^{-1}||_1`` makes it a bound up to rounding).
        An ``l_0`` above the true ``sigma_min(X_0)`` leaves the small singular
        values unconverged when the stop rule fires; one far below costs at most a
        few iterations.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), float64
    info : dict
        ``iterations``: QDWH steps used per slice (an int when unbatched, else a list);
        ``lower``: the ``l_0`` used per slice.

    Notes
    -----
    Batches: weights and stopping are per slice (a converged slice is frozen); the QR
    form is used for the whole batch while any slice has ``c > 100``.
    Rank-deficient input: in exact arithmetic a zero singular value stays zero
    (``X v = 0`` implies ``X_{k+1} v = 0``), but in float64 it is round-off of size
    ``~u ||A||``, below any usable ``l_0``, and QDWH lifts it to an arbitrary value in
    [0, 1], possibly taking more than 6 steps. The result is finite and has the
    right factor on the numerical range, but it is not the partial isometry: use
    ``"svd"`` (thresholded by ``rank_tol``) for that. A zero slice gives zeros.
    A ``RuntimeWarning`` is raised if 10 iterations do not meet the stop rule (an
    overestimated ``lower``).

    Examples
    --------
    >>> import numpy as np, scipy.linalg, polarlab
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((40, 8)) @ np.diag(np.logspace(0, -10, 8))  # kappa ~ 1e10
    >>> U, info = polarlab.polar(A, method="qdwh", return_info=True)
    >>> info["iterations"] <= 6
    True
    >>> bool(np.abs(U.T @ U - np.eye(8)).max() < 1e-14)
    True
    """
    X0, l0, _ = _qdwh_start(X, lower)
    U, iterations, done = _run_to_convergence(_qdwh_run(X0, l0), _QDWH_MAX_ITERATIONS)
    if not bool(done.all()):
        warnings.warn(
            f"qdwh: {int((~done).sum())} slice(s) did not meet the stop rule in "
            f"{_QDWH_MAX_ITERATIONS} iterations; is `lower` really a lower bound on "
            "sigma_min(A) / sqrt(||A||_1 ||A||_inf)?",
            RuntimeWarning,
            stacklevel=3,
        )
    return U, {"iterations": _per_slice(iterations), "lower": _per_slice(l0)}


def qdwh_iterates(
    X: torch.Tensor, steps: int, *, lower: float | None = None
) -> Iterator[torch.Tensor]:
    """Yield QDWH iterates ``X_1, ..., X_steps`` (see :func:`polar_qdwh`).

    A slice that meets the stop rule is repeated unchanged afterwards. The input is
    validated when this is called, not when the first iterate is drawn.
    """
    X0, l0, _ = _qdwh_start(X, lower)
    run = _qdwh_run(X0, l0)
    return (next(run)[0] for _ in range(steps))


# ------------------------------------------------------------------------------- Newton


def _newton_start(X: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Reduce to square: tall ``A = QR`` gives ``polar(A) = Q polar(R)``.

    Returns ``(Q or None, square start, zero-slice mask)``; zero slices are replaced
    by the identity so the iteration is defined, and zeroed at the end.
    Raises ``ValueError`` for numerically singular slices.
    """
    # Divided by max |a_ij| first (the polar factor does not change): the inverse and the
    # 1-norms then neither overflow nor underflow at any scale float64 holds.
    A, _ = max_abs_scale(X.to(torch.float64))
    m, n = A.shape[-2:]
    Q, R = torch.linalg.qr(A) if m > n else (None, A)
    norm_1 = _norm_1(R)
    zero = norm_1 == 0
    eye = torch.eye(n, dtype=R.dtype, device=R.device)
    R = torch.where(zero[..., None, None], eye, R)
    # Newton needs R^{-1}; reject kappa_1(R) = ||R||_1 ||R^{-1}||_1 > 1/u, where the
    # first inverse has no correct digits (Byers-Xu's analysis covers kappa <= 1e16).
    R_inv, status = torch.linalg.inv_ex(R)
    kappa_1 = torch.where(zero, 1.0, norm_1) * _norm_1(R_inv)
    singular = (status != 0) | ~torch.isfinite(kappa_1) | (kappa_1 > 1 / _U64)
    if bool(singular.any()):
        raise ValueError(
            f"method 'newton' needs full-rank input, but {int(singular.sum())} of "
            f"{singular.numel()} matri(x/ces) are numerically singular (1-norm condition "
            f"number above 1/u = {1 / _U64:.1e}); use method='svd' (partial isometry) or "
            "method='qdwh'"
        )
    return Q, R, zero


def _check_scaling(scaling: str) -> None:
    if scaling not in _NEWTON_SCALINGS:
        raise ValueError(
            f"unknown scaling {scaling!r}; choose one of: {', '.join(_NEWTON_SCALINGS)}"
        )


def _newton_scale(X: torch.Tensor, X_inv: torch.Tensor, scaling: str) -> torch.Tensor:
    """Scaling ``mu`` per slice, shape (...)."""
    if scaling == "1inf":
        # Higham's 1,inf scaling: mu = (||X^-1||_1 ||X^-1||_inf / (||X||_1 ||X||_inf))^{1/4}.
        return ((_norm_1(X_inv) * _norm_inf(X_inv)) / (_norm_1(X) * _norm_inf(X))) ** 0.25
    # Kenney-Laub Frobenius scaling: mu = sqrt(||X^-1||_F / ||X||_F).
    return torch.sqrt(_frobenius(X_inv) / _frobenius(X))


def _newton_run(R: torch.Tensor, scaling: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(X_k, converged)`` for the square iteration; converged slices are frozen.

    Stop rule: Newton converges quadratically, ``||X_{k+1} - U|| ~ ||X_k - U||^2 / 2``
    and ``||X_{k+1} - X_k|| ~ ||X_k - U||``, so a step of Frobenius size
    ``<= sqrt(2 n u)`` leaves an error ``~ n u``, the rounding floor of one step; a
    step that is no smaller than the previous unscaled one means rounding dominates.
    """
    n = R.shape[-1]
    X = R
    batch = R.shape[:-2]
    scaled = torch.ones(batch, dtype=torch.bool, device=R.device)
    converged = torch.zeros(batch, dtype=torch.bool, device=R.device)
    last_step = torch.full(batch, math.inf, dtype=R.dtype, device=R.device)
    while True:
        X_inv = torch.linalg.inv(X)
        mu = torch.where(scaled, _newton_scale(X, X_inv, scaling), 1.0)[..., None, None]
        # X <- (mu X + X^{-T} / mu) / 2
        X_next = 0.5 * (mu * X + X_inv.mT / mu)
        step = _frobenius(X_next - X)
        stalled = ~scaled & (step >= last_step)
        X = torch.where(converged[..., None, None], X, X_next)
        # Higham (2008, Ch. 8) switches scaling off near convergence, where it
        # only perturbs a quadratically converging iteration.
        scaled = scaled & (step >= _NEWTON_UNSCALED_BELOW * _frobenius(X_next))
        converged = converged | (step <= math.sqrt(2 * n * _U64)) | stalled
        last_step = torch.where(scaled, math.inf, step)
        yield X, converged


def polar_newton(X: torch.Tensor, *, scaling: str = "1inf") -> tuple[torch.Tensor, dict]:
    r"""Polar factor by the scaled Newton iteration.

    For square non-singular ``X_0``:
    ``X_{k+1} = (mu_k X_k + X_k^{-T} / mu_k) / 2``, whose scalar map
    ``s -> (mu s + 1/(mu s)) / 2`` sends every singular value to 1 quadratically
    (Higham, "Computing the polar decomposition - with applications", SIAM J. Sci.
    Stat. Comput. 7(4), 1986; Higham, *Functions of Matrices*, 2008, Ch. 8).
    Tall input is reduced first: ``A = QR`` (thin) gives ``polar(A) = Q polar(R)``.

    Scaling ``mu_k`` (switched off, ``mu = 1``, once the relative step
    ``||X_{k+1} - X_k||_F / ||X_{k+1}||_F`` falls below 1e-2):

    * ``"1inf"`` (default, Higham):
      ``mu = (||X^{-1}||_1 ||X^{-1}||_inf / (||X||_1 ||X||_inf))^{1/4}``;
    * ``"frobenius"`` (Kenney and Laub): ``mu = sqrt(||X^{-1}||_F / ||X||_F)``.

    Stop rule: after the first step with ``||X_{k+1} - X_k||_F <= sqrt(2 n u)``
    (quadratic convergence leaves an error ``~ n u``, the floor), or when an
    unscaled step is no smaller than the one before (rounding dominates). Byers and
    Xu (SIAM J. Matrix Anal. Appl. 30(2), 2008) bound the count by 9 for
    ``kappa <= 1e16``.

    Parameters
    ----------
    X : torch.Tensor, shape (..., m, n), m >= n
        Tall or square work tensor of full column rank (cast to float64).
    scaling : {"1inf", "frobenius"}
        Scaling rule, see above.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), float64
    info : dict
        ``iterations``: Newton steps per slice (an int when unbatched, else a list);
        ``scaling``: the rule used.

    Raises
    ------
    ValueError
        A numerically singular slice (1-norm condition number of ``R`` above
        ``1/u``): use ``"svd"`` or ``"qdwh"``. An unknown ``scaling``.

    Notes
    -----
    A zero slice gives zeros, as for every method. Batches: scaling and stopping are
    per slice; converged slices are frozen. One LU inverse per step (``n^3``-ish)
    plus one QR of the tall input.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, polarlab
    >>> A = np.random.default_rng(0).standard_normal((30, 10))
    >>> U, info = polarlab.polar(A, method="newton", return_info=True)
    >>> info["iterations"] <= 9
    True
    >>> bool(np.allclose(U, scipy.linalg.polar(A)[0], rtol=0, atol=1e-13))
    True
    """
    _check_scaling(scaling)
    Q, R, zero = _newton_start(X)
    Y, iterations, done = _run_to_convergence(_newton_run(R, scaling), _NEWTON_MAX_ITERATIONS)
    if not bool(done.all()):
        warnings.warn(
            f"newton: {int((~done).sum())} slice(s) did not meet the stop rule in "
            f"{_NEWTON_MAX_ITERATIONS} iterations",
            RuntimeWarning,
            stacklevel=3,
        )
    U = _newton_finish(Q, Y, zero)
    return U, {"iterations": _per_slice(iterations), "scaling": scaling}


def _newton_finish(Q: torch.Tensor | None, Y: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """``Q polar(R)`` for tall input, zero for zero slices."""
    U = Y if Q is None else Q @ Y
    return torch.where(zero[..., None, None], 0.0, U)


def newton_iterates(
    X: torch.Tensor, steps: int, *, scaling: str = "1inf"
) -> Iterator[torch.Tensor]:
    """Yield scaled Newton iterates ``Q X_1, ..., Q X_steps`` (see :func:`polar_newton`).

    A slice that meets the stop rule is repeated unchanged afterwards. The input is
    validated when this is called, not when the first iterate is drawn.
    """
    _check_scaling(scaling)
    Q, R, zero = _newton_start(X)
    run = _newton_run(R, scaling)
    return (_newton_finish(Q, next(run)[0], zero) for _ in range(steps))


def _check_qdwh(options: dict) -> dict:
    """Registry ``check``: ``lower`` is ``None`` or a real number in (0, 1]."""
    lower = options["lower"]
    if lower is not None and (
        isinstance(lower, bool) or not isinstance(lower, (int, float)) or not 0 < lower <= 1
    ):
        raise ValueError(
            f"lower must lie in (0, 1] (a lower bound on sigma_min(X0)) or be None, got {lower!r}"
        )
    return options


def _check_newton(options: dict) -> dict:
    """Registry ``check``: ``scaling`` is one of the scalings."""
    _check_scaling(options["scaling"])
    return options


register(
    "qdwh",
    polar_qdwh,
    "QR-based dynamically weighted Halley (Nakatsukasa-Bai-Gygi 2010), float64, <= 6 steps",
    iterates=qdwh_iterates,
    exact=True,
    check=_check_qdwh,
)
register(
    "newton",
    polar_newton,
    "scaled Newton (X + X^-T)/2 after QR, 1,inf or Frobenius scaling, float64, full rank only",
    iterates=newton_iterates,
    exact=True,
    check=_check_newton,
)
