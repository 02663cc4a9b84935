"""Tests for polarlab.polar.gram: Gram Newton-Schulz.

The independent references: the standard engine (in exact arithmetic Gram
Newton-Schulz equals it for every restart set; Zhang, Amsel, Chen, Dao 2026),
the float64 scalar picture for the schedule's singular values, and the SVD
polar factor.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import polarlab
from polarlab import schedules
from polarlab.matrices import families, random_matrix
from polarlab.polar import gram
from polarlab.polar.gram import gram_newton_schulz
from polarlab.polar.polynomial import NORMALIZATIONS, newton_schulz

U64 = 2.0**-53
U_FP16 = 2.0**-11

# Gram NS versus standard NS, both float64: the two evaluate the same polynomial
# in a different order. Each Gram step squares R's scale into products of n x n
# factors whose norms stay O(1) (h_t(R) and R have spectra in [0, ~3]); the
# difference is a few hundred u at most, so 1e-12 relative (the task's bar,
# ~5e3 u) separates "same polynomial" from any wrong row or restart (>= 1e-3).
REL_TOL = 1e-12


def test_docstring_examples():
    result = doctest.testmod(gram, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _rel(X, Y):
    return np.linalg.norm(X - Y) / np.linalg.norm(Y)


@pytest.mark.parametrize("restarts", [(), (2,), (1, 3)])
@pytest.mark.parametrize("shape", [(96, 24), (24, 96), (2, 64, 16)])
@pytest.mark.parametrize("schedule", ["gram_ns", "polar_express", "newton_schulz_cubic"])
def test_equals_standard_engine(restarts, shape, schedule):
    G = np.random.default_rng(0).standard_normal(shape)
    steps = 5 if schedule != "newton_schulz_cubic" else 8
    X = gram_newton_schulz(G, schedule, steps, restarts=restarts, dtype="float64")
    Y = newton_schulz(G, schedule, steps, dtype="float64")
    assert _rel(X, Y) <= REL_TOL


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_normalizations_equal_standard_engine(normalization):
    G = random_matrix("logspaced", 80, 20, seed=1, like="numpy", cond=1e3)
    kw = {"dtype": "float64", "normalization": normalization}
    X = gram_newton_schulz(G, "polar_express", 6, restarts=(3,), **kw)
    Y = newton_schulz(G, "polar_express", 6, **kw)
    assert _rel(X, Y) <= REL_TOL


def test_singular_values_follow_scalar_oracle():
    G = random_matrix("power_law", 60, 15, seed=2, like="numpy", beta=1.0)
    sched = schedules.get("gram_ns")
    X = gram_newton_schulz(G, dtype="float64")  # defaults: gram_ns, 5 steps, restart (2,)
    sigma = np.linalg.svd(G, compute_uv=False)
    f = sched.apply_scalar(sched.normalize_scalar(sigma, np.linalg.norm(G)), 5)
    # f_k oscillates around 1, so compare sorted values; 1e-10: see the float64
    # bound in test_polynomial.py
    assert np.max(np.abs(np.linalg.svd(X, compute_uv=False) - np.sort(f)[::-1])) <= 1e-10


def test_square_input_falls_back_to_standard_engine():
    A = np.random.default_rng(3).standard_normal((2, 12, 12))
    U, info = polarlab.polar(A, "gram_newton_schulz", dtype="float64", return_info=True)
    assert info["engine"] == "newton_schulz" and info["restarts"] == []
    assert np.array_equal(U, newton_schulz(A, "gram_ns", dtype="float64"))
    its = list(polarlab.polar_iterates(A, "gram_newton_schulz", 3, dtype="float64"))
    assert np.array_equal(its[-1], newton_schulz(A, "gram_ns", 3, dtype="float64"))


def test_info():
    A = np.random.default_rng(4).standard_normal((10, 40))
    _, info = polarlab.polar(A, "gram_newton_schulz", return_info=True)
    assert info == {
        "schedule": "gram_ns",
        "steps": 5,
        "dtype": "float32",
        "engine": "gram",
        "restarts": [2],
    }
    _, info = polarlab.polar(
        A, "gram_newton_schulz", schedule="jordan", steps=3, restarts=(1, 7), return_info=True
    )
    assert info["restarts"] == [1] and info["steps"] == 3  # 7 is past the run: no effect


@pytest.mark.parametrize("restarts", [(), (2,), (1, 3)])
def test_iterates_equal_fresh_runs(restarts):
    A = np.random.default_rng(5).standard_normal((2, 48, 12))
    its = list(
        polarlab.polar_iterates(
            A, "gram_newton_schulz", 5, restarts=restarts, schedule="gram_ns", dtype="float64"
        )
    )
    for k, Xk in enumerate(its, start=1):
        fresh = polarlab.polar(A, "gram_newton_schulz", steps=k, restarts=restarts, dtype="float64")
        # a run of k steps performs the same products as the first k of a longer run
        assert np.max(np.abs(Xk - fresh)) <= 4 * U64
        assert _rel(Xk, newton_schulz(A, "gram_ns", k, dtype="float64")) <= REL_TOL


def test_bad_input_raises_value_error():
    A = np.ones((12, 3))
    for bad in [(0,), (-1,), (1.5,), ("2",), (True,), 2.5]:
        with pytest.raises(ValueError, match="restarts must be 0-based step indices >= 1"):
            gram_newton_schulz(A, restarts=bad)
    with pytest.raises(ValueError, match="unknown schedule"):
        gram_newton_schulz(A, "nope")
    with pytest.raises(ValueError, match="fixed-length table"):
        polarlab.polar(A, "gram_newton_schulz", steps=6)  # gram_ns has 5 rows
    with pytest.raises(ValueError, match="unsupported dtype"):
        gram_newton_schulz(A, dtype="float8")
    with pytest.raises(ValueError, match="unknown normalization"):
        list(polarlab.polar_iterates(A, "gram_newton_schulz", 2, normalization="l2"))


@pytest.mark.parametrize("shape", [(3, 40, 8), (8, 40)])
def test_kinds_dtypes_and_zero(shape):
    T = torch.from_numpy(np.random.default_rng(6).standard_normal(shape)).to(torch.float16)
    out = polarlab.polar(T, "gram_newton_schulz")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float16 and out.shape == shape
    Z = gram_newton_schulz(torch.zeros(shape), normalization="schatten8")
    assert torch.equal(Z, torch.zeros(shape))


def test_standalone_function_validates_like_polar():
    # As newton_schulz: NaN/Inf refused naming G, a zero matrix warns, unless check_finite=False.
    G = np.ones((6, 3))
    G[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"\bG\b contains NaN or infinite"):
        gram_newton_schulz(G)
    assert not np.isfinite(gram_newton_schulz(G, check_finite=False)).any()
    with pytest.warns(RuntimeWarning, match="exactly zero"):
        assert not np.any(gram_newton_schulz(np.zeros((3, 2))))


def _rounded_design_bound(sched, steps, u):
    """As in test_polynomial.py: one ulp (2u) of relative input perturbation per step."""
    U = 1.0 / sched.input_factor
    for a, b, c in sched.rows(steps):
        x = np.linspace(0.0, U * (1 + 2 * u), 200_001)
        U = float(np.max(x * (a + x * x * (b + c * x * x))))
    return U


@pytest.mark.parametrize("family", families())
def test_float16_with_restart_stays_bounded(family):
    # The reference package's setting: gram_ns rows, fp16, restart before step 2.
    sched = schedules.get("gram_ns")
    G = random_matrix(family, 32, 96, seed=0)
    X = gram_newton_schulz(G, dtype="float16", out_dtype="float64")
    sv = torch.linalg.svdvals(X).numpy()
    bound = _rounded_design_bound(sched, 5, U_FP16)  # exact image of [1e-3, 1]: 1.124
    assert np.all(np.isfinite(sv)) and sv.max() <= bound * (1 + 2 * U_FP16), (family, sv.max())


def test_compiles_without_graph_breaks():
    G = torch.randn(2, 40, 12)
    f = torch.compile(
        lambda g: gram_newton_schulz(g, "polar_express", restarts=(2,), dtype="float16"),
        backend="eager",
        fullgraph=True,
    )
    assert torch.equal(f(G), gram_newton_schulz(G, "polar_express", dtype="float16"))
