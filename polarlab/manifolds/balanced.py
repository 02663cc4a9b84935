r"""Aurora: ``polar(D G)`` with a row scaling ``D`` that balances the rows, and MuonEq-R.

An approximation of the Frobenius projection onto the balanced Stiefel manifold
``{U : U^T U = I_n, ||U_i||^2 = n/m}`` of a tall ``G`` (Dewulf, Pai, Yang, Zhang,
Keigwin, arXiv 2606.27715; code tilde-research/aurora-release), in the released
code's preconditioned form and the paper's alternating form (:data:`FORMS`), with
the released variants' rules for wide input (:data:`WIDE_RULES`). MuonEq-R
(arXiv 2603.28254) is its one-iteration case.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from polarlab._arrays import meta_result, scratch_ok, to_caller
from polarlab.linalg import max_abs_scale
from polarlab.manifolds._common import (
    check_beta,
    check_choice,
    check_positive,
    check_positive_int,
    projection_input,
)
from polarlab.manifolds.balanced_gram import check_engine, choose_engine, polar_map
from polarlab.polar import PolarSolver, resolve

__all__ = ["FORMS", "WIDE_RULES", "muoneq_r", "project_balanced_stiefel"]

#: How :func:`project_balanced_stiefel` treats wide input (``m < n``):
#: ``"transpose"`` balances the long axis (the columns), as aurora-release v1 and
#: the microsoft/dion port do; ``"polar"`` returns the plain polar factor, as
#: aurora-release v2 does ("an optimizer for tall matrix parameters").
WIDE_RULES = ("transpose", "polar")
Wide = Literal["transpose", "polar"]

#: Aurora variants: the released code form and the paper's alternating form.
FORMS = ("preconditioned", "alternating")


def long_axis(work: torch.Tensor, wide: str) -> bool | None:
    """Which orientation a balanced projection works in, by the axis rule.

    ``None`` when the answer is the plain polar factor (square input, wide input
    under ``wide="polar"``, empty input); otherwise whether to transpose so
    that the long axis comes first.
    """
    m, n = work.shape[-2:]
    if m == n or (m < n and wide == "polar") or work.numel() == 0:
        return None
    return m < n


def _aurora_preconditioned(
    G: torch.Tensor,
    iters: int,
    beta: float,
    eps: float,
    solver: PolarSolver,
    engine: str = "plain",
) -> torch.Tensor:
    """Aurora's code form on a tall work tensor: ``U = polar(diag(d) G)``.

    ``d_0 = 1 / max(||G_i||, eps)``; after each of the first ``iters - 1`` polar
    calls ``d_i <- d_i (tau / max(||U_i||^2, eps^2))^beta`` with ``tau = n/m``.
    The polar factors come from ``solver`` by ``engine`` (``"plain"`` or ``"gram"``,
    :mod:`polarlab.manifolds.balanced_gram`). Straight-line code: no host
    synchronisation, no data-dependent branch.

    ``G`` is the caller's scratch: the last ``d G`` is formed in its memory (the same
    bits as ``d * G``; out of place when ``G`` requires a gradient), and the earlier
    ones inside the polar map, which frees them once normalised (the Gram form; a
    product passed as the argument would stay alive through the whole call).
    """
    m, n = G.shape[-2:]
    tau = n / m
    polar = polar_map(engine, solver, overwrite=True)  # each d G below is ours
    g_norm = torch.linalg.vector_norm(G, dim=-1, keepdim=True)
    d = 1.0 / g_norm.clamp(min=eps)
    in_place = scratch_ok(G)
    for k in range(iters):
        U = polar(G.mul_(d)) if in_place and k == iters - 1 else polar(G, row_scale=d)
        if k < iters - 1:
            # ||U_i||^2 in G's dtype: the bits of row_sq(U.to(G.dtype)) with one temporary
            # (a copy squared in place); U is dropped before the next polar call
            sq = U.to(G.dtype, copy=True).square_().sum(dim=-1, keepdim=True)
            del U
            factor = (tau / sq.clamp(min=eps * eps)) ** beta
            # A zero row of G stays zero whatever d_i is, so d_i is kept rather
            # than grown by (tau/eps^2)^beta per step (the released code
            # overflows there to inf * 0 = NaN).
            d = d * torch.where(g_norm > 0, factor, 1.0)
    return U


def _aurora_alternating(
    G: torch.Tensor, iters: int, beta: float, eps: float, solver: PolarSolver
) -> torch.Tensor:
    """Aurora's alternating form (Dewulf et al., arXiv 2606.27715, Algorithm 3, as
    transcribed by a third party).

    ``X_0 = G / ||G||_F``, ``D_{-1} = I``; ``D_k = D_{k-1}^beta diag(||X_{k,i}||)^(1-beta)``,
    ``X_{k+1} = polar(sqrt(n/m) D_k^{-1} X_k)``.
    """
    m, n = G.shape[-2:]
    X = G / torch.linalg.vector_norm(G, dim=(-2, -1), keepdim=True).clamp(min=eps)
    D = torch.ones_like(X[..., :1])
    for _ in range(iters):
        D = D**beta * torch.linalg.vector_norm(X, dim=-1, keepdim=True) ** (1.0 - beta)
        X, _ = solver.apply(math.sqrt(n / m) * X / D.clamp(min=eps))
        X = X.to(G.dtype)
    return X


def project_balanced_stiefel(
    G,
    iters: int = 2,
    beta: float = 0.5,
    method: str | PolarSolver = "svd",
    *,
    form: str = "preconditioned",
    wide: Wide = "transpose",
    eps: float = 1e-7,
    check_finite: bool = True,
    engine: str = "auto",
    **polar_options,
):
    r"""Aurora: a semi-orthogonal matrix with (nearly) uniform rows, ``polar(D G)``.

    Approximates the projection onto the balanced Stiefel manifold
    ``{U : U^T U = I_n, ||U_i||^2 = n/m}`` of a tall ``G`` (m > n) by a polar
    factor of a row-scaled ``G`` (Dewulf et al., arXiv 2606.27715; code
    tilde-research/aurora-release):

    ``form="preconditioned"`` (the released code, default)
        ``d_i = 1/max(||G_i||, eps)``; repeat ``iters`` times:
        ``U = polar(diag(d) G)``, then (except after the last call)
        ``d_i <- d_i (tau / max(||U_i||^2, eps^2))^beta`` with ``tau = n/m``.
        ``D`` converges to the radial-isotropic scaling of the rows of ``G``
        (Barthe 1998; Forster 2002), where every ``||U_i||^2 = n/m``.
        ``beta = 0.5`` is an undamped square-root (Newton-like) step;
        smaller ``beta`` damps the odd/even oscillation of ``D``. The output is
        invariant to positive row scalings of ``G`` (``d_0`` absorbs them), up to
        the ``eps`` clamps. ``iters=1`` is MuonEq-R (:func:`muoneq_r`).
    ``form="alternating"`` (the paper's Algorithm 3, as transcribed by a third party)
        ``X_0 = G/||G||_F``; ``D_k = D_{k-1}^beta diag(||X_{k,i}||)^(1-beta)``,
        ``X_{k+1} = polar(sqrt(n/m) D_k^{-1} X_k)``; returns ``X_iters``. It
        re-normalises the current iterate instead of preconditioning ``G``; its
        rows are less uniform than the code form's at equal ``iters``, and it is
        not row-scale invariant.

    Neither form is the nearest point of the manifold nor the maximiser of
    ``<G, U>`` (see :func:`~polarlab.manifolds.balanced_stiefel_exact`).

    **Axis rule.** The long axis is balanced. Square input returns exactly
    ``project_stiefel(G, method, ...)`` (bit for bit: on a square matrix the row
    loop would give ``polar(D_0 G) != polar(G)`` while every row of ``polar(G)``
    already has unit norm). Wide input (``m < n``) follows ``wide``:

    - ``"transpose"`` (default): balance the columns, ``P(G) = P(G^T)^T``, so the
      columns get squared norm ``m/n`` (aurora-release v1, microsoft/dion's port).
      This keeps the projection equivariant under transposition, like ``polar``.
    - ``"polar"``: wide input gives the plain polar factor (aurora-release v2,
      which is "an optimizer for tall matrix parameters").

    **Zero and rank-deficient input.** An exactly-zero row of ``G`` stays zero
    for every ``D`` and the other ``m - k`` rows balance to squared norm
    ``n/(m - k)``; rows at small but non-zero scale are revived. ("Zero" is exact
    for polynomial methods and up to round-off for ``"svd"``.) ``d_i`` is not
    updated for zero rows of ``G`` (the released code lets it grow by
    ``(tau/eps^2)^beta`` per step until ``inf * 0 = NaN``). For
    rank ``r < n`` the result is whatever the method returns for ``polar(DG)``
    (the rank-``r`` partial isometry for ``"svd"``); its rows cannot be balanced.

    **Engine** (preconditioned form). ``engine="plain"`` calls the polar method
    ``iters`` times on ``D G``; ``engine="gram"`` runs the same polynomial schedule
    on the ``n x n`` Gram matrix ``G^T D^2 G`` (Gram Newton-Schulz, with half-cost
    symmetric products) and forms only ``D G Q`` (:mod:`~polarlab.manifolds.balanced_gram`):
    the same result in exact arithmetic, at 0.35 of the plain form's flops for
    ``K = 2``, five quintic steps, ``m = 4 n`` and ``n >= 1024`` (0.26 at ``m = 8 n``).
    It needs a polynomial method (``newton_schulz``, ``polar_express``,
    ``gram_newton_schulz``; otherwise ``ValueError``). ``engine="auto"`` (default)
    takes ``"gram"`` where it is valid and counts at most 3/4 of the plain form's
    flops at this shape and compute dtype
    (:func:`~polarlab.manifolds.balanced_gram.choose_engine`), else ``"plain"``.
    Square input and the other forms are unaffected.

    **Hot path.** With ``check_finite=False`` and ``form="preconditioned"`` the
    torch path has no host synchronisation and no data-dependent Python branch;
    it compiles with ``torch.compile(fullgraph=True)`` when the polar method does.

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Any batch shape; the last two dimensions are the matrix.
    iters : int
        Number of polar calls ``K >= 1`` (default 2, as released).
    beta : float
        Damping exponent in (0, 1] (default 0.5, as released).
    method : str or PolarSolver
        Registered polar method (default ``"svd"``, exact; optimizers pass their
        own) or a solver from :func:`polarlab.polar.resolve`, validated once and
        used for every polar call.
    form : {"preconditioned", "alternating"}
    wide : {"transpose", "polar"}
        Wide-input rule, see above.
    eps : float
        Row-norm clamp (default 1e-7, as released), relative to ``max |g_ij|``:
        ``G`` is first divided by (a power of two near) its largest entry, so the
        result is the same for ``c G`` at every scale (the released absolute clamp
        made it depend on the scale of ``G``).
    check_finite : bool
        Raise ``ValueError`` on NaN/inf input (reads the data: a host
        synchronisation on CUDA). Optimizer paths pass False.
    engine : {"auto", "plain", "gram"}
        How the preconditioned form computes its polar factors, see above.
    **polar_options
        Options of the polar method (e.g. a Newton-Schulz schedule or dtype).

    Returns
    -------
    U : same kind, shape, device and dtype as ``G``
        Row scalings are computed in float32 at least; the polar factor in
        whatever precision the method uses.

    Examples
    --------
    >>> import numpy as np
    >>> G = np.random.default_rng(0).standard_normal((64, 8)) * np.geomspace(0.1, 10, 64)[:, None]
    >>> U = project_balanced_stiefel(G, iters=8)
    >>> bool(np.allclose(U.T @ U, np.eye(8)))
    True
    >>> bool(np.allclose((U**2).sum(1), 8 / 64, rtol=1e-3))
    True
    """
    check_positive_int(iters, "iters")
    check_beta(beta)
    check_positive(eps, "eps")
    check_choice(form, "form", FORMS)
    check_choice(wide, "wide", WIDE_RULES)
    solver = resolve(method, **polar_options)
    check_engine(engine, form, solver)
    work, kind = projection_input(G, "project_balanced_stiefel", check_finite=check_finite)
    if work.is_meta:
        return meta_result(work.shape, kind)
    flip = long_axis(work, wide)
    if flip is None:
        return solver(G, check_finite=check_finite)
    U = balanced_work(work, flip, iters, beta, eps, solver, form, engine)
    return to_caller(U, kind)


def balanced_work(
    work: torch.Tensor,
    flip: bool,
    iters: int,
    beta: float,
    eps: float,
    solver: PolarSolver,
    form: str,
    engine: str,
    *,
    overwrite: bool = False,
) -> torch.Tensor:
    """:func:`project_balanced_stiefel` on a validated work tensor that is not square.

    ``flip`` is :func:`long_axis`'s answer (not ``None``); the options are checked.
    Returns the projection in the work tensor's orientation, in the polar method's
    compute dtype (the alternating form: the work tensor's dtype). ``overwrite``:
    ``work`` is the caller's scratch (an optimizer's momentum batch) and is divided in
    place by its largest entry instead of copied; its values are lost.
    """
    # Divided by max |g_ij| in the scaling dtype (no norm below over- or underflows, and the
    # eps clamps are relative to the largest entry): the result is invariant under G -> c G.
    X, _ = max_abs_scale(work.mT if flip else work, overwrite=overwrite)
    if form == "preconditioned":
        m, n = X.shape[-2:]
        engine = choose_engine(engine, form, solver, m, n, iters, X.device)
        U = _aurora_preconditioned(X, iters, beta, eps, solver, engine)
    else:
        U = _aurora_alternating(X, iters, beta, eps, solver)
    return U.mT if flip else U


def muoneq_r(
    G,
    method: str | PolarSolver = "svd",
    *,
    eps: float = 1e-7,
    check_finite: bool = True,
    engine: str = "auto",
    **polar_options,
):
    r"""MuonEq-R: equilibrate the rows, then take the polar factor.

    ``U = polar(diag(d) G)`` with ``d_i = 1/max(||G_i||, eps)`` (MuonEq,
    arXiv 2603.28254, row variant). This is Aurora's code form with one
    iteration on tall input; here it is applied to any shape as written (no
    square or wide rule). ``engine`` is :func:`project_balanced_stiefel`'s, with
    ``K = 1``; it applies to tall input (``m > n``), square and wide input take
    the plain polar factor.

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (..., m, n)
    method : str or PolarSolver
        Registered polar method (default ``"svd"``) or a resolved solver.
    eps : float
        Row-norm clamp (default 1e-7, as in aurora-release), relative to
        ``max |g_ij|`` as for :func:`project_balanced_stiefel`.
    check_finite : bool
    engine : {"auto", "plain", "gram"}
        As for :func:`project_balanced_stiefel`.
    **polar_options
        Options of the polar method.

    Returns
    -------
    same kind, shape, device and dtype as ``G``

    Examples
    --------
    >>> import numpy as np
    >>> G = np.random.default_rng(0).standard_normal((9, 3))
    >>> U = muoneq_r(G * np.arange(1, 10)[:, None])
    >>> bool(np.allclose(U, muoneq_r(G)))
    True
    """
    check_positive(eps, "eps")
    solver = resolve(method, **polar_options)
    check_engine(engine, "preconditioned", solver)
    work, kind = projection_input(G, "muoneq_r", check_finite=check_finite)
    if work.is_meta:
        return meta_result(work.shape, kind)
    X, _ = max_abs_scale(work)  # scale-free: eps is relative to max |g_ij|
    X = X / torch.linalg.vector_norm(X, dim=-1, keepdim=True).clamp(min=eps)
    m, n = X.shape[-2:]
    tall = m > n and X.numel() > 0
    engine = choose_engine(engine, "preconditioned", solver, m, n, 1, X.device) if tall else "plain"
    return to_caller(polar_map(engine, solver, overwrite=True)(X), kind)  # X is ours
