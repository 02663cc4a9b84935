r"""The projection onto the balanced Stiefel manifold, solved and certified.

``max <G, U>`` subject to ``U^T U = I`` and ``||U_i||^2 = n/m`` (tall ``G``), whose KKT
condition is ``G = U S + diag(lambda) U`` with ``S`` symmetric: a float64 reference for
the fast forms (Aurora, Dewulf et al., arXiv 2606.27715, and its Riemannian variant).
Solved by Riemannian Newton's method (:mod:`~polarlab.manifolds.exact_newton`) from
Aurora's fixed point, with random restarts where the global certificate fails, and
returned with a :class:`BalancedStiefelCertificate`: stationarity and feasibility, the
concavity margin of the Lagrangian (``>= 0``: the global maximum) and a Lagrangian-dual
upper bound on the alignment (:mod:`~polarlab.manifolds.exact_dual`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from polarlab._arrays import as_work, to_caller, unit_roundoff
from polarlab.linalg import max_abs_scale
from polarlab.manifolds._common import check_choice, check_positive, check_positive_int, row_sq
from polarlab.manifolds.balanced import WIDE_RULES, Wide
from polarlab.manifolds.exact_dual import concavity_margin, minimise_dual
from polarlab.manifolds.exact_newton import (
    balance_rows,
    kkt_multipliers,
    riemannian_newton,
    svd_polar,
)

__all__ = ["MULTISTART", "BalancedStiefelCertificate", "balanced_stiefel_exact"]

#: When :func:`balanced_stiefel_exact` runs its random restarts: only for slices whose
#: certificate fails, or always (to test the certificate).
MULTISTART = ("uncertified", "always")

# Slices of one batched Newton run at most this many float64 entries of Schur complement
# (128 MiB), so that many restarts of a large problem do not exhaust memory.
_SCHUR_ENTRIES = 2**24


@dataclass(frozen=True)
class BalancedStiefelCertificate:
    """How well :func:`balanced_stiefel_exact` solved ``max <G, U>`` on balanced Stiefel.

    For a batch, each number is the worst slice. Arrays are float64, of the caller's
    kind, and refer to the tall (long-axis first) orientation the problem is solved in.

    Attributes
    ----------
    stationarity : float
        KKT residual ``||G - U S - diag(lambda) U||_F / ||G||_F`` with the least-
        squares multipliers: the relative norm of the Riemannian gradient.
    orthogonality : float
        ``||U^T U - I||_F``.
    row_violation : float
        ``max_i | ||U_i||^2 / (n/m) - 1 |``.
    alignment : float
        ``<G, U> / ||G||_*`` (1 for the unconstrained polar factor).
    iterations : int
        Newton iterations (trust-region trial steps) of the longest run, restarts included.
    converged : bool
        ``stationarity <= tol`` for every slice.
    tol : float
        The requested stationarity tolerance.
    margin : float
        Concavity margin ``lambda_min(S) + min_i lambda_i`` of the Lagrangian at ``U``
        (gauge invariant; the smallest eigenvalue of ``S kron I + I kron diag(lambda)``).
    margin_allowance : float
        Its float64 round-off allowance ``8 (n + 1) u (||S||_2 + ||lambda||_inf)``.
    global_optimum : bool
        ``margin >= -margin_allowance`` for every slice: the Lagrangian is concave, so
        ``U`` is the global maximiser (up to ``1/2 <Z, A^{-1} Z>``, ``Z`` the KKT residual).
    upper_bound : float
        Lagrangian-dual bound on the alignment of **any** feasible point, minimised by
        Newton's method to ``dual_tol``, plus its round-off allowance.
    gap : float
        ``upper_bound - alignment``: round-off when ``global_optimum``; otherwise at most
        this much alignment can be missing.
    dual_iterations : int
        Newton iterations of the dual minimisation.
    dual_tol : float
        Its relative tolerance (stop at Newton decrement or decrease ``<= dual_tol |d|``).
    starts : int
        Starts run: Aurora's fixed point plus the random restarts, if they ran.
    best_found_by : int
        How many of those starts reached the best alignment (to its round-off).
    S, lam : arrays, shapes (..., n, n) and (..., m)
        The least-squares KKT multipliers at ``U``.
    dual_S, dual_lam : arrays, same shapes
        The dual point behind ``upper_bound``.
    start_alignments : array, shape (..., 1 + random starts)
        The alignment each start reached (Aurora's first; NaN where a start did not run).
    """

    stationarity: float
    orthogonality: float
    row_violation: float
    alignment: float
    iterations: int
    converged: bool
    tol: float
    margin: float = math.nan
    margin_allowance: float = 0.0
    global_optimum: bool = False
    upper_bound: float = math.nan
    gap: float = math.nan
    dual_iterations: int = 0
    dual_tol: float = math.nan
    starts: int = 1
    best_found_by: int = 1
    S: object = field(default=None, repr=False, compare=False)
    lam: object = field(default=None, repr=False, compare=False)
    dual_S: object = field(default=None, repr=False, compare=False)
    dual_lam: object = field(default=None, repr=False, compare=False)
    start_alignments: object = field(default=None, repr=False, compare=False)


# Certificate entries proportional to G (the multipliers of G = U S + diag(lambda) U and
# the margins built from them); the others are relative (alignments divide by ||G||_*).
_LINEAR_IN_G = ("margin", "margin_allowance", "S", "lam", "dual_S", "dual_lam")


def _check_full_rank(X: torch.Tensor) -> None:
    m, n = X.shape[-2:]
    s = torch.linalg.svdvals(X)
    rank_ok = s[..., -1] > s[..., 0] * max(m, n) * unit_roundoff(torch.float64)
    if not bool(rank_ok.all()) or not bool((row_sq(X) > 0).all()):
        bad = int(torch.nonzero(~rank_ok | ~(row_sq(X)[..., 0] > 0).all(-1))[0, 0])
        raise ValueError(
            "balanced_stiefel_exact needs G of full column rank with no zero row "
            f"(smallest singular value {float(s[bad, -1]):.3g}, largest "
            f"{float(s[bad, 0]):.3g}); on such input the maximiser is not unique"
        )


def _newton_in_chunks(G, U, tol, max_iter, feas_tol):
    """:func:`riemannian_newton` on slices of the batch, each within the memory budget."""
    m, n = G.shape[-2:]
    k = n * (n + 1) // 2 + m
    chunk = max(1, _SCHUR_ENTRIES // (k * k))
    parts = [
        riemannian_newton(G[i : i + chunk], U[i : i + chunk], tol, max_iter, feas_tol)
        for i in range(0, G.shape[0], chunk)
    ]
    return tuple(torch.cat(p) for p in zip(*parts))


def _restart(X, U, f, iterations, slices, options):
    """Random feasible restarts for ``slices``; keeps each slice's best point.

    Returns the alignments (unnormalised) of the restarts, shape (len(slices), starts).
    """
    starts, seed, tol, max_iter, feas_tol = options
    m, n = X.shape[-2:]
    # The same starts for every slice: a batch gives what its slices give one by one.
    gen = torch.Generator(device=X.device).manual_seed(seed)
    Y = torch.randn(starts, m, n, generator=gen, dtype=X.dtype, device=X.device)
    V0 = balance_rows(Y, feas_tol).repeat(slices.numel(), 1, 1)
    G = X[slices].repeat_interleave(starts, dim=0)
    V, its, _ = _newton_in_chunks(G, V0, tol, max_iter, feas_tol)
    values = (G * V).sum((-2, -1)).reshape(-1, starts)
    iterations[slices] = torch.maximum(iterations[slices], its.reshape(-1, starts).amax(-1))
    best, which = values.max(-1)
    better = best > f[slices] + _value_allowance(X[slices])
    V = V.reshape(-1, starts, m, n)
    U[slices[better]] = V[better, which[better]]
    return values


def _value_allowance(X: torch.Tensor) -> torch.Tensor:
    """Round-off of ``<G, U>`` at a computed point: ``8 mn u ||G||_F ||U||_F``
    (``mn`` products; ``||U||_F = sqrt(n)``; the factor covers the retraction's
    feasibility error), shape (...)."""
    m, n = X.shape[-2:]
    gnorm = torch.linalg.vector_norm(X, dim=(-2, -1))
    return 8 * m * n * unit_roundoff(X.dtype) * gnorm * math.sqrt(n)


def _solve_tall(X, tol, max_iter, starts, multistart, seed, dual_tol):
    """Solve and certify every slice of a tall float64 batch (b, m, n), m > n."""
    _check_full_rank(X)
    m, n = X.shape[-2:]
    feas_tol = 64 * unit_roundoff(torch.float64) * m
    U, iterations, _ = _newton_in_chunks(X, balance_rows(X, feas_tol), tol, max_iter, feas_tol)
    f = (X * U).sum((-2, -1))
    start_values = X.new_full((X.shape[0], 1 + starts), math.nan)
    start_values[:, 0] = f
    margin, allowance = concavity_margin(*kkt_multipliers(U, X)[1:])
    run = margin < -allowance if multistart == "uncertified" else torch.ones_like(f, dtype=bool)
    slices = torch.nonzero(run)[:, 0]
    if starts and slices.numel():
        options = (starts, seed, tol, max_iter, feas_tol)
        start_values[slices, 1:] = _restart(X, U, f, iterations, slices, options)
        f = (X * U).sum((-2, -1))
    Z, S, lam = kkt_multipliers(U, X)
    margin, allowance = concavity_margin(S, lam)
    found_by = (start_values >= (f - _value_allowance(X))[:, None]).sum(-1)
    # Start the dual at the multipliers, shifted into the domain A > 0 if needed.
    shift = torch.where(margin > allowance, 0.0, 2 * torch.relu(-margin) + allowance)
    eye = torch.eye(n, dtype=X.dtype, device=X.device)
    dual_S, dual_lam, d, err, dual_iters = minimise_dual(
        X, S + shift[:, None, None] * eye, lam, f, dual_tol
    )
    nuclear = torch.linalg.svdvals(X).sum(-1)
    return U, {
        "stationarity": torch.linalg.vector_norm(Z, dim=(-2, -1))
        / torch.linalg.vector_norm(X, dim=(-2, -1)),
        "orthogonality": torch.linalg.matrix_norm(U.mT @ U - eye),
        "row_violation": (row_sq(U)[..., 0] / (n / m) - 1.0).abs().amax(-1),
        "alignment": f / nuclear,
        "iterations": iterations,
        "margin": margin,
        "margin_allowance": allowance,
        "upper_bound": (d + err) / nuclear,
        "dual_iterations": dual_iters,
        "starts": 1 + starts * run.long(),
        "best_found_by": found_by,
        "S": S,
        "lam": lam,
        "dual_S": dual_S,
        "dual_lam": dual_lam,
        "start_alignments": start_values / nuclear[:, None],
    }


def _solve_polar(X, starts):
    """Square input, or wide input under ``wide="polar"``: the exact polar factor.

    It maximises ``<G, V>`` over ``||V||_2 <= 1``, a superset whose maximum is ``||G||_*``
    (so the bound is 1), and its rows already have unit norm. In the tall orientation
    ``G = U H`` with ``H = U^T G`` positive semi-definite: ``S = H``, ``lambda = 0``,
    margin ``sigma_min(G)``.
    """
    b, m, n = X.shape
    tall = X if m >= n else X.mT
    Ut = svd_polar(tall)
    H = Ut.mT @ tall
    S, lam = (H + H.mT) / 2, X.new_zeros(b, tall.shape[-2])
    margin, allowance = concavity_margin(S, lam)
    U = Ut if m >= n else Ut.mT
    alignment = (X * U).sum((-2, -1)) / torch.linalg.svdvals(X).sum(-1)
    start_values = X.new_full((b, 1 + starts), math.nan)
    start_values[:, 0] = alignment
    zeros = torch.zeros_like(alignment)
    return U, {
        "stationarity": zeros,
        "orthogonality": torch.linalg.matrix_norm(
            U @ U.mT - torch.eye(m, dtype=X.dtype, device=X.device)
        ),
        "row_violation": (row_sq(U)[..., 0] - 1.0).abs().amax(-1),
        "alignment": alignment,
        "iterations": zeros.long(),
        "margin": margin,
        "margin_allowance": allowance,
        "upper_bound": torch.ones_like(alignment),
        "dual_iterations": zeros.long(),
        "starts": torch.ones_like(zeros, dtype=torch.long),
        "best_found_by": torch.ones_like(zeros, dtype=torch.long),
        "S": S,
        "lam": lam,
        "dual_S": S,
        "dual_lam": lam,
        "start_alignments": start_values,
    }


def _certificate(rec, batch, kind, tol, dual_tol) -> BalancedStiefelCertificate:
    global_optimum = rec["margin"] >= -rec["margin_allowance"]
    gap = rec["upper_bound"] - rec["alignment"]

    def array(name):
        X = rec[name]
        return to_caller(X.reshape(*batch, *X.shape[1:]), kind, dtype=torch.float64)

    return BalancedStiefelCertificate(
        stationarity=float(rec["stationarity"].max()),
        orthogonality=float(rec["orthogonality"].max()),
        row_violation=float(rec["row_violation"].max()),
        alignment=float(rec["alignment"].min()),
        iterations=int(rec["iterations"].max()),
        converged=bool((rec["stationarity"] <= tol).all()),
        tol=float(tol),
        margin=float(rec["margin"].min()),
        margin_allowance=float(rec["margin_allowance"].max()),
        global_optimum=bool(global_optimum.all()),
        upper_bound=float(rec["upper_bound"].max()),
        gap=float(gap.max()),
        dual_iterations=int(rec["dual_iterations"].max()),
        dual_tol=float(dual_tol),
        starts=int(rec["starts"].max()),
        best_found_by=int(rec["best_found_by"].min()),
        **{k: array(k) for k in ("S", "lam", "dual_S", "dual_lam", "start_alignments")},
    )


def balanced_stiefel_exact(
    G,
    tol: float = 1e-10,
    *,
    max_iter: int = 100,
    wide: Wide = "transpose",
    starts: int = 4,
    multistart: str = "uncertified",
    seed: int = 0,
    dual_tol: float = 1e-10,
):
    r"""The projection onto the balanced Stiefel manifold, solved and certified.

    Maximises ``<G, U>`` (equivalently minimises ``||G - U||_F``, since
    ``||U||_F^2 = n`` is fixed) subject to ``U^T U = I_n`` and ``||U_i||^2 = n/m``, for
    tall ``G`` in float64:

    1. **Solve.** Riemannian Newton's method with the exact Hessian and a
       Levenberg-Marquardt shift (:func:`~polarlab.manifolds.exact_newton.riemannian_newton`),
       from Aurora's fixed point (the limit of
       :func:`~polarlab.manifolds.project_balanced_stiefel` with the exact polar,
       computed by Newton on the row scaling), until the Riemannian gradient
       ``Z = G - U S - diag(lambda) U`` has ``||Z||_F / ||G||_F <= tol``. Quadratic
       convergence: 3-11 iterations from Aurora's fixed point on the benchmark's matrices
       (24x4 to 300x60), fewer than 50 from any start in the tests.
    2. **Certify.** With the KKT multipliers ``(S, lambda)`` the Lagrangian is concave iff
       ``margin = lambda_min(S) + min_i lambda_i >= 0`` (up to a stated round-off
       allowance); then ``U`` is the **global** maximiser (``global_optimum``).
    3. **Restart** where it is not: ``starts`` random feasible points (seeded by
       ``seed``) run the same Newton method as one batch; the best point is kept and
       certified again; ``best_found_by`` counts the starts that reached it.
    4. **Bound.** Every ``(S', lambda')`` with ``S' kron I + I kron diag(lambda') > 0``
       gives ``max <G, V> <= d(S', lambda')`` (weak duality,
       :mod:`~polarlab.manifolds.exact_dual`); ``d`` is minimised by Newton's method from
       the multipliers to ``dual_tol``, giving ``upper_bound`` and ``gap``. A gap is where
       the relaxation is not tight or ``U`` is not global; it bounds how much alignment
       any feasible point could add.

    A reference, not for hot paths: each Newton step factors a symmetric matrix of order
    ``k = n(n+1)/2 + m - 1`` per slice (about 0.1 s at 300x60 on one CPU thread; ``k^2``
    float64 entries of memory, 36 MB there, 9 GB at 1024x256).

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Full column rank (of the long-axis orientation) and no zero row.
    tol : float
        Stationarity tolerance on ``||Z||_F / ||G||_F`` (default 1e-10).
    max_iter : int
        Newton iterations per start before giving up (``converged=False``, no error).
    wide : {"transpose", "polar"}
        As for :func:`~polarlab.manifolds.project_balanced_stiefel`; square input (and wide input
        under ``"polar"``) returns the exact polar factor, whose rows already
        have unit norm, with its certificate (global, bound 1).
    starts : int
        Random restarts (``>= 0``) run where they are due (default 4).
    multistart : {"uncertified", "always"}
        Run them only for slices whose certificate fails (default), or always.
    seed : int
        Seed of the restarts' random feasible points.
    dual_tol : float
        Relative tolerance of the dual minimisation (default 1e-10).

    Returns
    -------
    U : same kind, shape, device and dtype as ``G``
    certificate : BalancedStiefelCertificate

    Raises
    ------
    ValueError
        Rank-deficient input or a zero row (the maximiser is then not unique),
        non-finite input, bad options.

    Examples
    --------
    >>> import numpy as np
    >>> G = np.random.default_rng(0).standard_normal((24, 4)) * np.geomspace(0.2, 5, 24)[:, None]
    >>> U, cert = balanced_stiefel_exact(G)
    >>> cert.converged and cert.row_violation < 1e-12 and cert.orthogonality < 1e-12
    True
    >>> from polarlab.manifolds import project_balanced_stiefel
    >>> U_code = project_balanced_stiefel(G, iters=50)
    >>> bool(cert.alignment >= np.vdot(G, U_code) / np.linalg.norm(G, "nuc"))
    True
    >>> cert.global_optimum or bool(cert.upper_bound >= cert.alignment)
    True
    """
    check_positive(tol, "tol")
    check_positive(dual_tol, "dual_tol")
    check_positive_int(max_iter, "max_iter")
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 0:
        raise ValueError(f"starts must be an integer >= 0, got {starts!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    check_choice(wide, "wide", WIDE_RULES)
    check_choice(multistart, "multistart", MULTISTART)
    work, kind = as_work(G, name="G", grad="refuse", routine="balanced_stiefel_exact")
    m, n = work.shape[-2:]
    flip = m < n and wide == "transpose"
    X = (work.mT if flip else work).to(torch.float64)
    m, n = X.shape[-2:]
    batch = X.shape[:-2]
    if X.numel() == 0:
        cert = BalancedStiefelCertificate(0.0, 0.0, 0.0, 1.0, 0, True, float(tol))
        return to_caller(X.clone().mT if flip else X.clone(), kind), cert
    # Solved for G / max |g_ij| (no squared row norm under- or overflows at any float64
    # scale); the values that are linear in G are scaled back below.
    flat, scale = max_abs_scale(X.reshape(-1, m, n))
    if m <= n:
        U, rec = _solve_polar(flat, starts)
    else:
        U, rec = _solve_tall(flat, tol, max_iter, starts, multistart, seed, dual_tol)
    for key in _LINEAR_IN_G:
        rec[key] = rec[key] * scale.reshape(-1, *[1] * (rec[key].ndim - 1))
    U = U.reshape(*batch, m, n)
    cert = _certificate(rec, batch, kind, tol, dual_tol)
    return to_caller(U.mT if flip else U, kind), cert
