r"""Figures of the neuron-death study, drawn from the recorded CSV rows only.

``plot_neurons(data, out)`` writes, from the rows of :func:`polarlab.studies.neurons`
(``runs``, ``curves``, ``leverage``, ``timing``):

* ``neurons_dead_vs_tau.png``: dead fraction against tau per optimizer (mean, min-max
  over seeds), one panel per model, at the main expansion factor;
* ``neurons_low_vs_step.png``: fraction of neurons meeting the gradient and update
  criteria at each checkpoint (tau = 0.5; no persistence), per optimizer;
* ``neurons_leverage.png``: histograms of the normalised momentum leverage
  ``l_i m / n`` of the neuron matrices at the first, middle and last checkpoint;
* ``neurons_val_loss.png``: validation-loss curves (seed mean);
* ``neurons_expansion.png``: test loss Muon - Aurora and dead fractions against e;
* ``neurons_overhead.png``: median time ratio Aurora / Muon against e.

Needs matplotlib (the ``studies`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polarlab.diagnostics import TAUS
from polarlab.studies._io import pyplot

__all__ = ["plot_neurons"]

_COLORS = {"muon": "C0", "normuon": "C1", "u_normuon": "C2", "aurora": "C3", "adamw": "C7"}


def _main(runs, **match) -> list[dict]:
    return [r for r in runs if r["phase"] == "main" and all(r[k] == v for k, v in match.items())]


def _main_e(runs) -> int:
    main = _main(runs)
    return max(
        {r["expansion"] for r in main},
        key=lambda e: len({r["optimizer"] for r in main if r["expansion"] == e}),
    )


def _dead_vs_tau(plt, runs, models, e):
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
    for ax, model in zip(axes[0], models):
        for name, color in _COLORS.items():
            rows = _main(runs, model=model, optimizer=name, expansion=e)
            if not rows:
                continue
            values = np.array([[r[f"dead_{t:g}"] for t in TAUS] for r in rows])
            mean = values.mean(axis=0)
            err = [mean - values.min(axis=0), values.max(axis=0) - mean]
            ax.errorbar(TAUS, mean, yerr=err, marker="o", capsize=3, color=color, label=name)
        ax.set(xlabel="tau (x layer mean)", ylabel="dead fraction", title=f"{model}, e={e}")
        ax.set_xscale("log")
        ax.set_xticks(TAUS, [f"{t:g}" for t in TAUS])
        ax.minorticks_off()
        ax.legend(fontsize="small")
    return fig


def _curves(plt, runs, curves, models, e, column, ylabel):
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
    for ax, model in zip(axes[0], models):
        for name, color in _COLORS.items():
            ids = {r["case_id"] for r in _main(runs, model=model, optimizer=name, expansion=e)}
            by_step: dict[int, list[float]] = {}
            for row in curves:
                if row["case_id"] in ids:
                    by_step.setdefault(row["step"], []).append(row[column])
            if by_step:
                steps = sorted(by_step)
                ax.plot(steps, [np.mean(by_step[s]) for s in steps], color=color, label=name)
        ax.set(xlabel="step", ylabel=ylabel, title=f"{model}, e={e}")
        ax.legend(fontsize="small")
    return fig


def _leverage(plt, runs, leverage, e, model):
    steps = sorted({r["step"] for r in leverage})
    shown = [steps[0], steps[len(steps) // 2], steps[-1]]
    names = [
        n
        for n in ("muon", "aurora", "u_normuon", "adamw")
        if _main(runs, model=model, optimizer=n, expansion=e)
    ]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.6), squeeze=False)
    for ax, step in zip(axes[0], shown):
        for name in names:
            ids = {r["case_id"] for r in _main(runs, model=model, optimizer=name, expansion=e)}
            counts: dict[float, int] = {}
            for row in leverage:
                if row["case_id"] in ids and row["step"] == step:
                    counts[row["bin_lo"]] = counts.get(row["bin_lo"], 0) + row["count"]
            lo = sorted(counts)
            total = sum(counts.values()) or 1
            ax.step(
                range(len(lo)),
                [counts[b] / total for b in lo],
                where="post",
                color=_COLORS[name],
                label=name,
            )
            ax.set_xticks(range(0, len(lo), 3), [f"{b:.2g}" for b in lo[::3]])
        ax.set(
            xlabel="l_i m / n (bin lower edge)",
            ylabel="share of neurons",
            title=f"{model} e={e}, step {step}",
        )
        ax.legend(fontsize="small")
    return fig


def _expansion(plt, runs):
    expansions = sorted({r["expansion"] for r in _main(runs, model="transformer")})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    means, lows, highs = [], [], []
    for e in expansions:
        muon = {
            r["seed"]: r["test_loss"]
            for r in _main(runs, model="transformer", optimizer="muon", expansion=e)
        }
        aurora = {
            r["seed"]: r["test_loss"]
            for r in _main(runs, model="transformer", optimizer="aurora", expansion=e)
        }
        d = [muon[s] - aurora[s] for s in muon if s in aurora] or [np.nan]
        means.append(np.mean(d))
        lows.append(np.mean(d) - np.min(d))
        highs.append(np.max(d) - np.mean(d))
    left.errorbar(expansions, means, yerr=[lows, highs], marker="o", capsize=3)
    left.axhline(0, color="grey", lw=0.8)
    left.set(
        xscale="log",
        xlabel="expansion e",
        ylabel="test loss Muon - Aurora (nats)",
        title="transformer (mean, min-max over seeds)",
    )
    left.set_xticks(expansions, [str(e) for e in expansions])
    left.minorticks_off()
    for name in ("muon", "aurora", "u_normuon"):
        values = [
            np.mean(
                [
                    r["dead_0.5"]
                    for r in _main(runs, model="transformer", optimizer=name, expansion=e)
                ]
                or [np.nan]
            )
            for e in expansions
        ]
        right.plot(expansions, values, marker="o", color=_COLORS[name], label=name)
    right.set(
        xscale="log", xlabel="expansion e", ylabel="dead fraction (tau 0.5)", title="transformer"
    )
    right.set_xticks(expansions, [str(e) for e in expansions])
    right.minorticks_off()
    right.legend(fontsize="small")
    return fig


def _overhead(plt, timing):
    fig, ax = plt.subplots(figsize=(5, 3.6))
    expansions = sorted({r["expansion"] for r in timing})
    for kind, label in (("model_step", "training step"), ("matrix_step", "up-matrix step")):
        q = [
            np.quantile(
                [r["ratio"] for r in timing if r["expansion"] == e and r["kind"] == kind],
                (0.25, 0.5, 0.75),
            )
            for e in expansions
        ]
        q = np.array(q)
        ax.errorbar(
            expansions,
            q[:, 1],
            yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]],
            marker="o",
            capsize=3,
            label=label,
        )
    ax.axhline(1.06, color="grey", ls="--", lw=0.8, label="published 1.06")
    ax.set(xscale="log", xlabel="expansion e", ylabel="time Aurora / Muon (median, IQR)")
    ax.set_xticks(expansions, [str(e) for e in expansions])
    ax.minorticks_off()
    ax.legend(fontsize="small")
    return fig


def plot_neurons(data: dict, out: str | Path) -> list[Path]:
    """Write the study's figures into ``out``; returns their paths."""
    plt = pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs: Sequence[dict] = data["runs"]
    e = _main_e(runs)
    models = [m for m in ("transformer", "mlp") if _main(runs, model=m)]
    figures = {
        "neurons_dead_vs_tau.png": lambda: _dead_vs_tau(plt, runs, models, e),
        "neurons_low_vs_step.png": lambda: _curves(
            plt, runs, data["curves"], models, e, "low_0.5", "share meeting criteria 1-2 (tau 0.5)"
        ),
        "neurons_leverage.png": lambda: _leverage(plt, runs, data["leverage"], e, models[0]),
        "neurons_val_loss.png": lambda: _curves(
            plt, runs, data["curves"], models, e, "val_loss", "validation loss (nats/char)"
        ),
        "neurons_expansion.png": lambda: _expansion(plt, runs),
        "neurons_overhead.png": lambda: _overhead(plt, data["timing"]),
    }
    if len({r["expansion"] for r in _main(runs, model="transformer")}) < 2:
        del figures["neurons_expansion.png"]  # no sweep recorded
    paths = []
    for name, draw in figures.items():
        fig = draw()
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        paths.append(out / name)
    return paths
