"""Tests for polarlab.manifolds.balanced_gram: the Gram-form Aurora against the plain form.

References: the plain preconditioned form with the same polynomial schedule (every
polar call by the standard Newton-Schulz engine), dense products, a flop counter,
and a rounding allowance derived from the schedule's rows and the unit round-off.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from polarlab import matrices
from polarlab._arrays import unit_roundoff
from polarlab.manifolds import muoneq_r, project_balanced_stiefel
from polarlab.manifolds.balanced_gram import (
    _panel_bounds,
    _symmetric_gram,
    _symmetric_product,
    aurora_flops,
    choose_engine,
    gram_polar,
    gram_restarts,
)
from polarlab.metrics import orthogonality_defect, row_norm_deviation, row_norm_ratio
from polarlab.polar import resolve

U64 = 2.0**-53
F32 = torch.float32


def _rows_scaled(*shape, seed=0):
    """Gaussian rows at log-uniform scales over four decades (Aurora's case)."""
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(*shape, generator=g, dtype=torch.float64)
    return Z * torch.exp(
        torch.empty(*shape[:-1], 1, dtype=torch.float64).uniform_(-4.6, 4.6, generator=g)
    )


def _both(G, K, **kw):
    plain = project_balanced_stiefel(G, K, engine="plain", check_finite=False, **kw)
    gram = project_balanced_stiefel(G, K, engine="gram", check_finite=False, **kw)
    return plain, gram


# ------------------------------------------------------------ equal to the plain form


# In float64 the Gram form perturbs an eigenvalue r = sigma^2 of the Gram matrix by
# u ||R||; where q ~ r^(-1/2) (the converged range) that moves U by a relative
# u / (2 r). The schedules are designed down to sigma / ||X||_F = 1e-3 (Polar Express,
# arXiv 2505.16932), so u / (2 * 1e-6) = 5.6e-11: the tolerance 1e-10 of the issue.
TOL64 = 1e-10

SOLVERS = {
    "polar_express": {"method": "polar_express"},
    "jordan_schatten8": {
        "method": "newton_schulz",
        "schedule": "jordan",
        "normalization": "schatten8",
    },
    "pe8_one_inf": {"method": "polar_express", "steps": 8, "normalization": "one_inf"},
    "cubic": {"method": "newton_schulz", "schedule": "newton_schulz_cubic"},
    "gram_ns_restarts": {"method": "gram_newton_schulz", "restarts": (1, 3)},
}


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize(
    ("shape", "wide"),
    [((48, 12), "transpose"), ((2, 3, 40, 10), "transpose"), ((12, 48), "transpose")],
    ids=["tall", "batched", "wide"],
)
def test_gram_form_equals_plain_form_in_float64(solver, K, shape, wide):
    G = _rows_scaled(*shape, seed=K)
    G[..., 0, :] = 0.0  # a zero row stays zero, its d_i frozen
    plain, gram = _both(G, K, wide=wide, dtype="float64", **SOLVERS[solver])
    torch.testing.assert_close(gram, plain, rtol=0, atol=TOL64)
    # the check can fail: one refinement more moves U by far more than the tolerance
    further = project_balanced_stiefel(G, K + 1, wide=wide, dtype="float64", **SOLVERS[solver])
    assert (plain - further).abs().max() > 1e6 * TOL64


@pytest.mark.parametrize("shape", [(520, 260), (2, 300, 130)], ids=["4 panels", "dense"])
def test_gram_form_with_symmetric_panels_equals_plain_form(shape):
    G = _rows_scaled(*shape, seed=3)
    assert len(_panel_bounds(shape[-1])) == max(1, shape[-1] // 128)
    plain, gram = _both(G, 2, method="polar_express", dtype="float64")
    torch.testing.assert_close(gram, plain, rtol=0, atol=TOL64)


@pytest.mark.parametrize(("shape", "wide"), [((16, 16), "transpose"), ((8, 24), "polar")])
def test_square_and_polar_wide_rule_return_the_plain_polar_factor_exactly(shape, wide):
    G = _rows_scaled(*shape, seed=4).float()
    pe = resolve("polar_express")
    gram = project_balanced_stiefel(G, 2, method=pe, wide=wide, engine="gram")
    assert torch.equal(gram, pe(G))


def test_muoneq_r_engines_agree_and_short_side_input_is_plain():
    pe = resolve("polar_express", dtype="float64")
    G = _rows_scaled(64, 16, seed=5)
    torch.testing.assert_close(
        muoneq_r(G, pe, engine="gram"), muoneq_r(G, pe, engine="plain"), rtol=0, atol=TOL64
    )
    for H in (G.mT, G[:16]):  # wide, square: the plain polar factor, bit for bit
        assert torch.equal(muoneq_r(H, pe, engine="gram"), muoneq_r(H, pe, engine="plain"))


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("steps", [0, 5])
def test_gram_polar_in_place_gives_the_same_bits_and_leaves_the_default_input_alone(dtype, steps):
    # overwrite=True only lets the normalisation divide X in place (the same operations,
    # so torch.equal); without it X is read only. Aurora's projection passes its own
    # temporaries D G this way.
    solver = resolve("polar_express", steps=steps, dtype=dtype)
    X = torch.randn(2, 96, 24, generator=torch.Generator().manual_seed(3)) * 1e-3
    kept = X.clone()
    U = gram_polar(X, solver)
    assert torch.equal(X, kept)
    assert torch.equal(gram_polar(X.clone(), solver, overwrite=True), U)


def test_empty_and_zero_input():
    pe = resolve("polar_express")
    empty = project_balanced_stiefel(torch.zeros(0, 8, 2), method=pe, engine="gram")
    assert empty.shape == (0, 8, 2)
    # the zero matrix: R = 0, Q = q(0) I, U = 0 (the rank-0 partial isometry)
    Z = project_balanced_stiefel(torch.zeros(3, 8, 2), method=pe, engine="gram")
    assert torch.equal(Z, torch.zeros(3, 8, 2))


# ------------------------------------------------------------ symmetric products


@pytest.mark.parametrize("n", [5, 256, 300, 1030])
def test_symmetric_products_equal_dense_products(n):
    g = torch.Generator().manual_seed(n)
    X = torch.randn(2, n + 7, n, generator=g, dtype=torch.float64)
    R = X.mT @ X / n
    H = 2.0 * torch.eye(n, dtype=torch.float64) - 0.3 * R + 0.1 * R @ R  # commutes with R
    for got, want in [
        (_symmetric_gram(X), X.mT @ X),
        (_symmetric_product(R, H), R @ H),
        (_symmetric_product(H, R, R, beta=0.5, alpha=-2.0), 0.5 * R - 2.0 * H @ R),
    ]:
        scale = want.abs().max()
        # each entry is one dot product of length n or m: error <= n u |a||b| entrywise
        torch.testing.assert_close(got, want, rtol=0, atol=4 * (n + 7) * U64 * scale)


def test_panels_cover_the_rows_in_equal_blocks():
    assert _panel_bounds(100) == ((0, 100),)
    assert _panel_bounds(512) == ((0, 128), (128, 256), (256, 384), (384, 512))
    assert len(_panel_bounds(4096)) == 8


# ------------------------------------------------------------ flop counts


@pytest.mark.parametrize(
    ("options", "dtype"),
    [
        ({"method": "polar_express"}, torch.float32),
        (
            {"method": "newton_schulz", "schedule": "jordan", "normalization": "schatten8"},
            torch.float32,
        ),
        ({"method": "newton_schulz", "schedule": "newton_schulz_cubic"}, torch.float32),
        ({"method": "gram_newton_schulz"}, torch.float32),
        ({"method": "polar_express", "steps": 8}, torch.bfloat16),
        ({"method": "polar_express", "steps": 0}, torch.float32),
    ],
)
@pytest.mark.parametrize("engine", ["plain", "gram"])
@pytest.mark.parametrize("n", [6, 260])
def test_flop_model_counts_what_the_code_runs(options, dtype, engine, n):
    m, K = 3 * n, 2
    solver = resolve(dtype=dtype, **options)
    G = torch.randn(2, m, n)
    with FlopCounterMode(display=False) as counter:
        project_balanced_stiefel(G, K, method=solver, engine=engine, check_finite=False)
    expected = aurora_flops(m, n, K, solver, engine=engine, dtype=dtype)
    assert counter.get_total_flops() == 2 * expected  # a batch of two matrices


def test_flop_counts_of_the_docstring():
    pe = resolve("polar_express", steps=5)
    m, n = 4096, 1024
    muon = 20 * m * n**2 + 10 * n**3  # one standard 5-step orthogonalisation
    gram = {K: aurora_flops(m, n, K, pe, engine="gram", dtype=torch.float32) for K in (1, 2, 3)}
    # n >= 1024: 8 panels, 9/16 of each product; per call 1.125 + 2 (m n^2), 17 x 1.125 (n^3)
    assert gram[2] == 2 * (3.125 * m * n**2 + 17 * 1.125 * n**3)
    assert gram[1] < gram[2] < gram[3] and gram[2] < muon
    assert aurora_flops(m, n, 2, pe, engine="plain", dtype=torch.float32) == 2 * muon


# ------------------------------------------------------------ precision in float32 and bfloat16


def _gram_sensitivity(rows, restarts, input_factor, floor=1e-3):
    """S = max over segments and x of |d log q_seg / d log r| / r at the segment start.

    A relative rounding ``u / r`` of an eigenvalue ``r`` of the Gram matrix built at
    a (re)start moves ``log q`` of the segment by ``|d log q / d log r| u / r``. Exact
    recursion: ``g_t = r_t h_t'(r_t) / h_t(r_t)``, ``d log q = sum_t g_t L_t``,
    ``L_{t+1} = L_t (1 + 2 g_t)``, over ``x = sigma / ||X||_F`` in the design
    interval ``[floor, 1]`` (Polar Express, arXiv 2505.16932: ``floor = 1e-3``).
    """
    x = np.geomspace(floor, 1.0, 4001) / input_factor
    T = len(rows)
    starts = [0, *sorted(t for t in restarts if 0 < t < T)]
    worst = 0.0
    for s, e in zip(starts, [*starts[1:], T], strict=True):
        r = x**2
        for a, b, c in rows[:s]:
            r = r * (a + b * r + c * r * r) ** 2
        r0, L, dlogq = r, np.ones_like(r), np.zeros_like(r)
        for a, b, c in rows[s:e]:
            h = a + b * r + c * r * r
            gt = r * (b + 2 * c * r) / h
            dlogq += gt * L
            L = L * (1 + 2 * gt)
            r = r * h * h
        worst = max(worst, float(np.max(np.abs(dlogq) / r0)))
    return worst


def _metrics(U):
    return {
        "log_ratio": np.log(np.minimum(row_norm_ratio(U), 1e300)),
        "deviation": row_norm_deviation(U),
        "defect": orthogonality_defect(U),
    }


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("family", matrices.families())
def test_gram_form_keeps_the_plain_forms_uniformity_and_orthogonality(dtype, family):
    solver = resolve("polar_express", dtype=dtype)  # five rows, the optimizer's default
    rows, c = solver.schedule.rows(None), solver.schedule.input_factor
    u = unit_roundoff(dtype)
    # The plain form is the Gram form restarted before every step: its own rounding
    # sensitivity is S_plain; the Gram form's is S_gram with its restart rule. Both
    # results carry their rounding, so their metrics may differ by the sum. A squared
    # row norm moves by 2 d(log q): so do log rho, (1 + deviation) and the defect's
    # (1 + s^2 - 1) terms, hence tol = 2 u (S_gram + S_plain) (1 + metric).
    S = _gram_sensitivity(rows, gram_restarts(solver, getattr(torch, dtype)), c)
    S_plain = _gram_sensitivity(rows, range(1, len(rows)), c)
    G = matrices.random_matrix(family, 128, 32, seed=7, batch=3, dtype=torch.float32)
    plain, gram = _both(G, 2, method=solver)
    plain_m, gram_m = _metrics(plain.float()), _metrics(gram.float())
    for name in plain_m:
        tol = 2 * u * (S + S_plain) * (1 + plain_m[name])
        assert np.all(gram_m[name] <= plain_m[name] + tol), (name, gram_m[name], plain_m[name], tol)
    # the allowance is far below what the Gram form without restarts does in bfloat16
    if dtype == "bfloat16":
        assert _gram_sensitivity(rows, (), c) * u > 100


def test_sensitivity_recursion_against_finite_differences():
    solver = resolve("polar_express")
    rows, c = solver.schedule.rows(None), solver.schedule.input_factor
    r = (np.geomspace(1e-3, 1.0, 4001) / c) ** 2

    def logq(r):
        q = np.zeros_like(r)
        for a, b, cc in rows:
            h = a + b * r + cc * r * r
            q, r = q + np.log(np.abs(h)), r * h * h
        return q

    d = 1e-7
    fd = (logq(r * (1 + d)) - logq(r * (1 - d))) / (2 * d)
    assert math.isclose(_gram_sensitivity(rows, (), c), np.max(np.abs(fd) / r), rel_tol=1e-4)
    # restarts cut the sensitivity: every step restarted is the plain form's own
    S = [_gram_sensitivity(rows, R, c) for R in [(), (2,), (1, 3), (1, 2, 3, 4)]]
    assert S[0] > S[1] > S[2] > S[3] > 1


# ------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("options", "dtype", "expected"),
    [
        ({"method": "polar_express"}, torch.float32, ()),
        ({"method": "polar_express"}, torch.float64, ()),
        ({"method": "polar_express"}, torch.bfloat16, (1, 3)),
        ({"method": "polar_express"}, torch.float16, (1, 3)),
        ({"method": "polar_express", "steps": 8}, torch.bfloat16, (1, 3, 5, 7)),
        ({"method": "gram_newton_schulz"}, torch.bfloat16, (2,)),
        ({"method": "gram_newton_schulz", "restarts": ()}, torch.float32, ()),
    ],
)
def test_restart_rule(options, dtype, expected):
    assert sorted(gram_restarts(resolve(**options), dtype)) == list(expected)


@pytest.mark.parametrize(
    ("m", "n", "options", "form", "expected"),
    [
        (3072, 768, {"method": "polar_express"}, "preconditioned", "gram"),
        (96, 24, {"method": "polar_express"}, "preconditioned", "gram"),  # aspect 4
        (48, 24, {"method": "polar_express"}, "preconditioned", "plain"),  # aspect 2 < 2.4
        (300, 260, {"method": "polar_express"}, "preconditioned", "plain"),  # near square
        (1100, 1024, {"method": "polar_express"}, "preconditioned", "gram"),
        (96, 24, {"method": "polar_express", "dtype": "bfloat16"}, "preconditioned", "plain"),
        (240, 24, {"method": "polar_express", "dtype": "bfloat16"}, "preconditioned", "gram"),
        # gram_newton_schulz is already a Gram form: the engine adds only the panels
        (96, 24, {"method": "gram_newton_schulz"}, "preconditioned", "plain"),
        (4096, 1024, {"method": "gram_newton_schulz"}, "preconditioned", "gram"),
        (3072, 768, {"method": "svd"}, "preconditioned", "plain"),
        (3072, 768, {"method": "qdwh"}, "preconditioned", "plain"),
        (3072, 768, {"method": "polar_express"}, "alternating", "plain"),
    ],
)
def test_auto_rule(m, n, options, form, expected):
    solver = resolve(**options)
    assert choose_engine("auto", form, solver, m, n, 2, "cpu") == expected
    if form == "preconditioned" and m * n < 10_000:  # and the projection follows it
        G = _rows_scaled(m, n, seed=8).float()
        auto = project_balanced_stiefel(G, method=solver, form=form)
        assert torch.equal(auto, project_balanced_stiefel(G, method=solver, engine=expected))


def test_auto_rule_on_cuda_counts_the_bfloat16_restarts():
    pe = resolve("polar_express").in_role("optimizer")  # bfloat16 on CUDA
    assert choose_engine("auto", "preconditioned", pe, 96, 24, 2, "cuda") == "plain"
    assert choose_engine("auto", "preconditioned", pe, 96, 24, 2, "cpu") == "gram"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "svd", "engine": "gram"}, "engine='gram' needs .* method='svd'"),
        ({"method": "qdwh", "engine": "gram"}, "polynomial method"),
        (
            {"method": "polar_express", "form": "alternating", "engine": "gram"},
            "form='alternating'",
        ),
        (
            {"method": "polar_express", "engine": "fast"},
            "unknown engine 'fast'; choose one of: auto",
        ),
    ],
)
def test_invalid_engine_raises_whatever_the_shape(kwargs, match):
    for G in (torch.randn(12, 4), torch.randn(4, 4)):
        with pytest.raises(ValueError, match=match):
            project_balanced_stiefel(G, **kwargs)
    if kwargs.get("form") is None:
        with pytest.raises(ValueError, match=match):
            muoneq_r(torch.randn(12, 4), **kwargs)


