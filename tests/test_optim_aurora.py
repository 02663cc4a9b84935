"""Aurora: parity with an independent transcription of the released update rule,
exactness against the projection primitive, the square = Muon rule, row balance."""

import inspect
import math

import numpy as np
import pytest
import torch

from polarlab._arrays import unit_roundoff
from polarlab.manifolds import project_balanced_stiefel
from polarlab.optim import Aurora, Muon
from polarlab.optim.aurora import AuroraDirection, aurora_direction
from polarlab.optim.functional import aurora_update
from polarlab.optim.muon import polar_direction


# --- independent transcription of the reference pseudocode (tilde-research/aurora-release
# v1, "aurora(W, G, momentum, eta, weight_decay, mu, nesterov, pp_iterations, pp_beta, eps)")
def _reference_polar(G):
    """v1 polar: simple quintic (2, -1.5, 0.5) x 12 in bf16, X / (||X||_F + 1e-7)."""
    X = G.bfloat16()
    tall = X.size(-2) > X.size(-1)
    if tall:
        X = X.mT
    X = X / (X.norm() + 1e-7)
    for _ in range(12):
        A = X @ X.mT
        X = 2.0 * X + (-1.5 * A + 0.5 * A @ A) @ X
    return X.mT if tall else X


def _reference_aurora_step(W, G, M, eta, wd, mu=0.95, K=2, beta=0.5, eps=1e-7):
    M = mu * M + (1 - mu) * G  # EMA
    U_tilde = (1 - mu) * G + mu * M  # Nesterov
    m, n = W.shape
    if m == n:
        update = _reference_polar(U_tilde).float()
    else:
        wide = m < n
        G32 = (U_tilde.mT if wide else U_tilde).float()
        rows, cols = G32.shape
        tau = cols / rows
        d = 1.0 / G32.norm(dim=1).clamp(min=eps)
        for k in range(K):
            U = _reference_polar(d[:, None] * G32).float()
            if k < K - 1:
                d = d * (tau / (U**2).sum(1).clamp(min=eps**2)) ** beta
        update = U.mT if wide else U
    update = update * math.sqrt(max(1.0, m / n))
    return W * (1 - eta * wd) - eta * update, M


@pytest.mark.parametrize("shape", [(48, 12), (12, 12)])
def test_matches_reference_update_rule(shape):
    torch.manual_seed(0)
    m, n = shape
    W_ref = torch.randn(m, n)
    M_ref = torch.zeros(m, n)
    W = torch.nn.Parameter(W_ref.clone())
    W_start = W_ref.clone()
    eta, wd = 0.05, 0.025
    opt = Aurora(
        [W],
        lr=eta,
        weight_decay=wd,
        momentum=0.95,
        nesterov=True,
        momentum_form="ema",
        adjust_lr="aspect",
        method="newton_schulz",
        schedule="simple_quintic",
        steps=12,
        dtype="bfloat16",
        iters=2,
        beta=0.5,
        eps=1e-7,
    )
    steps = 5
    for _ in range(steps):
        G = torch.randn(m, n) * (torch.rand(m, 1) + 0.1)
        W_ref, M_ref = _reference_aurora_step(W_ref, G, M_ref, eta, wd)
        W.grad = G
        opt.step()
    # Rounding placement differs (the reference casts, then normalises in bf16; the
    # engine normalises in float32, then casts). The simple quintic converges with
    # p'(1) = 0 after 12 steps, so those differences are not amplified: allow 8 bf16
    # units of the update entries (|U_ij| <= 1, aspect scale <= 2) per step.
    tol = steps * eta * math.sqrt(max(1, m / n)) * 8 * unit_roundoff("bfloat16")
    diff = (W.detach() - W_ref).abs().max().item()
    assert diff < tol
    assert (W_ref - W_start).abs().max().item() > 5 * tol  # the check can fail


def test_direction_with_svd_equals_project_balanced_stiefel():
    # First step: B = 0.05 G, Nesterov M = 0.05 G + 0.95 B = 0.0975 G. The code form is
    # invariant to positive scalings of G (d_0 absorbs them) up to the eps clamp.
    rng = np.random.default_rng(1)
    G = rng.standard_normal((40, 8)) * np.geomspace(0.05, 5, 40)[:, None]
    W0 = rng.standard_normal((40, 8))
    W = torch.nn.Parameter(torch.tensor(W0))
    lr = 0.01
    opt = Aurora([W], lr=lr, method="svd", adjust_lr=None)
    W.grad = torch.tensor(G)
    opt.step()
    U = (W0 - W.detach().numpy()) / lr
    expected = project_balanced_stiefel(0.0975 * G, iters=2, beta=0.5, method="svd")
    np.testing.assert_allclose(U, expected, rtol=0, atol=1e-10)
    # and the direction map itself is the primitive, bit for bit
    M = torch.tensor(G)
    assert torch.equal(
        aurora_direction(M, method="svd"),
        project_balanced_stiefel(M, 2, 0.5, "svd", check_finite=False),
    )


