"""The CUDA path: polar methods, projections and optimizers against CPU float64 references.

Each check runs once per device: ``"cpu"`` (always; it checks the bounds and the test
code on any machine) and ``"cuda"`` (marked ``cuda``, skipped without a device; the
default run deselects it and ``benchmarks/gpu_check.py`` runs ``pytest -m cuda``). The
reference is always the same computation in float64 on the CPU, from the same input
values (the input is rounded to the tested dtype first, so both see identical data).

Bounds, in the relative Frobenius norm ``||X - X_ref||_F / ||X_ref||_F`` (u: unit
round-off of the dtype, u32 = 2^-24):

- **exact polar methods** (float64 inside): the result is the float64 polar factor
  rounded to the caller's dtype, ``<= u`` (rounding to nearest), plus the float64
  difference between devices (``~ u64 * sensitivity``, below 1e-12 here).
- **polynomial methods** (Newton-Schulz engine, Polar Express, Gram NS): the rule of
  docs/howto/precision-study.md: the error to the exact polar factor
  (``polarlab.metrics.polar_error``) may exceed that of the float64 iterate (the
  schedule's exact-arithmetic error on this input) by a few units of round-off per
  step: ``steps * (4 u + 3 sqrt(m) u32)`` (4 roundings per step: X, A = X^T X,
  P = aI + bA + cA^2, X P; float32 accumulation over the inner dimension m, in its
  probabilistic form sqrt(m) u32: Higham & Mary, SIAM J. Sci. Comput. 41, 2019).
- **projections and optimizer steps** (float32 arithmetic inside, the "scaling" role
  of ``polarlab._arrays.compute_dtype``, with an exact polar factor): the final
  rounding ``u`` plus ``8 kappa u32``: at most 8 float32 stages (cast in, row norms,
  scalings before and after each of the 2 polar calls, cast out), each amplified by
  at most the input's condition number kappa (first-order perturbation of the polar
  factor, Higham, *Functions of Matrices*, 2008, Thm 8.9).

Also here, CUDA only: no host synchronisation inside ``step()`` for a model with
matrix, AdamW and Lion groups; a CUDA-graph capture of one optimizer step. And on both
devices: ``torch.compile(fullgraph=True)`` of the engine, Gram NS, the Aurora projection
and one optimizer step (CPU with the ``aot_eager`` backend, which traces the same graph
without generating kernels; CUDA with inductor).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import polarlab
from polarlab.matrices import prescribed_spectrum
from polarlab.metrics import polar_error
from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon, split_params
from polarlab.polar import resolve

HAS_CUDA = torch.cuda.is_available()
CUDA = pytest.param(
    "cuda",
    marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")],
)
devices = pytest.mark.parametrize("device", ["cpu", CUDA])
cuda_only = [pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")]
dtypes = pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)

U32 = 2.0**-24
M, N = 96, 32
SIGMA = np.linspace(1.0, 0.5, N)  # kappa = 2: far from the rank-deficient edge cases
KAPPA = 2.0


def unit_roundoff(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def relative(X: torch.Tensor, ref: torch.Tensor) -> float:
    """``||X - ref||_F / ||ref||_F``, measured in float64 on the CPU."""
    X, ref = X.detach().cpu().double(), ref.detach().cpu().double()
    return float(torch.linalg.matrix_norm(X - ref) / torch.linalg.matrix_norm(ref))


def case_matrix(dtype: torch.dtype, device: str, m: int = M, n: int = N, seed: int = 1):
    """``(A, A64)``: a kappa = 2 matrix in ``dtype`` on ``device``, and the same values in
    float64 on the CPU."""
    G = torch.from_numpy(prescribed_spectrum(SIGMA[: min(m, n)], m, n, seed=seed, like="numpy"))
    A = G.to(dtype)
    return A.to(device), A.double()


def projection_tol(dtype: torch.dtype) -> float:
    return unit_roundoff(dtype) + 8 * KAPPA * U32


# --- polar methods ------------------------------------------------------------------------

INEXACT = {  # method -> options (5 steps each: the optimizer default)
    "newton_schulz": {"schedule": "jordan", "steps": 5},
    "polar_express": {"steps": 5},
    "gram_newton_schulz": {"steps": 5},
}


def polynomial_allowance(steps: int, dtype: torch.dtype, m: int) -> float:
    return steps * (4 * unit_roundoff(dtype) + 3 * math.sqrt(m) * U32)


@devices
@dtypes
@pytest.mark.parametrize("method", polarlab.polar_methods())
@pytest.mark.parametrize("shape", [(M, N), (N, M)], ids=["tall", "wide"])
def test_polar_method_matches_float64_reference(device, dtype, method, shape):
    if method == "mpmath":  # a pure-Python oracle: a small matrix
        shape = tuple(s // 4 for s in shape)
    A, A64 = case_matrix(dtype, device, *shape)
    if method not in INEXACT:  # float64 inside: the float64 factor rounded to dtype
        U = polarlab.polar(A, method)
        assert U.device.type == device and U.dtype == dtype
        ref = polarlab.polar(A64, method)
        assert relative(U, ref) <= unit_roundoff(dtype) + 1e-12
        return
    options = INEXACT[method]
    U = polarlab.polar(A, method, dtype=dtype, **options)
    assert U.device.type == device and U.dtype == dtype
    iterate64 = polarlab.polar(A64, method, dtype=torch.float64, **options)
    exact = polarlab.polar(A64, "svd")
    allowance = polynomial_allowance(options["steps"], dtype, max(shape))
    measured = polar_error(U.cpu().double(), A64, reference=exact)
    assert measured <= polar_error(iterate64, A64, reference=exact) + allowance


def test_polynomial_allowance_catches_a_wrong_factor():
    # The rule can fail: in bfloat16 its allowance (5 steps: 0.08) is smaller than the
    # error of singular values 20% off, as a lost normalisation or a wrong row gives.
    A, A64 = case_matrix(torch.bfloat16, "cpu")
    U = polarlab.polar(A, "polar_express", steps=5, dtype=torch.bfloat16).double()
    exact = polarlab.polar(A64, "svd")
    iterate = polar_error(polarlab.polar(A64, "polar_express", steps=5, dtype="float64"), A64)
    wrong = U * 1.2  # singular values 20% off: what a missing normalisation looks like
    assert polar_error(wrong, A64, reference=exact) > iterate + polynomial_allowance(5, A.dtype, M)


# --- projections ----------------------------------------------------------------------------

PROJECTIONS = {
    "project_row_oblique": polarlab.project_row_oblique,
    "project_stiefel": polarlab.project_stiefel,
    "muoneq_r": polarlab.muoneq_r,
    "aurora_preconditioned": polarlab.project_balanced_stiefel,
    "aurora_alternating": lambda X: polarlab.project_balanced_stiefel(X, form="alternating"),
    "aurora_riemannian": polarlab.riemannian_balanced_stiefel,
    "balanced_stiefel_exact": lambda X: polarlab.balanced_stiefel_exact(X)[0],
    "normuon_normalize": lambda X: polarlab.normuon_normalize(X)[0],
    "u_normuon_normalize": lambda X: polarlab.u_normuon_normalize(X)[0],
}
TANGENTS = {
    "tangent_row_oblique": (polarlab.tangent_row_oblique, polarlab.project_row_oblique),
    "tangent_stiefel": (polarlab.tangent_stiefel, polarlab.project_stiefel),
    "tangent_balanced_stiefel": (
        polarlab.tangent_balanced_stiefel,
        lambda X: polarlab.balanced_stiefel_exact(X)[0],
    ),
}


def _rows_apart(A: torch.Tensor) -> torch.Tensor:
    """Rows scaled by e^z, z ~ N(0, 1/4): Aurora's row balancing has work to do."""
    z = torch.from_numpy(np.random.default_rng(5).standard_normal((A.shape[-2], 1)))
    return A * torch.exp(0.5 * z).to(A.dtype).to(A.device)


