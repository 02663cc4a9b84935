"""Optimizer faults: bad gradients, lost gradients, mutated settings, foreign state, resume.

Every optimizer of polarlab (Muon, NorMuon, U-NorMuon, Aurora, ARO) and the
elementwise AdamW/Lion groups, on small float32 matrices (a batched tall pair, a
square and a wide matrix) with cheap polar methods. Most expectations are
exact (``torch.equal``): a skipped step must be the same as no step, a resumed run
the same bits as an uninterrupted one. On CPU every batch size gives the same bits
(``polarlab.optim.PolarOptimizer``), so a run in which one matrix of a batched pair
is skipped can be compared with a run in which it has no gradient.
"""

import copy
import io
import random

import pytest
import torch

from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon

NS = {"method": "newton_schulz", "schedule": "polar_express", "steps": 6, "dtype": "float32"}
SHAPES = [(8, 4), (8, 4), (4, 4), (3, 6)]  # tall pair (batched), square, wide
LR = 0.01

# name -> (class, keywords, group entries); the elementwise groups live in a Muon.
OPTIMIZERS = {
    "muon": (Muon, NS, {}),
    "normuon": (NorMuon, NS, {}),
    "unormuon": (UNorMuon, NS, {}),
    "aurora": (Aurora, NS, {}),
    "aro": (ARO, {"base": "sinkhorn"}, {}),
    "adamw": (Muon, NS, {"algorithm": "adamw"}),
    "lion": (Muon, NS, {"algorithm": "lion"}),
}
ELEMENTWISE = ("adamw", "lion")
names = pytest.mark.parametrize("name", list(OPTIMIZERS))


def _params(seed=0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=g)) for s in shapes]


def _grads(step, shapes=SHAPES):
    # row-heterogeneous, so the row maps of Aurora and NorMuon have work to do
    g = torch.Generator().manual_seed(1000 + step)
    return [torch.randn(*s, generator=g) * (torch.rand(s[0], 1, generator=g) + 0.1) for s in shapes]


def _make(name, params, **kw):
    cls, base_kw, group = OPTIMIZERS[name]
    return cls([{"params": params, **group}], **{"lr": LR, **base_kw, **kw})


def _set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.clone()


def _snapshot(opt, params):
    weights = [p.detach().clone() for p in params]
    return weights, copy.deepcopy({i: dict(opt.state[p]) for i, p in enumerate(params)})


def _assert_same_state(opt_a, pa, opt_b, pb, ignore=()):
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert torch.equal(a, b), f"weights of parameter {i}"
        sa, sb = opt_a.state[a], opt_b.state[b]
        assert set(sa) - set(ignore) == set(sb) - set(ignore), i
        for key in set(sa) - set(ignore):
            assert torch.equal(sa[key], sb[key]), (i, key)


def _skips(opt, p):
    return int(opt.state[p]["nonfinite_skips"])


# ------------------------------------------------------------------ bad gradients


@names
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nonfinite_gradients_at_random_steps_are_skipped_and_counted(name, bad):
    # A skipped matrix keeps its weights and state: the run must equal, bit for bit, a
    # run in which that matrix has no gradient at those steps; the other matrices
    # (the batch-mate of matrix 0 included) are unaffected.
    rng = random.Random(f"{name}{bad}")
    poisoned = {t: rng.randrange(len(SHAPES)) for t in rng.sample(range(6), 3)}
    pa, pb = _params(), _params()
    oa, ob = _make(name, pa), _make(name, pb)
    for t in range(6):
        grads = _grads(t)
        bad_grads, missing = list(grads), list(grads)
        if t in poisoned:
            i = poisoned[t]
            bad_grads[i] = grads[i].clone()
            bad_grads[i].view(-1)[rng.randrange(grads[i].numel())] = bad
            missing[i] = None
        _set_grads(pa, bad_grads)
        _set_grads(pb, missing)
        oa.step()
        ob.step()
    _assert_same_state(oa, pa, ob, pb, ignore=("nonfinite_skips",))
    for i, p in enumerate(pa):
        assert _skips(oa, p) == sum(1 for j in poisoned.values() if j == i)


def _update(name, scale, steps=2):
    params = _params()
    before = [p.detach().clone() for p in params]
    opt = _make(name, params)
    for t in range(steps):
        _set_grads(params, [g * scale for g in _grads(t)])
        opt.step()
    return [p.detach() - b for p, b in zip(params, before)], opt, params


