"""Polar methods against their matmul floor and ``torch.linalg.svd``; Gram NS against peers.

*Matmul floor*: the same sequence of plain ``torch.bmm`` calls a polynomial
method performs, on operands of the same shapes and layouts, and nothing else
(``benchmarks/bench_polar.py``: ``ns_floor``, ``gns_floor``). ``method / floor``
is the engine's overhead: the engine is ``PolarSolver.apply`` on the work tensor
(normalisation, products, the small ``n x n`` updates; its result in the compute
dtype). The public call (``solver(G)``: the input check and the cast of the
result back to ``G``'s dtype on top) is reported beside it as ``call / floor``;
at ``n = 256`` in bfloat16 on CPU that cast and check are a tenth of the time.
Methods that are not a product sequence (``svd``,
``qdwh``, ``newton``: float64 factorizations) have no floor and are compared with
``torch.linalg.svd`` (float32, followed by ``U @ Vh``) only.

For the Newton-Schulz engine (``polar_express``) the gap between engine and floor
is split into stages, each timed in the same rounds and reported against the floor:
``arithmetic`` (the engine's own steps, ``polynomial_step``, from the floor's
normalised start: the ``baddbmm`` that forms ``b A + c A^2`` and the ``a I`` added on
the diagonal, where the floor has plain products), ``normalised`` (the scale-safe
normalisation of ``G``, ``polynomial.normalize``, then those steps) and the engine
(``PolarSolver.apply``: the same plus the dispatch, the orientation and the
schedule's look-up).
"""

from __future__ import annotations

import importlib
import importlib.metadata

import torch

from benchmarks.bench_polar import flops, gns_floor, gns_gemms, ns_floor, ns_gemms
from benchmarks.suite.config import Config
from benchmarks.suite.timing import interleaved, ratio
from polarlab import schedules
from polarlab.polar import resolve
from polarlab.polar.polynomial import batch_view, normalize, polynomial_step

STEPS = 5
RESTARTS = (2,)
#: polynomial methods as a user calls them (each with its default schedule)
POLYNOMIAL = {
    "polar_express": {},
    "gram_newton_schulz": {"restarts": RESTARTS},
}
#: float64 factorizations: no matmul floor
EXACT = ("svd", "qdwh", "newton")
#: the engine's stages timed apart (module notes), in the order they add up
STAGES = ("arithmetic", "normalised")
STAGE_SUFFIXES = (" floor", " engine", *(f" {stage}" for stage in STAGES))
PEER = "gram_newton_schulz"  # the package's import name (PyPI: gram-newton-schulz)


