r"""Lagrangian duality for ``max <G, V>`` on the balanced Stiefel manifold.

For tall ``G`` (m x n), symmetric ``S`` (n x n) and ``lambda`` in R^m the Lagrangian

``L(V) = <G, V> - 1/2 <S, V^T V - I> - 1/2 sum_i lambda_i (||V_i||^2 - n/m)``

equals ``<G, V>`` on the feasible set and is a concave quadratic in ``V`` exactly when
``A = S kron I_m + I_n kron diag(lambda)`` (acting as ``V -> V S + diag(lambda) V``) is
positive semi-definite, i.e. when the **concavity margin**
``lambda_min(S) + min_i lambda_i >= 0`` (the eigenvalues of ``A`` are ``s_j + lambda_i``).
Then ``sup_V L = d(S, lambda)`` with

``d(S, lambda) = 1/2 tr S + n/(2m) sum_i lambda_i + 1/2 <G, A^{-1} G>``

(the ``n/(2m)`` from ``-1/2 lambda_i (0 - n/m)`` at ``V = 0``; ``V^* = A^{-1} G``), so
**every** such ``(S, lambda)`` bounds the maximum: ``max <G, V> <= d(S, lambda)`` (weak
duality; Boyd & Vandenberghe, *Convex Optimization*, 2004, §5.2 and §5.7 for this
quadratically constrained case). ``d`` is unchanged under the gauge ``(S + cI, lambda - c)``
(the row constraints sum to the trace constraint). In the eigenbasis
``S = Q diag(s) Q^T``, ``A`` is the elementwise weight ``C_ij = s_j + lambda_i`` on
``G Q``: ``<G, A^{-1} G> = sum_ij (G Q)_ij^2 / C_ij`` (no ``mn x mn`` matrix).

At a KKT point ``G = U S + diag(lambda) U`` with margin ``>= 0``, ``d = <G, U>``: ``U`` is
the global maximiser. Off it, for feasible ``U``, ``A > 0`` and ``Z = G - A U`` tangent,
``d(S, lambda) - <G, U> = 1/2 <Z, A^{-1} Z>``: the certified suboptimality of an
approximate KKT point.

``d`` is convex; its gradient is the constraint violation of ``W = A^{-1} G``,
``(1/2 (I - W^T W), 1/2 (n/m - ||W_i||^2))``, and its Hessian is the Schur complement
``N_W^T A^{-1} N_W`` (:mod:`~polarlab.manifolds.exact_schur`). If its minimiser is
interior, ``W`` is feasible there and the bound is tight. If the relaxation is not
tight, the infimum lies on the boundary ``min C = 0`` (Shor's semidefinite relaxation
with a rank > 1 solution; Vandenberghe & Boyd, SIAM Rev. 38, 1996), where plain Newton
steps jam against the boundary; :func:`minimise_dual` therefore follows the central
path of ``d - mu log det A`` (a barrier method).
"""

from __future__ import annotations

import torch

from polarlab._arrays import unit_roundoff
from polarlab.manifolds.exact_schur import SymmetricBasis, schur_complement

__all__ = ["concavity_margin", "dual_bound", "minimise_dual"]

# Barrier schedule: a point counts as centred when the Newton decrement of
# F_mu = d - mu log det A is at most CENTRED * mu (scaled decrement <= 1); mu then falls
# by MU_FACTOR; a step may not shrink min C below THETA times its value (a
# fraction-to-boundary rule, as in interior-point codes; Nocedal & Wright, *Numerical
# Optimization*, 2nd ed., §19.2), so the iterate does not jam against the boundary.
CENTRED, MU_FACTOR, THETA = 1.0, 10.0, 0.1


