"""Directions: polar options reach the method, are resolved once, and round-trip as plain data.

Regression tests for the bugs of issue 10: Riemannian Aurora with Newton-Schulz options,
``Muon(schedule=...)`` for every schedule preset, a method option set from an optimizer.
"""

import io

import pytest
import torch

from polarlab import schedules
from polarlab.manifolds import project_balanced_stiefel, riemannian_balanced_stiefel
from polarlab.optim import Aurora, Muon, MuonDirection, NorMuon, UNorMuon
from polarlab.optim.aurora import AuroraDirection, aurora_direction
from polarlab.optim.functional import update
from polarlab.optim.normuon import NorMuonDirection, UNorMuonDirection
from polarlab.polar import polar, resolve


def _grad(m=12, n=4, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, n, generator=g) * (torch.rand(m, 1, generator=g) + 0.05)).to(dtype)


def _first_direction(opt_cls, G, **kw):
    """-U of the first step from W = 0 with M = G exactly (no momentum, lr 1, no scaling)."""
    W = torch.nn.Parameter(torch.zeros_like(G))
    opt = opt_cls([W], lr=1.0, momentum=0.0, nesterov=False, adjust_lr=None, **kw)
    W.grad = G.clone()
    opt.step()
    return -W.detach(), opt


# --- Aurora, form="riemannian" ------------------------------------------------------------------


def test_riemannian_aurora_takes_newton_schulz_steps_and_iters_separately():
    # Used to raise "got multiple values for keyword argument 'steps'".
    G = _grad(24, 6)
    U, opt = _first_direction(Aurora, G, form="riemannian", steps=5, iters=2, dtype="float32")
    solver = opt.group_direction(0).solver
    assert solver.options["steps"] == 5 and solver.name == "polar_express"
    expected = riemannian_balanced_stiefel(
        G, 2, method=resolve("polar_express", steps=5, dtype="float32"), check_finite=False
    )
    torch.testing.assert_close(U, expected, rtol=0, atol=1e-6)  # 1-2 float32 roundings of U
    # and the Newton-Schulz steps do change the result
    U3, _ = _first_direction(Aurora, G, form="riemannian", steps=3, iters=2, dtype="float32")
    assert (U3 - U).abs().max() > 1e-3


def test_riemannian_aurora_rejects_an_explicit_beta():
    W = torch.nn.Parameter(torch.randn(12, 4))
    with pytest.raises(ValueError, match=r"beta=0\.5 is not used by form='riemannian'"):
        Aurora([W], form="riemannian", beta=0.5)
    with pytest.raises(ValueError, match="not used by form='riemannian'"):
        aurora_direction(torch.randn(12, 4), form="riemannian", beta=0.3, method="svd")
    Aurora([W], form="riemannian")  # beta=None: fine


def test_beta_none_means_one_half_for_the_other_forms():
    G = _grad(16, 4, dtype=torch.float64)
    for form in ("preconditioned", "alternating"):
        U, _ = _first_direction(Aurora, G, method="svd", form=form)
        expected = project_balanced_stiefel(G, 2, 0.5, "svd", form=form)
        torch.testing.assert_close(U, expected, rtol=0, atol=1e-15)
        assert AuroraDirection(form=form).beta is None


# --- schedules and method options ---------------------------------------------------------------


@pytest.mark.parametrize("schedule", schedules.names())
def test_muon_takes_every_schedule_preset(schedule):
    # Used to raise "method 'polar_express' takes no option(s) schedule".
    G = _grad()
    U, opt = _first_direction(Muon, G, schedule=schedule, dtype="float32")
    assert opt.group_direction(0).solver.schedule.name == schedule
    assert opt.param_groups[0]["schedule"] == schedule
    expected = polar(G, "polar_express", schedule=schedule, dtype="float32")
    torch.testing.assert_close(U, expected, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("newton_schulz", {"normalization": "schatten8"}),
        ("newton_schulz", {"normalization": "one_inf", "steps": 3}),
        ("gram_newton_schulz", {"restarts": (1, 3)}),
        ("gram_newton_schulz", {"restarts": ()}),
        ("qdwh", {"lower": 1e-6}),
    ],
)
@pytest.mark.parametrize("cls", [Muon, NorMuon, Aurora])
def test_a_method_option_set_from_an_optimizer_reaches_the_method(cls, method, options):
    G = _grad(12, 4, dtype=torch.float64)
    dtype = {} if method == "qdwh" else {"dtype": "float64"}
    U, opt = _first_direction(cls, G, method=method, polar_options=options, **dtype)
    assert opt.param_groups[0]["polar_options"] == options
    solver = opt.group_direction(0).solver
    assert all(solver.options[k] == v for k, v in options.items())
    # the same step with the solver given directly, and with the option left out
    direct = resolve(method, **options, **dtype)
    same, _ = _first_direction(cls, G, method=direct)
    assert torch.equal(U, same)
    if cls is Muon:
        torch.testing.assert_close(U, polar(G, direct), rtol=0, atol=1e-15)
    plain, _ = _first_direction(cls, G, method=method, **dtype)
    assert not torch.equal(U, plain)


