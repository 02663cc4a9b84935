"""Step arrangement as a result: polarlab's fused step against the published one, over seeds.

The Newton-Schulz engine (:mod:`polarlab.polar.polynomial`) evaluates one step
``p(X) = a X + b X A + c X A^2`` (``A = X^T X``) in either arrangement
(:data:`polarlab.polar.polynomial.ARRANGEMENTS`):

* ``"fused"`` (polarlab's default): ``X (a I + b A + c A^2)``;
* ``"published"``: ``a X + X (b A + c A^2)``, as in the Polar Express paper's
  listing (Amsel, Persson, Musco, Gower, arXiv 2505.16932, Algorithm 1).

Both are the same polynomial, so in float64 they agree to rounding; in half
precision they round differently. :func:`arrangement_comparison` runs the
precision study (:func:`polarlab.studies.precision`) with both arrangements on
the same matrices for several seeds and reports the spectral error of the last
iterate per arrangement (mean, min, max over seeds) and the ratio
``published / fused`` of the means.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from polarlab.studies import precision_study

__all__ = ["ARRANGEMENT_COLUMNS", "arrangement_comparison"]

#: Keys of one record of :func:`arrangement_comparison`.
ARRANGEMENT_COLUMNS: tuple[str, ...] = (
    "schedule",
    "dtype",
    "family",
    "m",
    "n",
    "iteration",
    "seeds",
    "fused_mean",  # spectral error ||X_k - Q||_2 of the last iterate, over seeds
    "fused_min",
    "fused_max",
    "published_mean",
    "published_min",
    "published_max",
    "ratio",  # published_mean / fused_mean
    "prediction",  # exact-arithmetic spectral error (the same for both), mean over seeds
    "cast_floor",  # ||polar(fl(A)) - Q||_2, mean over seeds
)


def arrangement_comparison(
    *,
    seeds: Sequence[int] = range(5),
    schedules: Sequence[str] = ("polar_express",),
    dtypes: Sequence[str] = ("bfloat16", "float32"),
    families: Sequence[str] = ("gaussian",),
    shapes: Sequence[tuple[int, int]] = ((64, 256),),
    steps: int = 8,
    method: str = "newton_schulz",
) -> list[dict]:
    """Last-iterate spectral error of both step arrangements, over ``seeds``.

    For every seed, one :func:`polarlab.studies.precision` run with
    ``arrangements=("fused", "published")``: both arrangements see the same
    matrix. One record per (schedule, dtype, family, shape) with the keys
    :data:`ARRANGEMENT_COLUMNS`.

    Examples
    --------
    In float64 the two agree to rounding (after 4 steps the error is still the
    schedule's, about 0.6):

    >>> [rec] = arrangement_comparison(seeds=[0, 1], dtypes=["float64"], shapes=[(16, 8)],
    ...                                steps=4)
    >>> rec["seeds"], bool(abs(rec["ratio"] - 1) < 1e-12)
    (2, True)
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    last: dict[tuple, dict[str, list[dict]]] = {}
    for seed in seeds:
        rows = precision_study.precision(
            methods=[method],
            schedules=schedules,
            dtypes=dtypes,
            families=families,
            shapes=shapes,
            steps=steps,
            seed=seed,
            arrangements=("fused", "published"),
        )
        for row in precision_study.precision_summary(rows):  # the last iterate per case
            full = next(r for r in rows if _same_case(r, row))
            arrangement = "published" if row["options"] else "fused"
            key = (row["schedule"], row["dtype"], row["family"], row["m"], row["n"])
            last.setdefault(key, {"fused": [], "published": []})[arrangement].append(full)
    records = []
    for (schedule, dtype, family, m, n), runs in last.items():
        errors = {a: [r["spectral_error"] for r in rs] for a, rs in runs.items()}
        fused, published = statistics.fmean(errors["fused"]), statistics.fmean(errors["published"])
        records.append(
            dict(
                schedule=schedule,
                dtype=dtype,
                family=family,
                m=m,
                n=n,
                iteration=runs["fused"][0]["iteration"],
                seeds=len(seeds),
                fused_mean=fused,
                fused_min=min(errors["fused"]),
                fused_max=max(errors["fused"]),
                published_mean=published,
                published_min=min(errors["published"]),
                published_max=max(errors["published"]),
                ratio=published / fused if fused > 0 else float("nan"),
                prediction=statistics.fmean(r["scalar_spectral_error"] for r in runs["fused"]),
                cast_floor=statistics.fmean(r["input_cast_floor_spectral"] for r in runs["fused"]),
            )
        )
    return records


def _same_case(row: dict, summary: dict) -> bool:
    keys = ("method", "schedule", "dtype", "options", "family", "m", "n", "iteration")
    return all(row[k] == summary[k] for k in keys)
