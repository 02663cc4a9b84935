r"""Experiments of the claims about the projection's rows and identities (C-3, C-4a, C-4b,
C-4c, C-5, C-9, C-10, C-15, F-1, R-1): each calls the projection under test, so a
projection that is not Aurora's fails them.

Each takes a :class:`~polarlab.studies.aurora_context.Context` and returns points over its
claim's population (:data:`polarlab.studies.claims.CLAIMS`). Sources: Aurora (Dewulf et
al., arXiv 2606.27715; tilde-research/aurora-release), dion PR #80, modded-nanogpt PR #284,
MuonEq (arXiv 2603.28254).
"""

from __future__ import annotations

import torch

from polarlab import manifolds, metrics
from polarlab.optim import normuon
from polarlab.studies.aurora_context import Context, norm_deviation, point

__all__ = [
    "dion_uniformity",
    "forms",
    "iterations",
    "muoneq",
    "orthogonality",
    "row_normalisation_cost",
    "row_scale_invariance",
    "square_branch",
    "two_percent",
    "zero_rows",
]


def _long_axis_ratio(U: torch.Tensor) -> float:
    """rho of the long axis: rows of a tall ``U``, columns of a wide one."""
    return metrics.row_norm_ratio(U if U.shape[-2] >= U.shape[-1] else U.mT)


def square_branch(ctx: Context) -> list[dict]:
    """C-3: square input gives polar(G) itself (rows already uniform); tall and wide input
    (m/n = 4 and 1/4, wide under the transpose rule) get their long axis balanced."""
    n = ctx.size["tall"][1]
    points = []
    for k in ctx.seeds:
        G = ctx.draw((n, n), k)
        P = ctx.solver(G)
        points += [
            point("|Aurora - polar|/u", 1, k, float((ctx.aurora(G) - P).abs().max()) / ctx.u),
            point("(rho(polar) - 1)/u", 1, k, (metrics.row_norm_ratio(P) - 1) / ctx.u),
        ]
        for aspect, shape in ((0.25, (n // 4, n)), (4, (4 * n, n))):
            G = ctx.draw(shape, k, 1.0)
            points += [
                point("rho(Aurora)", aspect, k, _long_axis_ratio(ctx.aurora(G))),
                point("rho(polar)", aspect, k, _long_axis_ratio(ctx.solver(G))),
            ]
    return points


def dion_uniformity(ctx: Context) -> list[dict]:
    """C-4a: rho of Aurora (K=2, beta=0.5) and of polar(G) on Gaussian ``randn(512, 128)``,
    for each base polar method of the population (``x`` = bits of its compute dtype)."""
    points = []
    for base in ctx.bases():
        for k in base.seeds:
            G = base.draw(base.size["dion"], k)
            points += [
                point("rho(Aurora)", base.bits, k, metrics.row_norm_ratio(base.aurora(G))),
                point("rho(polar)", base.bits, k, metrics.row_norm_ratio(base.solver(G))),
            ]
    return points


def two_percent(ctx: Context) -> list[dict]:
    """C-4b: ``max_i | ‖U_i‖/sqrt(n/m) - 1 |`` of Aurora K=2, beta=0.5, over the tall
    aspect ratios of the sweep (m/n > 1; ``n`` of the dion shape)."""
    n = ctx.size["dion"][1]
    return [
        point("row-norm deviation", a, k, norm_deviation(ctx.aurora(ctx.draw((a * n, n), k))))
        for a in ctx.size["aspects"]
        if a > 1
        for k in ctx.seeds
    ]


def orthogonality(ctx: Context) -> list[dict]:
    """C-4c: Aurora's orthogonality defect over (the base polar's on G + 100 u n)."""
    n = ctx.size["tall"][1]
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["tall"], k, s)
            base = metrics.orthogonality_defect(ctx.solver(G)) + 100 * ctx.u * n
            points.append(
                point("defect ratio", s, k, metrics.orthogonality_defect(ctx.aurora(G)) / base)
            )
    return points


def row_normalisation_cost(ctx: Context) -> list[dict]:
    """C-5: ``max|sigma_i - 1|`` of U-NorMuon and Aurora, and each over (the base polar's +
    100 u n)."""
    n = ctx.size["tall"][1]
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["tall"], k, s)
            P = ctx.solver(G)
            base = metrics.singular_value_deviation(P) + 100 * ctx.u * n
            unm = metrics.singular_value_deviation(normuon.u_normuon_normalize(P)[0])
            aur = metrics.singular_value_deviation(ctx.aurora(G))
            points += [
                point("U-NorMuon max|sigma-1|", s, k, unm),
                point("Aurora max|sigma-1|", s, k, aur),
                point("U-NorMuon ratio", s, k, unm / base),
                point("Aurora ratio", s, k, aur / base),
            ]
    return points


def iterations(ctx: Context) -> list[dict]:
    """C-9: row deviation of Aurora for K = 1..iters at beta 0.25 and 0.5 (sigma = 1)."""
    return [
        point(f"beta={b}", K, k, metrics.row_norm_deviation(ctx.aurora(G, iters=K, beta=b)))
        for k in ctx.seeds
        for G in (ctx.draw(ctx.size["tall"], k, 1.0),)
        for b in (0.25, 0.5)
        for K in range(1, ctx.size["iters"] + 1)
    ]


def muoneq(ctx: Context) -> list[dict]:
    """C-10: ``max |Aurora(K=1) - MuonEq-R|`` in units of u, over sigma."""
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["tall"], k, s)
            diff = float((ctx.aurora(G, iters=1) - manifolds.muoneq_r(G, ctx.solver)).abs().max())
            points.append(point("difference/u", s, k, diff / ctx.u))
    return points