def test_options_given_twice_or_unknown_are_errors():
    W = [torch.nn.Parameter(torch.randn(6, 3))]
    with pytest.raises(ValueError, match="steps is given twice"):
        Muon(W, steps=3, polar_options={"steps": 5})
    with pytest.raises(ValueError, match=r"takes no option.*restarts"):
        Muon(W, polar_options={"restarts": (1,)})
    with pytest.raises(ValueError, match="polar_options must be a dict"):
        Muon(W, polar_options=[("steps", 3)])


def test_default_dtype_is_the_optimizer_role():
    d = MuonDirection()
    assert d.solver.role == "optimizer" and d.solver.options["dtype"] is None
    assert MuonDirection(method=resolve("newton_schulz")).solver.role == "optimizer"


# --- validated once, plain group data -----------------------------------------------------------


def test_polar_options_are_validated_once_per_group_not_per_step(validations):
    calls = validations  # the conftest spy on PolarMethod.resolve_options
    params = [torch.nn.Parameter(torch.randn(8, 4)) for _ in range(2)]
    groups = [{"params": params[:1]}, {"params": params[1:], "steps": 3}]
    opt = NorMuon(groups, method="newton_schulz", schedule="jordan")
    assert len(calls) == 2  # the defaults (reused by group 0) and group 1
    for _ in range(3):
        for p in params:
            p.grad = torch.randn(8, 4)
        opt.step()
    assert len(calls) == 2
    opt.param_groups[1]["steps"] = 4  # changed by the user: rebuilt once
    for _ in range(2):
        opt.step()
    assert len(calls) == 3
    assert opt.group_direction(1).solver.options["steps"] == 4


