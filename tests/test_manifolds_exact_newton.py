"""Tests for polarlab.manifolds.exact_newton: the retraction is Aurora's fixed point, the
Newton step solves the projected Hessian system, the Hessian is the Lagrangian's along
curves on the manifold, and convergence is quadratic.

Independent references: the dense tangent projector of
:func:`polarlab.manifolds.tangent_balanced_stiefel`, Aurora's multiplicative iteration
(:func:`polarlab.manifolds.project_balanced_stiefel`), and second differences of
``<G, U>`` along curves on the manifold.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exact_cases import t
from manifold_cases import U64, gaussian, heterogeneous, row_deviation

from polarlab.manifolds import project_balanced_stiefel, tangent_balanced_stiefel
from polarlab.manifolds.exact_newton import (
    _newton_step,
    balance_rows,
    kkt_multipliers,
    riemannian_newton,
)
from polarlab.manifolds.exact_schur import SymmetricBasis

FEAS = 64 * U64  # balance_rows stops at row violation <= 64 u m


def test_balance_rows_is_aurora_fixed_point():
    G = heterogeneous(40, 6, seed=3)
    U = balance_rows(t(G)[None], FEAS * 40)[0].numpy()
    assert row_deviation(U) <= FEAS * 40
    assert np.linalg.norm(U.T @ U - np.eye(6)) < 1e3 * U64
    # Aurora's linear iteration reaches the same point (to its 80-step accuracy).
    np.testing.assert_allclose(U, project_balanced_stiefel(G, iters=80), atol=1e-10)


def test_kkt_multipliers_give_the_tangent_part():
    G = gaussian(30, 5, seed=2)
    U = project_balanced_stiefel(G, iters=80)
    Z, S, lam = kkt_multipliers(t(U), t(G))
    np.testing.assert_allclose(Z.numpy(), tangent_balanced_stiefel(U, G), atol=1e3 * U64)
    np.testing.assert_allclose(Z.numpy(), G - U @ S.numpy() - lam.numpy()[:, None] * U, atol=1e-13)
    assert torch.equal(S, S.mT)


@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_newton_step_solves_the_projected_system(sigma):
    """xi is tangent and P_U((A + sigma) xi) = Z, A xi = xi S + diag(lambda) xi, checked
    with the dense projector; the reported model gain is <Z, xi> - 1/2 <xi, A xi>."""
    G = heterogeneous(24, 4, seed=1)
    U = project_balanced_stiefel(G, iters=80)
    Z, S, lam = kkt_multipliers(t(U)[None], t(G)[None])
    xi, gain, used, _ = _newton_step(t(U)[None], Z, S, lam, t([sigma]), SymmetricBasis(4))
    xi, Zn, Sn, ln = xi[0].numpy(), Z[0].numpy(), S[0].numpy(), lam[0].numpy()
    s = float(used[0])
    A_xi = xi @ Sn + ln[:, None] * xi
    np.testing.assert_allclose(tangent_balanced_stiefel(U, xi), xi, atol=1e-12)
    np.testing.assert_allclose(tangent_balanced_stiefel(U, A_xi + s * xi), Zn, atol=1e-11)
    assert float(gain[0]) == pytest.approx(np.vdot(Zn, xi) - 0.5 * np.vdot(xi, A_xi), rel=1e-10)
    assert s >= sigma  # the shift only grows (to make the tangent operator definite)


def test_hessian_is_the_lagrangian_along_curves():
    """At a KKT point, <G, c(t)> = <G, U> - t^2/2 <xi, xi S + diag(lambda) xi> + O(t^3) for
    any curve c on the manifold with c(0) = U, c'(0) = xi (here the retraction)."""
    G = gaussian(48, 12, seed=0)
    U, _, st = riemannian_newton(t(G)[None], balance_rows(t(G)[None], FEAS * 48), 1e-12, 50, 1e-13)
    assert float(st[0]) < 1e-11
    _, S, lam = kkt_multipliers(U, t(G)[None])
    U, S, lam = U[0].numpy(), S[0].numpy(), lam[0].numpy()
    rng = np.random.default_rng(123)  # not G's seed: a direction independent of G
    xi = tangent_balanced_stiefel(U, rng.standard_normal(U.shape))
    xi /= np.linalg.norm(xi)
    curvature = np.vdot(xi, xi @ S + lam[:, None] * xi)
    for step in (1e-2, 5e-3):
        c = balance_rows(t(U + step * xi)[None], 1e-14)[0].numpy()
        second = (np.vdot(G, c) - np.vdot(G, U)) / (-(step**2) / 2)
        # O(t) relative error from the cubic term
        assert second == pytest.approx(curvature, rel=20 * step)


def test_quadratic_convergence():
    """From Aurora's fixed point the stationarity falls by >= 100x in each of the last two
    steps (a first-order method gains a bounded factor per step)."""
    G = t(heterogeneous(48, 12, seed=0))[None]
    U0 = balance_rows(G, FEAS * 48)
    history = []
    for k in range(1, 20):
        _, _, st = riemannian_newton(G, U0, 1e-12, k, FEAS * 48)
        history.append(float(st[0]))
        if history[-1] <= 1e-12:
            break
    assert history[-1] <= 1e-12 and len(history) < 20
    assert history[-1] < 1e-2 * history[-2] and history[-2] < 1e-2 * history[-3]


def test_unattainable_tolerance_stops_at_round_off():
    G = t(gaussian(24, 4, seed=0))[None]
    _, iterations, st = riemannian_newton(G, balance_rows(G, FEAS * 24), 1e-30, 80, FEAS * 24)
    assert float(st[0]) < 1e-13 and int(iterations[0]) < 80
