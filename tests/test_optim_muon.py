"""Muon against torch.optim.Muon, closed forms, batching, lr scaling and flattening."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from polarlab._arrays import unit_roundoff
from polarlab.optim import Muon, NorMuon, UNorMuon
from polarlab.optim.functional import muon_update
from polarlab.optim.rule import ADJUST_LR


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 24, bias=False),  # 24 x 8: tall
        torch.nn.Tanh(),
        torch.nn.Linear(24, 24, bias=False),  # square
        torch.nn.Tanh(),
        torch.nn.Linear(24, 4, bias=False),  # 4 x 24: wide
    )


JORDAN = (3.4445, -4.7750, 2.0315)


def _train_pair(ours_kw, steps=20, lr=0.02, wd=0.1):
    """Train the same MLP with torch.optim.Muon and polarlab's Muon; return both and the start."""
    ref, ours = _mlp(), _mlp()
    init = [p.detach().clone() for p in ref.parameters()]
    opt_ref = torch.optim.Muon(ref.parameters(), lr=lr, weight_decay=wd, momentum=0.95)
    opt = Muon(
        ours.parameters(),
        lr=lr,
        weight_decay=wd,
        momentum=0.95,
        nesterov=True,
        momentum_form="ema",
        adjust_lr="aspect",
        method="newton_schulz",
        schedule="jordan",
        steps=5,
        **ours_kw,
    )
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 8, generator=g), torch.randn(32, 4, generator=g)
    for _ in range(steps):
        for model, o in ((ref, opt_ref), (ours, opt)):
            o.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            o.step()
    return list(ref.parameters()), list(ours.parameters()), init


def test_matches_torch_optim_muon_semantics_in_float32(monkeypatch):
    # torch.optim.Muon hard-codes bf16; swap in a float32 transcription of its
    # Newton-Schulz (same normalisation X / max(||X||_F, eps), wide orientation) so
    # that only the optimizer logic is compared: momentum, Nesterov, scaling, decay.
    def ns_float32(grad, coefficients, steps, eps):
        a, b, c = coefficients
        X = grad.float()
        tall = grad.size(0) > grad.size(1)
        X = X.T if tall else X
        X = X / X.norm().clamp(min=eps)
        for _ in range(steps):
            A = X @ X.T
            X = a * X + (b * A + c * A @ A) @ X
        return X.T if tall else X

    monkeypatch.setattr(torch.optim._muon, "_zeropower_via_newtonschulz", ns_float32)
    ref, ours, init = _train_pair({"dtype": "float32"})
    for p_ref, p, p0 in zip(ref, ours, init):
        moved = (p_ref - p0).abs().max().item()
        # float32 roundings in a different order (Gram side, eps placement 1e-7 vs
        # clamp) amplified by at most ~9 per NS composition (see below): 1e-4 of the move.
        assert (p_ref - p).abs().max().item() < 1e-4 * moved


def test_matches_torch_optim_muon_over_20_steps_to_bf16_rounding():
    # Unpatched torch.optim.Muon (bf16). The two codes place bf16 roundings differently
    # (torch casts G and normalises in bf16; polarlab normalises in float32, then casts).
    # A relative perturbation d of the input moves the singular values of Jordan's
    # 5-step composition f by at most max_x |x f'(x)| d (computed below, ~8.6); with
    # ~6 roundings of size u (input, norm, 5 steps) the update U changes by at most
    # 6 * 8.6 * u in spectral norm, which bounds its entries. Each of the 20 steps
    # multiplies that by lr * sqrt(max(1, m/n)).
    x = np.geomspace(1e-4, 1.0, 200_001)

    def f5(x):
        for _ in range(5):
            x = x * (JORDAN[0] + x * x * (JORDAN[1] + JORDAN[2] * x * x))
        return x

    h = 1e-7
    sensitivity = np.max(np.abs(f5(x * (1 + h)) - f5(x)) / h)
    assert 8 < sensitivity < 9
    steps, lr = 20, 0.02
    ref, ours, init = _train_pair({"dtype": "bfloat16"}, steps=steps, lr=lr)
    for p_ref, p, p0 in zip(ref, ours, init):
        m, n = p.shape
        per_step = lr * math.sqrt(max(1, m / n)) * 6 * sensitivity * unit_roundoff("bfloat16")
        tol = steps * per_step
        assert (p_ref - p).abs().max().item() < tol, (tuple(p.shape), tol)
        # the weights moved well beyond that tolerance, so the check can fail
        assert (p_ref - p0).abs().max().item() > tol


