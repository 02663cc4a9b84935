r"""The neuron study's outputs: claim table files and the Markdown summary (``neurons.md``).

Everything here is computed from the recorded rows (``neuron_*.csv``): the summary table
per model, expansion and optimizer (seed mean and standard deviation), the learning
rates chosen on the validation split, the claim verdicts of
:mod:`polarlab.studies.neurons_claims`, and the figures' captions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polarlab.diagnostics import TAUS
from polarlab.studies._io import TidyWriter, write_json
from polarlab.studies.neurons_claims import CLAIM_COLUMNS
from polarlab.studies.tables import format_table

__all__ = ["FIGURE_CAPTIONS", "claims_table", "neurons_markdown", "summary_rows", "write_claims"]

FIGURE_CAPTIONS = {
    "neurons_dead_vs_tau.png": "Dead fraction (three criteria, persistence from the reference "
    "step; SwiGLU: gate and up pairs) against tau, per optimizer (mean, min-max over seeds).",
    "neurons_low_vs_step.png": "Share of neurons meeting the gradient and update criteria at "
    "each checkpoint (tau 0.5, no persistence): the dead fraction against the step.",
    "neurons_leverage.png": "Histograms of the normalised momentum leverage l_i m/n of the "
    "gate and up matrices at the first, middle and last checkpoint (all seeds pooled).",
    "neurons_val_loss.png": "Validation loss against the step (seed mean).",
    "neurons_expansion.png": "Expansion sweep: test loss Muon - Aurora (paired by seed) and "
    "dead fraction at tau 0.5, against the MLP expansion factor.",
    "neurons_overhead.png": "Time ratio Aurora / Muon of one training step and of one "
    "optimizer step on the lone up matrix, interleaved repeats (median, quartiles).",
}


def summary_rows(runs: Sequence[dict]) -> list[dict]:
    """One row per (model, e, optimizer) of the main runs: seed mean (sd) of the results."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        if r["phase"] == "main":
            groups.setdefault((r["model"], r["expansion"], r["optimizer"]), []).append(r)
    rows = []
    for (model, e, name), rs in groups.items():
        loss = np.array([r["test_loss"] for r in rs])
        row = {
            "model": model,
            "e": e,
            "optimizer": name,
            "lr": rs[0]["lr"],
            "seeds": len(rs),
            "test loss": f"{loss.mean():.4f} ({loss.std(ddof=1) if len(rs) > 1 else 0:.4f})",
        }
        for t in TAUS:
            row[f"dead {t:g}"] = f"{np.mean([r[f'dead_{t:g}'] for r in rs]):.3g}"
        row["lev dead 0.25"] = f"{np.mean([r['lev_dead_0.25'] for r in rs]):.3g}"
        row["upd q01"] = f"{np.mean([r['update_ratio_q01'] for r in rs]):.3g}"
        rows.append(row)
    return rows


def claims_table(records: Sequence[dict]) -> str:
    """The claims as a Markdown table: id, claim (source), population, measured, rule,
    verdict."""
    cells = [
        {
            "id": r["claim_id"],
            "claim (source)": f"{r['claim']} ({r['source']})",
            "population": r["population"],
            "measured": r["measured"],
            "rule": r["rule"],
            "verdict": f"**{r['verdict']}**" + (f" ({r['part']})" if r["part"] else ""),
        }
        for r in records
    ]
    return format_table(cells, style="markdown")


def write_claims(records: Sequence[dict], out: Path, **meta) -> None:
    """``neuron_claims.csv`` / ``.json`` / ``.md`` in ``out``."""
    TidyWriter(out / "neuron_claims.csv", CLAIM_COLUMNS).write_case(records)
    write_json(out / "neuron_claims.json", records, **meta)
    (out / "neuron_claims.md").write_text(
        "# Model-scale claims (neuron study)\n\n" + claims_table(records)
    )


def neurons_markdown(data: dict, records: Sequence[dict], *, figures: Sequence[str] = ()) -> str:
    """The study's summary page (Markdown) from its rows, claims and figure names."""
    meta = data["meta"]
    lrs = sorted(
        {
            (r["model"], r["optimizer"], r["lr"], r["elementwise_lr"])
            for r in data["runs"]
            if r["phase"] == "main"
        }
    )
    lines = [
        "# Neuron death, expansion and overhead: model-scale claims",
        "",
        f"Run time {meta['seconds'] / 60:.1f} min on {meta['device']} "
        f"({meta['machine']}, {meta['threads']} torch thread(s)), torch {meta['torch']}, "
        f"Python {meta['python']}; corpus digest {meta['corpus_digest']} "
        f"({meta['train_tokens']} training characters).",
        "Raw data: `neuron_runs.csv` (one row per run), `neuron_curves.csv`, "
        "`neuron_leverage.csv`, `neuron_timing.csv`; verdicts recomputed from them by "
        "`polarlab.studies.neurons_claims.neuron_claims`.",
        "",
        "## Claims",
        "",
        claims_table(records),
        "",
        "## Runs (seed mean, sd in parentheses)",
        "",
        "`dead t`: fraction of dead neurons at tau = t; `lev dead`: leverage version; "
        "`upd q01`: 1% quantile of the update norm / layer mean at the last checkpoint.",
        "",
        format_table(summary_rows(data["runs"]), style="markdown"),
        "",
        "Learning rates (matrix lr, AdamW lr of embeddings/head/vectors): "
        + "; ".join(f"{m} {o}: {lr:g}, {elr:g}" for m, o, lr, elr in lrs)
        + ".",
        "",
    ]
    for name in figures:
        lines += [
            f"![{FIGURE_CAPTIONS[name]}](figures/{name})",
            "",
            f"*{FIGURE_CAPTIONS[name]}*",
            "",
        ]
    return "\n".join(lines) + "\n"
