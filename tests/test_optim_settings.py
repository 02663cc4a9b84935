"""Settings that make no sense are refused, with messages naming them.

Optimizer constructors and groups (numbers, booleans, tensors, complex and empty
parameters), the re-check of changed groups at a step (and its cache), the state
``load_state_dict`` accepts, the per-tensor functions, the declared option checks of
the polar method registry and the sizes of the matrix generators.
"""

import copy

import numpy as np
import pytest
import torch

import polarlab
from polarlab.matrices import haar_orthogonal, random_matrix
from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon, functional
from polarlab.optim.base import PolarOptimizer
from polarlab.optim.options import check_lr, group_key
from polarlab.polar import registry

NS = {"method": "newton_schulz", "steps": 5, "dtype": "float32"}
CLASSES = [Muon, NorMuon, UNorMuon, Aurora, ARO]


def _param(*shape, dtype=torch.float32):
    return torch.nn.Parameter(
        torch.randn(*shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    )


def _build(cls, params, **kw):
    return cls(params, **({} if cls is ARO else NS), **kw)


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"lr": float("inf")}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"lr": "0.1"}, "lr"),
        ({"lr": True}, "lr"),
        ({"lr": torch.tensor([0.1, 0.2])}, "lr"),
        ({"lr": torch.tensor(1, dtype=torch.int64)}, "lr"),
        ({"lr": torch.tensor(float("nan"))}, "lr"),
        ({"momentum": True}, "momentum"),
        ({"momentum": "0.9"}, "momentum"),
        ({"weight_decay": float("inf")}, "weight_decay"),
        ({"weight_decay": False}, "weight_decay"),
        ({"nesterov": "no"}, "nesterov"),
        ({"nesterov": 1}, "nesterov"),
        ({"cautious_wd": 0}, "cautious_wd"),
        ({"flatten": "yes"}, "flatten"),
        ({"row_telemetry": 1.0}, "row_telemetry"),
    ],
)
def test_constructor_refuses_values_of_the_wrong_kind(cls, kw, key):
    with pytest.raises(ValueError, match=rf"param_groups\[0\]: {key}"):
        _build(cls, [_param(4, 3)], **kw)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_complex_parameters_are_refused_not_made_real(cls, dtype):
    with pytest.raises(ValueError, match=r"parameter 0 .* complex"):
        _build(cls, [_param(4, 3, dtype=dtype)])
    with pytest.raises(ValueError, match=r"param_groups\[1\]: parameter 0 .* complex"):
        _build(cls, [{"params": [_param(4, 3)]}, {"params": [_param(3, dtype=dtype)],
                                                   "algorithm": "adamw"}])  # fmt: skip


@pytest.mark.parametrize(
    ("group", "key"),
    [
        ({"betas": (0.9,)}, "betas"),
        ({"betas": (0.9, True)}, "betas"),
        ({"betas": "ab"}, "betas"),
        ({"betas": (0.9, float("nan"))}, "betas"),
        ({"eps": float("inf")}, "eps"),
        ({"eps": True}, "eps"),
        ({"lr": float("inf")}, "lr"),
    ],
)
def test_elementwise_groups_refuse_bad_values(group, key):
    with pytest.raises(ValueError, match=rf"param_groups\[0\]: {key}"):
        Muon([{"params": [_param(3)], "algorithm": "adamw", **group}])


def test_a_refused_added_group_is_not_kept():
    opt = Muon([_param(4, 3)], **NS)
    with pytest.raises(ValueError, match=r"param_groups\[1\]: momentum"):
        opt.add_param_group({"params": [_param(4, 3)], "momentum": 2.0})
    assert len(opt.param_groups) == 1
    opt.param_groups[0]["params"][0].grad = torch.ones(4, 3)
    opt.step()


def test_a_tensor_lr_is_accepted_and_equals_the_float_lr():
    pa, pb = [_param(4, 3)], [_param(4, 3)]
    oa, ob = Muon(pa, lr=0.1, **NS), Muon(pb, lr=torch.tensor(0.1), **NS)
    for _ in range(2):
        pa[0].grad = pb[0].grad = torch.ones(4, 3)
        ob.param_groups[0]["lr"] = torch.tensor(0.1)  # a new tensor each step: re-checked
        oa.step()
        ob.step()
    assert torch.equal(pa[0], pb[0])


# ------------------------------------------------------------------ groups changed between steps


