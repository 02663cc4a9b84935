"""The array adapter: kinds, dtypes and devices round-trip; bad input is named."""

import numpy as np
import pytest
import torch

from polarlab._arrays import as_work, resolve_dtype, to_caller, unit_roundoff


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_round_trip_keeps_kind_dtype_and_values(dtype):
    A = np.arange(12, dtype=dtype).reshape(3, 4)
    work, kind = as_work(A)
    back = to_caller(work, kind)
    assert isinstance(back, np.ndarray) and back.dtype == dtype
    np.testing.assert_array_equal(back, A)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_torch_round_trip_keeps_dtype(dtype):
    A = torch.arange(12, dtype=dtype).reshape(2, 2, 3)
    work, kind = as_work(A)
    back = to_caller(work.to(torch.float64), kind)
    assert back.dtype == dtype and back.shape == A.shape
    assert torch.equal(back, A)


def test_out_dtype_overrides():
    work, kind = as_work(np.ones((2, 2)))
    assert to_caller(work, kind, "float32").dtype == np.float32


def test_negative_strides_are_accepted_without_touching_input():
    A = np.arange(6.0).reshape(2, 3)[:, ::-1]
    before = A.copy()
    work, _ = as_work(A)
    np.testing.assert_array_equal(work.numpy(), before)
    np.testing.assert_array_equal(A, before)


def test_negative_stride_on_a_length_one_axis_is_copied_once():
    # numpy flags this view contiguous, so np.ascontiguousarray would return it uncopied
    A = np.arange(3.0).reshape(1, 3)[::-1]
    assert A.strides[0] < 0 and A.flags.c_contiguous
    work, _ = as_work(A)
    np.testing.assert_array_equal(work.numpy(), A)
    assert not np.shares_memory(work.numpy(), A)


def test_arrays_torch_can_wrap_are_not_copied():
    A = np.arange(12.0).reshape(3, 4)
    for view in (A, A.T, A[:, 1:3], A[::2]):
        work, _ = as_work(view)
        assert np.shares_memory(work.numpy(), A)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones((2, 2), dtype=np.int64), "real floating dtype"),
        (np.ones((2, 2), dtype=bool), "real floating dtype"),
        (np.ones((2, 2), dtype=np.complex128), "complex"),
        (torch.ones(2, 2, dtype=torch.complex64), "complex"),
        (torch.ones(2, 2, dtype=torch.int32), "real floating dtype"),
        (np.ones(3), "at least 2 dimensions"),
        (np.array([[1.0, np.nan]]), "NaN or infinite"),
        (torch.tensor([[1.0, float("inf")]]), "NaN or infinite"),
    ],
)
def test_bad_input_is_named(bad, message):
    with pytest.raises(ValueError, match=message):
        as_work(bad)


def test_non_array_is_a_type_error():
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        as_work([[1.0, 2.0]])


def test_non_finite_passes_when_check_disabled():
    work, _ = as_work(np.array([[np.nan, 1.0]]), check_finite=False)
    assert torch.isnan(work).any()


def test_resolve_dtype_names_and_errors():
    assert resolve_dtype("float16") is torch.float16
    assert resolve_dtype(np.float32) is torch.float32
    assert resolve_dtype(torch.bfloat16) is torch.bfloat16
    assert resolve_dtype(None) is None
    with pytest.raises(ValueError, match="choose one of"):
        resolve_dtype("int8")


def test_unit_roundoff_values():
    # u = 2^-p for p significand bits incl. the implicit one: 53, 24, 11, 8.
    assert unit_roundoff("float64") == 2.0**-53
    assert unit_roundoff(torch.float32) == 2.0**-24
    assert unit_roundoff("float16") == 2.0**-11
    assert unit_roundoff("bfloat16") == 2.0**-8