def test_solver_as_method_is_stored_as_plain_data_and_round_trips_weights_only():
    solver = resolve("gram_newton_schulz", restarts=(), dtype=torch.float32)
    pa = [torch.nn.Parameter(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)))]
    oa = UNorMuon(pa, lr=0.01, method=solver)
    group = oa.param_groups[0]
    assert group["method"] == "gram_newton_schulz"
    assert group["dtype"] == "float32" and group["polar_options"] == {"restarts": ()}
    for t in range(3):
        pa[0].grad = _grad(10, 4, seed=t)
        oa.step()
    buffer = io.BytesIO()
    torch.save(oa.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    pb = [torch.nn.Parameter(pa[0].detach().clone())]
    ob = UNorMuon(pb, lr=0.5)
    ob.load_state_dict(saved)
    assert ob.group_direction(0).solver.options["restarts"] == ()
    for t in range(3, 5):
        pa[0].grad, pb[0].grad = _grad(10, 4, seed=t), _grad(10, 4, seed=t)
        oa.step()
        ob.step()
    assert torch.equal(pa[0], pb[0])


def test_functional_update_applies_any_direction_like_the_optimizer():
    G = [_grad(9, 3, seed=s, dtype=torch.float64) for s in range(3)]
    W = torch.nn.Parameter(torch.randn(9, 3, dtype=torch.float64))
    Wf, buf, state = W.detach().clone(), torch.zeros(9, 3, dtype=torch.float64), None
    opt = NorMuon([W], lr=0.02, beta2=0.5, method="svd", weight_decay=0.1)
    direction = NorMuonDirection(beta2=0.5, method="svd")
    for g in G:
        W.grad = g
        opt.step()
        Wf, buf, state = update(direction, Wf, g, buf, state, lr=0.02, weight_decay=0.1)
    assert torch.equal(W.detach(), Wf)
    assert torch.equal(opt.state[W]["row_second_moment"], state["row_second_moment"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_functional_update_skips_a_non_finite_gradient_like_the_optimizer(bad):
    # The classes' nonfinite="skip" rule, per matrix of the batch: the matrix with a
    # non-finite gradient keeps its weight, momentum and state exactly; the other one
    # gets the update it gets alone (matrices of a batch are independent).
    G = torch.stack([_grad(9, 3, seed=s, dtype=torch.float64) for s in range(2)])
    G[0, 4, 1] = bad
    W = torch.randn(2, 9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    B = torch.randn(2, 9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    S = {"row_second_moment": torch.rand(2, 9, dtype=torch.float64)}
    direction = NorMuonDirection(beta2=0.5, method="svd")
    W1, B1, S1 = update(direction, W, G, B, S, lr=0.02, weight_decay=0.1)
    assert torch.equal(W1[0], W[0]) and torch.equal(B1[0], B[0])
    assert torch.equal(S1["row_second_moment"][0], S["row_second_moment"][0])
    alone = update(
        direction, W[1], G[1], B[1], {"row_second_moment": S["row_second_moment"][1]},
        lr=0.02, weight_decay=0.1,
    )  # fmt: skip
    # The momentum is elementwise (bit-identical); the direction goes through SVD and
    # matrix products, whose last bits may differ between a batched and a single call
    # (BLAS kernels depend on memory alignment): float64 results of order one, so
    # 1e3 u = 2.2e-13 absolute and relative.
    assert torch.equal(B1[1], alone[1])
    close = dict(rtol=1e3 * 2.2e-16, atol=1e3 * 2.2e-16)
    torch.testing.assert_close(W1[1], alone[0], **close)
    torch.testing.assert_close(S1["row_second_moment"][1], alone[2]["row_second_moment"], **close)


def test_consume_is_the_same_map_with_the_momentum_as_scratch():
    # Direction.consume defaults to __call__; Muon's and NorMuon's let the polar engine
    # normalise the momentum batch in place (NorMuon's also lands the polar factor there).
    # Same bits either way; __call__ never touches M.
    M = torch.randn(3, 24, 8, generator=torch.Generator().manual_seed(0))
    kept = M.clone()
    directions = (
        MuonDirection(method="polar_express", dtype="float32"),
        NorMuonDirection(method="polar_express", dtype="bfloat16"),
        UNorMuonDirection(),
    )
    for d in directions:
        state = {
            k: v.expand(3, *v.shape) for k, v in d.init_state(24, 8, M.device, M.dtype).items()
        }
        U, new = d(M, state)
        assert torch.equal(M, kept)
        V, new_consumed = d.consume(M.clone(), state)
        assert torch.equal(U, V)
        assert all(torch.equal(new[k], new_consumed[k]) for k in new)


AURORA_SCRATCH_CASES = {
    "gram_float32": dict(engine="gram", dtype="float32"),
    "gram_bfloat16": dict(engine="gram", dtype="bfloat16"),
    "plain_bfloat16": dict(engine="plain", dtype="bfloat16"),
    "alternating": dict(form="alternating", iters=3),
    "riemannian": dict(form="riemannian"),
    "wide_polar": dict(wide="polar"),
}


@pytest.mark.parametrize("shape", [(3, 24, 8), (2, 8, 24), (2, 12, 12), (0, 24, 8)])
@pytest.mark.parametrize("case", list(AURORA_SCRATCH_CASES))
def test_aurora_consume_is_the_same_map_with_the_momentum_as_scratch(case, shape):
    # consume divides the momentum batch in place by its largest entry and forms the last
    # D M in its memory; the result stays in the compute dtype for the optimizer to cast.
    # Cast to M's dtype it is __call__'s result bit for bit (tall, wide under the
    # transpose rule and under wide="polar", square, empty), and __call__ leaves M alone.
    g = torch.Generator().manual_seed(1)
    M = torch.randn(*shape, generator=g) * torch.rand(*shape[:-1], 1, generator=g)  # uneven rows
    kept = M.clone()
    d = AuroraDirection(method="polar_express", **AURORA_SCRATCH_CASES[case])
    U, _ = d(M, {})
    assert torch.equal(M, kept)
    V, _ = d.consume(M.clone(), {})
    assert V.shape == U.shape
    assert torch.equal(V.to(U.dtype), U)
