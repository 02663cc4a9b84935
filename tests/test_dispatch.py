"""The dispatcher: a polar method resolved once into a value (polarlab/polar/dispatch.py).

Expected values come from the registry's own records and from direct calls of the
engines they name; the counting spy checks that polar options are validated once per
public call and never inside an optimizer step.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from polar_cases import EXACT, INEXACT

import polarlab
import polarlab.optim
from polarlab import schedules
from polarlab._arrays import compute_dtype
from polarlab.polar import PolarSolver, resolve
from polarlab.polar.gram import gram_newton_schulz
from polarlab.polar.polynomial import newton_schulz


def _matrix(m=12, n=5, seed=0):
    return np.random.default_rng(seed).standard_normal((m, n))


# --- the value ---------------------------------------------------------------------------


def test_resolve_knows_schedule_exactness_and_defaults():
    assert resolve("polar_express").schedule is schedules.get("polar_express")
    assert resolve("polar_express", schedule="jordan").schedule is schedules.get("jordan")
    assert resolve("gram_newton_schulz").schedule is schedules.get("gram_ns")
    assert resolve("svd").schedule is None
    # exactness is declared on the registry record; the test suites keep their own list
    for name in polarlab.polar_methods():
        assert resolve(name).exact == (name in EXACT), name
        assert resolve(name).exact != (name in INEXACT), name
    assert resolve("gram_newton_schulz").options["restarts"] == (2,)
    assert resolve("svd").iterative is False and resolve("qdwh").iterative is True
    opts = resolve("newton_schulz").options
    assert set(opts) == {"schedule", "steps", "dtype", "normalization", "arrangement"}
    with pytest.raises(TypeError):
        opts["steps"] = 3  # read only


def test_resolved_value_is_frozen_hashable_and_reusable(validations):
    a = resolve("newton_schulz", schedule="jordan", steps=4)
    b = resolve("newton_schulz", schedule="jordan", steps=4)
    assert a == b and hash(a) == hash(b)
    assert resolve(a) is a
    assert len(validations) == 2  # a and b; resolve(a) did not validate again
    c = a.replace(steps=6)
    assert c.options["steps"] == 6 and c.schedule is a.schedule and a.options["steps"] == 4
    assert resolve(a, steps=6) == c
    with pytest.raises(AttributeError):
        a.role = "optimizer"  # frozen


def test_bad_options_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"takes no option.*its options are: rank_tol"):
        resolve("svd", schedule="jordan")
    with pytest.raises(ValueError, match="unknown method 'nope'; choose one of"):
        resolve("nope")
    with pytest.raises(ValueError, match=r"unknown schedule|choose one of"):
        resolve("newton_schulz", schedule="nope")
    with pytest.raises(ValueError, match="restarts must be"):
        resolve("gram_newton_schulz", restarts=(0,))
    with pytest.raises(ValueError, match="unknown dtype role"):
        resolve("svd").in_role("fast")


def test_calling_the_value_equals_polar_and_the_engine():
    A = _matrix()
    s = resolve("polar_express", schedule="jordan", steps=7, dtype="float64")
    assert np.array_equal(
        s(A), polarlab.polar(A, "newton_schulz", schedule="jordan", steps=7, dtype="float64")
    )
    assert np.array_equal(s(A), newton_schulz(A, "jordan", 7, dtype="float64"))
    # a method option that optimizers and the CLI could not set before reaches the method
    t = resolve("newton_schulz", normalization="schatten8", dtype="float64")
    assert np.array_equal(t(A), newton_schulz(A, normalization="schatten8", dtype="float64"))
    assert not np.array_equal(t(A), newton_schulz(A, dtype="float64"))
    g = resolve("gram_newton_schulz", restarts=(), dtype="float64")
    assert np.array_equal(g(A), gram_newton_schulz(A, restarts=(), dtype="float64"))
    its = list(s.iterates(A, 3))
    assert np.array_equal(its[-1], newton_schulz(A, "jordan", 3, dtype="float64"))


def test_apply_is_the_one_place_that_orients():
    s = resolve("svd")
    X = torch.from_numpy(_matrix(4, 9))  # wide
    U, _ = s.apply(X)
    V, _ = s.apply(X.mT)
    assert U.shape == (4, 9) and torch.equal(U, V.mT)
    E, info = s.apply(torch.zeros(3, 0, 5, dtype=torch.float64))
    assert E.shape == (3, 0, 5) and info == {}


@pytest.mark.parametrize("normalization", ["frobenius", "one_inf", "schatten8"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("shape", [(3, 40, 12), (12, 40), (7, 7)])
def test_apply_in_place_gives_the_same_bits_and_overwrites_only_its_argument(
    normalization, dtype, shape
):
    # overwrite=True only lets the engine reuse the input's memory: the same operations
    # in the same order, so the same bits (torch.equal), for every normalisation,
    # compute dtype and orientation (wide input is overwritten through its transpose).
    s = resolve("newton_schulz", dtype=dtype, normalization=normalization)
    X = torch.from_numpy(np.random.default_rng(1).standard_normal(shape)).float() * 1e3
    kept = X.clone()
    U, _ = s.apply(X)
    assert torch.equal(X, kept)  # read only by default
    scratch = X.clone()
    V, _ = s.apply(scratch, overwrite=True)
    assert torch.equal(U, V)
    assert torch.equal(X, kept)


def test_overwrite_leaves_an_expanded_input_alone():
    # An expanded view shares its elements: no in-place division, the plain path's result.
    s = resolve("newton_schulz", dtype="float32")
    X = torch.from_numpy(_matrix(20, 6)).float()[None].expand(3, 20, 6)
    U, _ = s.apply(X, overwrite=True)
    assert torch.equal(X[0], torch.from_numpy(_matrix(20, 6)).float())
    assert torch.equal(U, s.apply(X.contiguous())[0])


@pytest.mark.parametrize("method", ["svd", "qdwh", "gram_newton_schulz"])
def test_overwrite_is_a_permission_methods_without_an_in_place_solve_ignore(method):
    s = resolve(method)
    X = torch.from_numpy(_matrix(20, 6))
    kept = X.clone()
    U, _ = s.apply(X, overwrite=True)
    assert torch.equal(X, kept)
    assert torch.equal(U, s.apply(kept)[0])


@pytest.mark.parametrize("method", ["newton_schulz", "polar_express"])
def test_wide_results_come_back_contiguous_in_the_callers_layout(method):
    # The engine iterates on the short side; for wide input its products keep the wide
    # matrix's row-major layout, so the result handed back needs no transposing copy.
    # Expected: the tall computation of the transpose, to float64 rounding (the sums are
    # the same, possibly in another order: 5 steps, n = 6 terms each, a few hundred u).
    s = resolve(method, dtype="float64")
    X = torch.from_numpy(_matrix(6, 30))
    U, _ = s.apply(X)
    V, _ = s.apply(X.mT.contiguous())
    assert U.is_contiguous()
    assert torch.allclose(U, V.mT, rtol=0, atol=1e3 * torch.finfo(torch.float64).eps)
    assert polarlab.polar(X.numpy(), method, dtype="float64").flags["C_CONTIGUOUS"]


def test_dtype_roles_follow_the_policy_table():
    ns = resolve("newton_schulz")
    A = torch.from_numpy(_matrix())
    _, info = ns.apply(A)
    assert info["dtype"] == "float32"  # role "polar": float32 on every device
    _, info = ns.in_role("optimizer").apply(A)
    assert info["dtype"] == "float32"  # role "optimizer" on CPU
    _, info = ns.replace(dtype="bfloat16").in_role("optimizer").apply(A)
    assert info["dtype"] == "bfloat16"  # a requested dtype wins
    assert compute_dtype(None, "cuda", role="optimizer") == torch.bfloat16
    assert compute_dtype(None, "cuda", role="polar") == torch.float32
    assert compute_dtype(None, "cpu", role="exact") == torch.float64
    for dt in (torch.bfloat16, torch.float16, torch.float32, torch.float64):
        expected = torch.float64 if dt == torch.float64 else torch.float32
        assert compute_dtype(None, "cpu", role="scaling", input_dtype=dt) == expected


# --- validated once: a walk over the public API ------------------------------------------

#: Public callables that take a polar method, found by signature below; each must
#: validate the polar options exactly once per call.
_SKIP = {
    "balanced_stiefel_exact",  # computes its own float64 SVDs; takes no method
    "resolve",  # the validation itself (tested above)
}


def _public_functions_with_method():
    found = {}
    for module in (polarlab, polarlab.optim):
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj) or name in _SKIP:
                continue
            if "method" in inspect.signature(obj).parameters:
                found[name] = obj
    return found


def test_walk_finds_the_projections_and_the_dispatcher():
    names = set(_public_functions_with_method())
    assert {"polar", "polar_iterates", "project_stiefel", "project_balanced_stiefel"} <= names


@pytest.mark.parametrize("name", sorted(_public_functions_with_method()))
@pytest.mark.parametrize("method", ["newton_schulz", "qdwh"])
def test_public_function_validates_polar_options_once(name, method, validations):
    fn = _public_functions_with_method()[name]
    A = _matrix(16, 4)
    kwargs = {"method": method}
    if "steps" in inspect.signature(fn).parameters and name == "polar_iterates":
        kwargs["steps"] = 2
    result = fn(A, **kwargs)
    if inspect.isgenerator(result) or hasattr(result, "__next__"):
        list(result)
    assert validations == [method], f"{name} validated {validations}"
    validations.clear()
    solver = resolve(method)
    validations.clear()
    result = fn(A, **{**kwargs, "method": solver})
    if hasattr(result, "__next__"):
        list(result)
    assert validations == [], f"{name} re-validated a resolved method: {validations}"


def _optimizers():
    return [
        obj
        for name in polarlab.optim.__all__
        if isinstance(obj := getattr(polarlab.optim, name), type)
        and issubclass(obj, torch.optim.Optimizer)
        and "method" in inspect.signature(obj).parameters
    ]


def test_walk_finds_the_optimizers():
    names = {cls.__name__ for cls in _optimizers()}
    assert {"Muon", "NorMuon", "UNorMuon", "Aurora"} <= names


@pytest.mark.parametrize("cls", _optimizers(), ids=lambda c: c.__name__)
def test_optimizer_step_never_validates_polar_options(cls, validations):
    torch.manual_seed(0)
    Ws = [torch.nn.Parameter(torch.randn(16, 4)), torch.nn.Parameter(torch.randn(4, 4))]
    opt = cls(Ws, lr=0.01, method="newton_schulz", schedule="jordan", steps=3)
    assert len(validations) <= 1  # once per group, at construction
    validations.clear()
    for _ in range(3):
        for W in Ws:
            W.grad = torch.randn_like(W)
        opt.step()
    assert validations == []


def test_solver_type_is_public():
    from polarlab.polar import dispatch

    assert dispatch.resolve is resolve
    assert isinstance(resolve("svd"), PolarSolver)
