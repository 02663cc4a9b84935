r"""Riemannian Newton's method for ``max <G, U>`` on the balanced Stiefel manifold.

On ``M = {U : U^T U = I_n, ||U_i||^2 = n/m}`` (tall ``U``) the Riemannian gradient of
``f(U) = <G, U>`` is the tangent part ``Z = G - U S - diag(lambda) U`` (least-squares
multipliers, :func:`~polarlab.manifolds.tangent_balanced_stiefel`) and, since ``f`` is
linear, its Riemannian Hessian is ``-P_U(xi S + diag(lambda) xi)``: the Hessian
``-(S kron I + I kron diag(lambda))`` of the Lagrangian restricted to the tangent space
(Absil, Mahony & Sepulchre, *Optimization Algorithms on Matrix Manifolds*, 2008,
ch. 5-7). A Newton step solves, for tangent ``xi``,
``P_U((A + sigma I) xi) = Z`` with ``A xi = xi S + diag(lambda) xi``. In the
eigenbasis ``S = Q diag(s) Q^T`` the operator ``A + sigma I`` is the elementwise weight
``C_ij = s_j + lambda_i + sigma`` on ``xi Q``, so the saddle-point system reduces to the
``k x k`` Schur complement ``N^T C^{-1} N`` (:mod:`~polarlab.manifolds.exact_schur`,
``k = n(n+1)/2 + m - 1``; no ``mn x mn`` matrix): ``xi Q = C^{-1} o (Z Q + N y)``.

``sigma >= 0`` is a Levenberg-Marquardt shift (a trust region in its dual form, Moré,
"The Levenberg-Marquardt algorithm", 1978; Conn, Gould & Toint, *Trust-Region Methods*,
2000, ch. 7): the step is taken only where the tangent Hessian plus ``sigma`` is
positive definite, checked by inertia (the tangent operator is positive definite iff
the Schur complement has as many negative eigenvalues as ``C``; Gould, Math. Program.
32, 1985), otherwise ``sigma`` moves to ``-min C + `` a little, where ``C > 0`` makes it
so. ``sigma`` shrinks by 4 after a step whose actual gain is at least 3/4 of the
model's and grows by 4 below 1/4; steps with less than 1/10 are rejected. Near a
non-degenerate local maximum ``sigma -> 0``: Newton's method, quadratic convergence.
The retraction is the Aurora fixed point ``polar(D Y)`` (rows balanced by Newton on
``log D``), as in Dewulf et al., arXiv 2606.27715.

Float64, batched over the leading dimension (shape ``(batch, m, n)``); a reference, not
a hot path: each step costs an ``m x m`` and an ``n x n`` eigensolve, a few thin SVDs and
one ``k x k`` symmetric factorisation per slice.
"""

from __future__ import annotations

import torch

from polarlab._arrays import unit_roundoff
from polarlab.manifolds._common import row_sq
from polarlab.manifolds.balanced_tangent import balanced_tangent, direct_multipliers
from polarlab.manifolds.exact_schur import (
    SymmetricBasis,
    inertia,
    normal_adjoint,
    normal_map,
    schur_complement,
)

__all__ = ["balance_rows", "kkt_multipliers", "riemannian_newton"]

# Levenberg-Marquardt constants (Conn, Gould & Toint 2000, ch. 6-7): accept above
# ACCEPT, shrink the shift above SHRINK, grow it below GROW.
ACCEPT, SHRINK, GROW = 0.1, 0.75, 0.25


def svd_polar(X: torch.Tensor) -> torch.Tensor:
    W, _, Vh = torch.linalg.svd(X, full_matrices=False)
    return W @ Vh