# ------------------------------------------------------------ hot path: compiles, no host sync


def _compiled_matches(backend):
    G = torch.randn(2, 96, 24, generator=torch.Generator().manual_seed(0))
    G_before = G.clone()
    pe = resolve("polar_express", dtype="float32")

    def step(G):
        return project_balanced_stiefel(G, 2, 0.5, pe, check_finite=False, engine="gram")

    out = torch.compile(step, fullgraph=True, backend=backend)(G)
    assert torch.equal(G, G_before)
    # same float32 operations, possibly re-associated: ~100 u of entries |U_ij| <= 1
    torch.testing.assert_close(out, step(G), rtol=0, atol=1e-5)


def test_gram_form_traces_into_one_graph():
    # fullgraph=True fails on any graph break (host sync, data-dependent branch)
    _compiled_matches("eager")


@pytest.mark.slow
def test_gram_form_compiles_with_inductor():
    _compiled_matches("inductor")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bfloat16_gram_form_has_no_host_sync():
    G = torch.randn(4, 1024, 256, device="cuda")
    pe = resolve("polar_express").in_role("optimizer")  # bfloat16 on CUDA
    project_balanced_stiefel(G, 2, 0.5, pe, check_finite=False, engine="gram")  # warm up
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation raises
    try:
        U = project_balanced_stiefel(G, 2, 0.5, pe, check_finite=False, engine="gram")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    plain = project_balanced_stiefel(G, 2, 0.5, pe, check_finite=False, engine="plain")
    for name, value in _metrics(U.float().cpu()).items():
        assert np.all(value <= _metrics(plain.float().cpu())[name] + 0.5)  # bf16 allowance
