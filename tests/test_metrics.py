"""Tests for polarlab.metrics: closed-form cases, float64 evaluation, kinds and batches.

Expected values come from closed forms (diagonal matrices, scaled polar factors),
from scipy's polar factor or numpy's SVD, never from the metric under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ortho_group

from polarlab import metrics

U64 = 2.0**-53
# Closed-form cases are O(1)-conditioned matrices of size <= 16: the SVD-based
# reference and the float64 norms are each accurate to a few u times sqrt(size);
# 100 u leaves a wide margin without hiding an O(1) mistake.
TOL = 100 * U64


def pad(d, m):
    """``[diag(d); 0]``: an m x n matrix with known singular values and polar factor."""
    d = np.asarray(d, dtype=np.float64)
    return np.vstack([np.diag(d), np.zeros((m - d.size, d.size))])


def rotate(X, seed):
    """``Q1 X Q2`` with Haar Q1, Q2 from scipy: leaves every unitarily invariant metric alone."""
    m, n = X.shape
    Q1 = ortho_group.rvs(m, random_state=seed)
    Q2 = ortho_group.rvs(n, random_state=seed + 1)
    return Q1 @ X @ Q2, Q1, Q2


def gaussian(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------- polar_error & co


@pytest.mark.parametrize("c", [0.0, 0.5, 1.0, 1.7])
@pytest.mark.parametrize("shape", [(9, 4), (4, 9), (5, 5)])
def test_polar_error_of_scaled_polar_factor_is_abs_c_minus_1(c, shape):
    A = gaussian(*shape)
    Q = scipy.linalg.polar(A)[0] if shape[0] >= shape[1] else scipy.linalg.polar(A.T)[0].T
    assert metrics.polar_error(c * Q, A) == pytest.approx(abs(c - 1), abs=TOL)
    assert metrics.spectral_error(c * Q, A) == pytest.approx(abs(c - 1), abs=TOL)
    assert metrics.distance_to_polar(c * Q, A) == pytest.approx(abs(c - 1), abs=TOL)


def test_polar_error_closed_form_on_diagonal_and_rotation_invariant():
    A = pad([3.0, 2.0, 0.5], 6)  # polar(A) = [I; 0]
    x = np.array([1.2, 0.9, 1.0])
    X = pad(x, 6)
    expected_rel = math.sqrt(((x - 1) ** 2).sum() / 3)
    assert metrics.polar_error(X, A) == pytest.approx(expected_rel, abs=TOL)
    assert metrics.spectral_error(X, A) == pytest.approx(0.2, abs=TOL)
    # polar(Q1 A Q2) = Q1 polar(A) Q2, so rotating both leaves the errors unchanged.
    RA, Q1, Q2 = rotate(A, 3)
    RX = Q1 @ X @ Q2
    assert metrics.polar_error(RX, RA) == pytest.approx(expected_rel, abs=TOL)
    assert metrics.spectral_error(RX, RA) == pytest.approx(0.2, abs=TOL)


def test_polar_error_normalises_by_rank_and_distance_by_short_side():
    A = pad([3.0, 2.0, 0.0], 5)  # rank 2, polar(A) = diag(1, 1, 0) padded
    X = pad([1.0, 1.0, 0.5], 5)
    assert metrics.polar_error(X, A) == pytest.approx(0.5 / math.sqrt(2), abs=TOL)
    assert metrics.distance_to_polar(X, A) == pytest.approx(0.5 / math.sqrt(3), abs=TOL)


def test_reference_argument_gives_the_same_numbers():
    A = gaussian(12, 5, seed=1)
    X = A / np.linalg.norm(A, 2)
    Q = scipy.linalg.polar(A)[0]
    for metric in (metrics.polar_error, metrics.spectral_error, metrics.distance_to_polar):
        assert metric(X, A, reference=Q) == pytest.approx(metric(X, A), abs=TOL)
    # A deliberately wrong reference is used as given (no silent recomputation).
    assert metrics.polar_error(Q, A, reference=-Q) == pytest.approx(2.0, abs=TOL)


def test_rank_zero_and_shape_mismatch_raise():
    Z = np.zeros((4, 3))
    with pytest.raises(ValueError, match="rank"):
        metrics.polar_error(Z, Z)
    with pytest.raises(ValueError, match="same matrix shape"):
        metrics.polar_error(np.ones((4, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="do not broadcast"):
        metrics.polar_error(np.ones((2, 4, 3)), np.ones((3, 4, 3)))
    with pytest.raises(ValueError, match="matrix shape of A"):
        metrics.polar_error(np.ones((4, 3)), np.ones((4, 3)), reference=np.ones((3, 3)))


# --------------------------------------------------------------------------- spectrum


def test_singular_value_range_deviation_and_bound_violation_closed_form():
    s = np.array([1.3, 0.95, 0.6, 0.0])
    X, _, _ = rotate(pad(s, 7), 5)
    assert metrics.singular_value_range(X) == pytest.approx((0.0, 1.3), abs=TOL)
    assert metrics.singular_value_range(X, rank=3) == pytest.approx((0.6, 1.3), abs=TOL)
    assert metrics.singular_value_deviation(X) == pytest.approx(1.0, abs=TOL)
    assert metrics.singular_value_deviation(X, rank=3) == pytest.approx(0.4, abs=TOL)
    assert metrics.bound_violation(X) == pytest.approx(0.3, abs=TOL)
    assert metrics.bound_violation(0.5 * X) == 0.0


@pytest.mark.parametrize("rank", [0, 5, 2.0, True])
def test_bad_rank_raises(rank):
    with pytest.raises(ValueError, match="rank must be an integer"):
        metrics.singular_value_range(np.eye(4, 3), rank=rank)


def test_condition_number_matches_numpy_and_ignores_exact_zeros():
    A = gaussian(10, 6, seed=2)
    assert metrics.condition_number(A) == pytest.approx(np.linalg.cond(A), rel=1e-12)
    X, _, _ = rotate(pad([5.0, 2.0, 0.25, 0.0], 6), 7)
    assert metrics.condition_number(X) == pytest.approx(20.0, rel=1e-12)
    with pytest.raises(ValueError, match="rank"):
        metrics.condition_number(np.zeros((3, 3)))


# --------------------------------------------------------------------------- orthogonality


@pytest.mark.parametrize("wide", [False, True])
def test_orthogonality_defect_closed_form(wide):
    s = np.array([1.5, 1.0, 0.8])
    X, _, _ = rotate(pad(s, 6), 11)
    X = X.T if wide else X
    e = s**2 - 1  # eigenvalues of the short-side Gram minus I
    assert metrics.orthogonality_defect(X) == pytest.approx(math.sqrt((e**2).sum() / 3), abs=TOL)
    assert metrics.orthogonality_defect(X, norm="spectral") == pytest.approx(1.25, abs=TOL)
    # Max entry of a rotated Gram is not a spectral quantity: compare with numpy directly.
    G = X.T @ X if not wide else X @ X.T
    assert metrics.orthogonality_defect(X, norm="max") == pytest.approx(
        np.abs(G - np.eye(3)).max(), abs=TOL
    )


def test_orthogonality_defect_rank_deficient_variants():
    X = pad([1.0, 1.1, 0.1], 5)
    # X^T X - P_2 = diag(0, 0.21, 0.01): Frobenius / sqrt(2), spectral 0.21.
    expected = math.hypot(0.21, 0.01) / math.sqrt(2)
    assert metrics.orthogonality_defect(X, rank=2) == pytest.approx(expected, abs=TOL)
    # polar(A) = diag(1, 1, 0) padded, the partial isometry (scipy.linalg.polar would give
    # a full-rank unitary factor here), so P = Q^T Q = diag(1, 1, 0).
    Q = pad([1.0, 1.0, 0.0], 5)
    assert metrics.orthogonality_defect(X, reference=Q) == pytest.approx(expected, abs=TOL)
    assert metrics.orthogonality_defect(X, norm="spectral", rank=2) == pytest.approx(0.21, abs=TOL)
    # Full-identity defect sees the collapsed third direction.
    assert metrics.orthogonality_defect(X, norm="spectral") == pytest.approx(0.99, abs=TOL)


def test_orthogonality_defect_errors():
    with pytest.raises(ValueError, match="unknown norm 'nuc'; choose one of: fro, spectral, max"):
        metrics.orthogonality_defect(np.eye(3), norm="nuc")
    with pytest.raises(ValueError, match="at most one"):
        metrics.orthogonality_defect(np.eye(3), rank=2, reference=np.eye(3))


# --------------------------------------------------------------------------- dual gap, alignment


def test_dual_gap_and_alignment_closed_form():
    A = np.diag([3.0, 1.0])  # ||A||_* = 4, polar(A) = I
    assert metrics.dual_gap(A, np.eye(2)) == pytest.approx(0.0, abs=TOL)
    assert metrics.alignment(A, np.eye(2)) == pytest.approx(1.0, abs=TOL)
    X = np.diag([1.0, -1.0])  # <A, X> = 2
    assert metrics.dual_gap(A, X) == pytest.approx(0.5, abs=TOL)
    assert metrics.alignment(A, X) == pytest.approx(0.5, abs=TOL)
    # sigma(X) > 1 makes the gap negative but leaves the alignment scale-free.
    assert metrics.dual_gap(A, 1.5 * np.eye(2)) == pytest.approx(-0.5, abs=TOL)
    assert metrics.alignment(A, 1.5 * np.eye(2)) == pytest.approx(1.0, abs=TOL)


def test_dual_gap_of_polar_factor_is_zero_on_random_input():
    A = gaussian(9, 4, seed=4)
    Q = scipy.linalg.polar(A)[0]
    assert metrics.dual_gap(A, Q) == pytest.approx(0.0, abs=TOL)
    assert metrics.dual_gap(A, 0.25 * Q) == pytest.approx(0.75, abs=TOL)
    assert metrics.alignment(A, 7.0 * Q) == pytest.approx(1.0, abs=TOL)


@given(st.integers(0, 10_000))
def test_alignment_in_unit_interval_and_gap_nonnegative_in_the_ball(seed):
    A, X = gaussian(6, 3, seed=seed), gaussian(6, 3, seed=seed + 1)
    a = metrics.alignment(A, X)
    assert -1.0 - TOL <= a <= 1.0 + TOL  # Hoelder
    # For ||X||_2 <= 1, <A, X> <= ||A||_*, so the gap is >= 0.
    assert metrics.dual_gap(A, X / np.linalg.norm(X, 2)) >= -TOL


def test_dual_gap_and_alignment_reject_zero():
    with pytest.raises(ValueError, match=r"\|\|A\|\|_\*"):
        metrics.dual_gap(np.zeros((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\|\|X\|\|_2"):
        metrics.alignment(np.ones((3, 2)), np.zeros((3, 2)))


# --------------------------------------------------------------------------- rows and leverage


ROWS = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]])  # row norms 5, 2, 1


def test_row_statistics_on_known_rows():
    norms = np.array([5.0, 2.0, 1.0])
    np.testing.assert_allclose(metrics.row_norms(ROWS), norms, rtol=0, atol=TOL)
    assert metrics.row_norm_ratio(ROWS) == pytest.approx(5.0, abs=TOL)
    assert metrics.row_norm_cv(ROWS) == pytest.approx(norms.std() / norms.mean(), abs=TOL)
    # Tall 3 x 2: balanced squared row norm n/m = 2/3; worst row 25 / (2/3) - 1.
    assert metrics.row_norm_deviation(ROWS) == pytest.approx(36.5, abs=1e3 * U64)


def test_row_statistics_columns_axis_is_rows_of_transpose():
    W = ROWS.T  # wide 2 x 3; Aurora v1 balances its columns (target m/n = 2/3)
    np.testing.assert_allclose(metrics.row_norms(W, axis="columns"), [5.0, 2.0, 1.0], atol=TOL)
    assert metrics.row_norm_ratio(W, axis="columns") == pytest.approx(5.0, abs=TOL)
    assert metrics.row_norm_deviation(W, axis="columns") == pytest.approx(36.5, abs=1e3 * U64)
    # Rows of a wide semi-orthogonal matrix are unit: target 1, deviation 0.
    Q = scipy.linalg.polar(gaussian(5, 3))[0].T
    assert metrics.row_norm_deviation(Q) == pytest.approx(0.0, abs=TOL)
    with pytest.raises(ValueError, match="unknown axis 'diag'; choose one of: rows, columns"):
        metrics.row_norms(W, axis="diag")


def test_row_norm_ratio_is_inf_with_a_zero_row_and_cv_rejects_zero_matrix():
    X = ROWS.copy()
    X[1] = 0.0
    assert metrics.row_norm_ratio(X) == math.inf
    assert metrics.row_norm_ratio(np.zeros((3, 2))) == math.inf
    with pytest.raises(ValueError, match="mean row norm"):
        metrics.row_norm_cv(np.zeros((3, 2)))


def test_balanced_rows_have_zero_deviation_and_unit_ratio():
    # Scaled Hadamard columns: a 4 x 2 semi-orthogonal matrix with rows of norm sqrt(2/4).
    H = np.array([[1, 1], [1, -1], [1, 1], [1, -1]], dtype=np.float64) / 2
    assert metrics.row_norm_deviation(H) == pytest.approx(0.0, abs=TOL)
    assert metrics.row_norm_ratio(H) == pytest.approx(1.0, abs=TOL)
    assert metrics.row_norm_cv(H) == pytest.approx(0.0, abs=TOL)


def test_leverage_scores_closed_form_and_projector_diagonal():
    np.testing.assert_allclose(
        metrics.leverage_scores(pad([2.0, 0.5], 4)), [1.0, 1.0, 0.0, 0.0], atol=TOL
    )
    A = gaussian(12, 4, seed=6)
    basis = scipy.linalg.orth(A)  # orthonormal basis of range(A), independent of polarlab
    expected = (basis**2).sum(axis=1)  # diag of the projector
    lev = metrics.leverage_scores(A)
    np.testing.assert_allclose(lev, expected, atol=TOL)
    assert lev.sum() == pytest.approx(4.0, abs=TOL)
    B = gaussian(12, 2, seed=7) @ gaussian(2, 4, seed=8)  # rank 2
    assert metrics.leverage_scores(B).sum() == pytest.approx(2.0, abs=1e-12)


# --------------------------------------------------------------------------- input-cast floor


def test_input_cast_floor_matches_scipy_on_the_rounded_matrix():
    A = gaussian(16, 6, seed=9)
    assert metrics.input_cast_floor(A, "float64") == 0.0
    fl = torch.from_numpy(A).to(torch.bfloat16).to(torch.float64).numpy()
    expected = np.linalg.norm(scipy.linalg.polar(fl)[0] - scipy.linalg.polar(A)[0]) / math.sqrt(6)
    # Both references are good to ~u cond(A) ~ 1e-15, against a floor of ~u_bf16 ~ 1e-3.
    assert metrics.input_cast_floor(A, torch.bfloat16) == pytest.approx(expected, rel=1e-9)
    # First-order size: between u_bf16 / 100 and 10 u_bf16 cond(A) (not a tuned bound).
    cond = np.linalg.cond(A)
    assert 2.0**-8 / 100 < expected < 10 * 2.0**-8 * cond


def test_input_cast_floor_rejects_overflow():
    with pytest.raises(ValueError, match=r"overflows in torch\.float16"):
        metrics.input_cast_floor(1e6 * np.eye(3), "float16")


# ------------------------------------------------------------------ float64, kinds, batches


def test_low_precision_input_is_measured_in_float64():
    A = gaussian(16, 8, seed=10)
    Q = scipy.linalg.polar(A)[0]
    X16 = torch.from_numpy(Q).to(torch.bfloat16)
    X = X16.to(torch.float64).numpy()  # exactly the stored bf16 values
    expected_err = np.linalg.norm(X - Q) / math.sqrt(8)
    expected_defect = np.linalg.norm(X.T @ X - np.eye(8)) / math.sqrt(8)
    # Float64 evaluation of bf16 data: agreement to float64 round-off, far below bf16's u.
    assert metrics.polar_error(X16, A) == pytest.approx(expected_err, rel=1e-10)
    assert metrics.orthogonality_defect(X16) == pytest.approx(expected_defect, rel=1e-10)
    assert isinstance(metrics.polar_error(X16, A), float)


SCALAR_METRICS = {
    "polar_error": lambda X, A: metrics.polar_error(X, A),
    "spectral_error": lambda X, A: metrics.spectral_error(X, A),
    "distance_to_polar": lambda X, A: metrics.distance_to_polar(X, A),
    "dual_gap": lambda X, A: metrics.dual_gap(A, X),
    "alignment": lambda X, A: metrics.alignment(A, X),
    "sigma_min": lambda X, A: metrics.singular_value_range(X)[0],
    "sigma_max": lambda X, A: metrics.singular_value_range(X, rank=2)[1],
    "singular_value_deviation": lambda X, A: metrics.singular_value_deviation(X),
    "bound_violation": lambda X, A: metrics.bound_violation(X),
    "orthogonality_defect": lambda X, A: metrics.orthogonality_defect(X, norm="max"),
    "orthogonality_defect_rank": lambda X, A: metrics.orthogonality_defect(X, rank=2),
    "condition_number": lambda X, A: metrics.condition_number(A),
    "row_norm_ratio": lambda X, A: metrics.row_norm_ratio(X),
    "row_norm_cv": lambda X, A: metrics.row_norm_cv(X, axis="columns"),
    "row_norm_deviation": lambda X, A: metrics.row_norm_deviation(X),
    "input_cast_floor": lambda X, A: metrics.input_cast_floor(A, "float16"),
}
VECTOR_METRICS = {
    "row_norms": lambda X, A: metrics.row_norms(X),
    "leverage_scores": lambda X, A: metrics.leverage_scores(A),
}


def batch_pair():
    A = gaussian(2, 3, 7, 4, seed=12)
    X = 1.1 * A / np.linalg.norm(A, 2, axis=(-2, -1), keepdims=True)  # sigma_max(X) = 1.1
    return X, A


@pytest.mark.parametrize("name", sorted(SCALAR_METRICS))
def test_scalar_metrics_batch_equals_per_slice_and_kinds_agree(name):
    f = SCALAR_METRICS[name]
    X, A = batch_pair()
    batched = f(X, A)
    assert isinstance(batched, np.ndarray) and batched.dtype == np.float64
    assert batched.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            single = f(X[i, j], A[i, j])
            assert isinstance(single, float)
            assert batched[i, j] == pytest.approx(single, rel=1e-12, abs=TOL)
    # Torch input (float64 and float32) gives numpy results equal to the numpy path.
    Xt, At = torch.from_numpy(X), torch.from_numpy(A)
    np.testing.assert_allclose(f(Xt, At), batched, rtol=1e-12, atol=TOL)
    X32, A32 = X.astype(np.float32), A.astype(np.float32)
    expected32 = f(X32.astype(np.float64), A32.astype(np.float64))  # same data, cast up
    np.testing.assert_allclose(
        f(torch.from_numpy(X32), torch.from_numpy(A32)), expected32, rtol=1e-12, atol=TOL
    )


@pytest.mark.parametrize("name", sorted(VECTOR_METRICS))
def test_vector_metrics_batch_equals_per_slice(name):
    f = VECTOR_METRICS[name]
    X, A = batch_pair()
    batched = f(torch.from_numpy(X), torch.from_numpy(A))
    assert isinstance(batched, np.ndarray) and batched.dtype == np.float64
    assert batched.shape == (2, 3, 7)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(batched[i, j], f(X[i, j], A[i, j]), rtol=1e-12, atol=TOL)


def test_one_reference_broadcasts_against_a_stack_of_iterates():
    A = gaussian(8, 3, seed=13)
    Q = scipy.linalg.polar(A)[0]
    stack = np.stack([c * Q for c in (0.5, 1.0, 1.25)])
    np.testing.assert_allclose(metrics.polar_error(stack, A), [0.5, 0.0, 0.25], atol=TOL)


def test_inputs_are_not_modified():
    X, A = batch_pair()
    X0, A0 = X.copy(), A.copy()
    for f in [*SCALAR_METRICS.values(), *VECTOR_METRICS.values()]:
        f(X, A)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(A, A0)


def test_package_reexports_each_module_name_as_the_same_object():
    modules = (metrics.precision, metrics.spectrum, metrics.duality, metrics.rows)
    exported = [name for module in modules for name in module.__all__]
    assert sorted(exported) == sorted(metrics.__all__)
    for module in modules:
        for name in module.__all__:
            assert getattr(metrics, name) is getattr(module, name)
    assert metrics.Axis is metrics.rows.Axis  # typing alias, importable as before the split


# --- degenerate shapes: an error, not a crash or a nan -----------------------------------

_SCALAR_METRICS = {
    "polar_error": lambda A: metrics.polar_error(A, A),
    "spectral_error": lambda A: metrics.spectral_error(A, A),
    "distance_to_polar": lambda A: metrics.distance_to_polar(A, A),
    "input_cast_floor": lambda A: metrics.input_cast_floor(A, "float32"),
    "singular_value_range": lambda A: metrics.singular_value_range(A),
    "singular_value_deviation": lambda A: metrics.singular_value_deviation(A),
    "bound_violation": lambda A: metrics.bound_violation(A),
    "condition_number": lambda A: metrics.condition_number(A),
    "orthogonality_defect": lambda A: metrics.orthogonality_defect(A),
    "dual_gap": lambda A: metrics.dual_gap(A, A),
    "alignment": lambda A: metrics.alignment(A, A),
    "row_norm_ratio": lambda A: metrics.row_norm_ratio(A),
    "row_norm_cv": lambda A: metrics.row_norm_cv(A),
    "row_norm_deviation": lambda A: metrics.row_norm_deviation(A),
}


@pytest.mark.parametrize("shape", [(0, 3), (4, 0), (2, 0, 3), (0, 0)])
@pytest.mark.parametrize("name", sorted(_SCALAR_METRICS))
def test_scalar_metrics_reject_an_empty_matrix_dimension(name, shape):
    with pytest.raises(ValueError, match="empty dimension"):
        _SCALAR_METRICS[name](np.zeros(shape))


def test_every_scalar_metric_is_in_the_degenerate_shape_list():
    per_row = {"row_norms", "leverage_scores"}
    assert set(metrics.__all__) - per_row == set(_SCALAR_METRICS)


def test_per_row_quantities_of_empty_matrices_have_the_right_shape():
    assert metrics.row_norms(np.zeros((0, 3))).shape == (0,)
    assert np.array_equal(metrics.row_norms(np.zeros((4, 0))), np.zeros(4))
    # polar of a 4 x 0 matrix is 4 x 0: every row has leverage 0
    assert np.array_equal(metrics.leverage_scores(np.zeros((4, 0))), np.zeros(4))
    assert metrics.leverage_scores(np.zeros((0, 3))).shape == (0,)


def test_an_empty_batch_of_matrices_gives_an_empty_result():
    out = metrics.polar_error(np.zeros((0, 4, 3)), np.ones((0, 4, 3)))
    assert isinstance(out, np.ndarray) and out.shape == (0,)
