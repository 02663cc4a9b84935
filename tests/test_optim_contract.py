"""The contract every polarlab optimizer keeps, run over all of them.

Small float32 matrices with cheap polar methods keep this fast on CPU.
"""

import copy

import numpy as np
import pytest
import torch

from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon, split_params

NS = {"method": "newton_schulz", "schedule": "polar_express", "steps": 8, "dtype": "float32"}

# name -> (constructor, keywords, a group option to mutate and its new value)
OPTIMIZERS = {
    "muon": (Muon, NS, "steps", 3),
    "normuon": (NorMuon, NS, "beta2", 0.5),
    "unormuon": (UNorMuon, NS, "beta2", 0.5),
    "aurora": (Aurora, NS, "iters", 1),
    "aurora_beta": (Aurora, NS, "beta", 1.0),
    "aurora_alternating": (Aurora, {**NS, "form": "alternating"}, "iters", 3),
    "aro_sinkhorn": (ARO, {"base": "sinkhorn"}, "base", "sign"),
    "aro_row_norm": (ARO, {"base": "row_norm"}, "base", "sinkhorn"),
    "aro_sign": (ARO, {"base": "sign"}, "base", "row_norm"),
}
SHAPES = [(12, 4), (12, 4), (4, 4), (3, 9)]  # tall pair (batched), square, wide


def _params(dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=g).to(dtype)) for s in SHAPES]


def _grads(step, dtype=torch.float32):
    # row-heterogeneous gradients, so Aurora's and NorMuon's row maps have work to do
    g = torch.Generator().manual_seed(100 + step)
    out = []
    for s in SHAPES:
        scale = torch.rand(s[0], 1, generator=g) + 0.05
        out.append((torch.randn(*s, generator=g) * scale).to(dtype))
    return out


def _make(name, params, **kw):
    cls, base_kw, _, _ = OPTIMIZERS[name]
    return cls(params, **{"lr": 0.01, **base_kw, **kw})


def _run(opt, params, steps, start=0, dtype=torch.float32):
    for t in range(start, start + steps):
        for p, g in zip(params, _grads(t, dtype)):
            p.grad = g
        opt.step()


names = pytest.mark.parametrize("name", list(OPTIMIZERS))


@names
def test_update_is_finite_and_moves_every_matrix(name):
    params = _params()
    before = [p.detach().clone() for p in params]
    _run(_make(name, params), params, 2)
    for p, p0 in zip(params, before):
        assert torch.isfinite(p).all()
        assert not torch.equal(p, p0)


@names
def test_lr_scheduler_takes_effect_and_halves_the_step(name):
    # With weight_decay = 0 the step is lr * scale * U(M); U does not depend on lr,
    # so halving lr through a scheduler halves the applied change exactly (to rounding).
    pa, pb = _params(), _params()
    oa, ob = _make(name, pa), _make(name, pb)
    sched = torch.optim.lr_scheduler.LambdaLR(ob, lambda epoch: 0.5**epoch)
    _run(oa, pa, 1)
    _run(ob, pb, 1)
    sched.step()  # lr -> lr / 2 for the next step
    assert ob.param_groups[0]["lr"] == pytest.approx(0.005)
    before_a = [p.detach().clone() for p in pa]
    before_b = [p.detach().clone() for p in pb]
    _run(oa, pa, 1, start=1)
    _run(ob, pb, 1, start=1)
    for a, a0, b, b0 in zip(pa, before_a, pb, before_b):
        # float32: |dW| ~ 1e-2, its rounding ~ 1e-2 * 2^-24 per operation, plus the
        # rounding of W itself (|W| ~ 3, u = 6e-8): allow 1e-6 absolute.
        torch.testing.assert_close(b - b0, 0.5 * (a - a0), rtol=0, atol=1e-6)


@names
def test_mutated_group_option_changes_the_update(name):
    _, _, key, value = OPTIMIZERS[name]
    pa, pb = _params(), _params()
    oa, ob = _make(name, pa), _make(name, pb)
    _run(oa, pa, 1)
    _run(ob, pb, 1)
    ob.param_groups[0][key] = value  # re-read from the group at the next step
    _run(oa, pa, 1, start=1)
    _run(ob, pb, 1, start=1)
    diff = max((a - b).abs().max().item() for a, b in zip(pa[:2], pb[:2]))  # tall matrices
    assert diff > 1e-5  # far above float32 rounding of |dW| ~ 1e-2


@names
def test_state_dict_round_trip_continues_bit_identically(name):
    pa = _params()
    oa = _make(name, pa)
    _run(oa, pa, 3)
    saved = copy.deepcopy(oa.state_dict())
    pb = [torch.nn.Parameter(p.detach().clone()) for p in pa]
    ob = _make(name, pb, lr=0.5)  # different hyperparameters, overwritten by the load
    ob.load_state_dict(saved)
    assert ob.param_groups[0]["lr"] == 0.01
    _run(oa, pa, 2, start=3)
    _run(ob, pb, 2, start=3)
    for a, b in zip(pa, pb):
        assert torch.equal(a, b)
    # state is plain tensors and plain group data
    for group in saved["param_groups"]:
        for key, value in group.items():
            assert isinstance(value, (int, float, str, bool, tuple, list, type(None))), key


