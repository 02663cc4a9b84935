"""QDWH and scaled Newton: iteration counts, first iterates against their scalar maps,
options, and the failure modes each method defines.

Agreement with scipy and mpmath is in ``test_exact.py``; invariances in
``test_invariances.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch
from polar_cases import haar, log_spectrum, sensitivity, with_spectrum

import polarlab

U64 = 2.0**-53
KAPPAS = [1.0, 1e2, 1e6, 1e12]


def _orthogonality(U: np.ndarray) -> float:
    return float(np.abs(U.T @ U - np.eye(U.shape[1])).max())


@pytest.mark.parametrize("kappa", KAPPAS)
@pytest.mark.parametrize("shape", [(40, 40), (60, 20)])
def test_qdwh_converges_in_at_most_six_iterations(kappa, shape):
    m, n = shape
    s = log_spectrum(n, kappa)
    A = with_spectrum(np.random.default_rng(int(np.log10(kappa))), m, n, s)
    U, info = polarlab.polar(A, method="qdwh", return_info=True)
    # NBG 2010: <= 6 iterations for kappa <= 1e16.
    assert info["iterations"] <= 6
    # Orthogonality is backward-type: ~ n u whatever kappa (REFERENCE "Accuracy").
    assert _orthogonality(U) <= 4 * n * U64
    # Forward error against U V^T of the generating SVD: the float64 rounding of A is a
    # perturbation of ~u ||A||_F per entry, amplified by the sensitivity.
    P = scipy.linalg.polar(A)[0]  # float64 SVD reference, same bound
    assert np.linalg.norm(U - P) <= 4 * n * U64 * sensitivity(s, m, n) * np.linalg.norm(A)


@pytest.mark.parametrize("scaling", ["1inf", "frobenius"])
@pytest.mark.parametrize("kappa", KAPPAS)
@pytest.mark.parametrize("shape", [(40, 40), (60, 20)])
def test_newton_reaches_the_floor_in_at_most_nine_iterations(scaling, kappa, shape):
    m, n = shape
    s = log_spectrum(n, kappa)
    A = with_spectrum(np.random.default_rng(7 + int(np.log10(kappa))), m, n, s)
    U, info = polarlab.polar(A, method="newton", scaling=scaling, return_info=True)
    # Byers-Xu 2008: <= 9 iterations for kappa <= 1e16.
    assert info["iterations"] <= 9
    assert info["scaling"] == scaling
    assert _orthogonality(U) <= 4 * n * U64
    P = scipy.linalg.polar(A)[0]
    assert np.linalg.norm(U - P) <= 4 * n * U64 * sensitivity(s, m, n) * np.linalg.norm(A)


def _qdwh_weights(l: float) -> tuple[float, float, float]:
    # Dynamical weights of Nakatsukasa, Bai and Gygi, SIAM J. Matrix Anal. Appl. 31 (2010).
    g = (4 * (1 - l**2) / l**4) ** (1 / 3)
    a = np.sqrt(1 + g) + 0.5 * np.sqrt(8 - 4 * g + 8 * (2 - l**2) / (l**2 * np.sqrt(1 + g)))
    b = (a - 1) ** 2 / 4
    return a, b, a + b - 1


def test_qdwh_weights_at_l_one_are_halley():
    # l = 1: the dynamical weights reduce to Halley's x (3 + x^2) / (1 + 3 x^2).
    np.testing.assert_allclose(_qdwh_weights(1.0), (3.0, 1.0, 3.0), rtol=1e-15)


@pytest.mark.parametrize("shape", [(6, 6), (9, 4)])
def test_qdwh_first_iterate_follows_the_scalar_map(shape):
    # X_1 = U f(s / alpha) V^T with f(x) = x (a + b x^2) / (1 + c x^2) and weights from
    # the given lower bound l_0; alpha = sqrt(||A||_1 ||A||_inf).
    m, n = shape
    s = np.linspace(1.0, 0.2, n)
    rng = np.random.default_rng(8)
    W, V = haar(rng, m)[:, :n], haar(rng, n)
    A = (W * s) @ V.T
    alpha = np.sqrt(np.linalg.norm(A, 1) * np.linalg.norm(A, np.inf))
    l0 = 0.05
    a, b, c = _qdwh_weights(l0)
    x = s / alpha
    expected = (W * (x * (a + b * x**2) / (1 + c * x**2))) @ V.T
    X1 = next(polarlab.polar_iterates(A, "qdwh", 1, lower=l0))
    # a few O(1)-conditioned factorisations: errors of a few n u
    np.testing.assert_allclose(X1, expected, rtol=0, atol=16 * n * U64)


def test_newton_first_iterate_follows_the_scalar_map():
    # Square A: X_1 = U g(s) V^T with g(x) = (mu x + 1 / (mu x)) / 2 and Higham's
    # mu = (||A^-1||_1 ||A^-1||_inf / (||A||_1 ||A||_inf))^(1/4).
    n = 6
    s = np.logspace(0, -3, n)
    rng = np.random.default_rng(9)
    W, V = haar(rng, n), haar(rng, n)
    A = (W * s) @ V.T
    A_inv = np.linalg.inv(A)
    norms = lambda M: np.linalg.norm(M, 1) * np.linalg.norm(M, np.inf)  # noqa: E731
    mu = (norms(A_inv) / norms(A)) ** 0.25
    expected = (W * (0.5 * (mu * s + 1 / (mu * s)))) @ V.T
    X1 = next(polarlab.polar_iterates(A, "newton", 1))
    # X_1 contains A^{-T}, accurate to ~ n u kappa relative, kappa = 1e3.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(X1, expected, rtol=0, atol=4 * n * U64 * 1e3 * scale)


@pytest.mark.parametrize("method, max_steps", [("qdwh", 6), ("newton", 9)])
def test_iterates_converge_to_the_polar_factor(method, max_steps):
    A = with_spectrum(np.random.default_rng(10), 10, 5, log_spectrum(5, 1e6))
    iterates = list(polarlab.polar_iterates(A, method, max_steps + 2))
    U = polarlab.polar(A, method=method)
    # after convergence the slice is frozen: the tail repeats the result exactly
    for X in iterates[max_steps:]:
        np.testing.assert_array_equal(X, U)
    # the distance to the polar factor shrinks until the floor
    P = scipy.linalg.polar(A)[0]
    errors = [np.linalg.norm(X - P) for X in iterates[:4]]
    assert all(e1 < e0 for e0, e1 in itertools.pairwise(errors))


def test_qdwh_lower_option():
    A = with_spectrum(np.random.default_rng(11), 8, 4, log_spectrum(4, 1e3))
    _, info = polarlab.polar(A, method="qdwh", lower=1e-16, return_info=True)
    # the worst admissible bound still converges within the proven 6 steps
    assert info["lower"] == 1e-16 and info["iterations"] <= 6
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match=r"lower must lie in \(0, 1\]"):
            polarlab.polar(A, method="qdwh", lower=bad)


def test_qdwh_overestimated_lower_warns():
    # sigma_min(X0) ~ 1e-12 but l0 = 0.5: the weights are nearly Halley's, which lift a
    # tiny singular value only ~3x per step, so the steps stay large, the stop rule is
    # not met within 10 iterations, and the user is told.
    A = with_spectrum(np.random.default_rng(12), 8, 4, log_spectrum(4, 1e12))
    with pytest.warns(RuntimeWarning, match="did not meet the stop rule"):
        polarlab.polar(A, method="qdwh", lower=0.5)


def test_qdwh_default_lower_bound_is_a_lower_bound():
    s = log_spectrum(5, 1e4)
    A = with_spectrum(np.random.default_rng(13), 9, 5, s)
    alpha = np.sqrt(np.linalg.norm(A, 1) * np.linalg.norm(A, np.inf))
    _, info = polarlab.polar(A, method="qdwh", return_info=True)
    assert info["lower"] <= s[-1] / alpha


def test_qdwh_rank_deficient_is_finite_and_exact_on_the_range():
    # rank 2 of 4 (float64 round-off in the other two): the result is finite, a
    # contraction, and maps the range like the partial isometry does.
    rng = np.random.default_rng(14)
    A = rng.standard_normal((8, 2)) @ rng.standard_normal((2, 4))
    U = polarlab.polar(A, method="qdwh")
    assert np.isfinite(U).all()
    assert np.linalg.norm(U, 2) <= 1 + 8 * U64
    W, _, Vh = np.linalg.svd(A)
    # U V_2 = W_2 for the two live directions; perturbation ~ u * s_1 / s_2
    np.testing.assert_allclose(U @ Vh[:2].T, W[:, :2], atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 5), (9, 5), (5, 9)])
def test_newton_rejects_numerically_singular_input(shape):
    rng = np.random.default_rng(15)
    k = min(shape) - 1
    A = rng.standard_normal((shape[0], k)) @ rng.standard_normal((k, shape[1]))
    with pytest.raises(ValueError, match=r"numerically singular.*'svd'.*'qdwh'"):
        polarlab.polar(A, method="newton")
    # validation happens when the iterates are requested, not when first drawn
    with pytest.raises(ValueError, match="numerically singular"):
        polarlab.polar_iterates(A, "newton", 3)


def test_newton_rejects_unknown_scaling():
    with pytest.raises(ValueError, match="unknown scaling 'optimal'; choose one of: 1inf"):
        polarlab.polar(np.eye(3), method="newton", scaling="optimal")


@pytest.mark.parametrize("method", ["qdwh", "newton"])
def test_batched_iterations_are_per_slice(method):
    # one easy and one hard slice: each keeps its own count, as if called alone
    rng = np.random.default_rng(16)
    A = np.stack([haar(rng, 6), with_spectrum(rng, 6, 6, log_spectrum(6, 1e10))])
    _, info = polarlab.polar(torch.from_numpy(A), method=method, return_info=True)
    alone = [polarlab.polar(a, method=method, return_info=True)[1]["iterations"] for a in A]
    assert info["iterations"] == alone
    assert info["iterations"][0] < info["iterations"][1]


def test_qdwh_lower_below_unit_roundoff_costs_iterations_not_a_crash():
    """A far too small ``lower`` is still a lower bound: only iterations are lost.

    The weights overflow for l^4 below the float64 range, so l is floored at 1e-16 (where
    NBG 2010 prove 6 steps); the result must still be the polar factor (reference: the
    float64 SVD).
    """
    A = np.random.default_rng(0).standard_normal((12, 5))
    U, info = polarlab.polar(A, "qdwh", lower=1e-300, return_info=True)
    assert np.abs(U - polarlab.polar(A, "svd")).max() < 1e-13
    assert info["iterations"] <= 6 and info["lower"] == 1e-16


@pytest.mark.parametrize("lower", [True, "0.5", 0.0, 1.5, float("nan")])
def test_qdwh_lower_is_checked_once_by_resolve(lower):
    with pytest.raises(ValueError, match="lower must lie in"):
        polarlab.resolve("qdwh", lower=lower)


def test_newton_scaling_is_checked_by_resolve():
    with pytest.raises(ValueError, match="unknown scaling"):
        polarlab.resolve("newton", scaling="spectral")