@devices
@dtypes
@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_projection_matches_float64_reference(device, dtype, name):
    A, _ = case_matrix(dtype, device)
    A = _rows_apart(A)  # rounded in dtype; the reference reads the same values
    out, ref = PROJECTIONS[name](A), PROJECTIONS[name](A.cpu().double())
    assert out.device.type == device and out.dtype == dtype
    # row scaling by e^{+-1} (2 sigma) raises the condition number by e^2 at most
    assert relative(out, ref) <= unit_roundoff(dtype) + 8 * KAPPA * math.e**2 * U32


@devices
@dtypes
@pytest.mark.parametrize("name", list(TANGENTS))
def test_tangent_projection_matches_float64_reference(device, dtype, name):
    tangent, project = TANGENTS[name]
    _, A64 = case_matrix(dtype, device)
    V, V64 = case_matrix(dtype, device, seed=2)
    X64 = project(A64)  # the base point in float64, then rounded like the other inputs
    X = X64.to(dtype)
    out, ref = tangent(X.to(device), V), tangent(X.double(), V64)
    assert out.device.type == device and out.dtype == dtype
    assert relative(out, ref) <= projection_tol(dtype)


# --- optimizers -----------------------------------------------------------------------------

SVD = {"method": "svd"}  # exact polar: the step's own arithmetic is what is measured
OPTIMIZERS = {
    "muon": (Muon, SVD),
    "normuon": (NorMuon, SVD),
    "unormuon": (UNorMuon, SVD),
    "aurora": (Aurora, SVD),
    "aurora_alternating": (Aurora, {**SVD, "form": "alternating"}),
    "aurora_riemannian": (Aurora, {**SVD, "form": "riemannian"}),
    "aro_sinkhorn": (ARO, {"base": "sinkhorn"}),
    "aro_row_norm": (ARO, {"base": "row_norm"}),
}
SHAPES = [(M, N), (M, N), (N, N), (N, M)]  # a tall pair (one batched call), square, wide
LR = 0.02


