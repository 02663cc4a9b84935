"""Memory of an optimizer step: in-place updates, bounded batches, and the same bits.

The optimizers update weights, momentum and direction state in place, batch at most
``batch_bytes`` of same-shape matrices, and guard non-finite matrices with max and min
reductions instead of full-size ``where``/``abs`` temporaries. Two kinds of check:

- **the same bits** as the out-of-place rule: a reference step written out here
  (stack the bucket, momentum, direction, decoupled update, ``torch.where`` guard:
  the formulas of ``polarlab.optim.rule`` on new tensors) is compared with
  ``torch.equal``, since in-place versions of the same floating-point operations in
  the same order must round identically;
- **memory**, counted from torch's CPU allocator through the profiler's memory
  events (every storage allocated or freed, op-internal temporaries included;
  ``benchmarks/suite/memory.py``, the suite's own measure), never from time.
"""

import math
import sys
from pathlib import Path

import pytest
import torch

from polarlab.optim import ARO, Aurora, Muon, NorMuon, rule
from polarlab.optim.elementwise import adamw_step, lion_step

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
from benchmarks.suite.memory import net_and_peak_bytes

NS = {"method": "newton_schulz", "schedule": "polar_express", "steps": 5, "dtype": "float32"}
SHAPES = [(12, 4), (12, 4), (12, 4), (4, 4), (3, 9)]  # a tall bucket of 3, square, wide
MIB = 2**20


def peak_extra_bytes(fn) -> tuple[int, int]:
    """``(peak, net)`` bytes allocated on the CPU by ``fn()`` above what was allocated before."""
    return net_and_peak_bytes(fn)[::-1]


# ----------------------------------------------------------------- the reference step


def reference_matrix_step(opt, params, grads, ref_state):
    """The out-of-place rule on whole stacked buckets, as polarlab 0.1 computed it."""
    group = opt.param_groups[0]
    direction = opt.group_direction(0)
    lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
    buckets = {}
    for p, g in zip(params, grads):
        buckets.setdefault((tuple(p.shape), p.dtype), []).append((p, g))
    for items in buckets.values():
        m, n = items[0][0].shape
        states = [ref_state.setdefault(id(p), {}) for p, _ in items]
        for s in states:
            if not s:
                s["momentum_buffer"] = torch.zeros(m, n)
                s["nonfinite_skips"] = torch.zeros((), dtype=torch.int32)
                s.update(direction.init_state(m, n, torch.device("cpu"), torch.float32))
        B = torch.stack([s["momentum_buffer"] for s in states])
        G = torch.stack([g for _, g in items]).to(B.dtype)
        W = torch.stack([s.get("W", p.detach()) for (p, _), s in zip(items, states)]).to(B.dtype)
        finite = torch.isfinite(G).flatten(1).all(1)
        G = torch.where(finite[:, None, None], G, 0.0)
        if group["momentum_form"] == "ema":
            B_new = torch.lerp(B, G, 1.0 - mu)
            M = torch.lerp(G, B_new, mu) if group["nesterov"] else B_new
        else:
            B_new = B * mu + G
            M = G + B_new * mu if group["nesterov"] else B_new
        extra = {k: torch.stack([s[k] for s in states]) for k in direction.state_names}
        U, new_extra = direction(M, extra)
        U = U.to(B.dtype)
        if group["cautious_wd"]:
            W_new = W - W * (lr * wd) * (W * U >= 0)
        elif wd != 0:
            W_new = W * (1 - lr * wd)
        else:
            W_new = W
        W_new = W_new - U * (lr * rule.lr_scale(group["adjust_lr"], m, n))
        ok = (finite & torch.isfinite(U).flatten(1).all(1))[:, None, None]
        W_new = torch.where(ok, W_new, W)
        for i, s in enumerate(states):
            s["W"] = W_new[i].to(items[i][0].dtype)
            s["momentum_buffer"] = torch.where(ok[i], B_new[i], B[i])
            s["nonfinite_skips"] = s["nonfinite_skips"] + (~ok[i, 0, 0]).to(torch.int32)
            for k, v in new_extra.items():
                s[k] = torch.where(ok[i].view(*([1] * (v.ndim - 1))), v[i], extra[k][i])
            s["row_update_norm"] = (W_new[i] - W[i]).norm(dim=-1)


def _grads(step, dtype=torch.float32, poison=False):
    g = torch.Generator().manual_seed(100 + step)
    out = [
        (torch.randn(*s, generator=g) * (torch.rand(s[0], 1, generator=g) + 0.05)).to(dtype)
        for s in SHAPES
    ]
    if poison:  # one matrix of the batched bucket, and the wide one
        out[1][3, 1] = float("nan")
        out[4][0, 0] = float("inf")
    return out


