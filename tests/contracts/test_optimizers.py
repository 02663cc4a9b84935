"""The contract of every optimizer in ``contracts.optimizers.OPTIMIZERS``.

Bad settings raise at construction, and after a change in ``param_groups`` at the next
step, naming the key; valid changes take effect. A non-finite gradient skips the matrix
and counts the skip (``state["nonfinite_skips"]``); a gradient at an extreme scale gives
the update of the same gradient at unit scale (the direction is scale invariant and the
momentum starts at zero, so the first update is ``-lr * scale * polar-like(G)`` whatever
the scale of ``G``) or is skipped and counted, never silently zero. Degenerate shapes
(``1 x n``, ``n x 1``, ``4 x 0``, a 4-D tensor with ``flatten=True``) step; complex
parameters are refused; ``load_state_dict`` refuses state of another class, of
``torch.optim.Muon`` or of another shape, naming the parameter; runs are deterministic
and a resumed run continues bit for bit.

Sampling: every optimizer meets every case on float32 ``4 x 3`` parameters (the cheap
shape of the step; larger shapes are the training tests' business).
"""

from __future__ import annotations

import io
import math

import pytest
import torch

from .optimizers import COMMON_BAD, OPTIMIZERS
from .reasons import param

SHAPE = (4, 3)


def _params(*shapes, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=g).to(dtype)) for s in shapes or [SHAPE]]


