"""The contract of every array routine in the catalogue (``contracts.entries.ENTRIES``).

Each case ends in a correct answer (the float64 reference within the tolerance rule of
``contracts.inputs``, plus the method's documented error bound) or the documented error
(``ValueError``/``TypeError`` whose message names the argument). No case may modify
its input.

Sampling rule (to stay within the time budget): dtypes are crossed with array kinds on
contiguous input (bfloat16/float16 on small shapes, torch only where numpy lacks the
dtype); views (transposed, sliced, read-only, negative strides) are crossed with kinds
in float64 only; edge cases (shapes, zero, rank deficiency, conditioning, bad input) run
in float64 (torch where the entry takes torch), the data argument (``Entry.data``: the
matrix, a tangent map's vector, an update's gradient) carrying the defect; routines
marked ``slow`` (pure-Python or many iterations) skip bfloat16, float16 and the
condition-number sweep.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from .contract import (
    assert_correct,
    call,
    check_kind,
    compute_of,
    error_of,
    expected,
    raises_naming,
    range_error,
    singular_values_in_0_1,
    spectral_ceiling,
    stability_errors,
    tolerance,
    values,
)
from .entries import ENTRIES, Entry
from .inputs import (
    LAYOUTS,
    LOW_PRECISION,
    NUMPY_DTYPES,
    UNIT_ROUNDOFF,
    as64,
    matrix,
    to_kind,
    view,
)
from .reasons import param

SHAPE = (5, 3)
SMALL = (4, 3)


def _build(entry: Entry, shape, seed=0, **kw):
    if entry.build is not None:
        return entry.build(shape, seed)
    return (matrix(shape, seed=seed, **kw),)


def _arrays(entry: Entry, arrays64, dtype: str, kind: str, layout: str = "contiguous"):
    """The arrays of a case: the first in ``layout``, the others contiguous."""
    first = view(arrays64[0], dtype, kind, layout)
    return [first] + [to_kind(a, dtype, kind) for a in arrays64[1:]]


def _kinds(entry: Entry, dtype: str):
    return [k for k in entry.kinds if k == "torch" or dtype in NUMPY_DTYPES]


# ------------------------------------------------------------------ dtypes, kinds and views
def _dtype_cases():
    for e in ENTRIES:
        dtypes = [d for d in e.dtypes if not (e.slow and d in LOW_PRECISION)]
        for dtype in dtypes:
            for kind in _kinds(e, dtype):
                yield param("dtype", e.name, f"{dtype}-{kind}", e, dtype, kind)


@pytest.mark.parametrize(("entry", "dtype", "kind"), list(_dtype_cases()))
def test_every_claimed_dtype_and_kind(entry, dtype, kind):
    shape = SMALL if dtype in LOW_PRECISION else SHAPE
    assert_correct(entry, _arrays(entry, _build(entry, shape), dtype, kind), dtype)


def _layout_cases():
    for e in ENTRIES:
        for kind in e.kinds:
            for layout in LAYOUTS:
                if layout in ("readonly", "negative") and kind == "torch":
                    continue  # torch has neither read-only tensors nor negative strides
                yield param("layout", e.name, f"{layout}-{kind}", e, layout, kind)


@pytest.mark.parametrize(("entry", "layout", "kind"), list(_layout_cases()))
def test_strided_and_read_only_views(entry, layout, kind):
    assert_correct(entry, _arrays(entry, _build(entry, SHAPE), "float64", kind, layout), "float64")


# ------------------------------------------------------------------ shapes and batches
SHAPES = {"1x1": (1, 1), "1xn": (1, 4), "nx1": (4, 1), "wide": (3, 5), "square": (4, 4)}


def _shape_cases():
    for e in ENTRIES:
        for label, shape in SHAPES.items():
            if e.tall_only and shape[0] < shape[1]:
                continue
            yield param("shape", e.name, label, e, shape)


@pytest.mark.parametrize(("entry", "shape"), list(_shape_cases()))
def test_small_and_wide_shapes(entry, shape):
    assert_correct(
        entry, _arrays(entry, _build(entry, shape), "float64", entry.kinds[-1]), "float64"
    )


@pytest.mark.parametrize("entry", [param("batch", e.name, "3", e) for e in ENTRIES])
def test_batched_equals_per_slice(entry):
    kind = entry.kinds[-1]
    arrays = _arrays(entry, _build(entry, (3, *SHAPE), seed=4), "float64", kind)
    whole = values(call(entry, arrays))
    for i in range(3):
        piece = values(call(entry, [a[i] for a in arrays]))
        err = error_of(entry, piece, whole[i])
        assert err <= tolerance(entry, [a[i] for a in arrays], "float64"), (i, err)


def _shapes_like(entry: Entry, shape):
    """The shapes of the entry's arrays for a first array of ``shape`` (..., m, n)."""
    *batch, m, n = shape
    out = []
    for a in _build(entry, SHAPE):
        k = min(m, n)
        table = {SHAPE: (m, n), SHAPE[:1]: (m,), (5, 5): (m, m), (3, 3): (k, k)}
        out.append((*batch, *table[a.shape]))
    return out


