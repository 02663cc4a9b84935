"""Bad and edge-case input, for every registered polar method.

What is allowed: real floating numpy arrays or torch tensors of shape (..., m, n),
finite. Everything else raises an error that says what was wrong and what is allowed.
Edge cases are defined, the same for every method: empty in -> empty of the same
shape; a zero matrix -> zeros with a RuntimeWarning. Inputs are never modified.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import polarlab

METHODS = polarlab.polar_methods()
ITERATIVE = ("qdwh", "newton")


def _tall(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 5, 3))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "A",
    [
        np.arange(12).reshape(4, 3),
        np.ones((4, 3), dtype=np.int32),
        np.ones((4, 3), dtype=bool),
        torch.ones(4, 3, dtype=torch.int64),
        torch.ones(4, 3, dtype=torch.bool),
    ],
    ids=["np-int64", "np-int32", "np-bool", "torch-int64", "torch-bool"],
)
def test_non_floating_dtypes_are_rejected(method, A):
    with pytest.raises(ValueError, match="expected a real floating dtype"):
        polarlab.polar(A, method=method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "A",
    [np.ones((4, 3), dtype=np.complex128), torch.ones(4, 3, dtype=torch.complex64)],
    ids=["numpy", "torch"],
)
def test_complex_input_is_rejected(method, A):
    with pytest.raises(ValueError, match=r"complex.*real matrices only"):
        polarlab.polar(A, method=method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "A", [np.ones(3), np.array(2.0), torch.ones(3)], ids=["np-1d", "np-0d", "torch-1d"]
)
def test_fewer_than_two_dimensions_are_rejected(method, A):
    with pytest.raises(ValueError, match=r"at least 2 dimensions \(\.\.\., m, n\)"):
        polarlab.polar(A, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_other_containers_are_rejected(method):
    with pytest.raises(TypeError, match="numpy array or a torch tensor, not list"):
        polarlab.polar([[1.0, 0.0], [0.0, 1.0]], method=method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(method, bad):
    A = _tall()
    A[1, 2, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        polarlab.polar(A, method=method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 4), (0, 4, 3)])
def test_empty_input_gives_empty_output_of_the_same_shape(method, shape):
    for A in (np.zeros(shape), torch.zeros(shape, dtype=torch.float32)):
        U = polarlab.polar(A, method=method)
        assert type(U) is type(A) and tuple(U.shape) == shape and U.dtype == A.dtype


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
def test_zero_matrix_gives_zeros_and_warns(method, shape):
    with pytest.warns(RuntimeWarning, match="exactly zero"):
        U = polarlab.polar(np.zeros(shape), method=method)
    assert U.shape == shape and not np.any(U)


@pytest.mark.parametrize("method", METHODS)
def test_zero_slice_in_a_batch_gives_zeros_and_leaves_the_others_alone(method):
    A = _tall(1)
    A[0] = 0.0
    with pytest.warns(RuntimeWarning, match="1 of 2"):
        U = polarlab.polar(A, method=method)
    assert not np.any(U[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the non-zero slice alone must not warn
        alone = polarlab.polar(A[1], method=method)
    np.testing.assert_array_equal(np.isfinite(U[1]), True)
    # same slice, same method: equal to rounding of a few n u (entries of order 1)
    np.testing.assert_allclose(U[1], alone, rtol=0, atol=1e-13)


def test_unknown_method_lists_the_registered_names():
    with pytest.raises(ValueError, match="unknown method 'zolo'; choose one of: ") as err:
        polarlab.polar(_tall(), method="zolo")
    for name in METHODS:
        assert name in str(err.value)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_option_is_rejected_with_the_allowed_ones(method):
    with pytest.raises(ValueError, match=rf"method '{method}' takes no option\(s\) bogus"):
        polarlab.polar(_tall(), method=method, bogus=1)


def test_non_iterative_method_has_no_iterates():
    with pytest.raises(ValueError, match="'svd' is not iterative; methods with iterates: "):
        polarlab.polar_iterates(_tall(), "svd", 2)


@pytest.mark.parametrize("method", ITERATIVE)
@pytest.mark.parametrize("steps", [0, -1, 2.0])
def test_iterates_need_a_positive_integer_step_count(method, steps):
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        polarlab.polar_iterates(_tall(), method, steps)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("wide", [False, True])
def test_inputs_are_never_modified(method, wide):
    A = _tall(2)
    if wide:
        A = np.ascontiguousarray(A.swapaxes(-1, -2))
    T = torch.from_numpy(A.copy()).to(torch.float32)
    A_before, T_before = A.copy(), T.clone()
    polarlab.polar(A, method=method)
    polarlab.polar(T, method=method)
    np.testing.assert_array_equal(A, A_before)
    assert torch.equal(T, T_before)