def test_an_unchanged_group_is_not_checked_again(monkeypatch):
    opt = Muon([_param(4, 3)], lr=torch.tensor(0.01), **NS)
    calls = []
    original = PolarOptimizer._check_group
    monkeypatch.setattr(
        PolarOptimizer, "_check_group", lambda s, g: calls.append(1) or original(s, g)
    )
    for _ in range(3):
        opt.param_groups[0]["params"][0].grad = torch.ones(4, 3)
        opt.step()
    assert calls == []  # one comparison of the group's settings per step
    opt.param_groups[0]["momentum"] = 0.5
    opt.step()
    opt.step()
    assert calls == [1]


def test_group_key_sees_in_place_changes_and_never_compares_tensor_values():
    group = {"params": [], "betas": [0.9, 0.99], "lr": torch.tensor(0.1), "opts": {"a": 1}}
    key = group_key(group)
    assert group_key(group) == key
    group["betas"][1] = 0.5  # the same list, changed in place
    assert group_key(group) != key
    key = group_key(group)
    group["opts"]["a"] = 2
    assert group_key(group) != key
    key = group_key(group)
    group["lr"] = torch.tensor(0.1)  # equal value, another tensor: compared by identity
    assert group_key(group) != key
    key = group_key(group)
    group["lr"].fill_(0.2)  # a CPU lr changed in place (as a scheduler does): seen
    assert group_key(group) != key


def test_an_lr_changed_in_place_to_nan_raises_at_the_next_step():
    params = [_param(4, 3)]
    opt = Muon(params, lr=torch.tensor(0.01), **NS)
    params[0].grad = torch.ones(4, 3)
    opt.step()
    before = params[0].detach().clone()
    opt.param_groups[0]["lr"].fill_(float("nan"))
    with pytest.raises(ValueError, match=r"param_groups\[0\]: lr must be >= 0 and finite"):
        opt.step()
    assert torch.equal(params[0].detach(), before)


def test_the_value_of_a_device_lr_is_never_read():
    # a meta tensor has no value: reading it would raise
    check_lr("lr", torch.tensor(0.1, device="meta"))
    key = group_key({"params": [], "lr": torch.tensor(0.1, device="meta")})
    assert key[0][1][3] is None


def test_invalid_direction_options_changed_in_a_group_name_the_group():
    opt = Aurora([{"params": [_param(8, 4)]}, {"params": [_param(8, 4)]}], **NS)
    opt.param_groups[1]["form"] = "magic"
    with pytest.raises(ValueError, match=r"param_groups\[1\]: unknown form 'magic'"):
        opt.step()
    opt.param_groups[1]["form"] = "alternating"  # fixed: steps again
    opt.step()


@pytest.mark.parametrize("key", ["momentum", "steps"])
def test_a_deleted_group_key_is_named(key):
    opt = Muon([_param(4, 3)], **NS)
    del opt.param_groups[0][key]
    with pytest.raises(ValueError, match=rf"param_groups\[0\]: the group has no '{key}'"):
        opt.step()


def test_nonfinite_changed_to_raise_takes_effect():
    params = [_param(4, 3)]
    opt = Muon(params, **NS)
    opt.param_groups[0]["nonfinite"] = "raise"
    params[0].grad = torch.full((4, 3), float("nan"))
    with pytest.raises(FloatingPointError):
        opt.step()


# ------------------------------------------------------------------ load_state_dict


def _trained(cls=Muon, **kw):
    params = [_param(4, 3), _param(3)]
    opt = _build(cls, [{"params": params[:1]}, {"params": params[1:], "algorithm": "adamw"}], **kw)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    return opt, params


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda sd: sd["param_groups"][0].update(lr=float("nan")), r"param_groups\[0\].*lr"),
        (lambda sd: sd["param_groups"][1].pop("betas"), r"param_groups\[1\].*has no 'betas'"),
        (lambda sd: sd["param_groups"][0].pop("algorithm"), r"param_groups\[0\].*algorithm"),
        (lambda sd: sd["param_groups"].pop(), "1 parameter group"),
        (lambda sd: sd["state"][0].update(extra=torch.zeros(1)), "unknown 'extra'"),
        (lambda sd: sd["state"][1].update(step=1), "'step' must be a real tensor"),
        (
            lambda sd: sd["state"][1].update(exp_avg=torch.zeros(1)),
            r"parameter 1 \(group 1, shape \(3,\)\): 'exp_avg' has shape \(1,\), expected \(3,\)",
        ),
    ],
)
def test_load_state_dict_checks_groups_and_state_before_modifying_anything(change, match):
    opt, _ = _trained()
    saved = copy.deepcopy(opt.state_dict())
    before = copy.deepcopy(opt.state_dict())
    change(saved)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(saved)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for pid, entries in before["state"].items():
        for key, value in entries.items():
            assert torch.equal(after["state"][pid][key], value), key


