"""Tests for polarlab.manifolds.exact: the solver and its certificate on inputs whose answer
is known (planted optimum, square/wide input, an already balanced polar factor), the dual
upper bound against every feasible point the tests can build, and the multi-start.

Round-off allowances (float64, u = 2**-53) are derived in each test from the quantity
compared: feasibility of a constructed point enters an alignment through ||G||_F times its
constraint residuals; the solver's own stationarity tolerance 1e-10 (relative to ||G||_F)
enters a distance to the planted optimum divided by the concavity margin.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from manifold_cases import U64, alignment, gaussian, heterogeneous, np_polar, row_deviation

from polarlab.manifolds import (
    balanced_stiefel_exact,
    project_balanced_stiefel,
    riemannian_balanced_stiefel,
    tangent_balanced_stiefel,
)

MAX_NEWTON = 50  # outer iterations allowed on any test instance (the yardstick)


def feasible_slack(G, V):
    """How far above the true maximum a nearly feasible ``V`` can score, in alignment units.

    A feasible point lies within about ||V^T V - I||_F + sqrt(m) max_i | ||V_i||^2 - n/m |
    of V (first-order correction of the constraint residuals, rows of norm sqrt(n/m));
    a factor 10 covers the constant of that estimate.
    """
    m, n = V.shape
    rows = np.abs((V**2).sum(1) - n / m).max()
    dist = np.linalg.norm(V.T @ V - np.eye(n)) + np.sqrt(m) * rows
    return 10 * np.linalg.norm(G) * dist / np.linalg.norm(G, "nuc")


def random_feasible(m, n, seed):
    """A random balanced-Stiefel point: Aurora's fixed point of a Gaussian matrix."""
    return project_balanced_stiefel(gaussian(m, n, seed=seed), iters=80)


def lognormal_rows(m, n, seed):
    return heterogeneous(m, n, spread=1.0, seed=seed)


def check_bound(G, cert, seeds=(101, 102, 103)):
    """The dual bound is above Aurora's fixed point, the Riemannian form and random
    feasible points; the certificate's own numbers are consistent."""
    m, n = G.shape
    points = [project_balanced_stiefel(G, iters=80)]
    # Step 0.1 (the default): step 0.3 diverges on a lognormal-row 300x60 matrix (seed 2).
    points.append(riemannian_balanced_stiefel(G, steps=60, retraction_steps=20))
    points += [random_feasible(m, n, s) for s in seeds]
    for V in points:
        assert alignment(G, V) <= cert.upper_bound + feasible_slack(G, V)
    assert cert.upper_bound >= cert.alignment
    assert cert.gap == pytest.approx(cert.upper_bound - cert.alignment, abs=1e3 * U64)
    assert cert.iterations < MAX_NEWTON
    assert cert.converged and cert.stationarity <= 1e-10


