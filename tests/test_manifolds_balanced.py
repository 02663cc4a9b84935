"""Tests for polarlab.manifolds.balanced: Aurora's code and alternating forms,
MuonEq-R, the axis rules, torch.compile, and the NorMuon comparators."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch
from manifold_cases import (
    U64,
    gaussian,
    heterogeneous,
    needs_options,
    np_polar,
    register_for_test,
    row_deviation,
)

from polarlab.manifolds import (
    balanced_stiefel_exact,
    muoneq_r,
    project_balanced_stiefel,
    project_stiefel,
)
from polarlab.manifolds.balanced import _aurora_preconditioned
from polarlab.optim.normuon import normuon_normalize, u_normuon_normalize
from polarlab.polar import names, resolve

# ------------------------------------------------------------ Aurora, code form


@pytest.mark.parametrize("make", [gaussian, heterogeneous], ids=["gaussian", "heterogeneous"])
def test_aurora_svd_semi_orthogonal_and_rows_converge_geometrically(make):
    """Row-norm deviation max|l_i/(n/m) - 1| against iters K (48x8, method="svd").

    Measured (seed as in the helpers):

    ======  ==========  ===============
    K       gaussian    heterogeneous
    ======  ==========  ===============
    1       4.70e-01    3.25e-01
    2       1.05e-01    1.26e-01
    3       3.31e-02    4.68e-02
    4       1.10e-02    1.86e-02
    6       1.89e-03    3.33e-03
    8       3.63e-04    5.94e-04
    10      7.31e-05    1.06e-04
    ======  ==========  ===============

    From K = 3 on each extra iteration multiplies the deviation by about
    0.33-0.45 (a linear rate), so we assert every ratio in [0.15, 0.6].
    """
    G = make()
    n = G.shape[1]
    devs, ratios = [], []
    for k in range(1, 11):
        U = project_balanced_stiefel(G, iters=k)
        # An exact polar factor: ||U^T U - I||_F ~ u sqrt(n) up to a small constant.
        assert np.linalg.norm(U.T @ U - np.eye(n)) < 100 * U64 * n
        norms = np.linalg.norm(U, axis=1)
        devs.append(row_deviation(U))
        ratios.append(norms.max() / norms.min())
    assert all(b < a for a, b in pairwise(ratios)), ratios
    assert ratios[-1] < 1.001
    rates = np.array(devs[3:]) / np.array(devs[2:-1])
    assert np.all((rates > 0.15) & (rates < 0.6)), rates


def test_row_scale_invariance_of_code_form():
    G = gaussian(40, 6, seed=5)
    lam = np.exp(np.random.default_rng(6).uniform(-3, 3, size=(40, 1)))
    for k in (1, 3):
        # d_0 absorbs Lambda exactly up to the rounding of the row norms: O(u) per entry
        np.testing.assert_allclose(
            project_balanced_stiefel(lam * G, iters=k),
            project_balanced_stiefel(G, iters=k),
            atol=1e3 * U64,
        )


def test_k1_equals_muoneq_r_built_independently():
    G = heterogeneous(30, 5, seed=7)
    expected = np_polar(G / np.linalg.norm(G, axis=1, keepdims=True))
    np.testing.assert_allclose(project_balanced_stiefel(G, iters=1), expected, atol=200 * U64)
    np.testing.assert_allclose(muoneq_r(G), expected, atol=200 * U64)


@pytest.mark.parametrize("method", names())
def test_square_input_is_bitwise_project_stiefel(method):
    if needs_options(method):
        pytest.skip(f"{method} needs options")
    G = torch.from_numpy(gaussian(16, 16, seed=8)).float()
    for form in ("preconditioned", "alternating"):
        out = project_balanced_stiefel(G, method=method, form=form)
        assert torch.equal(out, project_stiefel(G, method=method))


def test_square_row_step_forced_changes_the_result():
    """Why the square branch exists: on square G the row loop gives polar(D_0 G),
    which differs from polar(G) although every row of polar(G) already has norm 1."""
    G = torch.from_numpy(heterogeneous(16, 16, seed=9))
    forced = _aurora_preconditioned(G.clone(), 2, 0.5, 1e-7, resolve("svd"))
    plain = project_balanced_stiefel(G)
    np.testing.assert_allclose(np.linalg.norm(plain.numpy(), axis=1), 1.0, atol=100 * U64)
    assert float((forced - plain).abs().max()) > 0.1


def test_zero_rows_stay_zero_and_near_zero_rows_revive():
    m, n, k = 40, 6, 4
    G = gaussian(m, n, seed=10)
    G[:k] = 0.0
    G[k : k + 3] *= 0.01
    G_before = G.copy()
    U = project_balanced_stiefel(G, iters=40)  # 40 iterations: fixed point to ~1e-13
    assert np.array_equal(G, G_before)
    # exact zeros for polynomial methods; the SVD's U_r V_r^T leaves round-off
    assert np.abs(U[:k]).max() < 10 * U64
    # live rows balance to n/(m-k): sum of squared norms is n over m-k rows
    np.testing.assert_allclose((U[k:] ** 2).sum(1), n / (m - k), rtol=1e-10)
    # the 1%-scale rows are revived: plain polar leaves them ~1e-4 of the target
    P = np_polar(G)
    assert np.all((P[k : k + 3] ** 2).sum(1) < 1e-2 * n / (m - k))
    # no overflow of d for the zero rows even after many iterations
    assert np.isfinite(project_balanced_stiefel(G, iters=60, beta=1.0)).all()


def test_alternating_form_less_uniform_than_code_form_at_k2():
    for G in (gaussian(), heterogeneous()):
        code = project_balanced_stiefel(G, iters=2)
        alt = project_balanced_stiefel(G, iters=2, form="alternating")
        assert row_deviation(alt) > row_deviation(code)
        assert np.linalg.norm(alt.T @ alt - np.eye(8)) < 100 * U64 * 8  # still a polar factor


def test_wide_rules():
    G = gaussian(6, 30, seed=11)
    Ut = project_balanced_stiefel(G, iters=60, wide="transpose")  # rate ~0.6: 3e-15 at 60
    np.testing.assert_allclose(Ut, project_balanced_stiefel(G.T, iters=60).T, atol=0)
    np.testing.assert_allclose((Ut**2).sum(0), 6 / 30, rtol=1e-10)  # columns balanced
    assert np.array_equal(project_balanced_stiefel(G, wide="polar"), project_stiefel(G))


def test_vectors_n1_and_m1_closed_form():
    g = gaussian(12, 1, seed=12)
    # n = 1: every balanced point is sign pattern / sqrt(m); the aligned one is sign(g)/sqrt(m)
    np.testing.assert_allclose(project_balanced_stiefel(g), np.sign(g) / np.sqrt(12), atol=4 * U64)
    np.testing.assert_allclose(project_stiefel(g), g / np.linalg.norm(g), atol=4 * U64)
    U, _ = balanced_stiefel_exact(g)
    np.testing.assert_allclose(U, np.sign(g) / np.sqrt(12), atol=1e-12)
    row = g.T  # m = 1, wide
    np.testing.assert_allclose(
        project_balanced_stiefel(row), np.sign(row) / np.sqrt(12), atol=4 * U64
    )
    np.testing.assert_allclose(
        project_balanced_stiefel(row, wide="polar"), row / np.linalg.norm(row)
    )


def test_batch_equals_slices_and_kinds():
    G = np.stack([gaussian(20, 4, seed=s) for s in range(3)]).reshape(3, 1, 20, 4)
    out = project_balanced_stiefel(G, iters=3)
    for s in range(3):
        np.testing.assert_allclose(
            out[s, 0], project_balanced_stiefel(G[s, 0], iters=3), atol=10 * U64
        )
    Gt = torch.from_numpy(G).to(torch.float32)
    out_t = project_balanced_stiefel(Gt, iters=3)
    assert out_t.dtype == torch.float32 and out_t.shape == Gt.shape
    # float32 row scalings around an exact polar: agreement to ~1e3 * u32
    np.testing.assert_allclose(out_t.numpy(), out, atol=1e3 * 2.0**-24)


def test_bad_input():
    G = gaussian(10, 3)
    with pytest.raises(ValueError, match="iters"):
        project_balanced_stiefel(G, iters=0)
    for beta in (0.0, 1.5, -0.5):
        with pytest.raises(ValueError, match="beta"):
            project_balanced_stiefel(G, beta=beta)
    with pytest.raises(ValueError, match="form"):
        project_balanced_stiefel(G, form="paper")
    with pytest.raises(ValueError, match="wide"):
        project_balanced_stiefel(G, wide="rows")
    with pytest.raises(ValueError, match="unknown method"):
        project_balanced_stiefel(G, method="nope")
    bad = G.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        project_balanced_stiefel(bad)
    with pytest.raises(ValueError, match="NaN"):
        balanced_stiefel_exact(bad)
    # rank-deficient: Aurora returns the rank-r partial isometry of D G (documented);
    # its squared row norms sum to r < n, so the rows cannot reach n/m
    low = gaussian(10, 2) @ gaussian(2, 3, seed=13)
    U = project_balanced_stiefel(low, iters=5)
    np.testing.assert_allclose((U**2).sum(), 2.0, rtol=1e-10)
    with pytest.raises(ValueError, match="full column rank"):
        balanced_stiefel_exact(low)


# ------------------------------------------------------------ comparators


def test_normuon_state_explicit_and_formula():
    U = np_polar(heterogeneous(12, 3, seed=14))
    v0 = np.full(12, 0.05)
    U_before, v_before = U.copy(), v0.copy()
    U_hat, v1 = normuon_normalize(U, v0, beta2=0.9)
    assert np.array_equal(U, U_before) and np.array_equal(v0, v_before)
    v_expected = 0.9 * v0 + 0.1 * (U**2).mean(1)
    np.testing.assert_allclose(v1, v_expected, rtol=4 * U64)
    W = U / (np.sqrt(v_expected)[:, None] + 1e-8)
    np.testing.assert_allclose(U_hat, W * np.linalg.norm(U) / np.linalg.norm(W), rtol=1e-13)


def test_normuon_loses_orthogonality_with_heterogeneity_aurora_does_not():
    spreads = [0.0, 0.5, 1.0, 2.0]
    spread_nm, spread_unm = [], []
    for s in spreads:
        G = heterogeneous(48, 8, spread=s, seed=15)
        P = np_polar(G)
        # sigma range of the row-normalised polar factor (one step from zero state)
        sv = np.linalg.svd(normuon_normalize(P)[0], compute_uv=False)
        spread_nm.append(sv.max() / sv.min())
        sv = np.linalg.svd(u_normuon_normalize(P)[0], compute_uv=False)
        spread_unm.append(sv.max() / sv.min())
        A = project_balanced_stiefel(G, iters=4)
        np.testing.assert_allclose(np.linalg.svd(A, compute_uv=False), 1.0, atol=100 * U64)
    assert all(b > a for a, b in pairwise(spread_nm)), spread_nm
    np.testing.assert_allclose(spread_unm, spread_nm, rtol=1e-10)  # same directions
    assert spread_nm[-1] > 1.5


# ------------------------------------------------------------ torch.compile


def _ns_cubic(X, *, steps: int = 8):
    """A tiny local polar method (cubic Newton-Schulz) for the compile tests."""
    X = X / (torch.linalg.matrix_norm(X, keepdim=True) + 1e-7)
    for _ in range(steps):
        X = 1.5 * X - 0.5 * X @ (X.mT @ X)
    return X, {"iterations": steps}


@pytest.fixture()
def local_polar(monkeypatch):
    return register_for_test(monkeypatch, "test_cubic_ns", _ns_cubic)


def _compile_check(method, backend):
    G = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))
    G_before = G.clone()

    def step(G):
        return project_balanced_stiefel(G, 2, 0.5, method, check_finite=False)

    compiled = torch.compile(step, fullgraph=True, backend=backend)
    out = compiled(G)
    assert torch.equal(G, G_before)
    # same float32 operations, possibly re-associated by the compiler
    torch.testing.assert_close(out, step(G), rtol=0, atol=1e-5)


def test_compile_fullgraph_capture(local_polar):
    # backend="eager": dynamo's full-graph capture (no graph break, no host sync)
    # without code generation, so it is fast.
    _compile_check(local_polar, "eager")


@pytest.mark.slow
def test_compile_fullgraph_inductor(local_polar):
    _compile_check(local_polar, "inductor")
    if "newton_schulz" in names() and not needs_options("newton_schulz"):
        _compile_check("newton_schulz", "inductor")