EMPTY = {"0xn": (0, 3), "mx0": (3, 0), "0x0": (0, 0), "batch0": (0, 5, 3)}


def _empty_cases():
    for e in ENTRIES:
        for label, shape in EMPTY.items():
            if e.tall_only and shape[-2] < shape[-1]:
                continue
            if 0 not in _shapes_like(e, shape)[0]:
                continue  # a square-only kernel: no empty square matrix of this shape
            yield param("empty", e.name, label, e, shape)


@pytest.mark.parametrize(("entry", "shape"), list(_empty_cases()))
def test_every_empty_shape(entry, shape):
    """Empty in, empty out of the documented shape; metrics: the metrics' documented rule."""
    arrays = [torch.zeros(s, dtype=torch.float64) for s in _shapes_like(entry, shape)]
    if entry.empty == "metric" and 0 in shape[-2:] and entry.out != "rows":
        raises_naming(entry, arrays, entry.arrays, ValueError, "empty dimension")
        return
    result = call(entry, arrays)
    got = values(result).shape
    if entry.out == "matrix":
        assert got == tuple(arrays[0].shape)
    elif entry.out == "rows":
        assert got == shape[:-1]
    elif entry.out == "pair":
        assert got == (*shape[:-2], 2)
    else:
        assert got == shape[:-2]


# ------------------------------------------------------------------ values
def test_zero_matrix_documented():
    """Checked below per entry; here the documented rule itself (polar(0) = 0, warning)."""
    import polarlab

    with pytest.warns(RuntimeWarning):
        assert not np.any(polarlab.polar(np.zeros((3, 2))))


def _call_or_rank_error(entry: Entry, arrays, what: str):
    """``(result, its finite float64 values)``, or ``None`` for the documented error of a
    routine that needs full rank (``newton``, the exact balanced solver), which says so."""
    try:
        result = call(entry, arrays)
    except ValueError as error:
        message = str(error)
        assert "rank" in message or "singular" in message, f"{entry.name}: {message}"
        return None
    R = values(result)
    assert np.all(np.isfinite(R)), f"{entry.name}: non-finite result for {what} input"
    return result, R


def _with_data(entry: Entry, A64: np.ndarray, seed: int = 0):
    """Valid arrays of the entry with its data argument replaced by ``A64``."""
    arrays = list(_arrays(entry, _build(entry, A64.shape, seed), "float64", entry.kinds[-1]))
    arrays[entry.data] = to_kind(A64, "float64", entry.kinds[-1])
    return arrays


@pytest.mark.parametrize("entry", [param("zero", e.name, "5x3", e) for e in ENTRIES])
def test_zero_matrix(entry):
    """A zero matrix: polar factor zero with a RuntimeWarning; metrics: the documented value."""
    arrays = _with_data(entry, np.zeros(SHAPE))
    if entry.polar_like:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = entry.pick(entry.call(*arrays))
        assert not np.any(as64(result)), "a zero matrix has polar factor zero"
        assert any(issubclass(w.category, RuntimeWarning) for w in caught), "no RuntimeWarning"
        return
    try:
        result = call(entry, arrays)
    except ValueError as error:  # undefined at zero: a clear error, naming why
        message = str(error)
        assert any(w in message for w in ("zero", "rank", "singular", entry.arrays[entry.data]))
        return
    if entry.zero is not None:
        assert np.all(values(result) == entry.zero)
        return
    assert np.all(np.isfinite(values(result))), f"{entry.name}: non-finite result for zero input"
    if entry.reference is not None:
        assert error_of(entry, result, expected(entry, arrays)) <= tolerance(
            entry, arrays, "float64"
        )


@pytest.mark.parametrize("entry", [param("rank", e.name, "rank1-5x3", e) for e in ENTRIES])
def test_rank_deficient(entry):
    """Rank 1: a polar factor on the range (any completion), or a documented rank error."""
    A64 = matrix(SHAPE, rank=1, seed=3)
    arrays = _with_data(entry, A64)
    called = _call_or_rank_error(entry, arrays, "rank-1")
    if called is None:
        return
    result, R = called
    tol = tolerance(entry, arrays, "float64")
    if entry.polar_like:
        assert range_error(R, A64) <= tol
        if "exact" in entry.tags:
            assert singular_values_in_0_1(R) <= tol
    elif entry.reference is not None:
        assert error_of(entry, result, expected(entry, arrays)) <= tol