def zero_rows(ctx: Context) -> list[dict]:
    """C-15: zero rows (m/16 of them) stay zero, the live rows' deviation from n/(m-k) by K,
    and rows at 1% scale (10% of rows) revived at K=2."""
    m, n = shape = ctx.size["tall"]
    z = m // 16
    points = []
    for k in ctx.seeds:
        G = ctx.matrix("zero_rows", shape, k - ctx.seed, k=z)
        zero = (G == 0).all(dim=-1)
        for K in range(1, ctx.size["iters"] + 1):
            U = ctx.aurora(G, iters=K)
            live = (U[~zero] ** 2).sum(-1) / (n / (m - z))
            points.append(point("live-row deviation", K, k, float((live - 1).abs().max())))
        points.append(
            point("zero rows/u", ctx.size["iters"], k, float(U[zero].abs().max()) / ctx.u)
        )
        S = ctx.matrix("row_fraction_small", shape, k - ctx.seed, fraction=0.1, scale=0.01)
        norms = torch.linalg.vector_norm(S, dim=-1)
        small = norms < 0.1 * norms.max()
        revived = float(((ctx.aurora(S)[small] ** 2).sum(-1) / (n / m)).min())
        points.append(point("small rows revived", 2, k, revived))
    return points


def forms(ctx: Context) -> list[dict]:
    """F-1: row deviation of the preconditioned (code) and alternating (paper) forms, K=2."""
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["tall"], k, s)
            alt = manifolds.project_balanced_stiefel(G, 2, 0.5, ctx.solver, form="alternating")
            points += [
                point("preconditioned", s, k, metrics.row_norm_deviation(ctx.aurora(G))),
                point("alternating", s, k, metrics.row_norm_deviation(alt)),
            ]
    return points


def row_scale_invariance(ctx: Context) -> list[dict]:
    """R-1: ``max |Aurora(Lambda G) - Aurora(G)|`` in units of u, ``Lambda = diag(exp(s g))``
    with ``s`` over the sigma sweep (s > 0: s = 0 is the identity) and Gaussian ``G``."""
    m = ctx.size["tall"][0]
    points = []
    for s in [s for s in ctx.size["sigmas"] if s > 0]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["tall"], k)
            g = torch.randn(m, 1, generator=torch.Generator().manual_seed(k), dtype=G.dtype)
            scale = torch.exp(s * g).to(G.device)
            diff = float((ctx.aurora(scale * G) - ctx.aurora(G)).abs().max())
            points.append(point("difference/u", s, k, diff / ctx.u))
    return points
