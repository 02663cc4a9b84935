"""Aurora's direction, plain and Gram form, against one Muon orthogonalization.

One Muon orthogonalization is the standard 5-step Polar Express iteration
(``polarlab.polar.resolve("polar_express", steps=5)``). Aurora's preconditioned
form with ``K`` polar calls (``project_balanced_stiefel(G, K, 0.5, solver)``,
the same solver) runs ``K`` such iterations in the plain form; the Gram form
(``engine="gram"``) shares the ``m x n`` work between them. Rows whose engine
the installed polarlab lacks are recorded as skipped.
"""

from __future__ import annotations

import inspect

import torch

from benchmarks.suite.config import Config
from benchmarks.suite.polar import STEPS, gaussian
from benchmarks.suite.timing import interleaved, ratio
from polarlab.manifolds import project_balanced_stiefel
from polarlab.polar import resolve

ITERS = (1, 2, 3)
BETA = 0.5


def engines() -> tuple[str, ...]:
    """The Aurora engines the installed polarlab offers (``("plain",)`` without the option)."""
    if "engine" in inspect.signature(project_balanced_stiefel).parameters:
        return ("plain", "gram")
    return ("plain",)


def _aurora(G, iters, solver, engine):
    extra = {"engine": engine} if len(engines()) > 1 else {}
    return lambda: project_balanced_stiefel(
        G, iters, BETA, solver, form="preconditioned", check_finite=False, **extra
    )


def aurora_record(cfg: Config, device: torch.device) -> dict:
    available = engines()
    rows = []
    for dtype_name in cfg.dtypes:
        dtype = getattr(torch, dtype_name)
        solver = resolve("polar_express", steps=STEPS, dtype=dtype)
        for m, n in cfg.aurora_shapes:
            rows_scale = torch.rand(m, 1, generator=torch.Generator().manual_seed(2))
            G = gaussian(m, n, device) * rows_scale.to(device)  # uneven row norms
            fns = {"muon": lambda G=G, s=solver: s(G, check_finite=False)}
            for engine in available:
                for k in ITERS:
                    fns[f"{engine} K={k}"] = _aurora(G, k, solver, engine)
            times = interleaved(fns, device, cfg.rounds, budget_s=cfg.budget_s)
            for engine in ("plain", "gram"):
                for k in ITERS:
                    name = f"{engine} K={k}"
                    rows.append(
                        {
                            "dtype": dtype_name,
                            "m": m,
                            "n": n,
                            "aspect": m / n,
                            "engine": engine,
                            "iters": k,
                            "vs_muon": ratio(times, name, "muon") if name in fns else None,
                        }
                    )
    note = (
        "Gram form timed through project_balanced_stiefel(..., engine='gram')."
        if "gram" in available
        else "project_balanced_stiefel has no engine option in this polarlab: the Gram-form "
        "rows are skipped."
    )
    return {"engines": list(available), "note": note, "rows": rows}