KAPPAS = (1e3, 1e8, 1e15)


@pytest.mark.parametrize(
    ("entry", "kappa"),
    [param("kappa", e.name, f"{k:.0e}", e, k) for e in ENTRIES for k in KAPPAS if not e.slow],
)
def test_ill_conditioned(entry, kappa):
    """Up to 1e15: exact polar methods stay backward stable; approximate ones stay bounded."""
    A64 = matrix(SHAPE, kappa=kappa, seed=5)
    arrays = _with_data(entry, A64)
    called = _call_or_rank_error(entry, arrays, f"kappa {kappa:.0e}")
    if called is None:
        return
    result, R = called
    if entry.polar_like and "exact" in entry.tags:
        orth, back = stability_errors(R, A64)
        bound = tolerance(entry, arrays, "float64")
        assert orth <= bound and back <= bound, (orth, back, bound)
    elif entry.polar_like:
        s = np.linalg.svd(R, compute_uv=False)
        assert s.max() <= spectral_ceiling(entry, A64) and s.max() >= 0.5, s
    elif entry.reference is not None and kappa <= entry.max_kappa:
        assert error_of(entry, result, expected(entry, arrays)) <= tolerance(
            entry, arrays, "float64", kappa
        )


# ------------------------------------------------------------------ bad input
def _bad_cases():
    for e in ENTRIES:
        if not e.validates:
            continue
        for label in ("nan", "inf", "-inf", "ndim1", "int64", "bool", "complex", "list"):
            yield param("bad", e.name, label, e, label)


@pytest.mark.parametrize(("entry", "bad"), list(_bad_cases()))
def test_bad_input_is_a_clear_error(entry, bad):
    """The data argument carries the defect; the message must name it.

    Optimizer updates never read the data on the host (``check_finite=False``, as in a
    step): for them non-finite input must be refused or leave the weight unchanged.
    """
    arrays = list(_arrays(entry, _build(entry, SHAPE), "float64", entry.kinds[-1]))
    name = entry.arrays[entry.data]
    A = arrays[entry.data]
    if bad in ("nan", "inf", "-inf"):
        A = A.clone()
        A[1, 2] = float(bad)
        arrays[entry.data] = A
        if "update" in entry.tags:
            try:
                W = call(entry, arrays)
            except ValueError as error:
                assert name in str(error), str(error)
                return
            assert torch.equal(W, arrays[0]), "a non-finite gradient changed the weight"
            return
        raises_naming(entry, arrays, name, ValueError, "NaN or infinite")
        return
    if bad == "ndim1":
        arrays[entry.data] = A[0]
        raises_naming(entry, arrays, name, ValueError, "dimensions")
        return
    if bad == "list":
        arrays[entry.data] = A.tolist()
        raises_naming(entry, arrays, name, TypeError)
        return
    bad_array = {"int64": A.to(torch.int64), "bool": A > 0, "complex": A.to(torch.complex128)}
    arrays[entry.data] = bad_array[bad]
    raises_naming(entry, arrays, name, ValueError)


def _mixed_cases():
    for e in ENTRIES:
        if len(e.arrays) < 2 or "update" in e.tags:
            continue
        for first, second in (("float64", "float32"), ("float32", "float64")):
            yield param("mixed", e.name, f"{first}-{second}", e, first, second)


@pytest.mark.parametrize(("entry", "first", "second"), list(_mixed_cases()))
def test_mixed_dtypes_between_arguments(entry, first, second):
    """Arguments of two dtypes are promoted (or refused naming the argument), never crash."""
    a64 = _build(entry, SHAPE)
    arrays = [to_kind(a64[0], first, "torch")] + [to_kind(a, second, "torch") for a in a64[1:]]
    result = call(entry, arrays)
    reference = expected(entry, [a.to(torch.float64) for a in arrays])
    assert error_of(entry, result, reference) <= tolerance(entry, arrays, "float32")


# ------------------------------------------------------------------ autograd and meta
def _tensor_cases(test, *, updates=True):
    return [
        param(test, e.name, "float64", e)
        for e in ENTRIES
        if e.out == "matrix" and (updates or "update" not in e.tags)
    ]