def test_exact_solver_certificate_and_dominance():
    """Exact solver on 48x8 (Gaussian and heterogeneous rows), tol = 1e-10.

    Alignment gap A(exact) - A(code form, K) and row violation of the code form,
    measured (A = <G, U>/||G||_*; a negative gap means the point is infeasible):

    ===  =====================  =====================
    K    gaussian gap / viol.   heterogeneous gap / viol.
    ===  =====================  =====================
    1    -3.70e-03 / 4.70e-01   -3.13e-03 / 3.25e-01
    2     7.94e-04 / 1.05e-01    4.79e-03 / 1.26e-01
    3     2.83e-03 / 3.31e-02    7.23e-03 / 4.68e-02
    5     3.62e-03 / 4.41e-03    8.69e-03 / 7.88e-03
    10    3.71e-03 / 7.31e-05    8.99e-03 / 1.06e-04
    40    3.71e-03 / 2.8e-14     8.99e-03 / 1.3e-13
    ===  =====================  =====================

    A(exact) = 0.9543 (gaussian), 0.6720 (heterogeneous); the Riemannian form run
    to convergence reaches the exact alignment to < 1e-4.
    """
    for G in (gaussian(), heterogeneous()):
        n = G.shape[1]
        U, cert = balanced_stiefel_exact(G, tol=1e-10)
        assert cert.converged and cert.stationarity <= 1e-10
        # Independent check of the certificate: feasibility from numpy ...
        assert np.linalg.norm(U.T @ U - np.eye(n)) <= max(cert.orthogonality, 1e3 * U64)
        assert row_deviation(U) <= max(cert.row_violation, 1e3 * U64)
        assert cert.orthogonality < 1e3 * U64 and cert.row_violation < 1e3 * U64
        # ... and KKT: G = U S + diag(lambda) U with least-squares S (symmetric), lambda
        Z = tangent_balanced_stiefel(U, G)
        assert np.linalg.norm(Z) / np.linalg.norm(G) < 2e-10
        assert abs(cert.alignment - alignment(G, U)) < 1e3 * U64
        fixed_point = project_balanced_stiefel(G, iters=60)
        assert row_deviation(fixed_point) < 1e-10
        assert alignment(G, U) >= alignment(G, fixed_point) - 1e-12
        # The returned multipliers are those of the KKT residual.
        residual = G - U @ cert.S - cert.lam[:, None] * U
        np.testing.assert_allclose(residual, Z, atol=1e3 * U64 * np.linalg.norm(G))
        s = np.linalg.eigvalsh(cert.S)
        assert cert.margin == pytest.approx(s[0] + cert.lam.min(), abs=1e3 * U64 * s[-1])


