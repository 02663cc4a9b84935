"""Tests for polarlab.polar.polynomial: the one Newton-Schulz engine.

Expected values come from the exact scalar picture (REFERENCE "scalar picture":
sigma_i(X_k) = f_k(sigma_i / (c ||G||_F + eps)) with G's singular vectors),
evaluated from numpy's SVD of G and the schedule's float64 scalar map, and from
the published worst-case table of the Polar Express paper's reproduction
(arXiv 2505.16932; table "worst-case error versus steps").
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import torch

import polarlab
from polarlab import schedules
from polarlab.matrices import families, prescribed_spectrum, random_matrix
from polarlab.polar import polynomial
from polarlab.polar.polynomial import NORMALIZATIONS, compute_dtype, newton_schulz

U64 = 2.0**-53  # float64 unit round-off
U_BF16 = 2.0**-8

# float64 runs versus the scalar oracle: rounding u = 1.1e-16 per operation,
# amplified at most by the composition's slope (<= prod |a_t| ~ 1e4 for the
# longest default runs) and by sum |coefficients| ~ 50 in a step: ~1e-11 at
# worst, so 1e-10 cannot hide a wrong row, factor or eps (those change values
# by >= 1e-7).
TOL64 = 1e-10


def test_docstring_examples():
    result = doctest.testmod(polynomial, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _steps_for(sched: schedules.Schedule) -> int:
    """Default steps, clipped to a fixed-length table."""
    if sched.beyond == "error":
        return min(sched.default_steps, len(sched))
    return sched.default_steps


def _oracle(G: np.ndarray, sched: schedules.Schedule, steps: int, scale: float) -> np.ndarray:
    """U f_k(Sigma / (c s + eps)) V^T from numpy's SVD of G (s: the norm bound)."""
    W, sigma, Vt = np.linalg.svd(G, full_matrices=False)
    f = sched.apply_scalar(sigma / (sched.input_factor * scale + sched.eps), steps)
    return (W * f) @ Vt


def _inputs():
    rng = np.random.default_rng(7)
    yield "gaussian_wide", rng.standard_normal((12, 40))
    sigma = np.geomspace(1.0, 1e-3, 10)
    yield "prescribed_tall", prescribed_spectrum(sigma, 30, 10, seed=3, like="numpy")


@pytest.mark.parametrize("name", schedules.names())
def test_every_schedule_matches_scalar_oracle(name):
    sched = schedules.get(name)
    steps = _steps_for(sched)
    for label, G in _inputs():
        X = newton_schulz(G, name, steps, dtype="float64")
        expected = _oracle(G, sched, steps, np.linalg.norm(G))
        # singular values: |f_k| of the normalised singular values, sorted
        sigma = np.linalg.svd(G, compute_uv=False)
        f = sched.apply_scalar(sched.normalize_scalar(sigma, np.linalg.norm(G)), steps)
        sv = np.linalg.svd(X, compute_uv=False)
        assert np.max(np.abs(sv - np.sort(np.abs(f))[::-1])) <= TOL64, (name, label)
        # singular vectors too: the whole matrix equals U f(S) V^T
        assert np.max(np.abs(X - expected)) <= TOL64, (name, label)


@pytest.mark.parametrize(
    "name", [n for n in schedules.names() if schedules.get(n).beyond != "error"]
)
def test_steps_past_the_table_follow_the_repeat_rule(name):
    sched = schedules.get(name)
    steps = len(sched) + 2
    G = np.random.default_rng(1).standard_normal((20, 8))
    X = newton_schulz(G, name, steps, dtype="float64")
    assert np.max(np.abs(X - _oracle(G, sched, steps, np.linalg.norm(G)))) <= TOL64


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_normalizations_match_scalar_oracle(normalization):
    G = random_matrix("logspaced", 36, 12, seed=5, like="numpy", cond=1e4)
    sched = schedules.get("polar_express")
    sigma = np.linalg.svd(G, compute_uv=False)
    # the three spectral-norm bounds s >= ||G||_2, computed independently in numpy
    scale = {
        "frobenius": np.linalg.norm(G),
        "schatten8": np.sum(sigma**8) ** (1 / 8),
        "one_inf": np.sqrt(np.linalg.norm(G, 1) * np.linalg.norm(G, np.inf)),
    }[normalization]
    assert scale >= sigma[0]
    X = newton_schulz(G, sched, 6, dtype="float64", normalization=normalization)
    assert np.max(np.abs(X - _oracle(G, sched, 6, scale))) <= TOL64