# Optimizer updates run outside autograd, as torch.optim's do (an update is not a function
# anything differentiates): they are held to the meta contract only.
@pytest.mark.parametrize("entry", _tensor_cases("grad", updates=False))
def test_requires_grad_is_differentiated_or_refused(entry):
    """Never a silent detach: either the result carries a correct gradient or a clear error.

    The gradient of ``<W, f(A)>`` along a random direction ``D`` is checked against a
    central difference with step ``h = u^(1/3)`` of the compute dtype, extrapolated from
    ``h`` and ``h/2`` (Richardson: error ``O(h^4) + O(u / h)``, at most ``O(u^(2/3))``;
    Higham 2002, Sec. 1.14): relative ``100 u^(2/3)``. Polynomial iterations (degree
    ``5^k``) are differenced with their float64 variant: in float32 the truncation term of
    such a polynomial swamps the check.
    """
    d = entry.data
    arrays = [torch.from_numpy(a) for a in _build(entry, SHAPE)]
    arrays[d] = arrays[d].clone().requires_grad_(True)
    try:
        result = entry.pick(entry.call(*arrays))
    except (ValueError, TypeError, RuntimeError) as error:
        assert "requires_grad" in str(error) or "grad" in str(error), str(error)
        return
    assert isinstance(result, torch.Tensor) and result.requires_grad, "silently detached"
    W = torch.from_numpy(np.random.default_rng(1).standard_normal(result.shape))
    (g,) = torch.autograd.grad((result * W).sum(), arrays[d])
    D = torch.from_numpy(np.random.default_rng(2).standard_normal(arrays[d].shape))
    fn = entry.call
    if entry.precise is not None:  # iterations in float64, where a difference is meaningful
        fn = entry.precise
        result = entry.pick(fn(*arrays))
        (g,) = torch.autograd.grad((result * W).sum(), arrays[d])
    u = UNIT_ROUNDOFF[compute_of(entry, "float64") if entry.precise is None else "float64"]
    h = u ** (1 / 3)

    def along(t):
        moved = list(arrays)
        moved[d] = arrays[d].detach() + t * D
        return (entry.pick(fn(*moved)) * W).sum()

    with torch.no_grad():  # Richardson: 4 D(h/2) - D(h) over 3 cancels the h^2 term
        fd = (
            4 * float(along(h / 2) - along(-h / 2)) / h - float(along(h) - along(-h)) / (2 * h)
        ) / 3
    assert abs(float((g * D).sum()) - fd) <= 100 * u ** (2 / 3) * max(1.0, abs(fd))


@pytest.mark.parametrize("entry", _tensor_cases("meta"))
def test_meta_tensors_propagate_shapes_or_refuse(entry):
    arrays = [
        torch.empty(a.shape, device="meta", dtype=torch.float32) for a in _build(entry, SHAPE)
    ]
    try:
        result = call(entry, arrays)
    except (ValueError, TypeError, NotImplementedError) as error:
        assert "meta" in str(error), str(error)
        return
    assert result.device.type == "meta" and result.shape == arrays[0].shape
    check_kind(entry, result, arrays[0])


@pytest.mark.parametrize(
    ("entry", "state"),
    [
        param("state", e.name, label, e, value)
        for e in ENTRIES
        if "state" in e.tags
        for label, value in (("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")))
    ],
)
def test_a_state_that_makes_no_sense_is_refused(entry, state):
    """A second moment is a mean of squares: negative or non-finite state names ``v``."""
    U, v = _build(entry, SHAPE)
    v = v.copy()
    v[1] = state
    raises_naming(entry, [torch.from_numpy(U), torch.from_numpy(v)], entry.arrays[1], ValueError)


@pytest.mark.parametrize(
    "entry",
    [
        param("neg1", e.name, "1x3", e)
        for e in ENTRIES
        if "numpy" in e.kinds and e.validates and not e.tall_only
    ],
)
def test_a_negative_stride_on_a_length_one_axis(entry):
    """``np.ones((1, 3))[::-1]``: numpy calls it contiguous, torch refuses its stride."""
    arrays = _arrays(entry, _build(entry, (1, 3)), "float64", "numpy", "negative")
    assert_correct(entry, arrays, "float64")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "entry", [param("cuda", e.name, "float32", e) for e in ENTRIES if "torch" in e.kinds]
)
def test_cuda_tensors_give_the_reference_on_their_device(entry):
    """The claimed device: CUDA input gives a CUDA result equal to the float64 reference."""
    arrays = [torch.from_numpy(a).to("cuda", torch.float32) for a in _build(entry, SHAPE)]
    result = call(entry, arrays)
    if isinstance(result, torch.Tensor):
        assert result.device.type == "cuda"
    reference = expected(entry, [a.cpu() for a in arrays])
    assert error_of(entry, result, reference) <= tolerance(entry, arrays, "float32")
