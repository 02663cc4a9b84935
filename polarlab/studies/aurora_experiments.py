r"""One experiment per Aurora claim, and one per overview figure: the registries.

Every claim experiment takes a :class:`~polarlab.studies.aurora_context.Context` (the
projection under test, the base polar solver, the population's sizes and seeds, device)
and returns measured *points* (``series``, ``x``, ``seed``, ``value``) over the population
its claim declares in :data:`polarlab.studies.claims.CLAIMS`; the verdict follows from the
points alone (:func:`polarlab.studies.claim_verdicts.judge`). Nothing is hard-coded: the
projection is the injected one, so a broken projection flips the verdicts of the claims
about it. The experiments live by subject:

- :mod:`polarlab.studies.aurora_polar_claims`: Muon's own ``polar(G)`` (C-1a, C-1b, C-2, C-16);
- :mod:`polarlab.studies.aurora_uniformity_claims`: the projection's rows and identities;
- :mod:`polarlab.studies.aurora_optimality_claims`: alignment at matched feasibility
  (E-1 with the exact solver's certificate, C-20);
- :mod:`polarlab.studies.aurora_figure_rows`: the rows of the three overview figures.

C-17 is not testable at matrix level: its experiment records FLOP ratios for information,
no rule applies to them, and no verdict is taken from wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from polarlab.manifolds.balanced_gram import aurora_flops
from polarlab.polar import resolve
from polarlab.studies import aurora_optimality_claims as _optimality
from polarlab.studies import aurora_polar_claims as _polar
from polarlab.studies import aurora_uniformity_claims as _uniformity
from polarlab.studies.aurora_context import Context, Finding, Projection, point
from polarlab.studies.aurora_figure_rows import FIGURE_CLAIMS, FIGURE_COLUMNS, FIGURE_EXPERIMENTS

__all__ = [
    "EXPERIMENTS",
    "FIGURE_CLAIMS",
    "FIGURE_COLUMNS",
    "FIGURE_EXPERIMENTS",
    "Context",
    "Finding",
    "Projection",
]


def _flop_ratios(ctx: Context) -> list[dict]:
    """C-17, for information: matrix-product FLOPs of Aurora K=2 over one Muon polar call
    (Polar Express, 5 steps) on ``m x n`` matrices, plain and Gram engine, from the flop
    model that ``tests/test_manifolds_balanced_gram.py`` checks against
    ``torch.utils.flop_counter``. No rule applies: the claim is end-to-end."""
    pe = resolve("polar_express", steps=5)
    n = ctx.size["dion"][1]
    points = []
    for a in [a for a in ctx.size["aspects"] if a > 1]:
        muon = aurora_flops(a * n, n, 1, pe, engine="plain", dtype=torch.float32)
        for engine in ("plain", "gram"):
            flops = aurora_flops(a * n, n, 2, pe, engine=engine, dtype=torch.float32)
            points.append(point(f"FLOP ratio, {engine} engine", a, 0, flops / muon))
    return points


#: The experiment of each claim, by claim id (the order of ``CLAIMS``).
EXPERIMENTS: dict[str, Callable[[Context], list[dict]]] = {
    "C-1a": _polar.anisotropy_by_spread,
    "C-1b": _polar.anisotropy_by_aspect,
    "C-2": _polar.leverage_tracking,
    "C-3": _uniformity.square_branch,
    "C-4a": _uniformity.dion_uniformity,
    "C-4b": _uniformity.two_percent,
    "C-4c": _uniformity.orthogonality,
    "C-5": _uniformity.row_normalisation_cost,
    "C-9": _uniformity.iterations,
    "C-10": _uniformity.muoneq,
    "C-15": _uniformity.zero_rows,
    "F-1": _uniformity.forms,
    "C-20": _optimality.riemannian_gain,
    "E-1": _optimality.exact_gap,
    "C-16": _polar.conditioning,
    "R-1": _uniformity.row_scale_invariance,
    "C-17": _flop_ratios,
}
