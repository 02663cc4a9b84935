r"""Experiments of the claims about Muon's own ``polar(G)`` on tall matrices (C-1a, C-1b, C-2,
C-16): they do not call the projection under test, so a broken projection leaves them alone.

Each takes a :class:`~polarlab.studies.aurora_context.Context` and returns points over its
claim's population (:data:`polarlab.studies.claims.CLAIMS`); sources: Aurora (Dewulf et
al., arXiv 2606.27715) and MuonEq (arXiv 2603.28254).
"""

from __future__ import annotations

import numpy as np
import scipy.stats
import torch

from polarlab import manifolds, metrics
from polarlab.studies.aurora_context import Context, point

_U64 = float(torch.finfo(torch.float64).eps) / 2  # unit round-off of float64

__all__ = ["anisotropy_by_aspect", "anisotropy_by_spread", "conditioning", "leverage_tracking"]


def anisotropy_by_spread(ctx: Context) -> list[dict]:
    """C-1a: ``rho(polar(G))`` for lognormal rows over sigma and seeds."""
    return [
        point(
            "rho(polar)", s, k, metrics.row_norm_ratio(ctx.solver(ctx.draw(ctx.size["tall"], k, s)))
        )
        for s in ctx.size["sigmas"]
        for k in ctx.seeds
    ]


def anisotropy_by_aspect(ctx: Context) -> list[dict]:
    """C-1b: ``rho(polar(G))`` of Gaussian ``G`` over the aspect ratio, and ``rho - 1`` in u
    at ``m = n``."""
    n = ctx.size["n_aspect"]
    points = []
    for a in ctx.size["aspects"]:
        for k in ctx.seeds:
            rho = metrics.row_norm_ratio(ctx.solver(ctx.draw((a * n, n), k)))
            points.append(point("rho(polar)", a, k, rho))
            if a == 1:
                points.append(point("(rho - 1)/u", a, k, (rho - 1) / ctx.u))
    return points


def leverage_tracking(ctx: Context) -> list[dict]:
    """C-2: the leverage bound and Spearman(‖M_i‖, l_i), with its excess over the same
    seed's Gaussian input (the baseline a static correlation must beat to show an effect of
    heterogeneous rows)."""

    def measure(s: float, k: int) -> tuple[float, float]:
        M = ctx.draw(ctx.size["tall"], k, s).double()
        lev = np.asarray(metrics.leverage_scores(M))
        norms = np.asarray(metrics.row_norms(M))
        sigma_min = float(torch.linalg.svdvals(M)[-1])
        # l_i <= ‖M_i‖^2 / sigma_min^2: the largest excess over the bound, in units of u.
        excess = float(np.max(lev * sigma_min**2 / norms**2 - 1)) / _U64
        return max(excess, 0.0), float(scipy.stats.spearmanr(norms, lev).statistic)

    baseline = {k: measure(0.0, k)[1] for k in ctx.seeds}
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            excess, corr = measure(s, k)
            points += [
                point("bound excess/u", s, k, excess),
                point("Spearman(‖M_i‖, l_i)", s, k, corr),
                point("Spearman excess", s, k, corr - baseline[k]),
            ]
    return points


def conditioning(ctx: Context) -> list[dict]:
    """C-16: ``cond(D0 G)/cond(G)`` with ``D0`` the row normalisation, over sigma."""
    return [
        point(
            "cond ratio",
            s,
            k,
            metrics.condition_number(manifolds.project_row_oblique(G))
            / metrics.condition_number(G),
        )
        for s in ctx.size["sigmas"]
        for k in ctx.seeds
        for G in (ctx.draw(ctx.size["tall"], k, s),)
    ]