@pytest.mark.parametrize("method_kw", [{"method": "svd"}, {"method": "polar_express"}])
def test_square_matrices_get_exactly_the_muon_update(method_kw):
    torch.manual_seed(0)
    Wa = torch.nn.Parameter(torch.randn(10, 10))
    Wb = torch.nn.Parameter(Wa.detach().clone())
    oa = Aurora([Wa], lr=0.02, weight_decay=0.01, **method_kw)
    ob = Muon([Wb], lr=0.02, weight_decay=0.01, **method_kw)
    for _ in range(3):
        g = torch.randn(10, 10)
        Wa.grad, Wb.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
        assert torch.equal(Wa, Wb)


def test_rows_are_balanced_where_muon_rows_are_not():
    # The criterion of microsoft/dion PR #80's TestAurora (there on randn(512, 128)):
    # rho_Aurora < rho_polar and < 1.15; here on a smaller row-heterogeneous matrix,
    # Polar Express base in float32.
    g = torch.Generator().manual_seed(0)
    G = torch.randn(256, 32, generator=g) * torch.exp(torch.randn(256, 1, generator=g))
    opts = {"method": "polar_express", "steps": 8, "dtype": torch.float32}
    U_aurora = aurora_direction(G, **opts)
    svd = torch.linalg.svd(G, full_matrices=False)
    U_muon = svd.U @ svd.Vh

    def rho(U):
        r = U.norm(dim=1)
        return (r.max() / r.min()).item()

    assert rho(U_aurora) < 1.15 < rho(U_muon)
    # semi-orthogonal to the base's accuracy: 8 Polar Express steps leave
    # |sigma - 1| <= 3e-15 for sigma/||DG||_F >= 1e-3 (arXiv 2505.16932); here
    # sigma/||DG||_F >= ~0.1 for a row-normalised 256 x 32 Gaussian, so float32
    # round-off dominates: ~ m u = 1.5e-5
    eye = torch.eye(32)
    assert (U_aurora.mT @ U_aurora - eye).abs().max() < 1e-4


def test_riemannian_form_is_selectable_and_stays_on_the_stiefel_manifold():
    torch.manual_seed(0)
    W = torch.nn.Parameter(torch.randn(24, 6, dtype=torch.float64))
    W0 = W.detach().clone()
    opt = Aurora([W], lr=1.0, method="svd", form="riemannian", adjust_lr=None)
    W.grad = torch.randn(24, 6, dtype=torch.float64) * torch.rand(24, 1, dtype=torch.float64)
    opt.step()
    U = W0 - W.detach()
    torch.testing.assert_close(U.mT @ U, torch.eye(6, dtype=torch.float64), rtol=0, atol=1e-10)
    r = U.square().sum(1)
    assert (r.max() / r.min()).item() < 1.5  # close to the balanced row norm 6/24


def test_functional_update_equals_optimizer_step():
    torch.manual_seed(0)
    W0 = torch.randn(16, 4, dtype=torch.float64)
    W = torch.nn.Parameter(W0.clone())
    opt = Aurora([W], lr=0.03, weight_decay=0.1, method="svd", iters=3)
    buf = torch.zeros_like(W0)
    Wf = W0
    for _ in range(3):
        G = torch.randn(16, 4, dtype=torch.float64)
        W.grad = G
        opt.step()
        Wf, buf = aurora_update(Wf, G, buf, lr=0.03, weight_decay=0.1, method="svd", iters=3)
    torch.testing.assert_close(W.detach(), Wf, rtol=0, atol=1e-13)
    torch.testing.assert_close(opt.state[W]["momentum_buffer"], buf, rtol=0, atol=0)


_NS = {"method": "newton_schulz", "schedule": "polar_express", "dtype": torch.float32}
_DIRECTIONS = {
    "newton_schulz": lambda X: polar_direction(X, **_NS),
    "aurora": lambda X: aurora_direction(X, **_NS),
}


@pytest.mark.parametrize("name", list(_DIRECTIONS))
def test_directions_trace_into_one_graph(name):
    # fullgraph=True fails on any graph break (host sync, data-dependent branch);
    # the eager backend checks tracing without paying for code generation.
    fn = _DIRECTIONS[name]
    M = torch.randn(48, 12, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(fn, fullgraph=True, backend="eager")
    assert torch.equal(compiled(M), fn(M))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_DIRECTIONS))
