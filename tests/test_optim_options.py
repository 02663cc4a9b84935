"""Option records: generated signatures and docs, unknown names, -OO imports, moved names."""

import inspect
import subprocess
import sys

import pytest
import torch

from polarlab import linalg
from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon, functional, rule
from polarlab.optim.aro import ARODirection
from polarlab.optim.base import PolarOptimizer, constructor_options
from polarlab.optim.muon import MuonDirection

OPTIMIZERS = [Muon, NorMuon, UNorMuon, Aurora, ARO]
FUNCTIONS = [
    functional.muon_update,
    functional.normuon_update,
    functional.aurora_update,
    functional.aro_update,
]


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_signature_lists_every_option_with_its_default(cls):
    positional, keyword = constructor_options(cls.direction_type)
    params = inspect.signature(cls).parameters
    assert list(params) == ["params", *(o.name for o in positional + keyword)]
    for option in positional + keyword:
        assert params[option.name].default == option.default
        if cls.__doc__ is not None:  # stripped under python -OO
            assert f"\n{option.name} : " in cls.__doc__
    assert all(p.kind is not p.VAR_KEYWORD for p in params.values())


def test_defaults_and_positional_order_of_polarlab_0_1():
    params = inspect.signature(Muon).parameters
    order = list(params)[:15]
    assert order == [
        "params", "lr", "momentum", "nesterov", "momentum_form", "weight_decay",
        "cautious_wd", "adjust_lr", "method", "schedule", "steps", "dtype", "flatten",
        "nonfinite", "row_telemetry",
    ]  # fmt: skip
    assert params["polar_options"].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(Aurora).parameters)[15:20] == [
        "iters", "beta", "form", "wide", "eps",
    ]  # fmt: skip
    assert inspect.signature(ARO).parameters["lr"].default == 1e-3
    assert inspect.signature(ARO).parameters["adjust_lr"].default is None
    W = torch.nn.Parameter(torch.randn(4, 3))
    group = Muon([W], 0.1, 0.5, False, "sum").param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["momentum_form"]) == (
        0.1, 0.5, False, "sum",
    )  # fmt: skip


@pytest.mark.parametrize("build", [*OPTIMIZERS, *FUNCTIONS, MuonDirection, ARODirection])
def test_unknown_or_repeated_names_raise_like_a_signature(build):
    W = torch.nn.Parameter(torch.randn(4, 3))
    args, kw = ((), {})
    if build in OPTIMIZERS:
        args = ([W],)
    elif build in FUNCTIONS:  # the arrays, the state arrays and lr
        params = inspect.signature(build).parameters.values()
        args, kw = [W] * sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), {"lr": 0.1}
    with pytest.raises(TypeError, match="unexpected keyword argument 'ns_steps'"):
        build(*args, ns_steps=5, **kw)
    if build in OPTIMIZERS:
        with pytest.raises(TypeError, match="multiple values for argument 'lr'"):
            build([W], 0.1, lr=0.2)


def test_per_tensor_functions_require_lr():
    W = torch.zeros(4, 3)
    with pytest.raises(TypeError, match="missing a required argument: 'lr'"):
        functional.muon_update(W, W, W)


def test_a_subclass_with_its_own_constructor_keeps_its_own_signature():
    class Fixed(Muon):
        def __init__(self, params, scale=2.0):
            super().__init__(params, lr=0.01 * scale, method="svd")

    assert list(inspect.signature(Fixed).parameters) == ["params", "scale"]
    assert Fixed([torch.nn.Parameter(torch.randn(4, 3))]).param_groups[0]["lr"] == 0.02
    with pytest.raises(TypeError, match="no direction_type"):
        PolarOptimizer([torch.nn.Parameter(torch.randn(4, 3))])


def test_import_and_signatures_under_python_OO():
    # Docstrings are None under -OO: nothing at import may read or splice them.
    code = (
        "import inspect, polarlab.optim, polarlab; from polarlab.optim import functional; "
        "assert polarlab.optim.Muon.__doc__ is None; "
        "print(len(inspect.signature(polarlab.optim.Aurora).parameters), "
        "len(inspect.signature(functional.aro_update).parameters))"
    )
    run = subprocess.run(
        [sys.executable, "-OO", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    # The same signatures as with docstrings (this process): none is built from them.
    import polarlab.optim
    from polarlab.optim import functional

    expected = [
        len(inspect.signature(polarlab.optim.Aurora).parameters),
        len(inspect.signature(functional.aro_update).parameters),
    ]
    assert [int(n) for n in run.stdout.split()] == expected


@pytest.mark.parametrize(
    ("module", "name", "target"),
    [
        ("polarlab.optim.base", "ADJUST_LR", rule),
        ("polarlab.optim.base", "MOMENTUM_FORMS", rule),
        ("polarlab.optim.base", "lr_scale", rule),
        ("polarlab.optim.base", "momentum_step", rule),
        ("polarlab.optim.base", "apply_decoupled_update", rule),
        ("polarlab.optim.aro", "positive_qr", linalg),
        ("polarlab.optim.aro", "sinkhorn", linalg),
        ("polarlab.optim.aro", "QR_METHODS", linalg),
    ],
)
def test_moved_names_are_deprecated_aliases(module, name, target):
    import importlib

    old = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{target.__name__}.{name}"):
        alias = getattr(old, name)
    assert alias is getattr(target, name)