def test_zero_steps_return_the_normalised_input():
    G = np.random.default_rng(2).standard_normal((9, 4))
    sched = schedules.get("polar_express")
    X0 = newton_schulz(G, sched, 0, dtype="float64")
    expected = G / (sched.input_factor * np.linalg.norm(G) + sched.eps)
    assert np.max(np.abs(X0 - expected)) <= 4 * U64


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_zero_matrix_stays_zero(normalization):
    X = newton_schulz(torch.zeros(2, 8, 5), "polar_express", normalization=normalization)
    assert torch.equal(X, torch.zeros(2, 8, 5))


def test_standalone_function_validates_like_polar():
    # One rule with polar(..., "newton_schulz"): NaN/Inf refused naming G, a zero matrix
    # warns; check_finite=False reads nothing (NaN propagates, no warning).
    G = np.ones((4, 3))
    G[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"\bG\b contains NaN or infinite"):
        newton_schulz(G)
    with pytest.raises(ValueError, match=r"\bG\b must have at least 2 dimensions"):
        newton_schulz(np.ones(3))
    assert np.isnan(newton_schulz(G, check_finite=False)).all()
    with pytest.warns(RuntimeWarning, match="exactly zero"):
        assert not np.any(newton_schulz(np.zeros((3, 2))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not np.any(newton_schulz(np.zeros((3, 2)), check_finite=False))


# --- Convergence against the worst-case table (exact arithmetic) -------------------------


def _spectrum_on_interval(n: int = 16) -> np.ndarray:
    """sigma / ||G||_F spanning [1e-3, 0.99]: the table's design interval [l, 1], l = 1e-3."""
    x = np.geomspace(1e-3, 0.1, n - 1)
    return np.concatenate([[np.sqrt(1.0 - np.sum(x**2))], x])  # ||x||_2 = 1, so ||G||_F = 1


@pytest.fixture(scope="module")
def G_interval():
    return prescribed_spectrum(_spectrum_on_interval(), 48, 16, seed=11, like="numpy")


def _max_error(G, schedule, steps):
    X = newton_schulz(G, schedule, steps, dtype="float64")
    return np.max(np.abs(1.0 - np.linalg.svd(X, compute_uv=False)))


def test_polar_express_reaches_float64_floor_in_8_steps(G_interval):
    # Table: PE-paper worst case on [1e-3, 1] is 1.1e-5 after 7 steps, 3.2e-15 after 8.
    # The float64 floor: the last NS5 rows contract errors (p'(1) = 0), leaving the
    # rounding of the final step, a few u per entry, i.e. <= n u in the 2-norm (n = 16).
    assert _max_error(G_interval, "polar_express", 7) >= 1e-6
    assert _max_error(G_interval, "polar_express", 8) <= 3.2e-15 + 16 * 16 * U64


def test_simple_quintic_needs_about_12_steps(G_interval):
    # Table: simple quintic worst case .193 after 10 steps, 5.0e-6 after 12.
    assert _max_error(G_interval, "simple_quintic", 10) >= 0.1
    assert _max_error(G_interval, "simple_quintic", 12) <= 5.0e-6 + 16 * 16 * U64


def test_jordan_never_converges(G_interval):
    # Keller Jordan's quintic traps iterates in its attractor [0.6818, 1.1344]
    # (two repelling fixed points), worst-case error plateau 0.318.
    X = newton_schulz(G_interval, "jordan", 40, dtype="float64")
    sv = np.linalg.svd(X, compute_uv=False)
    assert sv.min() >= 0.6818 - 1e-4 and sv.max() <= 1.1344 + 1e-4  # table is 4-digit
    assert np.max(np.abs(1.0 - sv)) >= 0.3


# --- bfloat16 stays within the design bound -------------------------------------------------


def _rounded_design_bound(sched: schedules.Schedule, steps: int, u: float) -> float:
    """Largest output singular value with each step's input perturbed by one ulp.

    Model: rounding perturbs the singular values entering each step relatively by
    at most one ulp at 1 (2u); the Polar Express safety factor 1.01 (> 2^-7) was
    designed for exactly that (arXiv 2505.16932, sec. 5). Starting from
    sigma_max(X_0) <= 1/c, propagate U_t = max_{0 <= x <= U_{t-1}(1 + 2u)} p_t(x).
    """
    U = 1.0 / sched.input_factor
    for a, b, c in sched.rows(steps):
        x = np.linspace(0.0, U * (1 + 2 * u), 200_001)
        U = float(np.max(x * (a + x * x * (b + c * x * x))))
    return U


@pytest.mark.parametrize("family", families())
def test_bfloat16_polar_express_stays_bounded(family):
    sched = schedules.get("polar_express")
    G = random_matrix(family, 32, 64, seed=0)  # float64, includes rank-deficient families
    X = newton_schulz(G, sched, 5, dtype="bfloat16", out_dtype="float64")
    sv = torch.linalg.svdvals(X).numpy()
    bound = _rounded_design_bound(sched, 5, U_BF16)
    assert 1.12 < bound < 1.13  # exact-arithmetic image of [1e-3, 1] after 5 steps: 1.124
    # final rounding of X_5 itself: one more ulp
    assert sv.max() <= bound * (1 + 2 * U_BF16), (family, sv.max(), bound)
    assert np.all(np.isfinite(sv))


# --- polar_iterates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,options",
    [
        ("newton_schulz", {"schedule": "polar_express"}),
        ("newton_schulz", {"schedule": "you_5", "normalization": "schatten8"}),
        ("polar_express", {}),
    ],
)
def test_iterates_equal_fresh_runs(method, options):
    A = np.random.default_rng(4).standard_normal((10, 30))  # wide: the dispatcher transposes
    K = 5
    its = list(polarlab.polar_iterates(A, method, K, dtype="float64", **options))
    assert len(its) == K
    for k, Xk in enumerate(its, start=1):
        fresh = polarlab.polar(A, method, steps=k, dtype="float64", **options)
        # the same operations in the same order: equal up to at most a few u
        assert np.max(np.abs(Xk - fresh)) <= 4 * U64


# --- errors -----------------------------------------------------------------------------------


def test_bad_input_raises_value_error():
    A = np.ones((6, 3))
    with pytest.raises(ValueError, match="unknown schedule 'nope'; choose one of"):
        newton_schulz(A, "nope")
    with pytest.raises(ValueError, match="unknown method"):
        polarlab.polar(A, "newton_schultz")
    with pytest.raises(ValueError, match="fixed-length table of 5 steps"):
        newton_schulz(A, "you_5", 6)
    with pytest.raises(ValueError, match="fixed-length table"):
        polarlab.polar(A, "newton_schulz", schedule="you_5", steps=6)
    with pytest.raises(ValueError, match="unsupported dtype"):
        newton_schulz(A, dtype="int32")
    with pytest.raises(ValueError, match="unsupported dtype"):
        polarlab.polar(A, "polar_express", dtype="float8")
    with pytest.raises(ValueError, match="unknown normalization 'spectral'; choose one of"):
        newton_schulz(A, normalization="spectral")
    with pytest.raises(ValueError, match="unknown normalization"):
        list(polarlab.polar_iterates(A, "newton_schulz", 2, normalization="spectral"))
    with pytest.raises(ValueError, match="takes no option"):
        polarlab.polar(A, "polar_express", rank_tol=1e-3)
    # "polar_express" is the engine with a declared default schedule (issue: the method/schedule
    # name clash made Muon(schedule=...) fail); any schedule can be given.
    assert np.array_equal(
        polarlab.polar(A, "polar_express", schedule="jordan"),
        polarlab.polar(A, "newton_schulz", schedule="jordan"),
    )


def test_unsupported_dtype_on_device():
    with pytest.raises(ValueError, match="not supported on device 'mps'; choose one of"):
        compute_dtype("float64", torch.device("mps"))
    assert compute_dtype(None, torch.device("cuda")) == torch.float32  # one rule everywhere


# --- array kinds, shapes, dtypes -------------------------------------------------------------


@pytest.mark.parametrize("shape", [(20, 8), (8, 20), (8, 8), (2, 3, 12, 5), (3, 5, 12)])
def test_kinds_shapes_and_batches(shape):
    rng = np.random.default_rng(9)
    A64 = rng.standard_normal(shape)
    U = polarlab.polar(A64, "newton_schulz", dtype="float64", schedule="pade_quintic", steps=20)
    assert isinstance(U, np.ndarray) and U.shape == shape and U.dtype == np.float64
    # batched equals per-slice (same arithmetic per slice; allow a few u)
    flat_A, flat_U = A64.reshape(-1, *shape[-2:]), U.reshape(-1, *shape[-2:])
    for a, u in zip(flat_A, flat_U):
        single = polarlab.polar(
            a, "newton_schulz", dtype="float64", schedule="pade_quintic", steps=20
        )
        assert np.max(np.abs(single - u)) <= 1e-14
        # 20 NS5 steps on a Gaussian converge: matches the SVD polar factor
        assert np.max(np.abs(u - polarlab.polar(a, "svd"))) <= 1e-10
    # torch in, torch out, caller's dtype; numpy float32 in, float32 out
    T = torch.from_numpy(A64).to(torch.bfloat16)
    out = polarlab.polar(T, "polar_express")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16 and out.shape == shape
    out32 = newton_schulz(A64.astype(np.float32))
    assert isinstance(out32, np.ndarray) and out32.dtype == np.float32
    assert newton_schulz(A64, out_dtype="float32").dtype == np.float32


def test_inputs_are_not_modified():
    A = np.random.default_rng(0).standard_normal((16, 6))
    T = torch.from_numpy(A.copy())
    A_copy = A.copy()
    for norm in NORMALIZATIONS:
        newton_schulz(A, dtype="float64", normalization=norm)
        newton_schulz(T, dtype="float64", normalization=norm)
    assert np.array_equal(A, A_copy) and np.array_equal(T.numpy(), A_copy)


def test_info_and_polar_express_shortcut():
    A = np.random.default_rng(3).standard_normal((5, 24, 10))
    U, info = polarlab.polar(A, "polar_express", dtype="bfloat16", return_info=True)
    assert info == {"schedule": "polar_express", "steps": 5, "dtype": "bfloat16"}
    V = polarlab.polar(A, "newton_schulz", schedule="polar_express", dtype="bfloat16")
    assert np.array_equal(U, V)
    _, info = polarlab.polar(A, "newton_schulz", schedule="jordan", steps=7, return_info=True)
    assert info == {"schedule": "jordan", "steps": 7, "dtype": "float32"}


def test_compiles_without_graph_breaks():
    # fullgraph=True fails on any host sync (.item()) or data-dependent branch
    G = torch.randn(3, 24, 16)
    f = torch.compile(
        lambda g: newton_schulz(g, "polar_express", dtype="bfloat16", normalization="schatten8"),
        backend="eager",
        fullgraph=True,
    )
    expected = newton_schulz(G, "polar_express", dtype="bfloat16", normalization="schatten8")
    assert torch.equal(f(G), expected)


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.randn(768, 3072).mT,  # the orientation apply() gives wide input
        lambda: torch.randn(1, 768, 3072).mT,
        lambda: torch.randn(1, 1, 40, 12),
        lambda: torch.randn(12, 40)[None].mT,
    ],
)
def test_batch_view_of_one_matrix_has_the_canonical_batch_stride(make):
    # reshape gives a batch of one the batch stride m for a transposed layout; CPU bmm
    # then copies its operands. batch_view sets m n (never used to address memory) and
    # stays a view of the same elements.
    X = make()
    m, n = X.shape[-2:]
    Y = polynomial.batch_view(X)
    assert Y.shape == (1, m, n) and Y.stride(0) == m * n
    assert Y.data_ptr() == X.data_ptr() and torch.equal(Y[0], X.reshape(m, n))
    Z = polynomial.batch_view(torch.randn(3, 5, 4).mT)  # a real batch keeps reshape's strides
    assert Z.stride() == (20, 1, 4)