def test_directions_compile_with_inductor_on_cpu(name):
    fn = _DIRECTIONS[name]
    M = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(fn, fullgraph=True)
    # generated kernels may reorder float32 sums: allow ~100 u of |U| <= 1
    torch.testing.assert_close(compiled(M), fn(M), rtol=0, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_step_in_bf16_compiled_direction_and_no_host_sync():
    W = torch.nn.Parameter(torch.randn(256, 64, device="cuda"))
    opt = Aurora([W], lr=0.01)  # default: Polar Express in bf16 on CUDA
    W.grad = torch.randn(256, 64, device="cuda")
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation raises
    try:
        opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(W).all()
    M = torch.randn(256, 64, device="cuda")
    opts = {"method": "polar_express", "dtype": torch.bfloat16}
    compiled = torch.compile(lambda X: aurora_direction(X, **opts), fullgraph=True)
    torch.testing.assert_close(compiled(M), aurora_direction(M, **opts), rtol=0, atol=2e-2)


# --- the engine option: declared like the others, chosen by the documented rule ---------------


def test_engine_option_is_declared_and_validated_once():
    assert inspect.signature(Aurora).parameters["engine"].default == "auto"
    assert inspect.signature(aurora_update).parameters["engine"].default == "auto"
    assert AuroraDirection().engine == "auto"
    W = torch.nn.Parameter(torch.randn(12, 4))
    assert Aurora([W], engine="gram").param_groups[0]["engine"] == "gram"  # plain group data
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        AuroraDirection(engine="fast")
    with pytest.raises(ValueError, match=r"engine='gram' needs .* method='svd'"):
        AuroraDirection(engine="gram", method="svd")
    with pytest.raises(ValueError, match="engine='gram' needs form='preconditioned'"):
        Aurora([W], form="riemannian", engine="gram")


# (shape of the stacked momenta, direction options, the engine the rule picks). On CPU the
# optimizer computes in float32; bfloat16 (the CUDA default) restarts the Gram form before
# steps 1 and 3, which moves its break-even from aspect 2.4 to 4.8 for small n.
_RULE_CASES = [
    ((3, 96, 24), {}, "gram"),  # Polar Express, aspect 4
    ((3, 24, 96), {}, "gram"),  # wide: the long axis is balanced, as 96 x 24
    ((3, 48, 24), {}, "plain"),  # aspect 2: the Gram form saves too little
    ((3, 96, 24), {"dtype": "bfloat16"}, "plain"),
    ((3, 240, 24), {"dtype": "bfloat16"}, "gram"),
    ((3, 96, 24), {"method": "svd"}, "plain"),  # not a polynomial method
    ((3, 96, 24), {"form": "alternating"}, "plain"),
    ((3, 96, 24), {"engine": "plain"}, "plain"),
    ((3, 48, 24), {"engine": "gram"}, "gram"),
]


@pytest.mark.parametrize(("shape", "options", "expected"), _RULE_CASES)
def test_optimizer_picks_the_engine_by_the_documented_rule(shape, options, expected):
    M = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    M = M * torch.rand(*shape[:-1], 1, generator=torch.Generator().manual_seed(1))
    direction = AuroraDirection(**options)
    U, _ = direction(M, {})
    form = options.get("form", "preconditioned")

    def project(engine):
        return project_balanced_stiefel(
            M, 2, 0.5, direction.solver, form=form, check_finite=False, engine=engine
        )

    assert torch.equal(U, project(expected))
    if form == "preconditioned" and direction.solver.name != "svd":
        # the two engines round differently, so the pick is observable (that they agree
        # to rounding is tests/test_manifolds_balanced_gram.py's subject)
        assert not torch.equal(U, project("plain" if expected == "gram" else "gram"))


def test_gram_and_plain_engines_give_the_same_optimizer_step_in_float64():
    torch.manual_seed(0)
    G = torch.randn(64, 16, dtype=torch.float64) * torch.rand(64, 1, dtype=torch.float64)
    W0 = torch.randn(64, 16, dtype=torch.float64)
    results = {}
    for engine in ("plain", "gram"):
        W = torch.nn.Parameter(W0.clone())
        opt = Aurora([W], lr=0.1, engine=engine, dtype="float64", iters=3)
        W.grad = G.clone()
        opt.step()
        results[engine] = W.detach()
    # 1e-10 on the direction (float64 Gram form), times lr 0.1 and the aspect scale 2
    torch.testing.assert_close(results["gram"], results["plain"], rtol=0, atol=2e-11)
