r"""Experiments of the claims about alignment on the balanced Stiefel manifold (E-1, C-20).

Alignment ``A(U) = <G, U> / (‖G‖_* ‖U‖_2)`` is compared only between points of the same
feasible set, since an unbalanced point can gain alignment by leaving the manifold
(Dewulf et al., arXiv 2606.27715): Aurora's fixed point (the row scaling solved by
Newton's method to ``max_i |‖U_i‖^2/(n/m) - 1| <= 1e-12``,
:func:`polarlab.manifolds.exact_newton.balance_rows`) against the exact maximiser
(:func:`polarlab.manifolds.balanced_stiefel_exact`, whose certificate of global
optimality, or else its Lagrangian duality bound, keeps a local maximum from passing as
the optimum); and Riemannian Aurora's output (tilde-research/aurora-release
``riemannian_aurora.py``) against vanilla Aurora's, each balanced the same way.
"""

from __future__ import annotations

import torch

from polarlab import manifolds, metrics
from polarlab.manifolds.exact_newton import balance_rows
from polarlab.studies.aurora_context import Context, point

__all__ = ["BALANCE_TOL", "exact_gap", "riemannian_gain"]

#: Row deviation to which points are balanced before their alignments are compared.
BALANCE_TOL = 1e-12


def _balanced(U: torch.Tensor) -> torch.Tensor:
    """Aurora's fixed point of ``U`` (float64): ``polar(D U)`` with the row-uniform ``D``."""
    return balance_rows(U.double(), BALANCE_TOL)


def exact_gap(ctx: Context) -> list[dict]:
    """E-1: the relative alignment gap of Aurora's fixed point to the exact maximiser.

    The fixed point is that of Aurora's code form (the limit the projection's iterations
    approach, C-9), solved to :data:`BALANCE_TOL` by Newton's method on the row scaling.

    ``gap (upper)`` uses the certificate's ``upper_bound`` (the duality bound, equal to the
    optimum up to round-off when ``global_optimum``), so it can only overstate the gap;
    ``gap (lower)`` uses the best feasible point found, so it can only understate it.
    ``certified`` is 1 where the exact solution is certified global.
    """
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["small"], k, s)
            _, cert = manifolds.balanced_stiefel_exact(G, tol=1e-9)
            a = metrics.alignment(G, _balanced(G))
            upper = max(cert.upper_bound, cert.alignment)
            points += [
                point("gap (upper)", s, k, (upper - a) / upper),
                point("gap (lower)", s, k, (cert.alignment - a) / cert.alignment),
                point("certified", s, k, float(cert.global_optimum)),
            ]
    return points


def riemannian_gain(ctx: Context) -> list[dict]:
    """C-20: relative alignment gain of Riemannian Aurora over Aurora K=2, both balanced.

    Balanced: Aurora's fixed point of each output (row deviation <= :data:`BALANCE_TOL`,
    recorded). The published comparison, of the raw outputs, is recorded too
    (``gain (raw)``).
    """
    points = []
    for s in ctx.size["sigmas"]:
        for k in ctx.seeds:
            G = ctx.draw(ctx.size["tall"], k, s)
            vanilla = ctx.aurora(G)
            riemannian = manifolds.riemannian_balanced_stiefel(G, method=ctx.solver)
            balanced = {
                name: _balanced(U) for name, U in (("vanilla", vanilla), ("riemannian", riemannian))
            }
            a_raw = {"vanilla": metrics.alignment(G, vanilla)}
            a_raw["riemannian"] = metrics.alignment(G, riemannian)
            a_bal = {name: metrics.alignment(G, U) for name, U in balanced.items()}
            points += [
                point("gain (balanced)", s, k, a_bal["riemannian"] / a_bal["vanilla"] - 1),
                point("gain (raw)", s, k, a_raw["riemannian"] / a_raw["vanilla"] - 1),
                point(
                    "row deviation, Riemannian raw", s, k, metrics.row_norm_deviation(riemannian)
                ),
                point("row deviation, Aurora K=2", s, k, metrics.row_norm_deviation(vanilla)),
                point(
                    "row deviation, balanced (worst)",
                    s,
                    k,
                    max(metrics.row_norm_deviation(U) for U in balanced.values()),
                ),
            ]
    return points
