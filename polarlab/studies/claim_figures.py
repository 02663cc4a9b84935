"""One figure per claim, drawn from its measured points only: the whole sweep, with spread.

Each panel is one measured series of the claim: the mean over seeds at each sweep point
with its 95% bootstrap interval (:func:`polarlab.studies.claim_verdicts.bootstrap_interval`)
as error bars, every seed as a faint dot, and the thresholds of the claim's rule on that
series as dashed lines over the sweep points they apply to, labelled with their provenance.
The title carries the verdict. Needs matplotlib (the ``studies`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polarlab.studies._io import pyplot
from polarlab.studies.claim_rules import Claim
from polarlab.studies.claim_verdicts import bootstrap_interval

__all__ = ["claim_figure_name", "plot_claim_points"]


def claim_figure_name(claim_id: str) -> str:
    """The file name of a claim's figure, e.g. ``claim_C-4b.png``."""
    return f"claim_{claim_id}.png"


def _panel(ax, claim: Claim, series: str, points: Sequence[dict]) -> None:
    by_x: dict[float, list[float]] = {}
    for p in points:
        if p["series"] == series:
            by_x.setdefault(float(p["x"]), []).append(float(p["value"]))
    xs = sorted(by_x)
    means = np.array([np.mean(by_x[x]) for x in xs])
    intervals = np.array([bootstrap_interval(by_x[x]) for x in xs])
    for x in xs:
        ax.plot([x] * len(by_x[x]), by_x[x], ".", color="0.6", ms=3, zorder=1)
    ax.errorbar(
        xs,
        means,
        yerr=[means - intervals[:, 0], intervals[:, 1] - means],
        fmt="o-",
        capsize=3,
        label="mean, 95% interval",
        zorder=2,
    )
    for c in claim.conditions:
        if c.series != series or c.kind != "bound":
            continue
        # Drawn over the sweep points the condition applies to (``at``), not beyond.
        inside = [x for x in xs if c.at is None or c.at[0] <= x <= c.at[1]] or xs
        pad = 0.25 * (max(xs) - min(xs)) / max(len(xs) - 1, 1) or 0.5
        for t in (c.threshold, c.upper):
            if t is not None:
                ax.hlines(
                    t.value,
                    min(inside) - pad,
                    max(inside) + pad,
                    colors="C3",
                    linestyles="--",
                    lw=0.8,
                    label=f"{t.value:g} ({t.provenance}, {c.op})",
                )
    values = np.concatenate([by_x[x] for x in xs])
    positive = values[values > 0]
    if positive.size == values.size and positive.max() / positive.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel(claim.axis or "x")
    ax.set_title(series, fontsize=9)
    ax.legend(fontsize=6)


def plot_claim_points(
    points: Sequence[dict], claims: Sequence[Claim], records: Sequence[dict], out: str | Path
) -> list[Path]:
    """Write ``claim_<id>.png`` into ``out`` for each measured claim of ``claims``.

    Parameters
    ----------
    points : sequence of dict
        Measured points (:data:`polarlab.studies.claim_verdicts.POINT_COLUMNS`).
    claims : sequence of Claim
        The claims to draw; one without points (not testable here) gets no figure.
    records : sequence of dict
        The judged records (for the verdict in the title), by ``claim_id``.
    out : path
        Directory of the PNG files.

    Returns
    -------
    list of Path
        The files written, in the order of ``claims``.
    """
    plt = pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    verdicts = {r["claim_id"]: r["verdict"] for r in records}
    paths = []
    for claim in claims:
        own = [p for p in points if p["claim_id"] == claim.claim_id]
        if not own:
            continue
        names = list(dict.fromkeys(p["series"] for p in own))
        cols = min(3, len(names))
        rows = -(-len(names) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows + 0.5), squeeze=False)
        for ax, name in zip(axes.flat, names):
            _panel(ax, claim, name, own)
        for ax in list(axes.flat)[len(names) :]:
            ax.set_visible(False)
        seeds = len({p["matrix_seed"] for p in own})
        fig.suptitle(
            f"{claim.claim_id}: {verdicts.get(claim.claim_id, '')} ({seeds} seeds)", fontsize=10
        )
        fig.tight_layout()
        paths.append(out / claim_figure_name(claim.claim_id))
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
