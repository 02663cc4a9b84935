"""Tests for polarlab.matrices: spectra as asked, Haar factors, seeds, row scales, kinds, errors.

Expected spectra are the closed-form formulas of each family; distributional checks
compare sample statistics with exact moments or scipy quantiles, with tolerances of
five standard errors (a false failure has probability below 1e-6 per check; the
seeds are fixed, so these tests are deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from polarlab import matrices
from polarlab.matrices import families, haar_orthogonal, prescribed_spectrum, random_matrix

U64 = 2.0**-53
# U diag(s) V^T is formed with k-term float64 dot products and its SVD is backward
# stable, so singular values are reproduced to ~c k u s_1; 1e-13 s_1 covers k <= 40.
SPECTRUM_TOL = 1e-13

ALL_FAMILIES = [
    "gaussian",
    "logspaced",
    "power_law",
    "spike_flat",
    "rank_deficient",
    "low_rank_noise",
    "row_lognormal",
    "row_fraction_small",
    "zero_rows",
    "heavy_tailed",
]


def svdvals(A):
    return np.linalg.svd(np.asarray(A, dtype=np.float64), compute_uv=False)


def test_families_lists_the_documented_names():
    assert families() == ALL_FAMILIES
    for name in ALL_FAMILIES:  # every family appears in the module's table
        assert f"\n{name} " in matrices.__doc__


# --------------------------------------------------------------------------- spectra


@pytest.mark.parametrize("m, n", [(30, 12), (12, 30), (16, 16)])
@pytest.mark.parametrize(
    "family, params, expected",
    [
        ("logspaced", {"cond": 1e6}, lambda k: 10.0 ** (-6 * np.arange(k) / (k - 1))),
        ("power_law", {"beta": 0.5}, lambda k: np.arange(1, k + 1) ** -0.5),
        ("power_law", {"beta": 5.0}, lambda k: np.arange(1, k + 1) ** -5.0),
        ("spike_flat", {"spikes": 3, "height": 50.0}, lambda k: np.r_[[50.0] * 3, [1.0] * (k - 3)]),
        (
            "rank_deficient",
            {"rank": 5, "cond": 100.0},
            lambda k: np.r_[10.0 ** (-2 * np.arange(5) / 4), np.zeros(k - 5)],
        ),
    ],
)
def test_spectral_families_have_the_requested_singular_values(m, n, family, params, expected):
    A = random_matrix(family, m, n, seed=7, like="numpy", **params)
    s = expected(min(m, n))
    np.testing.assert_allclose(svdvals(A), s, rtol=0, atol=SPECTRUM_TOL * s.max())


def test_spectral_family_defaults_follow_the_table():
    k = 12
    s = svdvals(random_matrix("logspaced", 20, k, seed=0))
    assert s[0] / s[-1] == pytest.approx(1e3, rel=1e-10)
    s = svdvals(random_matrix("spike_flat", 20, k, seed=0))
    np.testing.assert_allclose(s, np.r_[[100.0] * 4, [1.0] * (k - 4)], atol=100 * SPECTRUM_TOL)
    s = svdvals(random_matrix("rank_deficient", 20, k, seed=0))
    assert (s > 1e-12).sum() == k // 2
    assert s[0] / s[k // 2 - 1] == pytest.approx(10.0, rel=1e-10)


def test_low_rank_noise_spectrum_within_noise_of_the_signal():
    m, n, rank, noise = 60, 24, 3, 1e-2
    s = svdvals(random_matrix("low_rank_noise", m, n, seed=3, rank=rank, noise=noise))
    # Weyl: |s_i - s_i(signal)| <= ||E||_2, and ||E||_2 ~ noise (1 + O(1/sqrt(n))) for
    # Gaussian noise scaled by 1/(sqrt(m) + sqrt(n)); 1.5 noise is a safe bound.
    np.testing.assert_allclose(s[:rank], 1.0, atol=1.5 * noise)
    assert s[rank:].max() <= 1.5 * noise
    assert s[rank:].max() >= 0.5 * noise  # the noise is really there


def test_prescribed_spectrum_reproduces_any_order_and_rank():
    s = np.array([0.3, 2.0, 1e-9, 1.0])
    A = prescribed_spectrum(s, 9, 6, seed=1, like="numpy")
    got = svdvals(A)
    np.testing.assert_allclose(got[:4], np.sort(s)[::-1], rtol=0, atol=SPECTRUM_TOL * 2.0)
    np.testing.assert_allclose(got[4:], 0.0, atol=SPECTRUM_TOL * 2.0)  # exact zeros, rank 4
    # A torch vector of singular values works the same and gives the same matrix.
    B = prescribed_spectrum(torch.tensor(s), 9, 6, seed=1, like="numpy")
    np.testing.assert_array_equal(A, B)


def test_prescribed_spectrum_errors():
    with pytest.raises(ValueError, match="at most min"):
        prescribed_spectrum([1.0] * 4, 5, 3, seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        prescribed_spectrum([1.0, -1.0], 5, 3, seed=0)
    with pytest.raises(ValueError, match="one-dimensional"):
        prescribed_spectrum(np.ones((2, 2)), 5, 3, seed=0)


# --------------------------------------------------------------------------- Haar


def test_haar_orthogonal_is_orthogonal():
    Q = haar_orthogonal(20, seed=2, batch=(3,))
    eye = torch.eye(20, dtype=torch.float64)
    # Householder QR gives orthogonality to ~c n u.
    torch.testing.assert_close(Q.mT @ Q, eye.expand(3, 20, 20), rtol=0, atol=1e-13)
    torch.testing.assert_close(Q @ Q.mT, eye.expand(3, 20, 20), rtol=0, atol=1e-13)


def test_haar_orthogonal_trace_moments_match_haar_measure():
    # For Haar Q in O(n), tr(Q) has E = 0 and E[tr^2] = 1 (Diaconis-Shahshahani: the
    # first n moments are Gaussian). QR without the sign fix gives E[tr] ~ -0.5 at n = 4.
    N = 2000
    tr = np.trace(haar_orthogonal(4, seed=5, batch=N, like="numpy"), axis1=-2, axis2=-1)
    assert abs(tr.mean()) < 5 / math.sqrt(N)  # Var(tr) = 1
    assert abs((tr**2).mean() - 1) < 5 * math.sqrt(2 / N)  # Var(tr^2) = E tr^4 - 1 = 2


# --------------------------------------------------------------------------- seeds, shapes, kinds


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_seeds_reproducible_and_distinct(family):
    a = random_matrix(family, 10, 6, seed=11, batch=(2,))
    b = random_matrix(family, 10, 6, seed=11, batch=(2,))
    c = random_matrix(family, 10, 6, seed=12, batch=(2,))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # batch slices are independent draws


@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("m, n", [(8, 3), (3, 8)])
def test_shape_dtype_and_kind_honoured(family, m, n):
    A = random_matrix(family, m, n, seed=0, batch=(2, 1), dtype="float32", like="numpy")
    assert isinstance(A, np.ndarray) and A.dtype == np.float32 and A.shape == (2, 1, m, n)
    T = random_matrix(family, m, n, seed=0, batch=(2, 1), dtype=torch.bfloat16)
    assert isinstance(T, torch.Tensor) and T.dtype == torch.bfloat16 and T.shape == (2, 1, m, n)
    # Drawn in float64 and rounded once: the low-precision results are casts of it.
    D = random_matrix(family, m, n, seed=0, batch=(2, 1))
    assert D.dtype == torch.float64
    assert torch.equal(T, D.to(torch.bfloat16))
    np.testing.assert_array_equal(A, D.numpy().astype(np.float32))
    assert np.isfinite(A).all()


def test_integer_batch_and_unbatched_shapes():
    assert random_matrix("gaussian", 4, 2, seed=0, batch=3).shape == (3, 4, 2)
    assert random_matrix("gaussian", 4, 2, seed=0).shape == (4, 2)


# --------------------------------------------------------------- entry and row statistics


def test_gaussian_entries_have_unit_variance():
    A = random_matrix("gaussian", 100, 80, seed=4, like="numpy")
    N = A.size
    assert abs(A.mean()) < 5 / math.sqrt(N)
    assert abs((A**2).mean() - 1) < 5 * math.sqrt(2 / N)  # Var(z^2) = 2


def test_heavy_tailed_entries_follow_student_t():
    df, N = 1.5, 120 * 100
    A = random_matrix("heavy_tailed", 120, 100, seed=6, df=df, like="numpy")
    # Median of |x| is the 0.75 quantile of t(df); SE of a sample quantile of |x|:
    # sqrt(p (1 - p) / N) / f_|x|(q) with p = 1/2 and f_|x| = 2 f_t.
    q = scipy.stats.t.ppf(0.75, df)
    se = 0.5 / math.sqrt(N) / (2 * scipy.stats.t.pdf(q, df))
    assert abs(np.median(np.abs(A)) - q) < 5 * se
    # Heavy tail: the largest of N entries is far beyond any Gaussian's (~4.5).
    assert np.abs(A).max() > 100


def test_row_lognormal_log_row_scales_have_std_sigma():
    m, n, sigma = 400, 256, 0.8
    A = random_matrix("row_lognormal", m, n, seed=8, sigma=sigma, like="numpy")
    log_scale = np.log(np.linalg.norm(A, axis=1) / math.sqrt(n))
    # log ||z_i|| / sqrt(n) adds variance ~1/(2n) to the lognormal log-scale (variance
    # sigma^2): std ~ sigma; SE of a sample std ~ sigma / sqrt(2 m).
    expected_std = math.sqrt(sigma**2 + 1 / (2 * n))
    assert abs(log_scale.std() - expected_std) < 5 * sigma / math.sqrt(2 * m)
    assert abs(log_scale.mean()) < 5 * sigma / math.sqrt(m)


@pytest.mark.parametrize("fraction, scale", [(0.25, 0.01), (0.1, 0.05)])
def test_row_fraction_small_has_the_stated_rows(fraction, scale):
    m, n = 40, 64
    A = random_matrix(
        "row_fraction_small", m, n, seed=9, fraction=fraction, scale=scale, like="numpy"
    )
    # Gaussian rows have norm sqrt(n) = 8 +- 0.7; scaled rows are `scale` times that.
    ratio = np.linalg.norm(A, axis=1) / math.sqrt(n)
    small = ratio < math.sqrt(scale)  # geometric midpoint between scale and 1
    assert small.sum() == round(fraction * m)
    np.testing.assert_allclose(ratio[small], scale, rtol=0.5)
    np.testing.assert_allclose(ratio[~small], 1.0, rtol=0.5)
    assert not small[: small.sum()].all() or small.sum() == 0  # chosen at random, not first


def test_zero_rows_has_exactly_k_zero_rows_per_slice():
    A = random_matrix("zero_rows", 20, 5, seed=10, k=4, batch=(3,), like="numpy")
    zero = (A == 0).all(axis=-1)
    np.testing.assert_array_equal(zero.sum(axis=-1), [4, 4, 4])
    assert not (zero[0] == zero[1]).all() or not (zero[0] == zero[2]).all()


# --------------------------------------------------------------------------- errors


def test_unknown_family_lists_names():
    with pytest.raises(ValueError, match="unknown family 'uniform'; choose one of: gaussian, "):
        random_matrix("uniform", 3, 3, seed=0)


@pytest.mark.parametrize(
    "family, params, message",
    [
        ("gaussian", {"cond": 10.0}, "takes no parameter"),
        ("logspaced", {"beta": 1.0}, "its parameters are: cond"),
        ("logspaced", {"cond": 0.5}, "cond must be a float >= 1"),
        ("logspaced", {"cond": math.inf}, "cond must be"),
        ("power_law", {"beta": -1.0}, "beta must be a float >= 0"),
        ("spike_flat", {"spikes": 7}, r"spikes must be an integer in \[0, min\(m, n\)\]"),
        ("rank_deficient", {"rank": 2.5}, "rank must be an integer"),
        ("rank_deficient", {"rank": True}, "rank must be an integer"),
        ("low_rank_noise", {"rank": 0}, r"rank must be an integer in \[1"),
        ("row_lognormal", {"sigma": math.nan}, "sigma must be"),
        ("row_fraction_small", {"fraction": 1.5}, r"fraction must be a float in \[0, 1\]"),
        ("row_fraction_small", {"scale": "small"}, "scale must be"),
        ("zero_rows", {"k": 9}, r"k must be an integer in \[0, m\]"),
        ("heavy_tailed", {"df": 0.0}, "df must be a float > 0"),
    ],
)
def test_bad_params_raise(family, params, message):
    with pytest.raises(ValueError, match=message):
        random_matrix(family, 8, 6, seed=0, **params)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"m": 0}, "m must be a positive integer"),
        ({"n": 2.0}, "n must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"seed": 1.5}, "seed must be a non-negative integer"),
        ({"batch": (2, -1)}, "batch must be a tuple"),
        ({"dtype": "int32"}, "unsupported dtype"),
        ({"like": "jax"}, "unknown like 'jax'; choose one of: torch, numpy"),
        ({"like": "numpy", "dtype": "bfloat16"}, "numpy has no bfloat16"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    args = {"m": 4, "n": 3, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        random_matrix("gaussian", args.pop("m"), args.pop("n"), **args)


def test_a_draw_that_overflows_the_target_dtype_is_an_error_not_inf():
    # spike height 1e6 exceeds float16's largest value 65504 (IEEE 754 binary16)
    with pytest.raises(ValueError, match="beyond the largest float16 value"):
        random_matrix("spike_flat", 8, 4, seed=0, dtype="float16", height=1e6)
    with pytest.raises(ValueError, match="beyond the largest float16 value"):
        prescribed_spectrum([1e6, 1.0], 4, 2, seed=0, dtype="float16")
    # the same draws fit in float32
    assert torch.isfinite(
        random_matrix("spike_flat", 8, 4, seed=0, dtype="float32", height=1e6)
    ).all()