def _params(dtype, device, seed=0):
    out = []
    for i, (m, n) in enumerate(SHAPES):
        A, _ = case_matrix(dtype, device, m, n, seed=seed + i)
        out.append(torch.nn.Parameter(A))
    return out


def _grads(step, dtype, device):
    return [_rows_apart(case_matrix(dtype, device, m, n, seed=100 + 10 * step + i)[0])
            for i, (m, n) in enumerate(SHAPES)]  # fmt: skip


def _run(opt, params, steps, dtype, device):
    """``steps`` steps with gradients rounded to ``dtype``, given in the params' dtype."""
    for t in range(steps):
        for p, g in zip(params, _grads(t, dtype, device)):
            p.grad = g.to(p.dtype)
        opt.step()


@devices
@dtypes
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_float64_reference(device, dtype, name):
    cls, kw = OPTIMIZERS[name]
    params = _params(dtype, device)
    params64 = [torch.nn.Parameter(p.detach().cpu().double()) for p in params]
    W0 = [p.detach().cpu().double() for p in params]
    _run(cls(params, lr=LR, **kw), params, 2, dtype, device)
    _run(cls(params64, lr=LR, **kw), params64, 2, dtype, "cpu")  # the same rounded values
    u = unit_roundoff(dtype)
    for p, p64, w0 in zip(params, params64, W0):
        assert p.device.type == device and p.dtype == dtype
        # the change lr s U, |s| <= sqrt(3), carries the projection bound (float32 state);
        # each of the 2 steps rounds W (|W| / |dW| <= ||W0||_F / ||p64 - w0||_F) to dtype
        dW = p64.detach() - w0
        ratio = float(torch.linalg.matrix_norm(w0) / torch.linalg.matrix_norm(dW))
        err = relative(p.detach().cpu().double() - w0, dW)
        assert err <= 2 * (projection_tol(torch.float32) * math.e**2 + u * (1 + ratio))