def concavity_margin(S: torch.Tensor, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``lambda_min(S) + min_i lambda_i`` and its float64 round-off allowance, shape (...).

    The allowance is ``8 (n + 1) u (||S||_2 + ||lambda||_inf)``: a backward-stable
    symmetric eigensolver returns eigenvalues within ``p(n) u ||S||_2`` of the stored
    ``S`` (``p(n)`` a modest multiple of ``n``; Golub & Van Loan, *Matrix Computations*,
    4th ed., §8.3-8.4), and adding ``min lambda`` rounds once more. A margin
    ``>= -allowance`` therefore cannot be told from a non-negative one in float64.

    Examples
    --------
    >>> import torch
    >>> S = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> margin, allowance = concavity_margin(S, torch.tensor([-0.5, 3.0], dtype=torch.float64))
    >>> float(margin), bool(allowance < 1e-13)
    (0.5, True)
    """
    s = torch.linalg.eigvalsh(S)
    n = S.shape[-1]
    scale = s.abs().amax(-1) + lam.abs().amax(-1)
    return s[..., 0] + lam.amin(-1), 8 * (n + 1) * unit_roundoff(S.dtype) * scale


def _evaluate(G, S, lam):
    """``(d, allowance, sum log C, min C)`` (``inf``, -, ``-inf`` outside ``C > 0``)."""
    m, n = G.shape[-2:]
    s, Q = torch.linalg.eigh(S)
    C = s.unsqueeze(-2) + lam.unsqueeze(-1)
    Gt = G @ Q
    feasible = C.amin((-2, -1)) > 0
    C_in = torch.where(feasible[..., None, None], C, 1.0)
    quad = torch.where(feasible, 0.5 * (Gt * Gt / C_in).sum((-2, -1)), float("inf"))
    logdet = torch.where(feasible, C_in.log().sum((-2, -1)), -float("inf"))
    d = 0.5 * s.sum(-1) + n / (2 * m) * lam.sum(-1) + quad
    terms = 0.5 * s.abs().sum(-1) + n / (2 * m) * lam.abs().sum(-1) + quad
    return d, 8 * (m + n) * unit_roundoff(G.dtype) * terms, logdet, C.amin((-2, -1))


def dual_bound(
    G: torch.Tensor, S: torch.Tensor, lam: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``d(S, lambda)`` (``inf`` where ``min C <= 0``) and its round-off allowance, shape (...).

    The allowance ``8 (m + n) u (1/2 sum|s_j| + n/(2m) sum|lambda_i| + 1/2 sum G~^2 / C)``
    covers the rounding of the three sums (each term is computed to ``~ (m + n) u``
    relative, with ``G~ = G Q``, ``Q`` orthogonal to ``~ n u``). The computed ``S`` may
    differ from the exact eigen-decomposition by ``~ n u ||S||``; that does not matter,
    since ``d`` is a bound for any symmetric ``S``.

    Examples
    --------
    A certified KKT point ``G = U S`` (``U`` balanced, ``lambda = 0``, ``S > 0``): the bound
    is attained, ``d = <G, U> = tr S``.

    >>> import torch
    >>> U = torch.kron(torch.eye(2), torch.ones(2, 1)).double() / 2**0.5  # rows: n/m = 1/2
    >>> S = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> d, allowance = dual_bound(U @ S, S, torch.zeros(4, dtype=torch.float64))
    >>> abs(float(d) - 3.0) < 1e-14
    True
    """
    d, allowance, _, _ = _evaluate(G, S, lam)
    return d, allowance


def _barrier_direction(G, S, lam, mu, basis):
    """Newton direction of ``F = d - mu log det A`` (``mu_m`` fixed: the gauge), its
    decrement ``g^T H^{-1} g``, ``Q``, and whether the factorisation succeeded.

    ``d``: gradient ``1/2 (I - W^T W, n/m - ||W_i||^2)``, Hessian ``N_W^T A^{-1} N_W``.
    ``-log det A = -sum log C_ij``: gradient ``-(diag(sum_i R_ij), sum_j R_ij)``, Hessian
    ``tr(A^{-1} dA A^{-1} dA) = sum_i sum_jj' R_ij R_ij' (E_jj' + delta_jj' mu_i)^2``
    (``R = 1/C``): diagonal ``(R^T R)_pq`` on the ``E`` coordinates, ``R_ij^2`` between
    ``E_jj`` and ``mu_i``, ``sum_j R_ij^2`` on ``mu_i``.
    """
    m, n = G.shape[-2:]
    size = basis.size
    s, Q = torch.linalg.eigh(S)
    R = 1.0 / (s.unsqueeze(-2) + lam.unsqueeze(-1))
    W = (G @ Q) * R  # A^{-1} G in the eigenbasis
    eye = torch.eye(n, dtype=G.dtype, device=G.device)
    grad = 0.5 * torch.cat(
        [basis.coords(eye - W.mT @ W), (n / m - (W * W).sum(-1))[..., :-1]], dim=-1
    )
    grad = grad - mu[:, None] * torch.cat(
        [basis.coords(torch.diag_embed(R.sum(-2))), R.sum(-1)[..., :-1]], dim=-1
    )
    K = schur_complement(W, R, basis)
    # mu * (Hessian of -log det A), added in place (the last mu is dropped: the gauge).
    slots = torch.arange(size, device=G.device)
    K[:, slots, slots] += mu[:, None] * (R.mT @ R)[:, basis.p, basis.q]
    diag_slots = basis.index.diagonal()
    R2 = mu[:, None, None] * (R * R)[:, :-1]
    K[:, diag_slots, size:] += R2.mT
    K[:, size:, diag_slots] += R2
    K[:, size:, size:] += torch.diag_embed(R2.sum(-1))
    L, info = torch.linalg.cholesky_ex(K)
    step = -torch.cholesky_solve(grad.unsqueeze(-1), L)[..., 0]
    decrement = -(grad * step).sum(-1)
    ok = (info == 0) & torch.isfinite(decrement) & torch.isfinite(step).all(-1)
    return step, torch.where(ok, decrement, 0.0), Q, ok


def minimise_dual(
    G: torch.Tensor,
    S: torch.Tensor,
    lam: torch.Tensor,
    lower: torch.Tensor,
    tol: float,
    max_iter: int = 200,
):
    """Minimise ``d(S, lambda)`` by a log-barrier method from a point with ``C > 0``.

    Batched (b, m, n); ``lower`` (b,) is a known value ``<G, U>`` of a feasible point, a
    lower bound on the dual minimum. Newton's method (backtracking, Armijo constant 1/4,
    the fraction-to-boundary rule ``min C >= THETA min C_old``) centres
    ``F_mu = d - mu log det A`` until the decrement satisfies ``g^T H^{-1} g <= mu``;
    then ``mu`` falls by 10, from ``mu_0 = (d_0 - lower)/(mn)``. At the exact centre
    ``d - d^* <= mn mu`` (the degree ``mn`` of the barrier of the ``mn x mn`` cone; Boyd
    & Vandenberghe 2004, §11.6), so a slice stops once a centre
    has ``mn mu <= tol |d|``, or when ``d - lower <= tol |d|`` (the bound is then tight
    to ``tol`` whatever ``d^*`` is), or after ``max_iter`` Newton steps. Every iterate is
    a valid bound; the tolerance governs only how tight it is.

    Returns ``(S, lambda, d, allowance, iterations)``.

    Examples
    --------
    From a worse dual point of the certified example of :func:`dual_bound`, the minimum
    comes back to ``<G, U> = 3``:

    >>> import torch
    >>> U = torch.kron(torch.eye(2), torch.ones(2, 1)).double() / 2**0.5
    >>> S = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> G, lam = (U @ S)[None], torch.full((1, 4), 0.5, dtype=torch.float64)
    >>> out = minimise_dual(G, S[None], lam, torch.tensor([3.0], dtype=torch.float64), 1e-10)
    >>> abs(float(out[2][0]) - 3.0) < 1e-9
    True
    """
    batch, m, n = G.shape
    nu = m * n
    basis = SymmetricBasis(n, G.device)
    S, lam = S.clone(), lam.clone()
    d, err, logdet, cmin = _evaluate(G, S, lam)
    mu = (d - lower).clamp(min=0.0) / nu
    iterations = torch.zeros(batch, dtype=torch.long, device=G.device)
    active = torch.nonzero(torch.isfinite(d) & (d - lower > tol * d.abs()))[:, 0]
    while active.numel():
        step, dec, Q, ok = _barrier_direction(G[active], S[active], lam[active], mu[active], basis)
        mua, da = mu[active], d[active]
        centred = dec <= CENTRED * mua
        stop = ~ok | (centred & (nu * mua <= tol * da.abs())) | (iterations[active] >= max_iter)
        mu[active] = torch.where(centred, mua / MU_FACTOR, mua)
        move = ~stop & ~centred
        keep = active[~stop]
        active, step, dec, Q, mua, da = (x[move] for x in (active, step, dec, Q, mua, da))
        if active.numel():
            iterations[active] += 1
            Ga, Sa, la = G[active], S[active], lam[active]
            F0 = da - mua * logdet[active]
            t = torch.ones_like(da)
            done = torch.zeros_like(da, dtype=torch.bool)
            for _ in range(60):  # backtracking: t >= 2^-60
                dE = Q @ basis.matrix(t[:, None] * step[:, : basis.size]) @ Q.mT
                S_t = Sa + (dE + dE.mT) / 2
                l_t = la + torch.nn.functional.pad(t[:, None] * step[:, basis.size :], (0, 1))
                d_t, e_t, ld_t, c_t = _evaluate(Ga, S_t, l_t)
                new = ~done & torch.isfinite(d_t) & (d_t - mua * ld_t <= F0 - 0.25 * t * dec)
                new &= c_t >= THETA * cmin[active]
                for full, part in (
                    (S, S_t),
                    (lam, l_t),
                    (d, d_t),
                    (err, e_t),
                    (logdet, ld_t),
                    (cmin, c_t),
                ):
                    full[active[new]] = part[new]
                done |= new
                if bool(done.all()):
                    break
                t = torch.where(done, t, t / 2)
            keep = keep[~torch.isin(keep, active[~done])]  # no descent left: stop there
        active = keep[d[keep] - lower[keep] > tol * d[keep].abs()]
    return S, lam, d, err, iterations
