"""Invariances every exact polar method must satisfy (derived from the SVD characterisation):

polar(Q1 A Q2) = Q1 polar(A) Q2, polar(cA) = polar(A) for c > 0, polar(A^T) = polar(A)^T,
polar(polar(A)) = polar(A), polar(A) semi-orthogonal for full-rank A, batched = per
slice, numpy in = torch in.

Methods: every registered method except the known inexact ones (``polar_cases``), so a
method registered later is covered without editing this file.

Tolerances. Each property compares the polar factors of two inputs that differ by
rounding, ``||dA||_F <~ c n u ||A||_F`` (u of the dtype the input is stored in; the
methods compute in float64 but see only the rounded input), so the factors differ by
at most ``sensitivity(s) * ||dA||_F``; see ``polar_cases.sensitivity``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from polar_cases import exact_methods, haar, log_spectrum, sensitivity, with_spectrum

import polarlab

UNIT_ROUNDOFF = {np.float64: 2.0**-53, np.float32: 2.0**-24}
# float32 keeps about 7 digits: kappa up to 1e3 leaves u32 * kappa ~ 1e-4, a test that
# still fails loudly on a wrong factor (errors O(1)).
MAX_LOG10_KAPPA = {np.float64: 6.0, np.float32: 3.0}
MAX_DIM = 6  # keeps the pure-Python oracle fast


@st.composite
def cases(draw):
    """(A in float64 before rounding, dtype, singular values, rng) with A = U diag(s) V^T."""
    m = draw(st.integers(1, MAX_DIM))
    n = draw(st.integers(1, MAX_DIM))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    log_kappa = draw(st.floats(0.0, MAX_LOG10_KAPPA[dtype]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    s = log_spectrum(min(m, n), 10.0**log_kappa)
    return with_spectrum(rng, m, n, s), dtype, s, rng


def _tol(A: np.ndarray, s: np.ndarray, dtype) -> float:
    # c = 8: two independently rounded inputs, each a few n u ||A||_F from exact.
    m, n = A.shape
    return 8 * min(m, n) * UNIT_ROUNDOFF[dtype] * sensitivity(s, m, n) * np.linalg.norm(A)


def _polar(A: np.ndarray, method: str) -> np.ndarray:
    """polar(A) in float64 (computed from A exactly as stored)."""
    return polarlab.polar(A, method=method).astype(np.float64)


METHODS = exact_methods()


@pytest.mark.parametrize("method", METHODS)
@given(case=cases())
def test_orthogonal_equivariance(method, case):
    A, dtype, s, rng = case
    m, n = A.shape
    Q1, Q2 = haar(rng, m), haar(rng, n)
    left = _polar((Q1 @ A @ Q2).astype(dtype), method)
    right = Q1 @ _polar(A.astype(dtype), method) @ Q2
    assert np.linalg.norm(left - right) <= _tol(A, s, dtype)


@pytest.mark.parametrize("method", METHODS)
@given(case=cases(), log_c=st.floats(-3.0, 3.0))
def test_positive_scale_invariance(method, case, log_c):
    A, dtype, s, _ = case
    c = 10.0**log_c
    scaled = _polar((c * A).astype(dtype), method)
    assert np.linalg.norm(scaled - _polar(A.astype(dtype), method)) <= _tol(A, s, dtype)


@pytest.mark.parametrize("method", METHODS)
@given(case=cases())
def test_transpose_equivariance(method, case):
    A, dtype, s, _ = case
    A = A.astype(dtype)
    difference = _polar(A.T, method) - _polar(A, method).T
    assert np.linalg.norm(difference) <= _tol(A, s, dtype)


@pytest.mark.parametrize("method", METHODS)
@given(case=cases())
def test_idempotence(method, case):
    A, dtype, _, _ = case
    U = polarlab.polar(A.astype(dtype), method=method)
    # U is semi-orthogonal to rounding (singular values 1 +- ~n u): sensitivity of
    # polar at U is <= 2, and dA is U's own rounding and defect.
    m, n = U.shape
    tol = 8 * min(m, n) * UNIT_ROUNDOFF[dtype] * 2 * np.sqrt(min(m, n))
    assert np.linalg.norm(_polar(U, method) - U.astype(np.float64)) <= tol


@pytest.mark.parametrize("method", METHODS)
@given(case=cases())
def test_semi_orthogonality(method, case):
    A, dtype, _, _ = case
    U = _polar(A.astype(dtype), method)
    m, n = U.shape
    gram = U.T @ U if m >= n else U @ U.T
    # a backward-type error: ~ max(m, n) u of the output dtype (length-m inner
    # products in every step), whatever kappa
    assert np.abs(gram - np.eye(min(m, n))).max() <= 4 * max(m, n) * UNIT_ROUNDOFF[dtype]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(2, 3, 7, 4), (3, 4, 6), (2, 5, 5)])
def test_batched_equals_per_slice(method, shape):
    A = np.random.default_rng(len(shape) + shape[-1]).standard_normal(shape)
    U = polarlab.polar(A, method=method)
    flat_A, flat_U = A.reshape(-1, *shape[-2:]), U.reshape(-1, *shape[-2:])
    for a, u in zip(flat_A, flat_U):
        # the slice alone may take another code path (QDWH's QR/Cholesky choice is
        # per batch): both are backward stable, so the bound is c n u sensitivity.
        s = np.linalg.svd(a, compute_uv=False)
        np.testing.assert_allclose(u, _polar(a, method), rtol=0, atol=_tol(a, s, np.float64))


@pytest.mark.parametrize("method", METHODS)
def test_numpy_and_torch_give_the_same_numbers(method):
    A = np.random.default_rng(17).standard_normal((2, 6, 4))
    from_numpy = polarlab.polar(A, method=method)
    from_torch = polarlab.polar(torch.tensor(A), method=method)
    assert isinstance(from_numpy, np.ndarray) and isinstance(from_torch, torch.Tensor)
    assert from_torch.dtype == torch.float64 and from_torch.shape == A.shape
    # the same float64 data through the same operations: bitwise equal
    np.testing.assert_array_equal(from_numpy, from_torch.numpy())