@devices
def test_default_muon_step_stays_within_the_polynomial_bound(device):
    # Defaults: Polar Express (5 steps) in bfloat16 on CUDA, float32 on CPU.
    A, _ = case_matrix(torch.float32, device)
    G, G64 = case_matrix(torch.float32, device, seed=7)
    W = torch.nn.Parameter(A.clone())
    opt = Muon([W], lr=LR)
    W.grad = G
    opt.step()
    dtype = torch.bfloat16 if device == "cuda" else torch.float32  # the "optimizer" role
    # first step: M = (1 - mu^2) G (EMA + Nesterov), U = polar(M) = polar(G)
    U = (A.double() - W.detach().double()) / (LR * math.sqrt(M / N))
    exact = polarlab.polar(G64, "svd")
    iterate = polarlab.polar(G64, "polar_express", steps=5, dtype="float64")
    # W's float32 rounding, relative to |dW|: ||A||_F u32 / ||dW||_F
    w_round = float(torch.linalg.matrix_norm(A.cpu().double())) * U32 / (LR * math.sqrt(M))
    bound = polar_error(iterate, G64, reference=exact) + polynomial_allowance(5, dtype, M)
    assert polar_error(U.cpu(), G64, reference=exact) <= bound + w_round


# --- CUDA only: host synchronisation, CUDA graphs -------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
@pytest.mark.parametrize("cls", [Muon, Aurora, NorMuon, ARO], ids=lambda c: c.__name__)
def test_mixed_group_step_has_no_host_synchronisation(cls):
    model = torch.nn.ModuleDict(
        {
            "emb": torch.nn.Embedding(50, 32),
            "block": torch.nn.Linear(32, 96),
            "out": torch.nn.Linear(96, 32),
            "head": torch.nn.Linear(32, 50),
        }
    ).cuda()
    matrices, others = split_params(model, ["emb"], ["head"])
    lion = {**others, "params": others["params"][:2], "algorithm": "lion"}
    adamw = {**others, "params": others["params"][2:]}
    opt = cls([matrices, adamw, lion], lr=0.01)
    for step in range(3):
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        if step == 0:
            opt.step()  # state is created on the first step (allocation, no sync)
            continue
        torch.cuda.set_sync_debug_mode("error")  # any host synchronisation raises
        try:
            opt.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
@pytest.mark.parametrize("name", ["muon", "aurora"])
def test_optimizer_step_replays_from_a_cuda_graph(name):
    # The standard capture recipe (torch.cuda.graphs docs): warm up on a side stream,
    # capture one step with static gradient tensors, then replay. Replays must equal
    # eager steps: the state must be updated in place (the graph replays fixed addresses).
    cls, _ = OPTIMIZERS[name]
    kw = {"dtype": torch.float32}  # float32 polar: the eager and replayed kernels match
    params, eager = _params(torch.float32, "cuda"), _params(torch.float32, "cuda")
    opt, ref = cls(params, lr=LR, **kw), cls(eager, lr=LR, **kw)
    grads = [_grads(t, torch.float32, "cuda") for t in range(6)]
    for p, g in zip(params, grads[0]):
        p.grad = g.clone()  # the static gradient tensors
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm-up creates the state
            opt.step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        opt.step()
    for _ in range(2):  # the reference takes the same two warm-up steps, eagerly
        for p, g in zip(eager, grads[0]):
            p.grad = g
        ref.step()
    for t in range(1, 6):
        for p, g in zip(params, grads[t]):
            p.grad.copy_(g)
        graph.replay()
        for p, g in zip(eager, grads[t]):
            p.grad = g
        ref.step()
    torch.cuda.synchronize()
    for p, e, w0 in zip(params, eager, _params(torch.float32, "cuda")):
        # float32 throughout; the graph may pick other GEMM kernels than eager calls:
        # 7 steps, 2 polar calls each (Aurora), each within the round-off allowance. A
        # replay that reads stale or freed state is O(10%) off.
        tol = 7 * 2 * 2 * polynomial_allowance(5, torch.float32, M)
        assert relative(p.detach() - w0, e.detach() - w0) <= tol


