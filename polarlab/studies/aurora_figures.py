"""Figures of the Aurora study, drawn from recorded rows only (nothing is recomputed here).

The rows come from :func:`polarlab.studies.aurora.aurora_rows` (columns
:data:`polarlab.studies.aurora_figure_rows.FIGURE_COLUMNS`), so a figure shows what
the experiments measured with the projection, base polar, dtype and size they were
given. Needs matplotlib (the ``studies`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polarlab.studies._io import pyplot

__all__ = ["plot_aurora_rows"]


def _series(rows: Sequence[dict], figure: str) -> dict[str, list[dict]]:
    """The rows of one figure, grouped by series in recorded order."""
    series: dict[str, list[dict]] = {}
    for row in rows:
        if row["figure"] == figure:
            series.setdefault(row["series"], []).append(row)
    if not series:
        raise ValueError(f"no rows for the figure {figure!r}; record them with aurora_rows")
    return series


def _row_norms(ax, series):
    bins = np.geomspace(1e-3, 10, 60)
    for label, rs in series.items():
        ax.hist(np.clip([r["y"] for r in rs], 1e-3, 10), bins=bins, alpha=0.6, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("‖U_i‖² / (n/m)")
    ax.set_ylabel("rows")
    return "row norms, lognormal rows"


def _uniformity(ax, series):
    for label, rs in series.items():
        ax.semilogy(
            [r["x"] for r in rs], np.maximum([r["y"] for r in rs], 1e-16), "o-", label=label
        )
    ax.axhline(0.02, color="k", lw=0.6, ls=":")
    ax.set_xlabel("iterations K")
    ax.set_ylabel("max_i |‖U_i‖²/(n/m) − 1|")
    return "Aurora row uniformity vs iterations"


def _tradeoff(ax, series):
    for label, rs in series.items():
        x = [max(r["x"], 1e-16) for r in rs]
        marker = "*" if label == "exact" else "o"
        ax.scatter(x, [r["y"] for r in rs], label=label, marker=marker)
    ax.set_xscale("log")
    ax.set_xlabel("row deviation max_i |‖U_i‖²/(n/m) − 1|")
    ax.set_ylabel("alignment ⟨G,U⟩/(‖G‖_* ‖U‖_2)")
    return "alignment vs uniformity, lognormal rows"


# Figure name -> (draw on the axes and return the title, figure height, legend columns).
_DRAW = {
    "aurora_row_norms": (_row_norms, 3.5, 1),
    "aurora_uniformity": (_uniformity, 3.5, 1),
    "aurora_tradeoff": (_tradeoff, 3.8, 2),
}


def plot_aurora_rows(
    rows: Sequence[dict], out: str | Path, figures: Sequence[str] | None = None
) -> list[Path]:
    """Write ``aurora_row_norms.png``, ``aurora_uniformity.png`` and ``aurora_tradeoff.png``.

    Row norms: histograms of ``‖U_i‖^2 / (n/m)`` for polar, U-NorMuon and Aurora
    on lognormal rows. Uniformity: row deviation against the iterations K, one
    line per beta. Trade-off: alignment ``<G, U>/(‖G‖_* ‖U‖_2)`` against row
    deviation for polar, NorMuon, U-NorMuon, Aurora K = 1..6 and the exact
    balanced-Stiefel solution.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`polarlab.studies.aurora.aurora_rows`, every figure present.
    out : path
        Directory of the PNG files.
    figures : sequence of str, optional
        The figures to draw (default all three; e.g. those of the chosen claims,
        :data:`polarlab.studies.aurora_figure_rows.FIGURE_CLAIMS`).

    Examples
    --------
    >>> import tempfile
    >>> from polarlab.studies.aurora import aurora_rows
    >>> rows = aurora_rows(size=dict(tall=(32, 8), small=(16, 4), iters=3))
    >>> [p.name for p in plot_aurora_rows(rows, tempfile.mkdtemp())]
    ['aurora_row_norms.png', 'aurora_uniformity.png', 'aurora_tradeoff.png']
    """
    plt = pyplot()
    out = Path(out)
    paths = []
    for name, (draw, height, ncol) in _DRAW.items():
        if figures is not None and name not in figures:
            continue
        series = _series(rows, name)
        first = next(iter(series.values()))[0]
        fig, ax = plt.subplots(figsize=(5.5, height))
        title = draw(ax, series)
        ax.set_title(f"{title} (sigma={first['sigma']}), {first['m']}x{first['n']}")
        ax.legend(fontsize=8 if ncol == 1 else 7, ncol=ncol)
        fig.tight_layout()
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