def balance_rows(Y: torch.Tensor, tol: float, max_iter: int = 200) -> torch.Tensor:
    """``polar(D Y)`` with the row scaling ``D`` solved by Newton's method until
    ``max_i | ||U_i||^2 / (n/m) - 1 | <= tol``: Aurora's fixed point. Float64, batched.

    With ``U = polar(D Y)`` and ``l_i = ||U_i||^2``, ``d l / d log d = 2 (diag(l) - P o P)``
    (``P = U U^T``), the Laplacian of the multiplier system; Newton's step solves
    ``2 L delta = n/m - l`` (minimum norm; the kernel ``1`` is the scale of ``D``, to
    which ``polar`` is blind). Steps are clipped to ``|delta_i| <= 1`` far from the
    fixed point. Also the retraction of :func:`riemannian_newton` (``Y = U + xi``).

    Examples
    --------
    >>> import torch
    >>> Y = torch.randn(2, 20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> U = balance_rows(Y, 1e-12)
    >>> bool(((U * U).sum(-1) * 20 / 4 - 1).abs().max() < 1e-12)
    True
    >>> bool(torch.allclose(U.mT @ U, torch.eye(4, dtype=torch.float64)))
    True
    """
    m, n = Y.shape[-2:]
    tau = n / m
    d = 1.0 / torch.linalg.vector_norm(Y, dim=-1, keepdim=True)
    for _ in range(max_iter):
        U = svd_polar(d * Y)
        sq = row_sq(U)
        if float((sq / tau - 1.0).abs().max()) <= tol:
            break
        delta = direct_multipliers(U, (tau - sq) / 2)
        d = d * torch.exp(delta.clamp(-1.0, 1.0))
    return U


def kkt_multipliers(U: torch.Tensor, G: torch.Tensor):
    """``(Z, S, lambda)`` with ``Z = G - U S - diag(lambda) U`` tangent at ``U``.

    The least-squares multipliers (``S`` symmetric n x n, ``lambda`` shape (..., m),
    minimum norm, so ``sum lambda = 0`` up to round-off): ``Z`` is the Riemannian
    gradient of ``<G, U>`` and ``Z = 0`` the KKT condition ``G = U S + diag(lambda) U``.

    Examples
    --------
    >>> import torch
    >>> U = torch.kron(torch.eye(2), torch.ones(2, 1)).double() / 2**0.5  # balanced 4 x 2
    >>> S = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    >>> Z, S_hat, lam = kkt_multipliers(U, U @ S)
    >>> bool(Z.abs().max() < 1e-14 and torch.allclose(S_hat, S) and lam.abs().max() < 1e-14)
    True
    """
    Z, lam, _ = balanced_tangent(U, G, cg_steps=None)
    UtG = U.mT @ G
    S = (UtG + UtG.mT) / 2 - U.mT @ (lam * U)
    return Z, (S + S.mT) / 2, lam[..., 0]


def _solve_shifted(Ut, Zt, C0, sigma, basis):
    """Solve ``P((A + sigma) xi) = Z`` in the eigenbasis; also whether the tangent
    operator ``P (A + sigma) P`` is positive definite (by inertia)."""
    C = C0 + sigma[:, None, None]
    R = 1.0 / C
    K = schur_complement(Ut, R, basis)
    LD, pivots, info = torch.linalg.ldl_factor_ex(K)
    negative, zero = inertia(LD, pivots)
    positive_definite = (negative == (C < 0).sum((-2, -1))) & (zero == 0) & (info == 0)
    rhs = -normal_adjoint(Ut, R * Zt, basis)
    y = torch.linalg.ldl_solve(LD, pivots, rhs.unsqueeze(-1))[..., 0]
    return R * (Zt + normal_map(Ut, y, basis)), positive_definite