# Directions are scale-invariant: polar(c M) = polar(M), and so are the row maps of
# NorMuon and Aurora, ARO's rotation and Lion's sign. The scaled gradient is rounded
# once (relative 2^-24); the float32 iterations then differ by rounding amplified by
# the method (well below 1e-3 of the update for these well-conditioned matrices).
# AdamW is not scale-invariant (its eps is absolute): see its own test below.
@pytest.mark.parametrize("scale", [1e20, 1e-20])
@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n != "adamw"])
def test_extreme_scale_gradients_give_the_unit_scale_update(name, scale):
    unit, _, _ = _update(name, 1.0)
    scaled, opt, params = _update(name, scale)
    for i, (u, s) in enumerate(zip(unit, scaled)):
        assert _skips(opt, params[i]) == 0, i
        torch.testing.assert_close(s, u, rtol=0, atol=1e-3 * LR, msg=f"parameter {i}")


def test_adamw_extreme_scale_follows_torch_adamw_or_is_skipped_and_counted():
    # AdamW's update m / (sqrt(v) + eps) is not scale-invariant (eps is absolute). At
    # 1e-20 it must match torch.optim.AdamW run in float64 (eps dominates sqrt(v):
    # the float32 rounding of v, subnormal there, does not matter; rtol 1e-5). At
    # 1e20 the square g^2 ~ 1e40 overflows float32: torch.optim.AdamW then applies a
    # silent zero update; here the step is skipped and counted.
    small, _, _ = _update("adamw", 1e-20)
    ref = [torch.nn.Parameter(p.detach().double()) for p in _params()]
    before = [p.detach().clone() for p in ref]
    opt = torch.optim.AdamW(ref, lr=LR, weight_decay=0.0)
    for t in range(2):
        _set_grads(ref, [g.double() * 1e-20 for g in _grads(t)])
        opt.step()
    for s, p, b in zip(small, ref, before):
        torch.testing.assert_close(s.double(), p.detach() - b, rtol=1e-5, atol=1e-9)
    big, opt, params = _update("adamw", 1e20)
    for d, p in zip(big, params):
        assert torch.equal(d, torch.zeros_like(d)) and _skips(opt, p) == 2


@names
def test_zero_gradient_moves_nothing_and_is_not_a_fault(name):
    params = _params()
    before = [p.detach().clone() for p in params]
    opt = _make(name, params)
    for _ in range(2):
        _set_grads(params, [torch.zeros(s) for s in SHAPES])
        opt.step()
    for p, b in zip(params, before):
        assert torch.equal(p.detach(), b)
        assert _skips(opt, p) == 0
        assert all(torch.isfinite(v.float()).all() for v in opt.state[p].values())


@names
def test_zero_rows_and_columns_of_the_gradient_give_zero_rows_and_columns(name):
    # polar(M) = M (M^T M)^(-1/2) keeps a zero row of M zero (and, for M^T, a zero
    # column); so do the row maps, ARO's R f(R^T M) and the elementwise updates.
    params = _params()
    before = [p.detach().clone() for p in params]
    opt = _make(name, params)
    grads = _grads(0)
    for g in grads:
        g[1] = 0.0
        g[:, 2] = 0.0
    _set_grads(params, grads)
    opt.step()
    for i, (p, b) in enumerate(zip(params, before)):
        d = p.detach() - b
        assert torch.isfinite(d).all() and _skips(opt, p) == 0
        assert torch.equal(d[1], torch.zeros_like(d[1])), i
        assert torch.equal(d[:, 2], torch.zeros_like(d[:, 2])), i
        assert d.abs().max() > 0.1 * LR  # the rest moved


@names
@pytest.mark.parametrize("shape", [(4, 0), (0, 4)])
def test_empty_matrix_parameters_are_a_no_op(name, shape):
    params = _params()
    empty = torch.nn.Parameter(torch.zeros(shape))
    opt = _make(name, [*params, empty])
    for t in range(2):
        _set_grads([*params, empty], [*_grads(t), torch.zeros(shape)])
        opt.step()
    assert empty.shape == shape
    assert all(torch.isfinite(p).all() for p in params)