def test_first_step_is_scaled_polar_factor_of_gradient():
    # First step: B = (1-mu) G, Nesterov M = (1-mu) G + mu B  is proportional to G, so
    # W1 = W0 (1 - lr wd) - lr sqrt(max(1, m/n)) polar(G); reference: scipy.linalg.polar.
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((12, 5))
    G = rng.standard_normal((12, 5))
    W = torch.nn.Parameter(torch.tensor(W0))
    lr, wd = 0.05, 0.1
    opt = Muon([W], lr=lr, weight_decay=wd, method="svd")
    W.grad = torch.tensor(G)
    opt.step()
    expected = W0 * (1 - lr * wd) - lr * math.sqrt(12 / 5) * scipy.linalg.polar(G)[0]
    np.testing.assert_allclose(W.detach().numpy(), expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("adjust", list(ADJUST_LR))
@pytest.mark.parametrize("shape", [(12, 3), (3, 12)])
def test_adjust_lr_sets_the_spectral_norm_of_the_step(adjust, shape):
    # An exact polar step has all singular values 1, so ||dW||_2 = lr * scale.
    m, n = shape
    expected = {
        "aspect": math.sqrt(max(1, m / n)),
        "spectral_norm": math.sqrt(m / n),
        "rms_norm": 0.2 * math.sqrt(max(m, n)),
        None: 1.0,
    }[adjust]
    W = torch.nn.Parameter(torch.randn(m, n, dtype=torch.float64))
    W0 = W.detach().clone()
    opt = Muon([W], lr=0.01, method="svd", adjust_lr=adjust)
    W.grad = torch.randn(m, n, dtype=torch.float64)
    opt.step()
    s = torch.linalg.svdvals(W.detach() - W0)
    np.testing.assert_allclose(s.numpy(), 0.01 * expected, rtol=1e-12)


def test_ema_and_sum_momentum_give_the_same_update_for_scale_invariant_polar():
    # sum buffer = ema buffer / (1 - mu) at every step; polar is scale invariant.
    torch.manual_seed(0)
    Ws = [torch.nn.Parameter(torch.randn(6, 4, dtype=torch.float64)) for _ in range(2)]
    Ws[1].data.copy_(Ws[0].data)
    opts = [
        Muon([Ws[0]], lr=0.1, method="svd", momentum_form="ema"),
        Muon([Ws[1]], lr=0.1, method="svd", momentum_form="sum"),
    ]
    for _ in range(4):
        g = torch.randn(6, 4, dtype=torch.float64)
        for W, o in zip(Ws, opts):
            W.grad = g.clone()
            o.step()
    torch.testing.assert_close(Ws[0], Ws[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(
        opts[1].state[Ws[1]]["momentum_buffer"] * 0.05, opts[0].state[Ws[0]]["momentum_buffer"]
    )


def test_batched_same_shape_matrices_equal_separate_steps():
    torch.manual_seed(0)
    shapes = [(10, 4), (10, 4), (4, 10), (10, 4)]
    together = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    apart = [torch.nn.Parameter(p.detach().clone()) for p in together]
    kw = dict(lr=0.05, method="newton_schulz", schedule="simple_quintic", steps=12)
    opt = Muon(together, **kw)
    opts = [Muon([p], **kw) for p in apart]
    for _ in range(3):
        grads = [torch.randn(*s) for s in shapes]
        for p, q, g in zip(together, apart, grads):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        for o in opts:
            o.step()
    for p, q in zip(together, apart):
        # batched and single products may round differently: a few float32 ulps of |W|
        torch.testing.assert_close(p, q, rtol=0, atol=20 * unit_roundoff(torch.float32))


def test_cautious_weight_decay_decays_only_where_update_agrees_in_sign():
    rng = np.random.default_rng(3)
    W0, G = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    W = torch.nn.Parameter(torch.tensor(W0))
    lr, wd = 0.1, 0.5
    opt = Muon([W], lr=lr, weight_decay=wd, cautious_wd=True, method="svd", adjust_lr=None)
    W.grad = torch.tensor(G)
    opt.step()
    U = scipy.linalg.polar(G)[0]
    expected = W0 - lr * wd * W0 * (W0 * U >= 0) - lr * U  # arXiv 2510.12402
    np.testing.assert_allclose(W.detach().numpy(), expected, atol=1e-13)


def test_conv_weights_need_flatten_and_then_match_the_matrix_view():
    torch.manual_seed(0)
    conv = torch.nn.Parameter(torch.randn(6, 2, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="flatten=True"):
        Muon([conv], method="svd")
    mat = torch.nn.Parameter(conv.detach().reshape(6, 18).clone())
    o1 = Muon([conv], lr=0.1, method="svd", flatten=True)
    o2 = Muon([mat], lr=0.1, method="svd")
    g = torch.randn(6, 2, 3, 3, dtype=torch.float64)
    conv.grad, mat.grad = g, g.reshape(6, 18).clone()
    o1.step()
    o2.step()
    torch.testing.assert_close(conv.detach().reshape(6, 18), mat.detach(), rtol=0, atol=0)


def test_row_telemetry_records_row_norms_of_the_applied_change():
    W = torch.nn.Parameter(torch.randn(9, 3, dtype=torch.float64))
    W0 = W.detach().clone()
    opt = Muon([W], lr=0.1, method="svd", row_telemetry=True, weight_decay=0.1)
    W.grad = torch.randn(9, 3, dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(opt.state[W]["row_update_norm"], (W.detach() - W0).norm(dim=1))


def test_normuon_first_step_closed_form():
    # arXiv 2510.05491 with dion's grafting, first step from v = 0 (no bias correction):
    # O = polar(G); v = (1 - b2) mean_j O_ij^2; O_hat = O / (sqrt(v) + 1e-8), rescaled
    # to ||O||_F; W1 = W0 - lr sqrt(max(1, m/n)) O_hat. Reference: scipy + numpy.
    rng = np.random.default_rng(2)
    W0 = rng.standard_normal((10, 4))
    G = rng.standard_normal((10, 4)) * rng.uniform(0.1, 2, (10, 1))
    lr, b2 = 0.05, 0.9
    W = torch.nn.Parameter(torch.tensor(W0))
    opt = NorMuon([W], lr=lr, beta2=b2, method="svd")
    W.grad = torch.tensor(G)
    opt.step()
    O = scipy.linalg.polar(G)[0]
    v = (1 - b2) * (O**2).mean(axis=1)
    O_hat = O / (np.sqrt(v)[:, None] + 1e-8)
    O_hat *= np.linalg.norm(O) / np.linalg.norm(O_hat)
    np.testing.assert_allclose(W.detach().numpy(), W0 - lr * math.sqrt(10 / 4) * O_hat, atol=1e-13)
    np.testing.assert_allclose(opt.state[W]["row_second_moment"].numpy(), v, rtol=1e-13)


def test_unormuon_tall_rows_reach_the_balanced_norm_and_wide_use_grafting():
    # First step (v from zero): every row of the tall update has norm sqrt(n/m);
    # on a wide matrix U-NorMuon equals NorMuon.
    torch.manual_seed(0)
    W = torch.nn.Parameter(torch.randn(12, 3, dtype=torch.float64))
    W0 = W.detach().clone()
    opt = UNorMuon([W], lr=1.0, method="svd", adjust_lr=None)
    W.grad = torch.randn(12, 3, dtype=torch.float64) * torch.rand(12, 1, dtype=torch.float64)
    G = W.grad.clone()
    opt.step()
    rows = (W0 - W.detach()).norm(dim=1)
    # exact up to the eps = 1e-8 added to sqrt(v): relative error <= 2 eps / min sqrt(v),
    # with v = 0.05 mean_j polar(G)_ij^2 from an independent SVD
    svd = torch.linalg.svd(G, full_matrices=False)
    v = 0.05 * (svd.U @ svd.Vh).square().mean(dim=1)
    rtol = 2e-8 / v.sqrt().min().item()
    torch.testing.assert_close(rows, torch.full((12,), 0.5, dtype=torch.float64), rtol=rtol, atol=0)
    Wa = torch.nn.Parameter(torch.randn(3, 12, dtype=torch.float64))
    Wb = torch.nn.Parameter(Wa.detach().clone())
    g = torch.randn(3, 12, dtype=torch.float64)
    for W_, cls in ((Wa, UNorMuon), (Wb, NorMuon)):
        W_.grad = g.clone()
        cls([W_], lr=0.1, method="svd").step()
    assert torch.equal(Wa, Wb)


def test_functional_muon_update_equals_optimizer_step():
    torch.manual_seed(0)
    W0 = torch.randn(9, 5, dtype=torch.float64)
    W = torch.nn.Parameter(W0.clone())
    kw = dict(lr=0.02, weight_decay=0.1, momentum_form="sum", cautious_wd=True)
    opt = Muon([W], method="svd", **kw)
    buf, Wf = torch.zeros_like(W0), W0
    for _ in range(3):
        G = torch.randn(9, 5, dtype=torch.float64)
        W.grad = G
        opt.step()
        Wf, buf = muon_update(Wf, G, buf, method="svd", **kw)
    torch.testing.assert_close(W.detach(), Wf, rtol=0, atol=1e-14)
    torch.testing.assert_close(opt.state[W]["momentum_buffer"], buf, rtol=0, atol=0)