def planted(m, n, seed, lam_spread=0.5):
    """G = U S + diag(lambda) U with U feasible, eig(S) in [1, 3], |lambda| <= lam_spread:
    the Lagrangian is strictly concave (margin >= 1 - lam_spread), so U is the unique
    global maximiser."""
    rng = np.random.default_rng(seed)
    U = random_feasible(m, n, seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    S = Q @ np.diag(rng.uniform(1, 3, n)) @ Q.T
    lam = rng.uniform(-lam_spread, lam_spread, m)
    return U, S, lam, U @ S + lam[:, None] * U


def test_planted_global_optimum_is_recovered_and_certified():
    for m, n, seed in ((24, 4, 1), (60, 12, 2)):
        U, S, lam, G = planted(m, n, seed)
        assert row_deviation(U) < 1e3 * U64 and np.linalg.norm(U.T @ U - np.eye(n)) < 1e3 * U64
        margin = np.linalg.eigvalsh(S)[0] + lam.min()
        U_hat, cert = balanced_stiefel_exact(G)
        assert cert.global_optimum and cert.starts == 1
        # Distance <= ||Z|| / (curvature >= margin): stationarity 1e-10 relative to ||G||_F.
        np.testing.assert_allclose(U_hat, U, atol=1e-10 * np.linalg.norm(G) / margin + 1e-12)
        # Multipliers equal the planted ones up to the gauge (S + cI, lambda - c).
        c = np.mean(cert.lam - lam)
        scale = 1e-10 * np.linalg.norm(G) / margin * np.linalg.norm(G, 2)
        np.testing.assert_allclose(cert.S + c * np.eye(n), S, atol=10 * scale)
        np.testing.assert_allclose(cert.lam - c, lam, atol=10 * scale)
        assert cert.margin == pytest.approx(margin, abs=10 * scale)
        # Zero duality gap: the bound equals the attained alignment to round-off.
        assert 0 <= cert.gap < 1e3 * U64
        assert cert.alignment == pytest.approx(alignment(G, U), abs=1e3 * U64)


def test_square_and_wide_input_is_the_exact_polar_certified():
    G = gaussian(6, 6, seed=3)
    U, cert = balanced_stiefel_exact(G)
    np.testing.assert_allclose(U, np_polar(G), atol=1e3 * U64)
    s = np.linalg.svd(G, compute_uv=False)
    assert cert.global_optimum and cert.upper_bound == 1.0
    assert cert.margin == pytest.approx(s[-1], rel=1e3 * U64 * s[0] / s[-1])
    assert cert.alignment == pytest.approx(1.0, abs=1e3 * U64)
    W = gaussian(4, 24, seed=5)
    U, cert = balanced_stiefel_exact(W, wide="polar")
    np.testing.assert_allclose(U, np_polar(W), atol=1e3 * U64)
    assert cert.global_optimum and cert.gap < 1e3 * U64 and cert.S.shape == (4, 4)
    # "transpose": the long axis is balanced, the problem of W^T.
    Ut, cert_t = balanced_stiefel_exact(W)
    U_tall, cert_tall = balanced_stiefel_exact(W.T)
    np.testing.assert_allclose(Ut, U_tall.T, atol=0)
    assert cert_t.upper_bound == cert_tall.upper_bound


def test_polar_factor_with_balanced_rows_is_the_answer_certified():
    """G = U H with U balanced and H > 0: polar(G) = U is feasible, hence optimal, with
    multipliers S = H, lambda = 0 (margin sigma_min(G))."""
    rng = np.random.default_rng(7)
    U = random_feasible(40, 8, seed=7)
    B = rng.standard_normal((8, 8))
    H = B @ B.T + 0.5 * np.eye(8)
    G = U @ H
    np.testing.assert_allclose(np_polar(G), U, atol=1e-12)
    U_hat, cert = balanced_stiefel_exact(G)
    np.testing.assert_allclose(U_hat, U, atol=1e-10 * np.linalg.norm(G) / 0.5)
    assert cert.global_optimum and cert.iterations <= 2
    sigma_min = np.linalg.svd(G, compute_uv=False)[-1]
    assert cert.margin == pytest.approx(sigma_min, rel=1e-8)
    assert 0 <= cert.gap < 1e3 * U64


@pytest.mark.parametrize(
    "make, m, n, seed",
    [
        (gaussian, 24, 4, 0),
        (lognormal_rows, 24, 4, 1),
        (gaussian, 48, 12, 0),
        (lognormal_rows, 48, 12, 0),
    ],
)
def test_upper_bound_is_above_every_feasible_point(make, m, n, seed):
    G = make(m, n, seed=seed)
    _, cert = balanced_stiefel_exact(G)
    check_bound(G, cert)
    # The restarts ran exactly when the certificate failed; the best start is returned.
    assert cert.starts == (1 if cert.global_optimum else 5)
    found = cert.start_alignments[~np.isnan(cert.start_alignments)]
    assert found.size == cert.starts and found.max() <= cert.alignment + 1e3 * U64
    assert 1 <= cert.best_found_by <= cert.starts


def test_dual_bound_is_the_kronecker_formula():
    """upper_bound * ||G||_* = 1/2 tr S + n/(2m) sum lambda
    + 1/2 vec(G)^T (S kron I + I kron diag(lambda))^{-1} vec(G), formed explicitly
    (column-major vec, so vec(V S) = (S kron I) vec V), at the returned dual point."""
    G = gaussian(24, 4, seed=0)
    m, n = G.shape
    _, cert = balanced_stiefel_exact(G)
    assert not cert.global_optimum  # a case with a genuine gap
    S, lam = cert.dual_S, cert.dual_lam
    A = np.kron(S, np.eye(m)) + np.kron(np.eye(n), np.diag(lam))
    assert np.linalg.eigvalsh(A)[0] > 0
    g = G.ravel(order="F")
    d = 0.5 * np.trace(S) + n / (2 * m) * lam.sum() + 0.5 * g @ np.linalg.solve(A, g)
    nuclear = np.linalg.norm(G, "nuc")
    # The reported bound adds its round-off allowance (~1e-13 relative here).
    assert d / nuclear <= cert.upper_bound <= d / nuclear + 1e-12
    # The concavity test at the KKT multipliers is the smallest eigenvalue of the same operator.
    A_kkt = np.kron(cert.S, np.eye(m)) + np.kron(np.eye(n), np.diag(cert.lam))
    assert cert.margin == pytest.approx(np.linalg.eigvalsh(A_kkt)[0], abs=1e3 * U64 * 10)


def check_restarts_cannot_beat_a_certificate(G, starts, seed):
    """If the point found from Aurora's fixed point is certified, no restart from a random
    feasible point ends higher (to the round-off of the alignment). Returns the
    certificates of the first start alone and of all starts."""
    _, first = balanced_stiefel_exact(G, starts=0)
    _, cert = balanced_stiefel_exact(G, starts=starts, multistart="always", seed=seed)
    assert cert.starts == 1 + starts and cert.start_alignments.shape == (1 + starts,)
    assert cert.start_alignments[0] == pytest.approx(first.alignment, abs=1e3 * U64)
    if first.global_optimum:
        assert cert.start_alignments.max() <= first.alignment + 1e3 * U64
        assert cert.alignment == pytest.approx(first.alignment, abs=1e3 * U64)
    return first, cert


def test_certified_points_are_not_beaten_by_restarts():
    certified = [
        check_restarts_cannot_beat_a_certificate(G, starts=6, seed=3)[0].global_optimum
        for G in (gaussian(48, 12, seed=0), gaussian(40, 10, seed=4), gaussian(32, 8, seed=9))
    ]
    assert any(certified)  # the test exercised the certified case


def test_batch_equals_slices_and_reports_the_worst():
    Gs = np.stack([gaussian(24, 4, seed=0), gaussian(48, 12, seed=0)[:24, :4]])
    U, cert = balanced_stiefel_exact(Gs, starts=2)
    certs = []
    for k in range(2):
        Uk, ck = balanced_stiefel_exact(Gs[k], starts=2)
        np.testing.assert_allclose(U[k], Uk, atol=1e-9)
        certs.append(ck)
    # Slices of a batch take the same path up to round-off in the retraction's stopping
    # point; the margin moves with U by ~ stationarity (1e-10) times ||G||.
    assert cert.margin == pytest.approx(min(c.margin for c in certs), abs=1e-8)
    assert cert.global_optimum == all(c.global_optimum for c in certs)
    assert cert.gap == pytest.approx(max(c.gap for c in certs), rel=1e-6)
    assert cert.best_found_by == min(c.best_found_by for c in certs)
    assert cert.S.shape == (2, 4, 4) and cert.lam.shape == (2, 24)
    assert cert.start_alignments.shape == (2, 3)
    Ut, cert_t = balanced_stiefel_exact(torch.from_numpy(Gs).float(), starts=2)
    assert Ut.dtype == torch.float32 and cert_t.S.dtype == torch.float64


def test_bad_options():
    G = gaussian(10, 3)
    for kwargs, word in (
        ({"starts": -1}, "starts"),
        ({"multistart": "never"}, "multistart"),
        ({"dual_tol": 0.0}, "dual_tol"),
        ({"seed": -2}, "seed"),
        ({"tol": 0}, "tol"),
    ):
        with pytest.raises(ValueError, match=word):
            balanced_stiefel_exact(G, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("make", [gaussian, lognormal_rows])
@pytest.mark.parametrize("m, n", [(24, 4), (48, 12), (96, 24), (150, 30), (300, 60)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_upper_bound_and_certificate_on_random_instances(make, m, n, seed):
    """Gaussian and lognormal-row instances from 24x4 to 300x60, three seeds each: the bound
    is above every feasible point built here, Newton takes < 50 iterations, and where
    the certificate holds no restart beats the returned point."""
    G = make(m, n, seed=seed)
    first, cert = check_restarts_cannot_beat_a_certificate(G, starts=3, seed=seed)
    check_bound(G, first, seeds=(seed + 200, seed + 300))
    check_bound(G, cert, seeds=())
