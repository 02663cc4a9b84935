"""Figures of the precision study, drawn from its recorded rows only.

One norm per axis: the error figure's y axis is the spectral norm throughout
(the measured ``spectral_error = ||X_k - Q||_2``, its exact-arithmetic
prediction, the worst-case bound and the input-cast floor
``||polar(fl(A)) - Q||_2``); the singular-value figure shows ``sigma(X_k)``.
Colour tells the method and schedule apart, line style and marker the compute
dtype (:data:`DTYPE_STYLES`), so every dtype is distinguishable in print too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from polarlab.studies._io import pyplot

__all__ = ["DTYPE_STYLES", "plot_precision", "precision_figures"]

#: Line style and marker of each compute dtype (measured series; the cast floors are grey,
#: dashed and labelled with their dtype).
DTYPE_STYLES: dict[str, dict] = {
    "float64": dict(ls="-", marker=None),
    "float32": dict(ls="-", marker="o"),
    "float16": dict(ls="--", marker="^"),
    "bfloat16": dict(ls="--", marker="s"),
}
_TINY = 1e-17  # below float64 round-off: where exact zeros are drawn on a log axis


def _label(row: dict) -> str:
    method = f"{row['method']}[{row['options']}]" if row["options"] else row["method"]
    return f"{method}:{row['schedule']}" if row["schedule"] else method


def _series(rows: Sequence[dict]) -> dict[tuple, list[dict]]:
    """Rows by (family, label, dtype, m, n), each sorted by iteration."""
    series: dict[tuple, list[dict]] = {}
    for r in rows:
        series.setdefault((r["family"], _label(r), r["dtype"], r["m"], r["n"]), []).append(r)
    return {key: sorted(rs, key=lambda r: r["iteration"]) for key, rs in sorted(series.items())}


def _family_series(series: dict, family: str, colors: dict):
    """``(label, dtype, m, n, rows, iterations, colour, dtype style)`` of one panel."""
    for (fam, label, dtype, m, n), rs in series.items():
        if fam == family:
            color = colors.setdefault(label, f"C{len(colors) % 10}")
            k = [r["iteration"] for r in rs]
            yield label, dtype, m, n, rs, k, color, DTYPE_STYLES[dtype]


def _error_panel(ax, series: dict, family: str, colors: dict) -> None:
    predicted = set()  # the prediction and bound depend on the input, not on the dtype
    floors = set()
    for label, dtype, m, n, rs, k, color, style in _family_series(series, family, colors):
        err = [max(r["spectral_error"], _TINY) for r in rs]
        ax.plot(k, err, color=color, ms=3.5, label=f"{label} {dtype}", **style)
        if (label, m, n) not in predicted and rs[0]["scalar_spectral_error"] == rs[0][
            "scalar_spectral_error"
        ]:  # not nan: the method has a schedule
            predicted.add((label, m, n))
            prediction = [max(r["scalar_spectral_error"], _TINY) for r in rs]
            ax.plot(k, prediction, ":", color=color, alpha=0.7, gid=f"prediction:{label}")
            bound = [max(r["scalar_worst_case"], _TINY) for r in rs]
            ax.plot(k, bound, "-.", color=color, lw=0.7, alpha=0.5, gid=f"bound:{label}")
        if (dtype, m, n) not in floors and rs[0]["input_cast_floor_spectral"] > 0:
            floors.add((dtype, m, n))  # one matrix per family and shape: one floor per dtype
            floor = rs[0]["input_cast_floor_spectral"]
            ax.axhline(floor, color="0.45", lw=0.8, ls="--", gid=f"floor:{dtype}:{m}x{n}")
            ax.annotate(
                f"{dtype} floor",
                (1.0, floor),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=6,
                color="0.3",
            )
    ax.set_yscale("log")


def _sigma_panel(ax, series: dict, family: str, colors: dict) -> None:
    for label, dtype, _, _, rs, k, color, style in _family_series(series, family, colors):
        lo = [r["sigma_min"] for r in rs]
        hi = [r["sigma_max"] for r in rs]
        ax.plot(k, hi, color=color, ms=3.5, label=f"{label} {dtype}", **style)
        ax.plot(k, lo, color=color, ms=3.5, **style)
        ax.fill_between(k, lo, hi, color=color, alpha=0.08)
    ax.axhline(1.0, color="k", lw=0.5)


_YLABELS = {
    "error": "spectral error ‖X_k − Q‖₂",
    "sigma": "singular values of X_k (top r)",
}
#: What each kind of line on the error axis is (all in the spectral norm).
_ERROR_KINDS = (
    (dict(ls="-", color="0.2"), "measured ‖X_k − Q‖₂"),
    (dict(ls=":", color="0.2"), "prediction (exact arithmetic, this A)"),
    (dict(ls="-.", color="0.2", lw=0.7), "worst-case bound over [σ_r/s, 1]"),
    (dict(ls="--", color="0.45", lw=0.8), "input-cast floor ‖polar(fl(A)) − Q‖₂"),
)


def precision_figures(rows: Sequence[dict]) -> dict:
    """The two figures of the study as open matplotlib figures, by name.

    ``"error"``: per family (one panel each), the measured ``spectral_error``
    per iterate (colour: method and schedule; line style and marker: dtype,
    :data:`DTYPE_STYLES`), its **prediction** in exact arithmetic (dotted,
    ``scalar_spectral_error``), the schedule's **worst-case bound** over
    ``[sigma_r / s, 1]`` (dash-dot, ``scalar_worst_case``) and, per dtype, the
    **input-cast floor** ``||polar(fl(A)) - Q||_2`` (grey, labelled;
    ``input_cast_floor_spectral``). Every line of the panel is in the spectral norm.
    ``"sigma"``: the band ``[sigma_min, sigma_max]`` of each iterate.

    Lines carry a ``gid`` naming what they show (``"prediction:<label>"``,
    ``"bound:<label>"``, ``"floor:<dtype>:<m>x<n>"``). Needs matplotlib (the
    ``studies`` extra); the caller closes the figures.
    """
    plt = pyplot()
    families = sorted({r["family"] for r in rows})
    series = _series(rows)
    colors: dict[str, str] = {}
    figures = {}
    for kind, panel in (("error", _error_panel), ("sigma", _sigma_panel)):
        fig, axes = plt.subplots(
            1, len(families), figsize=(4.2 * len(families), 3.8), squeeze=False, sharey=True
        )
        for ax, family in zip(axes[0], families):
            panel(ax, series, family, colors)
            shapes = sorted({f"{m}x{n}" for (fam, _, _, m, n) in series if fam == family})
            ax.set_title(f"{family} ({', '.join(shapes)})")
            ax.set_xlabel("iteration k")
        axes[0][0].set_ylabel(_YLABELS[kind])
        axes[0][0].legend(fontsize=7)
        if kind == "error":  # the line kinds, on the last panel
            handles = [plt.Line2D([], [], **style) for style, _ in _ERROR_KINDS]
            axes[0][-1].legend(handles, [text for _, text in _ERROR_KINDS], fontsize=7)
        fig.tight_layout()
        figures[kind] = fig
    return figures


def plot_precision(rows: Sequence[dict], out: str | Path) -> list[Path]:
    """Write ``precision_error.png`` and ``precision_sigma.png`` (:func:`precision_figures`).

    Examples
    --------
    >>> import tempfile
    >>> from polarlab.studies import precision
    >>> rows = precision(schedules=["jordan"], dtypes=["float64"], families=["gaussian"],
    ...                  shapes=[(8, 4)], steps=2)
    >>> [p.name for p in plot_precision(rows, tempfile.mkdtemp())]
    ['precision_error.png', 'precision_sigma.png']
    """
    plt = pyplot()
    out = Path(out)
    paths = []
    for kind, fig in precision_figures(rows).items():
        path = out / f"precision_{kind}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