@names
def test_step_with_closure_returns_the_loss(name):
    params = _params()
    opt = _make(name, params)

    def closure():
        opt.zero_grad()
        loss = sum((p**2).sum() for p in params)
        loss.backward()
        return loss

    expected = sum((p.detach() ** 2).sum() for p in params)
    loss = opt.step(closure)
    assert torch.equal(loss.detach(), expected)


@names
def test_params_without_grad_are_skipped(name):
    params = _params()
    opt = _make(name, params)
    frozen = params[2].detach().clone()
    for p, g in zip(params, _grads(0)):
        p.grad = g
    params[2].grad = None
    opt.step()
    assert torch.equal(params[2].detach(), frozen)
    assert params[2] not in opt.state


@names
def test_tensor_lr_equals_float_lr(name):
    pa, pb = _params(), _params()
    _run(_make(name, pa), pa, 2)
    _run(_make(name, pb, lr=torch.tensor(0.01)), pb, 2)
    for a, b in zip(pa, pb):
        # the same products; a 0-d tensor lr may round lr*scale differently: 1 ulp of |dW|
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)


@names
def test_bfloat16_params_follow_float32_params(name):
    # bf16 weights, float32 state and direction: the only difference is the final
    # rounding of W to bf16 (u = 2^-8 relative to |W| <= ~4) each step.
    p32 = _params()
    p16 = [torch.nn.Parameter(p.detach().to(torch.bfloat16)) for p in p32]
    p32 = [torch.nn.Parameter(p.detach().float()) for p in p16]
    o32, o16 = _make(name, p32), _make(name, p16)
    _run(o32, p32, 2)
    _run(o16, p16, 2, dtype=torch.bfloat16)
    for a, b in zip(p32, p16):
        assert b.dtype == torch.bfloat16
        assert o16.state[b]["momentum_buffer"].dtype == torch.float32
        # 2 roundings of |W| <= 5 at u = 2^-8, plus bf16 gradients (relative u) which
        # move U by ~u: 2 * 5 * 2^-8 + slack
        torch.testing.assert_close(b.float(), a, rtol=0, atol=0.05)


@names
def test_nonfinite_gradients_leave_weights_and_state_untouched_then_training_continues(name):
    params = _params()
    opt = _make(name, params)
    _run(opt, params, 2)
    bad = _grads(2)
    bad[0][3, 1] = float("nan")
    bad[2][0, 0] = float("inf")
    before = [p.detach().clone() for p in params]
    state_before = copy.deepcopy({i: dict(opt.state[p]) for i, p in enumerate(params)})
    for p, g in zip(params, bad):
        p.grad = g
    opt.step()
    for i in (0, 2):  # poisoned matrices: unchanged, state unchanged, skip counted
        assert torch.equal(params[i].detach(), before[i])
        for key, value in state_before[i].items():
            if key == "nonfinite_skips":
                assert opt.state[params[i]][key].item() == value.item() + 1
            else:
                assert torch.equal(opt.state[params[i]][key], value), key
    for i in (1, 3):  # the others, including the batch-mate of matrix 0, moved
        assert not torch.equal(params[i].detach(), before[i])
    _run(opt, params, 2, start=3)
    for p in params:
        assert torch.isfinite(p).all()
        for value in opt.state[p].values():
            assert torch.isfinite(value.float()).all()


@names
def test_nonfinite_raise_policy(name):
    params = _params()
    opt = _make(name, params, nonfinite="raise")
    for p, g in zip(params, _grads(0)):
        p.grad = g
    params[1].grad[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite"):
        opt.step()


@names
@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"lr": -1.0}, "lr must be >= 0"),
        ({"momentum": 1.0}, r"momentum must lie in \[0, 1\)"),
        ({"momentum": -0.1}, r"momentum must lie in \[0, 1\)"),
        ({"momentum_form": "heavy"}, "unknown momentum_form"),
        ({"adjust_lr": "sqrt"}, "unknown adjust_lr"),
        ({"nonfinite": "ignore"}, "unknown nonfinite"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
    ],
)
def test_bad_hyperparameters_raise_at_construction(name, kw, match):
    with pytest.raises(ValueError, match=match):
        _make(name, _params(), **kw)


@pytest.mark.parametrize("name", ["muon", "normuon", "aurora"])
def test_unknown_method_or_schedule_names_raise(name):
    with pytest.raises(ValueError, match=r"unknown method 'qr_magic'; choose one of: .*svd"):
        _make(name, _params(), method="qr_magic")
    with pytest.raises(ValueError, match="unknown schedule 'nope'"):
        _make(name, _params(), schedule="nope")
    with pytest.raises(ValueError, match="takes no option"):
        _make(name, _params(), method="svd", schedule="jordan", steps=None, dtype=None)