def gaussian(m: int, n: int, device: torch.device, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(m, n, generator=gen).to(device)


def _normalised(G: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The engine's start ``X_0`` (tall, batch of one) in the compute dtype: the floor's input."""
    return (G / torch.linalg.matrix_norm(G)).to(dtype)[None]


def _stages(G: torch.Tensor, X0: torch.Tensor, dtype: torch.dtype) -> dict:
    """The engine's stages without its dispatch (module notes): steps from ``X0``, and
    the normalisation of ``G`` followed by the same steps (default schedule, 5 steps)."""
    sched = schedules.get("polar_express")
    rows = sched.rows(STEPS)

    def steps(X):
        for row in rows:
            X = polynomial_step(X, row)
        return X

    return {
        "arithmetic": lambda: steps(X0),
        "normalised": lambda: steps(normalize(batch_view(G), sched, "frobenius", dtype).X),
    }


def _svd_polar(G: torch.Tensor):
    W, _, Vh = torch.linalg.svd(G, full_matrices=False)
    return W @ Vh


def methods_record(cfg: Config, device: torch.device) -> list[dict]:
    """Each polar method against its floor and ``torch.linalg.svd``, per dtype and aspect."""
    rows = []
    for d_index, dtype_name in enumerate(cfg.dtypes):
        dtype = getattr(torch, dtype_name)
        for aspect in cfg.aspects:
            n = cfg.polar_n
            m = aspect * n
            G = gaussian(m, n, device)
            X0 = _normalised(G, dtype)
            fns = {"torch.linalg.svd": lambda G=G: _svd_polar(G)}
            gemms = {}
            for name, options in POLYNOMIAL.items():
                solver = resolve(name, steps=STEPS, dtype=dtype, **options)
                fns[name] = lambda s=solver, G=G: s(G, check_finite=False)
                fns[f"{name} engine"] = lambda s=solver, G=G: s.apply(G)
                square = m == n  # Gram NS falls back to the standard engine
                if name == "polar_express":
                    for stage, fn in _stages(G, X0, dtype).items():
                        fns[f"{name} {stage}"] = fn
                if name == "gram_newton_schulz" and not square:
                    fns[f"{name} floor"] = gns_floor(X0, STEPS, RESTARTS)
                    gemms[name] = gns_gemms(m, n, STEPS, RESTARTS)
                else:
                    fns[f"{name} floor"] = ns_floor(X0, STEPS)
                    gemms[name] = ns_gemms(m, n, STEPS)
            if d_index == 0:  # float64 whatever the dtype: once per shape
                for name in EXACT:
                    solver = resolve(name)
                    fns[name] = lambda s=solver, G=G: s(G, check_finite=False)
            times = interleaved(fns, device, cfg.rounds, budget_s=cfg.budget_s)
            for name in fns:
                if name == "torch.linalg.svd" or name.endswith(STAGE_SUFFIXES):
                    continue
                poly = name in POLYNOMIAL
                row = {
                    "method": name,
                    "dtype": dtype_name if poly else "float64",
                    "aspect": aspect,
                    "m": m,
                    "n": n,
                    "vs_svd": ratio(times, name, "torch.linalg.svd"),
                    "vs_floor": ratio(times, f"{name} engine", f"{name} floor") if poly else None,
                    "call_vs_floor": ratio(times, name, f"{name} floor") if poly else None,
                    "stages_vs_floor": {
                        stage: ratio(times, f"{name} {stage}", f"{name} floor")
                        for stage in STAGES
                        if f"{name} {stage}" in times
                    },
                }
                if poly:
                    row["gemms"] = len(gemms[name])
                    row["gflop_per_s"] = (
                        flops(gemms[name], 1) / 1e9 / (row["vs_svd"]["num_ms"] / 1e3)
                    )
                rows.append(row)
    return rows


def peer_version() -> str | None:
    """Version of the installed ``gram-newton-schulz`` package, or ``None``."""
    try:
        importlib.import_module(PEER)
        return importlib.metadata.version("gram-newton-schulz")
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return None


def _peer_fns(G: torch.Tensor) -> dict:
    """The package's torch path (no CuTeDSL kernels, no compile), standard and Gram."""
    peer = importlib.import_module(PEER)
    gram = peer.GramNewtonSchulz(ns_use_kernels=False, compile_kwargs=None)
    standard = peer.StandardNewtonSchulz(ns_use_kernels=False, compile_kwargs=None)
    return {"package gram": lambda: gram(G), "package standard": lambda: standard(G)}


def gram_record(cfg: Config, device: torch.device) -> dict:
    """Standard vs Gram Newton-Schulz (Polar Express rows, 5 steps, restart before step 2)."""
    version = peer_version()
    rows = []
    for d_index, dtype_name in enumerate(cfg.dtypes):
        dtype = getattr(torch, dtype_name)
        for m, n in cfg.gram_shapes:
            G = gaussian(m, n, device)
            same = {"schedule": "polar_express", "steps": STEPS, "dtype": dtype}
            standard = resolve("newton_schulz", **same)
            gram = resolve("gram_newton_schulz", restarts=RESTARTS, **same)
            fns = {
                "standard": lambda G=G, s=standard: s(G, check_finite=False),
                "gram": lambda G=G, s=gram: s(G, check_finite=False),
            }
            peer = version is not None and d_index == 0  # it computes in float16 anyway
            if peer:
                fns.update(_peer_fns(G))
            times = interleaved(fns, device, cfg.rounds, budget_s=cfg.budget_s)
            flop_ratio = flops(ns_gemms(m, n, STEPS), 1) / flops(
                gns_gemms(m, n, STEPS, RESTARTS), 1
            )
            row = {
                "dtype": dtype_name,
                "m": m,
                "n": n,
                "aspect": m / n,
                "gram_vs_standard": ratio(times, "gram", "standard"),
                "flop_ratio_gram_vs_standard": 1 / flop_ratio,
                "package_gram_vs_gram": ratio(times, "package gram", "gram") if peer else None,
                "package_standard_vs_standard": (
                    ratio(times, "package standard", "standard") if peer else None
                ),
            }
            rows.append(row)
    return {
        "peer": {"package": "gram-newton-schulz", "version": version},
        "note": (
            "The package's torch path (ns_use_kernels=False, no torch.compile) normalises in "
            "float32 and iterates in float16 whatever the input; it is timed in the float32 "
            "rows only."
            if version
            else "gram-newton-schulz is not installed: the package rows are skipped."
        ),
        "rows": rows,
    }


def torch_ns_record(cfg: Config, device: torch.device) -> dict:
    """polarlab's engine against ``torch.optim.Muon``'s Newton-Schulz, one matrix per shape.

    Both at torch's settings: Keller Jordan's quintic, 5 steps, bfloat16,
    ``X / (||X||_F + 1e-7)`` (polarlab's ``"jordan"`` schedule); polarlab through
    ``PolarSolver.apply`` (a work tensor in, the bfloat16 iterate out, as torch's
    function returns it), torch through its private ``_zeropower_via_newtonschulz``
    (skipped if this torch has none).
    """
    try:
        from torch.optim._muon import _zeropower_via_newtonschulz as torch_ns
    except ImportError:
        return {"note": "this torch has no torch.optim._muon: skipped", "rows": []}
    solver = resolve("newton_schulz", schedule="jordan", steps=STEPS, dtype=torch.bfloat16)
    coefficients = (3.4445, -4.775, 2.0315)
    rows = []
    for m, n in cfg.torch_ns_shapes:
        G = gaussian(m, n, device)
        fns = {
            "polarlab": lambda G=G: solver.apply(G),
            "torch": lambda G=G: torch_ns(G, coefficients, STEPS, 1e-7),
        }
        times = interleaved(fns, device, cfg.rounds, budget_s=cfg.budget_s)
        rows.append({"m": m, "n": n, "polarlab_vs_torch": ratio(times, "polarlab", "torch")})
    return {"note": "bfloat16, Jordan's quintic, 5 steps, one matrix per call", "rows": rows}