CASES = {
    "muon": (Muon, NS),
    "muon_sum_plain_cautious": (
        Muon,
        {**NS, "momentum_form": "sum", "nesterov": False, "cautious_wd": True},
    ),
    "muon_bf16_iterations": (Muon, {**NS, "dtype": "bfloat16"}),
    "normuon": (NorMuon, NS),
    "aurora": (Aurora, NS),
    "aro": (ARO, {"base": "sinkhorn"}),
}


@pytest.mark.parametrize("batch_bytes", [None, 1, 2**30])
@pytest.mark.parametrize("param_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("case", list(CASES))
def test_in_place_step_gives_the_bits_of_the_out_of_place_rule(case, param_dtype, batch_bytes):
    # batch_bytes=1: one matrix per batch; 2**30: the whole bucket, as the reference.
    # Batched products compute each slice on its own, so every batch size gives the
    # same bits (checked here, not assumed).
    cls, kw = CASES[case]
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(*s, generator=g).to(param_dtype)) for s in SHAPES]
    opt = cls(
        [{"params": params, "batch_bytes": batch_bytes}],
        lr=0.05,
        weight_decay=0.1,
        row_telemetry=True,
        **kw,
    )
    ref = {}
    for t in range(4):
        grads = _grads(t, param_dtype, poison=t == 2)
        reference_matrix_step(opt, params, grads, ref)
        for p, gr in zip(params, grads):
            p.grad = gr
        opt.step()
    assert sum(int(opt.state[p]["nonfinite_skips"]) for p in params) == 2
    for p in params:
        expected = ref[id(p)]
        assert torch.equal(p.detach(), expected["W"])
        for key, value in opt.state[p].items():
            assert torch.equal(value, expected[key]), key


def _reference_adamw(w, st, g, group):
    b1, b2 = group["betas"]
    ok = torch.isfinite(g).all()
    g = torch.where(ok, g, 0.0)
    step = st.get("step", torch.zeros(())) + 1
    m1 = torch.lerp(st.get("exp_avg", torch.zeros_like(w)), g, 1 - b1)
    m2 = torch.lerp(st.get("exp_avg_sq", torch.zeros_like(w)), g * g, 1 - b2)
    c1, c2 = 1 - torch.pow(b1, step), 1 - torch.pow(b2, step)
    U = (m1 / c1) / ((m2 / c2).sqrt() + group["eps"])
    w_new = w * (1 - group["lr"] * group["weight_decay"]) - U * group["lr"]
    for k, v in (("step", step), ("exp_avg", m1), ("exp_avg_sq", m2)):
        st[k] = torch.where(ok, v, st.get(k, torch.zeros_like(v)))
    return torch.where(ok, w_new, w)


def _reference_lion(w, st, g, group):
    b1, b2 = group["betas"]
    ok = torch.isfinite(g).all()
    g = torch.where(ok, g, 0.0)
    m = st.get("exp_avg", torch.zeros_like(w))
    U = torch.sign(torch.lerp(m, g, 1 - b1))
    w_new = w * (1 - group["lr"] * group["weight_decay"]) - U * group["lr"]
    st["exp_avg"] = torch.where(ok, torch.lerp(m, g, 1 - b2), m)
    return torch.where(ok, w_new, w)


@pytest.mark.parametrize(
    ("step_fn", "reference", "group"),
    [
        (adamw_step, _reference_adamw, {"betas": (0.9, 0.999), "eps": 1e-8}),
        (lion_step, _reference_lion, {"betas": (0.9, 0.99)}),
    ],
)
def test_elementwise_in_place_steps_give_the_bits_of_the_formulas(step_fn, reference, group):
    group = {**group, "lr": 0.01, "weight_decay": 0.1}
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(7, 5, generator=gen)
    w_ref, st_ref, state = w.clone(), {}, {w: {}}
    for t in range(4):
        g = torch.randn(7, 5, generator=gen)
        if t == 2:
            g[1, 1] = float("nan")
        w.grad = g
        step_fn({**group, "params": [w]}, state)
        w_ref = reference(w_ref, st_ref, g, group)
        assert torch.equal(w, w_ref)
        for key, value in st_ref.items():
            assert torch.equal(state[w][key], value), key


# ----------------------------------------------------------------- memory


def _tall_params(count, m=256, n=64, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(m, n, generator=g, dtype=dtype)) for _ in range(count)]
    for p in params:
        p.grad = torch.randn(m, n, generator=g, dtype=dtype)
    return params