@names
def test_parameters_losing_their_gradient_keep_weights_and_state(name):
    # Matrix 0 has no gradient at steps 2 and 3: it keeps weights and state, and the
    # other matrices follow exactly the run of an optimizer that never had matrix 0.
    pa, pb = _params(), _params()[1:]
    oa, ob = _make(name, pa), _make(name, pb)
    for t in range(6):
        grads = _grads(t)
        if t in (2, 3):
            grads[0] = None
        if t == 2:
            held = _snapshot(oa, pa[:1])
        _set_grads(pa, grads)
        _set_grads(pb, grads[1:])
        oa.step()
        ob.step()
        if t == 3:
            now = _snapshot(oa, pa[:1])
            assert torch.equal(now[0][0], held[0][0])
            for key, value in held[1][0].items():
                assert torch.equal(now[1][0][key], value), key
    _assert_same_state(oa, pa[1:], ob, pb)


# ------------------------------------------------------------------ settings


_VALID = {  # group key -> a valid new value
    "lr": 0.02,
    "momentum": 0.5,
    "nesterov": False,
    "momentum_form": "sum",
    "weight_decay": 0.1,
    "cautious_wd": True,
    "adjust_lr": None,
}
_VALID_OWN = {
    "muon": {"steps": 3},
    "normuon": {"beta2": 0.5},
    "unormuon": {"beta2": 0.5},
    "aurora": {"iters": 1, "beta": 1.0},
    "aro": {"base": "row_norm"},
    "adamw": {"lr": 0.02, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
    "lion": {"lr": 0.02, "betas": (0.8, 0.9), "weight_decay": 0.1},
}


@names
def test_valid_settings_changed_in_the_group_take_effect(name):
    # Changing a group before a step is the same as building with the new values.
    changes = _VALID_OWN[name] if name in ELEMENTWISE else {**_VALID, **_VALID_OWN[name]}
    pa, pb = _params(), _params()
    oa = _make(name, pa)
    oa.step()  # no gradients yet: nothing moves, the group is checked as built
    oa.param_groups[0].update(changes)
    ob = _make(name, pb, **{k: v for k, v in changes.items() if k not in ("betas", "eps")})
    ob.param_groups[0].update(changes)  # betas/eps are group entries, not constructor options
    for t in range(2):
        _set_grads(pa, _grads(t))
        _set_grads(pb, _grads(t))
        oa.step()
        ob.step()
    _assert_same_state(oa, pa, ob, pb)


_INVALID = [
    ("lr", float("nan")),
    ("lr", float("inf")),
    ("lr", -0.1),
    ("lr", "0.1"),
    ("lr", True),
    ("momentum", 1.5),
    ("momentum", True),
    ("weight_decay", -0.1),
    ("nonfinite", "ignore"),
    ("nesterov", "no"),
    ("momentum_form", "heavy"),
]
_INVALID_ELEMENTWISE = [
    ("lr", float("nan")),
    ("lr", "0.1"),
    ("weight_decay", -0.1),
    ("betas", (0.9, 1.5)),
    ("betas", (0.9,)),
    ("betas", "ab"),
    ("eps", 0.0),
    ("eps", float("inf")),
]


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        *[(n, k, v) for n in OPTIMIZERS if n not in ELEMENTWISE for k, v in _INVALID],
        *[
            (n, k, v)
            for n in ELEMENTWISE
            for k, v in _INVALID_ELEMENTWISE
            if n == "adamw" or k != "eps"  # Lion has no eps
        ],
        ("normuon", "beta2", 1.0),
        ("aurora", "iters", 0),
        ("aro", "base", "l1"),
    ],
)
def test_invalid_settings_changed_in_the_group_raise_at_the_next_step(name, key, value):
    # In a second group (index 1) behind a valid first one: nothing may move, neither
    # the first group's weights nor the second's (lr = nan must never write NaN).
    first, params = _params(seed=1)[:1], _params()
    cls, base_kw, group = OPTIMIZERS[name]
    opt = cls([{"params": first}, {"params": params, **group}], lr=LR, **base_kw)
    _set_grads([*first, *params], [_grads(0)[0], *_grads(0)])
    opt.step()
    before = _snapshot(opt, [*first, *params])
    opt.param_groups[1][key] = value
    _set_grads([*first, *params], [_grads(1)[0], *_grads(1)])
    with pytest.raises(ValueError, match=rf"param_groups\[1\].*{key}"):
        opt.step()
    for p, b in zip([*first, *params], before[0]):
        assert torch.equal(p.detach(), b)