def _grad(shape, seed=1, scale=1.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def _step(opt, params, seed=1, scale=1.0):
    for i, p in enumerate(params):
        p.grad = _grad(p.shape, seed + i, scale, p.dtype)
    opt.step()


def _names_key(message: str, key: str) -> bool:
    return key in message


def _bad_cases(test):
    for e in OPTIMIZERS:
        for key, value in (*COMMON_BAD, *e.bad):
            yield param(test, e.name, f"{key}={value!r}", e, key, value)


@pytest.mark.parametrize(("entry", "key", "value"), list(_bad_cases("construct")))
def test_bad_setting_is_refused_at_construction_naming_the_key(entry, key, value):
    with pytest.raises((ValueError, TypeError)) as info:
        entry.make(_params(), **{key: value})
    assert _names_key(str(info.value), key), str(info.value)


GROUP_BAD = (
    ("lr", float("nan")),
    ("lr", float("inf")),
    ("lr", "0.1"),
    ("momentum", 1.5),
    ("weight_decay", -0.1),
    ("nonfinite", "ignore"),
    ("nesterov", "no"),
)


@pytest.mark.parametrize(
    ("entry", "key", "value"),
    [param("group", e.name, f"{k}={v!r}", e, k, v) for e in OPTIMIZERS for k, v in GROUP_BAD],
)
def test_bad_setting_in_param_groups_raises_at_the_next_step(entry, key, value):
    params = _params()
    opt = entry.make(params)
    _step(opt, params)
    before = params[0].detach().clone()
    opt.param_groups[0][key] = value
    with pytest.raises((ValueError, TypeError)) as info:
        _step(opt, params, seed=2)
    assert _names_key(str(info.value), key), str(info.value)
    assert torch.equal(params[0].detach(), before), "the refused step changed the weights"


@pytest.mark.parametrize("entry", [param("group_ok", e.name, "lr=0", e) for e in OPTIMIZERS])
def test_a_valid_change_in_param_groups_takes_effect(entry):
    params = _params()
    opt = entry.make(params)
    _step(opt, params)
    opt.param_groups[0]["lr"] = 0.0
    before = params[0].detach().clone()
    _step(opt, params, seed=2)
    assert torch.equal(params[0].detach(), before)
    opt.param_groups[0]["lr"] = 0.05
    _step(opt, params, seed=3)
    assert not torch.equal(params[0].detach(), before)


@pytest.mark.parametrize(
    ("entry", "bad"),
    [param("nonfinite", e.name, b, e, b) for e in OPTIMIZERS for b in ("nan", "inf", "-inf")],
)
def test_a_non_finite_gradient_is_skipped_and_counted(entry, bad):
    params = _params(SHAPE, SHAPE)
    opt = entry.make(params)
    _step(opt, params)
    before = [p.detach().clone() for p in params]
    skips = int(opt.state[params[0]]["nonfinite_skips"])
    params[0].grad = _grad(SHAPE, 5)
    params[0].grad[1, 2] = float(bad)
    params[1].grad = _grad(SHAPE, 6)
    opt.step()
    assert torch.equal(params[0].detach(), before[0])
    assert int(opt.state[params[0]]["nonfinite_skips"]) == skips + 1
    assert not torch.equal(params[1].detach(), before[1]), "the finite batch-mate moved"


def _scale_of(label: str) -> float:
    """A power of two (exact scaling) near the label's scale, for float32 gradients."""
    info = torch.finfo(torch.float32)
    target = {"tiny": info.tiny * 1e3, "max": info.max / 1e3}.get(label) or float(label)
    return 2.0 ** math.floor(math.log2(target))


@pytest.mark.parametrize(
    ("entry", "label"),
    [
        param("grad_scale", e.name, s, e, s)
        for e in OPTIMIZERS
        for s in ("1e-20", "1e20", "tiny", "max")
    ],
)
def test_a_gradient_at_an_extreme_scale_updates_like_at_unit_scale(entry, label):
    """Same first update for ``G`` and ``cG`` (float32: relative 1e-4), or a counted skip."""
    c = _scale_of(label)
    unit, scaled = _params(), _params()
    opt_unit, opt_scaled = entry.make(unit), entry.make(scaled)
    start = unit[0].detach().clone()
    _step(opt_unit, unit)
    _step(opt_scaled, scaled, scale=c)
    if int(opt_scaled.state[scaled[0]]["nonfinite_skips"]) == 1:
        assert torch.equal(scaled[0].detach(), start)
        return
    du, ds = unit[0].detach() - start, scaled[0].detach() - start
    assert torch.isfinite(ds).all()
    assert float((ds - du).norm()) <= 1e-4 * float(du.norm()), (float(ds.norm()), float(du.norm()))


@pytest.mark.parametrize("entry", [param("zero_grad", e.name, "4x3", e) for e in OPTIMIZERS])
def test_a_zero_gradient_leaves_the_weights(entry):
    params = _params()
    opt = entry.make(params)
    before = params[0].detach().clone()
    params[0].grad = torch.zeros(SHAPE)
    opt.step()
    assert torch.equal(params[0].detach(), before)


SHAPES = {"1xn": (1, 4), "nx1": (4, 1), "4x0": (4, 0), "4d-flatten": (4, 2, 3, 3)}


@pytest.mark.parametrize(
    ("entry", "shape"),
    [param("shape", e.name, label, e, s) for e in OPTIMIZERS for label, s in SHAPES.items()],
)
def test_degenerate_and_flattened_shapes_step(entry, shape):
    params = _params(shape)
    flatten = len(shape) > 2
    opt = entry.make(params, flatten=flatten) if flatten else entry.make(params)
    before = params[0].detach().clone()
    _step(opt, params)
    _step(opt, params, seed=2)
    after = params[0].detach()
    assert after.shape == shape and torch.isfinite(after).all()
    if after.numel():
        assert not torch.equal(after, before)
    if flatten:  # the update of the flattened (4, 18) matrix, reshaped
        flat = [torch.nn.Parameter(before.reshape(shape[0], -1).clone())]
        opt2 = entry.make(flat)
        for seed in (1, 2):
            flat[0].grad = _grad(shape, seed).reshape(shape[0], -1)
            opt2.step()
        assert torch.allclose(flat[0].detach().reshape(shape), after, rtol=0, atol=1e-6)


@pytest.mark.parametrize("entry", [param("complex", e.name, "complex64", e) for e in OPTIMIZERS])
def test_complex_parameters_are_refused(entry):
    params = [torch.nn.Parameter(torch.randn(*SHAPE, dtype=torch.complex64))]
    with pytest.raises((ValueError, TypeError)) as info:
        opt = entry.make(params)
        _step(opt, params)
    assert "complex" in str(info.value), str(info.value)


def _trained(entry, params, steps=2):
    opt = entry.make(params)
    for t in range(steps):
        _step(opt, params, seed=10 + t)
    return opt


def _other(entry):
    return next(e for e in OPTIMIZERS if e.cls is not entry.cls)


@pytest.mark.parametrize("entry", [param("load", e.name, "other-class", e) for e in OPTIMIZERS])
def test_load_state_dict_of_another_optimizer_class_is_refused(entry):
    foreign = _trained(_other(entry), _params()).state_dict()
    params = _params()
    opt = entry.make(params)
    with pytest.raises((ValueError, TypeError, KeyError)) as info:
        opt.load_state_dict(foreign)
        _step(opt, params)
    assert not isinstance(info.value, KeyError), f"a KeyError, not a clear error: {info.value}"


@pytest.mark.parametrize("entry", [param("load", e.name, "torch-muon", e) for e in OPTIMIZERS])
def test_load_state_dict_of_torch_optim_muon_is_refused(entry):
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no torch.optim.Muon")
    params = _params()
    reference = torch.optim.Muon(params, lr=0.02)
    _step(reference, params)
    opt = entry.make(params)
    with pytest.raises((ValueError, TypeError, KeyError)) as info:
        opt.load_state_dict(reference.state_dict())
        _step(opt, params)
    assert not isinstance(info.value, KeyError), f"a KeyError, not a clear error: {info.value}"


@pytest.mark.parametrize("entry", [param("load", e.name, "wrong-shape", e) for e in OPTIMIZERS])
def test_load_state_dict_of_another_shape_is_refused_naming_the_parameter(entry):
    saved = _trained(entry, _params((4, 1))).state_dict()
    params = _params((4, 3))
    opt = entry.make(params)
    with pytest.raises((ValueError, RuntimeError)) as info:
        opt.load_state_dict(saved)
        _step(opt, params)
    assert "shape" in str(info.value) and "param" in str(info.value), str(info.value)


@pytest.mark.parametrize("entry", [param("resume", e.name, "step2", e) for e in OPTIMIZERS])
def test_same_seed_is_identical_and_a_resume_continues_bit_for_bit(entry):
    a, b = _params(SHAPE, (3, 5)), _params(SHAPE, (3, 5))
    _opt_a, opt_b = _trained(entry, a, 4), _trained(entry, b, 2)
    buffer = io.BytesIO()
    torch.save({"opt": opt_b.state_dict(), "w": [p.detach() for p in b]}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    c = [torch.nn.Parameter(w.clone()) for w in saved["w"]]
    opt_c = entry.make(c)
    opt_c.load_state_dict(saved["opt"])
    for t in (2, 3):
        _step(opt_c, c, seed=10 + t)
    for x, y in zip(a, c, strict=True):
        assert torch.equal(x.detach(), y.detach())


@pytest.mark.parametrize("entry", [param("faults", e.name, "nan-at-step-2", e) for e in OPTIMIZERS])
def test_a_skipped_step_equals_a_step_without_that_gradient(entry):
    """A NaN gradient at step 2 leaves the run exactly as if that gradient were absent."""
    runs = []
    for fault in ("nan", "none"):
        params = _params(SHAPE, (3, 5))
        opt = entry.make(params)
        for t in range(5):
            for i, p in enumerate(params):
                p.grad = _grad(p.shape, 20 + 7 * t + i)
            if t == 2:
                if fault == "nan":
                    params[0].grad[0, 0] = float("nan")
                else:
                    params[0].grad = None
            opt.step()
        runs.append([p.detach().clone() for p in params])
    for x, y in zip(*runs, strict=True):
        assert torch.equal(x, y)