def _newton_step(U, Z, S, lam, sigma, basis):
    """The shifted Newton step ``xi``, its model gain, the shift used, the scale of ``A``."""
    s, Q = torch.linalg.eigh(S)
    C0 = s.unsqueeze(-2) + lam.unsqueeze(-1)  # eigenvalues s_j + lambda_i of A, (b, m, n)
    scale = C0.abs().amax((-2, -1))
    margin = s[..., 0] + lam.amin(-1)
    # Shift at which A + sigma I > 0, so the tangent operator surely is positive definite.
    sigma_pd = 1.01 * torch.relu(-margin) + 1e-8 * scale
    # A nearly singular A + sigma I makes the elimination inaccurate: shift past it.
    near = (C0 + sigma[:, None, None]).abs().amin((-2, -1)) < 1e-8 * scale
    sigma = torch.where((sigma < sigma_pd) & near, sigma_pd, sigma)
    Ut, Zt = U @ Q, Z @ Q
    xi_t, ok = _solve_shifted(Ut, Zt, C0, sigma, basis)
    if not bool(ok.all()):
        redo = ~ok
        sigma = torch.where(ok, sigma, sigma_pd)
        xi_t[redo], _ = _solve_shifted(Ut[redo], Zt[redo], C0[redo], sigma[redo], basis)
    # Model gain <Z, xi> - 1/2 <xi, A xi> of the step (xi tangent).
    gain = (Zt * xi_t).sum((-2, -1)) - 0.5 * (C0 * xi_t * xi_t).sum((-2, -1))
    return xi_t @ Q.mT, gain, sigma, scale


def riemannian_newton(G: torch.Tensor, U: torch.Tensor, tol: float, max_iter: int, feas_tol: float):
    """Maximise ``<G, U>`` on the balanced Stiefel manifold from feasible ``U``.

    Float64 tensors of shape (batch, m, n). Stops a slice when
    ``||Z||_F / ||G||_F <= tol``, after ``max_iter`` steps, or when three steps in a row
    predict a gain below the round-off of ``f`` without lowering the stationarity.
    Returns ``(U, iterations, stationarity)``, the last two of shape (batch,).

    Examples
    --------
    >>> import torch
    >>> G = torch.randn(1, 24, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> U, iterations, stationarity = riemannian_newton(G, balance_rows(G, 1e-13), 1e-10, 50, 1e-13)
    >>> bool(stationarity[0] <= 1e-10), bool(iterations[0] < 20)
    (True, True)
    """
    batch, n = G.shape[0], G.shape[-1]
    basis = SymmetricBasis(n, G.device)
    u = unit_roundoff(torch.float64)
    gnorm = torch.linalg.vector_norm(G, dim=(-2, -1))
    U = U.clone()
    f = (G * U).sum((-2, -1))
    sigma = torch.zeros(batch, dtype=G.dtype, device=G.device)
    iterations = torch.zeros(batch, dtype=torch.long, device=G.device)
    stationarity = torch.full_like(f, float("inf"))
    best = torch.full_like(f, float("inf"))
    stalls = torch.zeros_like(iterations)
    active = torch.arange(batch, device=G.device)
    while active.numel():
        Ga, Ua = G[active], U[active]
        Z, S, lam = kkt_multipliers(Ua, Ga)
        st = torch.linalg.vector_norm(Z, dim=(-2, -1)) / gnorm[active]
        stationarity[active] = st
        stalls[active] = torch.where(st < best[active], 0, stalls[active])
        best[active] = torch.minimum(best[active], st)
        go = (st > tol) & (iterations[active] < max_iter) & (stalls[active] < 3)
        active, Ga, Ua, Z, S, lam = (t[go] for t in (active, Ga, Ua, Z, S, lam))
        if not active.numel():
            break
        iterations[active] += 1
        xi, gain, sig, scale = _newton_step(Ua, Z, S, lam, sigma[active], basis)
        U_new = balance_rows(Ua + xi, feas_tol)
        f_new = (Ga * U_new).sum((-2, -1))
        # Below the round-off of f the actual gain is noise: trust the model there.
        floor = 100 * u * f[active].abs()
        finite = torch.isfinite(gain) & torch.isfinite(U_new).all(-1).all(-1)
        rho = torch.where(gain > floor, (f_new - f[active]) / gain, 1.0)
        rho = torch.where(finite & (gain > -floor), rho, -1.0)
        stalls[active] += (finite & (gain <= floor)).long()
        accept = rho > ACCEPT
        U[active[accept]] = U_new[accept]
        f[active[accept]] = f_new[accept]
        shrink = torch.where(sig > 1e-10 * scale, sig / 4, 0.0)
        grow = torch.maximum(4 * sig, 1e-4 * scale)
        sigma[active] = torch.where(rho > SHRINK, shrink, torch.where(rho < GROW, grow, sig))
    return U, iterations, stationarity
