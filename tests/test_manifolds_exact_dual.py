"""Tests for polarlab.manifolds.exact_dual: the Lagrangian dual bound against the explicit
Kronecker formula, weak duality, the gauge, the zero gap at a certified point, and the
barrier minimisation.

Expected values are independent: the dual function is formed with numpy as the mn x mn
matrix ``S kron I + I kron diag(lambda)`` (column-major vec); feasible points come from
Aurora's fixed point (another module) and are checked for feasibility here.
"""

from __future__ import annotations

import numpy as np
import pytest
from exact_cases import t
from manifold_cases import U64, gaussian, heterogeneous

from polarlab.manifolds import project_balanced_stiefel
from polarlab.manifolds.exact_dual import concavity_margin, dual_bound, minimise_dual


def kron_dual(G, S, lam):
    """1/2 tr S + n/(2m) sum lambda + 1/2 vec(G)^T A^{-1} vec(G), A formed explicitly."""
    m, n = G.shape
    A = np.kron(S, np.eye(m)) + np.kron(np.eye(n), np.diag(lam))
    g = G.ravel(order="F")
    return 0.5 * np.trace(S) + n / (2 * m) * lam.sum() + 0.5 * g @ np.linalg.solve(A, g), A


def random_multipliers(n, m, rng, margin=0.3):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    S = Q @ np.diag(rng.uniform(0, 2, n)) @ Q.T
    lam = rng.uniform(-1, 1, m)
    lam += margin - (np.linalg.eigvalsh(S)[0] + lam.min())  # margin exactly `margin`
    return S, lam


def test_dual_bound_is_the_kronecker_formula_and_a_bound():
    """d(S, lambda) equals the explicit formula, and exceeds <G, V> for feasible V
    (weak duality) for random multipliers with A > 0."""
    rng = np.random.default_rng(0)
    G = heterogeneous(15, 4, seed=3)
    m, n = G.shape
    feasible = [project_balanced_stiefel(gaussian(m, n, seed=s), iters=80) for s in range(5)]
    for V in feasible:
        assert np.linalg.norm(V.T @ V - np.eye(n)) < 1e3 * U64
        assert np.abs((V**2).sum(1) - n / m).max() < 1e3 * U64
    for _ in range(5):
        S, lam = random_multipliers(n, m, rng)
        expected, A = kron_dual(G, S, lam)
        assert np.linalg.eigvalsh(A)[0] == pytest.approx(0.3, abs=1e-12)
        d, err = dual_bound(t(G), t(S), t(lam))
        # Both sides are float64 evaluations of the same number: agree to their round-off.
        assert float(d) == pytest.approx(expected, rel=1e3 * U64)
        assert 0 < float(err) < 1e-12 * abs(expected)
        for V in feasible:
            assert np.vdot(G, V) <= float(d)


def test_gauge_invariance_and_outside_the_domain():
    rng = np.random.default_rng(1)
    G = gaussian(12, 3, seed=4)
    S, lam = random_multipliers(3, 12, rng)
    d, _ = dual_bound(t(G), t(S), t(lam))
    for c in (-2.0, 0.7, 5.0):
        d_c, _ = dual_bound(t(G), t(S + c * np.eye(3)), t(lam - c))
        assert float(d_c) == pytest.approx(float(d), rel=1e3 * U64)
        margin_c, _ = concavity_margin(t(S + c * np.eye(3)), t(lam - c))
        assert float(margin_c) == pytest.approx(0.3, abs=1e3 * U64 * 10)
    d_out, _ = dual_bound(t(G), t(S - 0.5 * np.eye(3)), t(lam))  # margin -0.2: no bound
    assert float(d_out) == float("inf")


def test_zero_gap_at_a_concave_kkt_point():
    """G = U S + diag(lambda) U with margin > 0: d(S, lambda) = <G, U> exactly (in exact
    arithmetic), and the barrier minimisation started elsewhere comes back to it."""
    rng = np.random.default_rng(2)
    m, n = 20, 5
    U = project_balanced_stiefel(gaussian(m, n, seed=8), iters=80)
    S, lam = random_multipliers(n, m, rng, margin=0.5)
    G = U @ S + lam[:, None] * U
    f = np.vdot(G, U)
    d, _ = dual_bound(t(G), t(S), t(lam))
    # U is feasible to ~1e-15, so <G, U> is the dual value to that times ||G||.
    assert float(d) == pytest.approx(f, abs=1e3 * U64 * np.linalg.norm(G) * np.sqrt(n))
    margin, allowance = concavity_margin(t(S), t(lam))
    assert float(margin) == pytest.approx(0.5, abs=float(allowance))
    S0, lam0 = S + 0.8 * np.eye(n), lam + rng.uniform(0, 0.3, m)  # a worse dual point
    d0, _ = dual_bound(t(G), t(S0), t(lam0))
    assert float(d0) > f + 1e-3
    tol = 1e-10
    _, _, d_min, _, iterations = minimise_dual(t(G)[None], t(S0)[None], t(lam0)[None], t([f]), tol)
    # Stops within tol |d| of the lower bound <G, U> = d*: the bound is tight.
    assert f - 1e3 * U64 * abs(f) <= float(d_min[0]) <= f + 2 * tol * abs(f)
    assert 0 < int(iterations[0]) < 60


def test_minimise_dual_lowers_a_bound_that_stays_a_bound():
    """A case with a duality gap (Gaussian 24x4 has a negative margin at its best KKT
    point): every accepted iterate stays a bound above feasible points, the minimum
    does not depend on the start, and it is far below the start."""
    G = gaussian(24, 4, seed=0)
    m, n = G.shape
    V = project_balanced_stiefel(G, iters=80)
    f = np.vdot(G, V)
    rng = np.random.default_rng(5)
    ends = []
    for shift in (1.0, 3.0):
        S0 = np.linalg.svd(G, compute_uv=False).mean() * np.eye(n) + shift * np.eye(n)
        lam0 = rng.uniform(0, 0.2, m)
        d0, _ = dual_bound(t(G), t(S0), t(lam0))
        S, lam, d, _, _ = minimise_dual(t(G)[None], t(S0)[None], t(lam0)[None], t([f]), 1e-10)
        assert float(d[0]) < float(d0)
        expected, A = kron_dual(G, S[0].numpy(), lam[0].numpy())
        assert np.linalg.eigvalsh(A)[0] > 0 and float(d[0]) == pytest.approx(expected, rel=1e-12)
        assert float(d[0]) >= f
        ends.append(float(d[0]))
    # Convex problem, stopped at mn mu <= 1e-10 |d|: both starts end within that of d*.
    assert ends[0] == pytest.approx(ends[1], rel=3e-10)


def test_margin_allowance_scales_with_the_multipliers():
    S, lam = np.diag([1.0, 2.0, 4.0]), np.array([-0.5, 0.25, 3.0])
    margin, allowance = concavity_margin(t(S), t(lam))
    assert float(margin) == 0.5
    assert float(allowance) == pytest.approx(8 * 4 * U64 * (4.0 + 3.0))