def test_state_is_updated_in_place_and_a_step_leaves_no_allocation_behind():
    params = _tall_params(3)
    opt = NorMuon(params, weight_decay=0.1, **NS)
    opt.step()  # creates the state
    pointers = {k: v.data_ptr() for p in params for k, v in opt.state[p].items()}
    weights = [p.data_ptr() for p in params]
    _, net = peak_extra_bytes(opt.step)
    assert net == 0  # every temporary freed; no stacked copy kept as state
    assert [p.data_ptr() for p in params] == weights
    assert {k: v.data_ptr() for p in params for k, v in opt.state[p].items()} == pointers


def test_default_batch_keeps_peak_memory_independent_of_the_number_of_matrices():
    # With batch_bytes=None a batch holds at most the group's largest matrix (here
    # 512 x 256 float32: 1.25 MiB of work, over the MIN_BATCH_BYTES floor); all matrices
    # have one shape, so a batch is one matrix and the peak of a step must not grow with
    # their number. A whole-bucket batch must grow with it (b stacked momenta at least),
    # which shows that the bound is what holds it down.
    def peak(count, batch_bytes):
        params = _tall_params(count, m=512, n=256)
        opt = Muon([{"params": params, "batch_bytes": batch_bytes}], **NS)
        opt.step()
        return peak_extra_bytes(opt.step)[0]

    one_matrix = 512 * 256 * 4
    few, many = peak(2, None), peak(6, None)
    assert many <= few + 1024  # a few per-matrix flags, not another matrix
    assert peak(6, 2**30) >= few + 4 * one_matrix


@pytest.mark.parametrize(("shape", "per_batch"), [((16, 16), 40), ((64, 16), 40), ((512, 512), 1)])
def test_small_matrices_share_a_default_batch_up_to_the_floor(shape, per_batch, monkeypatch):
    # MIN_BATCH_BYTES = 1 MiB: 40 matrices of 16 x 16 or 64 x 16 (2 and 5 KiB of work
    # each) go in one batch; a 512 x 512 float32 matrix (2 MiB of work) is a batch alone.
    from polarlab.optim import base

    assert base.MIN_BATCH_BYTES == 2**20
    sizes = []
    original = base.PolarOptimizer._update_bucket
    monkeypatch.setattr(
        base.PolarOptimizer,
        "_update_bucket",
        lambda self, params, *a, **k: (sizes.append(len(params)), original(self, params, *a, **k)),
    )
    params = _tall_params(40 if per_batch > 1 else 3, *shape)
    Muon(params, **NS).step()
    assert sizes == ([40] if per_batch > 1 else [1, 1, 1])


def _step_peak(cls, shapes, **kw) -> int:
    """Peak extra bytes of the second step of ``cls`` on seeded float32 matrices of ``shapes``
    (lr 0.02, weight decay 0.1, Nesterov momentum 0.95; the first step creates the state)."""
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(*s, generator=g)) for s in shapes]
    for p in params:
        p.grad = torch.randn(*p.shape, generator=g)
    opt = cls(params, lr=0.02, weight_decay=0.1, momentum=0.95, nesterov=True, **kw)
    opt.step()
    return peak_extra_bytes(opt.step)[0]


def test_muon_step_peak_memory_is_within_a_tenth_of_torch_muon():
    # torch.optim.Muon loops over matrices: its float32 Nesterov update and the bfloat16
    # iteration (two iterates and the n x n factors) are alive at its peak. polarlab at
    # the same settings (Jordan's coefficients, 5 bfloat16 steps) holds the same: its
    # float32 momentum batch (one matrix: the default batch is the largest matrix), which
    # the engine normalises in place and into which the direction lands, and the same
    # bfloat16 iteration. Equal up to small tensors, so at most 1.1x. (Before the batch
    # was used as scratch, a float32 normalised copy and a float32 direction came on top:
    # 1.22x on the suite's GPT-like set.)
    shapes = [(512, 128), (128, 512), (128, 128), (128, 128)]
    peak_theirs = _step_peak(torch.optim.Muon, shapes)
    peak_ours = _step_peak(
        Muon, shapes, method="newton_schulz", schedule="jordan", steps=5, dtype="bfloat16"
    )
    assert peak_theirs > 512 * 128 * 4  # the comparison measures something
    assert peak_ours <= 1.1 * peak_theirs, (peak_ours / MIB, peak_theirs / MIB)