@pytest.mark.parametrize(
    ("name", "kw", "match"),
    [
        ("aurora", {"iters": 0}, "iters must be a positive integer"),
        ("aurora", {"beta": 0.0}, r"beta must lie in \(0, 1\]"),
        ("aurora", {"form": "magic"}, "unknown form 'magic'; choose one of"),
        ("normuon", {"beta2": 1.0}, r"beta2 must lie in \[0, 1\)"),
        ("aro_sign", {"base": "l1"}, "unknown base map 'l1'; choose one of"),
        ("aro_sign", {"qr": "gram"}, "unknown qr 'gram'; choose one of"),
    ],
)
def test_bad_specific_options_raise(name, kw, match):
    with pytest.raises(ValueError, match=match):
        _make(name, _params(), **kw)


@names
def test_non_matrix_params_need_flatten_or_an_elementwise_group(name):
    with pytest.raises(ValueError, match="flatten=True"):
        _make(name, [torch.nn.Parameter(torch.randn(4, 2, 3, 3))])
    with pytest.raises(ValueError, match="not a matrix"):
        _make(name, [torch.nn.Parameter(torch.randn(5))])
    with pytest.raises(ValueError, match="unknown algorithm 'sgd'"):
        _make(name, [{"params": [torch.nn.Parameter(torch.randn(5))], "algorithm": "sgd"}])
    conv = torch.nn.Parameter(torch.randn(4, 2, 3, 3))
    opt = _make(name, [conv], flatten=True)
    conv.grad = torch.randn(4, 2, 3, 3)
    opt.step()
    assert opt.state[conv]["momentum_buffer"].shape == (4, 18)


def test_adamw_group_matches_torch_adamw():
    # Independent reference: torch.optim.AdamW with the same hyperparameters, fed the
    # same gradient sequence (fixed tensors, so the Muon-trained matrix cannot leak in).
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    ref = copy.deepcopy(model)
    hyper = {"lr": 3e-3, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1}
    opt = Muon(split_params(model, head_modules=["2"], other_options=hyper), lr=0.02, **NS)
    opt_ref = torch.optim.AdamW(ref.parameters(), **hyper)
    g = torch.Generator().manual_seed(1)
    for _ in range(6):
        grads = [torch.randn(p.shape, generator=g) for p in model.parameters()]
        for m in (model, ref):
            for p, gr in zip(m.parameters(), grads):
                p.grad = gr.clone()
        opt.step()
        opt_ref.step()
    for (n, a), b in zip(model.named_parameters(), ref.parameters()):
        if n == "0.weight":  # the Muon-trained matrix
            assert not torch.allclose(a, b)
            continue
        # same formula, float32; torch may fuse differently: a few ulps of |W| ~ 1
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_adamw_and_lion_groups_first_step_closed_form():
    # Step 1 from zero state, bias-corrected AdamW: m/c1 = g, v/c2 = g^2, so
    # W1 = W0 (1 - lr wd) - lr g / (|g| + eps). Lion: W1 = W0 (1 - lr wd) - lr sign(g).
    rng = np.random.default_rng(0)
    W0, G = rng.standard_normal(7), rng.standard_normal(7)
    lr, wd, eps = 1e-2, 0.1, 1e-8
    for algorithm, expected in (
        ("adamw", W0 * (1 - lr * wd) - lr * G / (np.abs(G) + eps)),
        ("lion", W0 * (1 - lr * wd) - lr * np.sign(G)),
    ):
        w = torch.nn.Parameter(torch.tensor(W0))
        group = {"params": [w], "algorithm": algorithm, "lr": lr, "weight_decay": wd}
        opt = Muon([group], **NS)
        w.grad = torch.tensor(G)
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=0, atol=1e-15)


def test_split_params_groups_and_errors():
    model = torch.nn.ModuleDict(
        {
            "emb": torch.nn.Embedding(10, 4),
            "body": torch.nn.Linear(4, 8),
            "conv": torch.nn.Conv2d(2, 3, 3),
            "head": torch.nn.Linear(8, 10),
        }
    )
    groups = split_params(model, ["emb"], ["head"])
    matrices, others = groups
    assert [p.shape for p in matrices["params"]] == [torch.Size([8, 4])]
    assert others["algorithm"] == "adamw" and len(others["params"]) == 6
    groups = split_params(model, ["emb"], ["head"], flatten=True, algorithm="lion")
    assert len(groups[0]["params"]) == 2 and groups[1]["algorithm"] == "lion"
    with pytest.raises(ValueError, match="no module named 'lm_head'; modules are: 'emb'"):
        split_params(model, head_modules=["lm_head"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@names
def test_cuda_step_has_no_host_synchronisation(name):
    # The default compute dtype on CUDA is bf16 for polar methods; with the sync
    # debug mode set to "error", any host synchronisation inside step() raises.
    cls, kw, _, _ = OPTIMIZERS[name]
    kw = {k: v for k, v in kw.items() if k != "dtype"}
    params = [torch.nn.Parameter(p.detach().cuda()) for p in _params()]
    opt = cls(params, lr=0.01, **kw)
    for _ in range(2):
        for p, g in zip(params, _grads(0)):
            p.grad = g.cuda()
        torch.cuda.set_sync_debug_mode("error")
        try:
            opt.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert all(torch.isfinite(p).all() for p in params)
