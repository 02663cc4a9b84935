"""Exact references ("svd", "mpmath") and the agreement of every exact method with them.

Expected values come from scipy.linalg.polar, from mpmath at 40 digits, or from closed
forms; tolerances from the float64 unit round-off u, the size and the sensitivity of
the polar factor (see ``polar_cases.sensitivity``).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.linalg
from polar_cases import EXACT, exact_methods, log_spectrum, sensitivity, with_spectrum

import polarlab

U64 = 2.0**-53


def test_exact_methods_are_registered():
    assert EXACT <= set(polarlab.polar_methods())


@pytest.mark.parametrize("method", exact_methods())
@pytest.mark.parametrize("shape", [(12, 5), (5, 12), (7, 7), (9, 1), (1, 4)])
def test_agrees_with_scipy(method, shape):
    A = np.random.default_rng(sum(shape)).standard_normal(shape)
    # Both sides are backward stable: forward error ~ c * u * kappa, and these seeded
    # Gaussians have kappa < 1e3, so 1e-12 relative leaves a margin over ~1e-13.
    assert np.linalg.cond(A) < 1e3
    expected = scipy.linalg.polar(A)[0]
    U = polarlab.polar(A, method=method)
    assert U.shape == A.shape and U.dtype == A.dtype
    assert np.linalg.norm(U - expected) <= 1e-12 * np.linalg.norm(expected)


@pytest.mark.parametrize("method", sorted(set(exact_methods()) - {"mpmath"}))
@pytest.mark.parametrize("shape", [(8, 8), (12, 6), (6, 12)])
@pytest.mark.parametrize("kappa", [1e2, 1e6, 1e10])
def test_ill_conditioned_agrees_with_mpmath(method, shape, kappa):
    m, n = shape
    s = log_spectrum(min(m, n), kappa)
    A = with_spectrum(np.random.default_rng(int(np.log10(kappa)) + m), m, n, s)
    # The oracle is the polar factor of the float64 A itself, to 40 digits
    # (error kappa * 1e-40, then float64 rounding).
    oracle = polarlab.polar(A, method="mpmath", digits=40)
    # A backward-stable method returns polar(A + dA) with ||dA||_F <~ c n u ||A||_F
    # (Householder QR / SVD / LU-type constants), and polar moves by at most
    # sensitivity(s) * ||dA||_F: 2/(s_n + s_{n-1}), plus 1/s_n if rectangular.
    tol = 4 * min(m, n) * U64 * sensitivity(s, m, n) * np.linalg.norm(A)
    assert np.linalg.norm(polarlab.polar(A, method=method) - oracle) <= tol


# ----------------------------------------------------------------------------- mpmath


def test_mpmath_leaves_global_precision_alone():
    A = np.random.default_rng(0).standard_normal((4, 3))
    before = mpmath.mp.dps
    with mpmath.workdps(20):
        polarlab.polar(A, method="mpmath", digits=60)
        assert mpmath.mp.dps == 20
    assert mpmath.mp.dps == before


def test_mpmath_is_correctly_rounded_beyond_float64_conditioning():
    # kappa = 1e14: float64 methods are good to ~1e-2 only; the oracle, at 50 digits,
    # must agree with itself at 40 digits to float64 rounding (error kappa * 1e-40).
    m, n = 6, 4
    s = log_spectrum(n, 1e14)
    A = with_spectrum(np.random.default_rng(1), m, n, s)
    U50 = polarlab.polar(A, method="mpmath", digits=50)
    U40 = polarlab.polar(A, method="mpmath", digits=40)
    # each is within half an ulp of the exact value: differ by at most one ulp.
    assert np.all(np.abs(U50 - U40) <= np.spacing(np.abs(U50)))
    assert np.abs(U50.T @ U50 - np.eye(n)).max() <= 4 * n * U64


@pytest.mark.parametrize("method", ["mpmath", "svd"])
def test_exactly_rank_deficient_gives_partial_isometry(method):
    # A = [a, a, 2a] = a w^T with w = (1, 1, 2): rank 1, polar = (a/|a|)(w/|w|)^T.
    a = np.random.default_rng(2).standard_normal(7)
    A = np.stack([a, a, 2 * a], axis=1)
    expected = np.outer(a / np.linalg.norm(a), np.array([1.0, 1.0, 2.0]) / np.sqrt(6.0))
    U, info = polarlab.polar(A, method=method, return_info=True)
    assert info["rank"] == 1
    # entries of order 1, rounding of a few operations each
    np.testing.assert_allclose(U, expected, rtol=0, atol=16 * U64)


def test_mpmath_refuses_large_slices_and_obeys_max_size():
    A = np.ones((65, 64))
    with pytest.raises(ValueError, match=r"m\*n <= max_size=4096"):
        polarlab.polar(A, method="mpmath")
    B = np.random.default_rng(3).standard_normal((2, 5, 4))
    with pytest.raises(ValueError, match="max_size=19"):
        polarlab.polar(B, method="mpmath", max_size=19)
    U = polarlab.polar(B, method="mpmath", max_size=20, digits=20)
    np.testing.assert_allclose(U[1], scipy.linalg.polar(B[1])[0], rtol=0, atol=1e-14)


@pytest.mark.parametrize("digits", [15, 0, 30.5])
def test_mpmath_rejects_bad_digits(digits):
    with pytest.raises(ValueError, match="digits must be an integer >= 16"):
        polarlab.polar(np.eye(3), method="mpmath", digits=digits)


def test_mpmath_info_reports_rank_per_slice_and_digits():
    A = np.random.default_rng(4).standard_normal((2, 3, 4, 3))
    A[1, 2] = 0.0
    with pytest.warns(RuntimeWarning, match="exactly zero"):
        U, info = polarlab.polar(A, method="mpmath", digits=20, return_info=True)
    assert info == {"rank": [[3, 3, 3], [3, 3, 0]], "digits": 20}
    assert not U[1, 2].any()


# -------------------------------------------------------------------------------- svd


def test_svd_rank_tol_drops_small_singular_values():
    s = np.array([1.0, 1e-3, 1e-9])
    A = with_spectrum(np.random.default_rng(5), 6, 3, s)
    U, info = polarlab.polar(A, method="svd", rank_tol=1e-6, return_info=True)
    assert info["rank"] == 2
    # the partial isometry of rank 2 has singular values (1, 1, 0)
    np.testing.assert_allclose(np.linalg.svd(U, compute_uv=False), [1, 1, 0], atol=8 * U64)


@pytest.mark.parametrize("method", ["svd", "mpmath"])
def test_negative_rank_tol_is_rejected(method):
    with pytest.raises(ValueError, match="rank_tol must be >= 0"):
        polarlab.polar(np.eye(3), method=method, rank_tol=-1.0)