def test_step_updates_state_in_place():
    # What a CUDA graph needs, checked on any device: a replayed graph reads and writes
    # fixed addresses, so every state tensor (matrix, AdamW and Lion groups) must keep
    # its storage across a step once it exists.
    params = _params(torch.float32, "cpu")
    vectors = [torch.nn.Parameter(torch.zeros(N)), torch.nn.Parameter(torch.zeros(M))]
    groups = [
        {"params": params},
        {"params": vectors[:1], "algorithm": "adamw"},
        {"params": vectors[1:], "algorithm": "lion"},
    ]
    opt = Muon(groups, lr=LR, dtype=torch.float32)

    def storage():
        return {
            (i, k): v.data_ptr()
            for i, p in enumerate([*params, *vectors])
            for k, v in opt.state[p].items()
        }

    for t in range(3):
        before = storage()
        for v in vectors:
            v.grad = torch.randn(v.shape, generator=torch.Generator().manual_seed(t))
        _run(opt, params, 1, torch.float32, "cpu")
        if t:  # the first step creates the state
            assert storage() == before


# --- torch.compile(fullgraph=True) ----------------------------------------------------------


def _compile(fn, device):
    # aot_eager on CPU: the same Dynamo graph (fullgraph fails on any break) without
    # generating C++ kernels (tens of seconds per function on 2 cores)
    return torch.compile(
        fn, fullgraph=True, backend="inductor" if device == "cuda" else "aot_eager"
    )


ENGINES = {  # name -> (method, options): the engine as the optimizers call it (bf16)
    "newton_schulz_engine": ("polar_express", {"steps": 5, "dtype": torch.bfloat16}),
    "gram_newton_schulz": ("gram_newton_schulz", {"steps": 5, "dtype": torch.bfloat16}),
}


@devices
@pytest.mark.parametrize("name", list(ENGINES))
def test_engine_compiles_fullgraph_and_keeps_its_accuracy(device, name):
    method, options = ENGINES[name]
    A, A64 = case_matrix(torch.float32, device)
    U, _ = _compile(resolve(method, **options).apply, device)(A)
    # fused, reordered bf16 kernels: held to the same rule as the eager engine
    exact = polarlab.polar(A64, "svd")
    iterate = polarlab.polar(A64, method, **{**options, "dtype": torch.float64})
    bound = polar_error(iterate, A64, reference=exact) + polynomial_allowance(5, torch.bfloat16, M)
    assert polar_error(U.cpu().double(), A64, reference=exact) <= bound


@devices
def test_aurora_projection_compiles_fullgraph(device):
    def aurora(X):
        return polarlab.project_balanced_stiefel(
            X, method="polar_express", steps=5, dtype=torch.float32, check_finite=False
        )

    A, _ = case_matrix(torch.float32, device)
    A = _rows_apart(A)
    # float32 throughout: compiled and eager differ by reordered float32 rounding only,
    # each within the round-off allowance of each of its 2 polar calls
    tol = 2 * 2 * polynomial_allowance(5, torch.float32, M)
    assert relative(_compile(aurora, device)(A), aurora(A)) <= tol


@devices
def test_optimizer_step_compiles_fullgraph(device):
    params, eager = _params(torch.float32, device), _params(torch.float32, device)
    opt, ref = Aurora(params, lr=LR, dtype=torch.float32), Aurora(eager, lr=LR, dtype=torch.float32)
    step = _compile(opt.step, device)
    for t in range(3):  # step 0 creates the state, step 1 traces the steady path
        for p, e, g in zip(params, eager, _grads(t, torch.float32, device)):
            p.grad, e.grad = g, g.clone()
        step()
        ref.step()
    for p, e, w0 in zip(params, eager, _params(torch.float32, device)):
        # float32 throughout; per step 2 polar calls, each within the round-off allowance
        tol = 3 * 2 * 2 * polynomial_allowance(5, torch.float32, M)
        assert relative(p.detach() - w0, e.detach() - w0) <= tol
