"""The report: both studies at a small size, written as one self-contained directory.

Layout of the directory::

    report.md                 the report (Markdown; figures linked)
    report.html               the same, with the figures embedded (one file to share)
    precision.csv / .json     raw precision rows (one per case x iterate)
    aurora_points.csv / .json the measured points of every claim (the verdicts follow
                              from them: polarlab aurora --judge DIR recomputes them)
    aurora_claims.csv / .json / .md   the claims table
    aurora_rows.csv / .json   the rows the Aurora overview figures draw (with figures only)
    figures/*.png             precision error and singular values; one figure per Aurora
                              claim (claim_<id>.png: its whole sweep); Aurora row norms,
                              uniformity vs iterations, alignment vs uniformity
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch

from polarlab.studies.aurora import (
    aurora_claims,
    aurora_rows,
    claims_markdown,
    plot_claims,
    write_claims,
)
from polarlab.studies.aurora_experiments import FIGURE_CLAIMS
from polarlab.studies.aurora_figures import plot_aurora_rows
from polarlab.studies.precision_figures import plot_precision
from polarlab.studies.precision_study import precision, precision_summary
from polarlab.studies.report_html import render_html
from polarlab.studies.tables import format_table

__all__ = ["report"]

_FIGURES = {
    "precision_error.png": "Spectral error ‖X_k - polar(A)‖₂ per iteration (solid; dashed "
    "for bfloat16) beside its exact-arithmetic value from the scalar oracle (dotted) and the "
    "input-cast floors (grey), one panel per matrix family.",
    "precision_sigma.png": "Range of the singular values of each iterate.",
    "aurora_row_norms.png": "Row norms of polar(G), U-NorMuon and Aurora on lognormal rows.",
    "aurora_uniformity.png": "Aurora's row deviation against the iterations K, per beta.",
    "aurora_tradeoff.png": "Alignment against row uniformity: polar, NorMuon, U-NorMuon, "
    "Aurora K = 1..6 and the exact balanced-Stiefel solution (NorMuon and U-NorMuon coincide "
    "on a first step from the zero state).",
}


def report(
    out: str | Path,
    *,
    precision_options: dict | None = None,
    aurora_options: dict | None = None,
    neurons_options: dict | None = None,
    seed: int = 0,
    device: str = "cpu",
    plots: bool = True,
    resume: bool = False,
    show_progress: bool = False,
) -> Path:
    """Run the precision study and the Aurora claims and write the report directory.

    Parameters
    ----------
    out : path
        Report directory (created if needed).
    precision_options : dict, optional
        Keyword arguments of :func:`polarlab.studies.precision` (methods, schedules,
        dtypes, families, shapes, steps); its defaults otherwise.
    aurora_options : dict, optional
        Keyword arguments of :func:`polarlab.studies.aurora_claims` (method, size,
        claims, method options, ...); the figures are measured with the same ones
        (:func:`polarlab.studies.aurora.aurora_rows`).
    neurons_options : dict, optional
        Keyword arguments of :func:`polarlab.studies.neurons_study.neurons` (``size``:
        ``"quick"`` for the command's report); the model-scale claims section and the
        neuron study's files (``neuron_*``, ``neurons.md``, ``figures/neurons_*``) are
        written only when given.
    seed, device, resume, show_progress
        Passed to both studies.
    plots : bool
        Write the figures (needs matplotlib, the ``studies`` extra).

    Returns
    -------
    Path
        ``out / "report.md"``.

    Examples
    --------
    >>> import tempfile
    >>> path = report(tempfile.mkdtemp(), plots=False,
    ...               precision_options=dict(schedules=["jordan"], dtypes=["float64"],
    ...                                      families=["gaussian"], shapes=[(8, 4)], steps=2),
    ...               aurora_options=dict(claims=["C-10"]))
    >>> sorted(p.name for p in path.parent.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['aurora_claims.csv', 'aurora_claims.json', 'aurora_claims.md', 'aurora_points.csv',
     'aurora_points.json', 'figures', 'precision.csv', 'precision.json', 'report.html',
     'report.md']
    """
    out = Path(out)
    figures = out / "figures"
    common = dict(seed=seed, device=device, out=out, resume=resume, show_progress=show_progress)
    started = time.perf_counter()
    timings: dict[str, float] = {}  # each part of the run, in seconds (the header adds them)
    rows = precision(**(precision_options or {}), **common)
    timings["precision"] = time.perf_counter() - started
    aurora_options = dict(aurora_options or {})
    part = time.perf_counter()
    records, points = aurora_claims(**aurora_options, **common, return_points=True)
    write_claims(records, out)
    timings["Aurora claims"] = time.perf_counter() - part
    figures.mkdir(exist_ok=True)
    aurora_figures: list[str] = []
    if plots:
        part = time.perf_counter()
        plot_precision(rows, figures)
        timings["precision figures"] = time.perf_counter() - part
        part = time.perf_counter()
        # --claims limits the figures too: one per chosen claim, and the overview
        # figures that illustrate one of them.
        chosen = {r["claim_id"] for r in records}
        names = [name for name, ids in FIGURE_CLAIMS.items() if chosen & set(ids)]
        if names:
            figure_rows = aurora_rows(**aurora_options, **common)
            plot_aurora_rows(figure_rows, figures, names)
        aurora_figures = [f"{name}.png" for name in names]
        aurora_figures += [p.name for p in plot_claims(records, points, figures)]
        timings["Aurora figures"] = time.perf_counter() - part
    neuron_records, neuron_figures = _neuron_claims(neurons_options, plots, common, timings)
    elapsed = time.perf_counter() - started

    verdicts = {}
    for r in records:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    lines = [
        "# polarlab report",
        "",
        f"Generated by `polarlab report` in {elapsed:.1f} s = "
        + " + ".join(f"{name} {t:.1f} s" for name, t in timings.items())
        + f" + {elapsed - sum(timings.values()):.1f} s other (writing files, tables) "
        f"on {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), Python {platform.python_version()}; seed {seed}.",
        "Raw data: `precision.csv`, `precision.json`, `aurora_points.csv` (every Aurora "
        "measurement), `aurora_claims.csv`, `aurora_claims.json`"
        + (", `aurora_rows.csv` (the Aurora overview figures' rows)." if plots else "."),
        "",
        "## Precision of polar iterations",
        "",
        "Last iterate of every case. `scalar_spectral_error` is the prediction: what "
        "`spectral_error` would be in exact arithmetic for this matrix (the scalar picture: an "
        "odd polynomial acts on singular values only; Amsel et al., arXiv 2505.16932); "
        "`scalar_worst_case` is the schedule's worst-case bound over the matrix's singular "
        "value interval; `input_cast_floor_spectral` is ‖polar(fl(A)) − polar(A)‖₂, the error "
        "already made by rounding the input to the compute dtype.",
        "",
        format_table(precision_summary(rows), style="markdown", escape=True),
    ]
    for name in ("precision_error.png", "precision_sigma.png"):
        if (figures / name).exists() and plots:
            lines += [f"![{_FIGURES[name]}](figures/{name})", "", f"*{_FIGURES[name]}*", ""]
    lines += [
        "## Aurora claims",
        "",
        "Each claim's population and decision rule were declared before measuring "
        "(`polarlab.studies.claims`; how they are judged: the docs page 'How the claims are "
        "judged'); the verdict follows from the points in `aurora_points.csv` alone (no "
        "wall-clock time), and `polarlab aurora --judge DIR` recomputes it "
        "(Aurora: Dewulf et al., arXiv 2606.27715). Verdicts: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(verdicts.items()))
        + ".",
        "",
        claims_markdown(records),
    ]
    for name in aurora_figures:
        caption = _FIGURES.get(name) or _claim_caption(name)
        lines += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    lines += _neuron_lines(neuron_records, neuron_figures)
    markdown = "\n".join(lines) + "\n"
    path = out / "report.md"
    path.write_text(markdown)
    (out / "report.html").write_text(render_html(markdown, figures))
    return path


def _neuron_claims(options, plots, common, timings) -> tuple[list[dict], list[str]]:
    """Run the neuron study (model-scale claims M-n) into the report directory, if asked."""
    if options is None:
        return [], []
    from polarlab.studies.neurons_study import neurons

    part = time.perf_counter()
    records = neurons(**{"plots": plots, **common, **options})
    timings["neuron study"] = time.perf_counter() - part
    shown = ("neurons_dead_vs_tau.png", "neurons_expansion.png", "neurons_overhead.png")
    return records, [n for n in shown if plots and (common["out"] / "figures" / n).exists()]


def _neuron_lines(records: list[dict], figures: list[str]) -> list[str]:
    """The report's model-scale claims section (empty without the neuron study)."""
    if not records:
        return []
    from polarlab.studies.neurons_report import FIGURE_CAPTIONS, claims_table

    lines = [
        "## Model-scale claims (neuron study)",
        "",
        "Tiny character-level models trained on the Python standard library's source "
        "(`polarlab neurons`; details, runs and curves in `neurons.md`); each verdict follows "
        "from `neuron_runs.csv` and `neuron_timing.csv` by the rule in its row. M-5 is the "
        "end-to-end figure for C-17 (the 6% overhead).",
        "",
        claims_table(records),
        "",
    ]
    for name in figures:
        caption = FIGURE_CAPTIONS[name]
        lines += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    return lines


def _claim_caption(name: str) -> str:
    """The caption of a claim's figure ``claim_<id>.png``."""
    claim_id = name.removeprefix("claim_").removesuffix(".png")
    return (
        f"{claim_id}: every measured series over the claim's sweep, mean and 95% bootstrap "
        "interval over seeds (each seed a grey dot), the rule's thresholds dashed."
    )