# ------------------------------------------------------------------ foreign state


def _trained(name, steps=2, **kw):
    params = _params()
    opt = _make(name, params, **kw)
    for t in range(steps):
        _set_grads(params, _grads(t))
        opt.step()
    return opt, params


def _assert_load_refused(opt, params, state_dict, match):
    weights, state = _snapshot(opt, params)
    groups = copy.deepcopy(opt.param_groups)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(state_dict)
    for p, w in zip(params, weights):
        assert torch.equal(p.detach(), w)
    for i, p in enumerate(params):  # nothing modified: state and groups as they were
        assert set(opt.state[p]) == set(state[i])
        for key, value in state[i].items():
            assert torch.equal(opt.state[p][key], value), key
    for g, h in zip(opt.param_groups, groups):
        assert {k: v for k, v in g.items() if k != "params"} == {
            k: v for k, v in h.items() if k != "params"
        }


@names
def test_state_of_another_optimizer_class_is_refused(name):
    others = list(OPTIMIZERS)
    source = others[(others.index(name) + 1) % len(others)]
    foreign, _ = _trained(source)
    opt, params = _trained(name)
    _assert_load_refused(opt, params, foreign.state_dict(), r"algorithm")


@names
@pytest.mark.parametrize("torch_cls", ["Muon", "AdamW"])
def test_state_of_a_torch_optimizer_is_refused(name, torch_cls):
    params_t = [torch.nn.Parameter(p.detach().clone()) for p in _params()]
    theirs = getattr(torch.optim, torch_cls)(params_t, lr=LR)
    _set_grads(params_t, _grads(0))
    theirs.step()
    opt, params = _trained(name)
    _assert_load_refused(opt, params, theirs.state_dict(), r"param_groups\[0\].*algorithm")


@names
def test_state_with_a_wrong_shape_or_a_missing_key_is_refused(name):
    opt, params = _trained(name)
    key = "exp_avg" if name in ELEMENTWISE else "momentum_buffer"
    wrong = copy.deepcopy(opt.state_dict())
    wrong["state"][0][key] = wrong["state"][0][key].mT.contiguous()  # (4, 8) for (8, 4)
    _assert_load_refused(
        opt, params, wrong, rf"parameter 0 \(group 0, shape \(8, 4\)\).*'{key}'.*\(4, 8\)"
    )
    missing = copy.deepcopy(opt.state_dict())
    del missing["state"][2][key]
    _assert_load_refused(opt, params, missing, rf"parameter 2 \(group 0, shape \(4, 4\)\).*'{key}'")
    row = copy.deepcopy(opt.state_dict())  # a row vector broadcasts: must not load
    row["state"][3][key] = row["state"][3][key][:1]
    _assert_load_refused(opt, params, row, r"parameter 3 \(group 0, shape \(3, 6\)\)")


# ------------------------------------------------------------------ resume and seeds


@names
def test_resume_from_a_checkpoint_at_a_random_step_is_bit_identical(name):
    stop = random.Random(name).randrange(1, 5)
    pa = _params()
    oa = _make(name, pa)
    for t in range(6):
        _set_grads(pa, _grads(t))
        oa.step()
        if t + 1 == stop:  # through bytes, as a checkpoint file would be
            buffer = io.BytesIO()
            torch.save({"weights": [p.detach() for p in pa], "opt": oa.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    pb = [torch.nn.Parameter(w.clone()) for w in saved["weights"]]
    ob = _make(name, pb, lr=0.5)  # other settings: the checkpoint's win
    ob.load_state_dict(saved["opt"])
    for t in range(stop, 6):
        _set_grads(pb, _grads(t))
        ob.step()
    _assert_same_state(oa, pa, ob, pb)


@names
def test_same_seed_gives_identical_runs(name):
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        params = [torch.nn.Parameter(torch.randn(s)) for s in SHAPES]
        opt = _make(name, params)
        for _ in range(3):
            _set_grads(params, [torch.randn(s) for s in SHAPES])
            opt.step()
        runs.append((opt, params))
    _assert_same_state(*runs[0], *runs[1])