def test_a_state_without_elementwise_skip_counts_loads():
    # polarlab 0.1 kept no skip count for AdamW/Lion groups; it starts at 0
    opt, _ = _trained()
    saved = copy.deepcopy(opt.state_dict())
    del saved["state"][1]["nonfinite_skips"]
    fresh, _ = _trained()
    fresh.load_state_dict(saved)
    for p in fresh.param_groups[1]["params"]:
        p.grad = torch.full_like(p, float("nan"))
    fresh.step()
    assert int(fresh.state[fresh.param_groups[1]["params"][0]]["nonfinite_skips"]) == 1


def test_aro_state_of_the_other_mode_is_refused_by_shape():
    opt, _ = _trained(ARO)
    saved = opt.state_dict()
    other, _ = _trained(ARO)
    saved = copy.deepcopy(saved)
    saved["state"][0]["rotation"] = torch.eye(4)  # an m x m (row-side) rotation for 4 x 3
    with pytest.raises(ValueError, match=r"'rotation' has shape \(4, 4\), expected \(3, 3\)"):
        other.load_state_dict(saved)


# ------------------------------------------------------------------ per-tensor functions


@pytest.mark.parametrize("fn", [functional.muon_update, functional.aurora_update])
@pytest.mark.parametrize("shape", [(4, 0), (0, 4), (2, 0, 3)])
def test_per_tensor_update_of_an_empty_matrix_is_a_no_op(fn, shape):
    W = torch.zeros(shape)
    W1, B1 = fn(W, W, W, lr=0.1, method="svd")
    assert W1.shape == B1.shape == shape


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), "0.1", True, -1.0])
def test_per_tensor_lr_is_checked(lr):
    W = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="lr must be"):
        functional.muon_update(W, W + 1, W, lr=lr, method="svd")
    with pytest.raises(ValueError, match="uniform must be True or False"):
        functional.normuon_update(W, W + 1, W, torch.zeros(3), lr=0.1, uniform="yes")


# ------------------------------------------------------------------ polar method options


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("svd", {"rank_tol": True}, "rank_tol must be >= 0"),
        ("svd", {"rank_tol": "x"}, "rank_tol must be >= 0"),
        ("svd", {"rank_tol": float("nan")}, "rank_tol must be >= 0"),
        ("svd", {"rank_tol": -1e-3}, "rank_tol must be >= 0"),
        ("svd", {"rank_tol": 1.0}, "rank_tol must be >= 0 and below 1"),  # drops every s_i
        ("mpmath", {"rank_tol": "x"}, "rank_tol must be >= 0"),
        ("mpmath", {"digits": True}, "digits must be an integer >= 16"),
        ("mpmath", {"digits": "30"}, "digits must be an integer >= 16"),
        ("mpmath", {"digits": float("nan")}, "digits must be an integer >= 16"),
        ("mpmath", {"digits": -5}, "digits must be an integer >= 16"),
        ("mpmath", {"max_size": True}, "max_size must be a positive integer"),
        ("mpmath", {"max_size": 0}, "max_size must be a positive integer"),
        ("mpmath", {"max_size": "big"}, "max_size must be a positive integer"),
    ],
)
def test_declared_option_checks_refuse_bad_values_at_resolve(method, options, message):
    with pytest.raises(ValueError, match=message):
        polarlab.resolve(method, **options)


def test_declared_option_checks_keep_good_values_and_a_method_may_declare_its_own():
    assert polarlab.resolve("svd", rank_tol=0).options["rank_tol"] == 0
    assert polarlab.resolve("mpmath", digits=np.int64(20)).options["digits"] == 20
    method = registry.PolarMethod(
        "tmp",
        lambda X, *, k=1: (X, {}),
        "test",
        option_checks={"k": registry.OPTION_CHECKS["max_size"]},
    )
    with pytest.raises(ValueError, match="k must be a positive integer"):
        method.resolve_options({"k": 0})
    assert method.resolve_options({"k": 3}) == {"k": 3}


# ------------------------------------------------------------------ matrix sizes


@pytest.mark.parametrize("batch", [2.0, (2.0,), "2", None, True, (2, True)])
def test_random_matrix_batch_must_be_integers(batch):
    with pytest.raises(ValueError, match=r"batch must be a tuple of non-negative integers .*got"):
        random_matrix("gaussian", 3, 2, seed=0, batch=batch)
    with pytest.raises(ValueError, match="batch must be"):
        haar_orthogonal(3, seed=0, batch=batch)


def test_numpy_integer_sizes_are_accepted():
    A = random_matrix("gaussian", np.int64(3), 2, seed=0, batch=np.int64(2))
    assert A.shape == (2, 3, 2)