def test_aurora_step_holds_one_float32_matrix_more_than_a_muon_step():
    # Aurora (K = 2, float32 iterations: the CPU default) needs polar(D_k G) for two row
    # scalings D_k of the same G. The momentum batch holds G (divided in place by its
    # largest entry) and, for the last call, D_2 G itself; only the first call's D_1 G is
    # a copy beside it (freed once normalised in the Gram form), and the Gram form's n x n
    # factors are no larger than Muon's own.
    # So at most one float32 m x n matrix more than a Muon step at the same settings, and
    # the row scalings: ||G_i||, d and its update factor, a few float32 m-vectors.
    # (Before the batch was Aurora's scratch: 2.95 matrices more, with the normalised
    # copy and the last D G on top.)
    m, n = 1024, 256
    settings = dict(method="polar_express", steps=5, dtype="float32")
    muon = _step_peak(Muon, [(m, n)], **settings)
    assert muon > m * n * 4  # the comparison measures something
    for engine in ("gram", "plain"):
        aurora = _step_peak(Aurora, [(m, n)], engine=engine, **settings)
        bound = muon + m * n * 4 + 4 * m * 4
        assert aurora <= bound, (engine, (aurora - muon) / (m * n * 4))


@pytest.mark.parametrize("engine", ["gram", "plain"])
def test_aurora_step_peak_memory_is_torch_muon_plus_one_batch(engine):
    # The memory rule at torch.optim.Muon's settings (bfloat16 iterations): at most
    # torch's peak plus one batch of the largest shape group (the default batch: one
    # 1024 x 256 matrix, its momentum and a 256 x 256 factor in float32). Aurora holds
    # beside the batch (which keeps G and the last D G) only bfloat16 iterates: the first
    # call's D_1 G is formed inside the polar map and freed once normalised, U_1 is
    # dropped once its row norms are taken, and those norms need one float32 copy.
    # (Before: 2.2 float32 matrices over the rule in the Gram form, with a scaled copy,
    # D_1 G, D_2 G and U_1 alive.)
    shapes = [(1024, 256), (1024, 256), (256, 1024), (256, 256)]
    m, n = shapes[0]
    peak_theirs = _step_peak(torch.optim.Muon, shapes)
    peak_ours = _step_peak(
        Aurora, shapes, method="polar_express", steps=5, dtype="bfloat16", engine=engine
    )
    one_batch = (m * n + n * n) * 4
    assert peak_theirs > m * n * 4  # the comparison measures something
    assert peak_ours <= peak_theirs + one_batch, (peak_ours / MIB, peak_theirs / MIB)


@pytest.mark.parametrize(
    ("step_fn", "extra"), [(adamw_step, {"eps": 1e-8}), (lion_step, {})], ids=["adamw", "lion"]
)
def test_elementwise_step_holds_at_most_two_parameter_sized_temporaries(step_fn, extra):
    # AdamW: the gradient's finite copy (g, then g * g in place), then the update U and
    # its denominator; Lion: the copy and sign(lerp(m, g)). The out-of-place formulas
    # held up to six (g, where(g), m1, m2, g * g, the quotients).
    w = torch.nn.Parameter(torch.randn(256, 256))
    w.grad = torch.randn(256, 256)
    group = {"params": [w], "betas": (0.9, 0.999), "lr": 0.01, "weight_decay": 0.1, **extra}
    state = {w: {}}
    with torch.no_grad():
        step_fn(group, state)
        peak, net = peak_extra_bytes(lambda: step_fn(group, state))
    assert net == 0
    assert peak <= 2 * w.numel() * 4 + 4096  # + 0-d scalars


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_finite_flags_come_from_reductions_without_a_full_size_temporary(bad):
    # torch.isfinite(G).all() would allocate one byte per entry; the max and min
    # reductions allocate only their per-matrix results. Every position is poisoned in
    # turn (vectorised reductions handle head, body and tail of a row differently).
    G = torch.randn(3, 37, 29)
    peak, _ = peak_extra_bytes(lambda: rule.is_finite(G, dim=(-2, -1)))
    assert peak < G[0].numel()  # far below one byte per entry of one matrix
    for pos in range(0, 37 * 29, 7):
        X = G.clone()
        X[1].view(-1)[pos] = bad
        assert rule.is_finite(X, dim=(-2, -1)).tolist() == [True, False, True]
        assert rule.is_finite(X.mT, dim=(-2, -1)).tolist() == [True, False, True]
        assert not bool(rule.is_finite(X[1].to(torch.bfloat16)))
    assert rule.is_finite(torch.zeros(0, 3)).item()


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "64MiB"])
def test_batch_bytes_must_be_none_or_a_positive_int(bad):
    params = _tall_params(1, m=8, n=4)
    with pytest.raises(ValueError, match="batch_bytes must be None or a positive integer"):
        Muon([{"params": params, "batch_bytes": bad}], **NS)
    opt = Muon(params, **NS)
    opt.param_groups[0]["batch_bytes"] = bad  # changed between steps: checked by the step
    with pytest.raises(ValueError, match="batch_bytes"):
        opt.step()
