r"""The rows the three overview figures of the Aurora study draw (row norms, uniformity
against K, alignment against uniformity), measured with the projection under test.

Each experiment takes a :class:`~polarlab.studies.aurora_context.Context` and returns
rows with the columns :data:`FIGURE_COLUMNS`; the figures are drawn from these rows
only (:mod:`polarlab.studies.aurora_figures`). Sources: Aurora (Dewulf et al., arXiv
2606.27715), NorMuon (arXiv 2510.05491).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from polarlab import manifolds, metrics
from polarlab.optim import normuon
from polarlab.studies.aurora_context import Context

__all__ = ["FIGURE_CLAIMS", "FIGURE_COLUMNS", "FIGURE_EXPERIMENTS"]

#: Columns of the figure rows, each one point (``x``, ``y``) of one ``series`` of one figure.
FIGURE_COLUMNS: tuple[str, ...] = (
    "case_id",  # the figure name (resume key)
    "figure",  # e.g. "aurora_uniformity"
    "series",  # the curve or marker, e.g. "beta=0.5"
    "m",  # the matrix measured
    "n",
    "sigma",  # row-scale spread of its lognormal rows
    "x",
    "y",
)


def _point(figure: str, series: str, shape, sigma: float, x, y) -> dict:
    m, n = shape
    return dict(
        case_id=figure, figure=figure, series=series, m=m, n=n, sigma=sigma, x=float(x), y=float(y)
    )


def _row_norms_figure(ctx: Context) -> list[dict]:
    """``‖U_i‖^2 / (n/m)`` per row (``x`` = row) for polar, U-NorMuon and Aurora K=2."""
    m, n = shape = ctx.size["tall"]
    G = ctx.matrix("row_lognormal", shape, sigma=ctx.sigma)
    P = ctx.solver(G)
    maps = (
        ("polar (Muon)", P),
        ("U-NorMuon", normuon.u_normuon_normalize(P)[0]),
        ("Aurora K=2", ctx.aurora(G)),
    )
    return [
        _point("aurora_row_norms", label, shape, ctx.sigma, i, r)
        for label, U in maps
        for i, r in enumerate(np.asarray(metrics.row_norms(U)) ** 2 / (n / m))
    ]


def _uniformity_figure(ctx: Context) -> list[dict]:
    """Row deviation (``y``) against the iterations K (``x``), one series per beta."""
    shape = ctx.size["tall"]
    G = ctx.matrix("row_lognormal", shape, sigma=ctx.sigma)
    ks = range(1, ctx.size["iters"] + 1)
    deviations = {
        b: [metrics.row_norm_deviation(ctx.aurora(G, iters=k, beta=b)) for k in ks]
        for b in (0.25, 0.5, 0.75, 1.0)
    }
    return [
        _point("aurora_uniformity", f"beta={beta}", shape, ctx.sigma, k, d)
        for beta, dev in deviations.items()
        for k, d in enumerate(dev, start=1)
    ]


def _tradeoff_figure(ctx: Context) -> list[dict]:
    """Row deviation (``x``) and alignment (``y``) of polar, NorMuon, U-NorMuon, Aurora
    K = 1..6 and the exact balanced-Stiefel solution, on the small matrix (the exact
    solver is slow)."""
    shape = ctx.size["small"]
    G = ctx.matrix("row_lognormal", shape, sigma=ctx.sigma)
    P = ctx.solver(G)
    points = [
        ("polar (Muon)", P),
        ("NorMuon", normuon.normuon_normalize(P)[0]),
        ("U-NorMuon", normuon.u_normuon_normalize(P)[0]),
        *[(f"Aurora K={k}", ctx.aurora(G, iters=k)) for k in range(1, 7)],
        ("exact", manifolds.balanced_stiefel_exact(G, tol=1e-9)[0]),
    ]
    return [
        _point(
            "aurora_tradeoff",
            label,
            shape,
            ctx.sigma,
            metrics.row_norm_deviation(U),
            metrics.alignment(G, U),
        )
        for label, U in points
    ]


#: The experiment of each figure, by figure name (the file is ``<name>.png``).
FIGURE_EXPERIMENTS: dict[str, Callable[[Context], list[dict]]] = {
    "aurora_row_norms": _row_norms_figure,
    "aurora_uniformity": _uniformity_figure,
    "aurora_tradeoff": _tradeoff_figure,
}


#: The claims each overview figure illustrates: with ``claims=`` only the figures of the
#: chosen claims are drawn.
FIGURE_CLAIMS: dict[str, tuple[str, ...]] = {
    "aurora_row_norms": ("C-1a", "C-4a", "C-5"),
    "aurora_uniformity": ("C-4b", "C-9"),
    "aurora_tradeoff": ("C-5", "E-1", "C-20"),
}
