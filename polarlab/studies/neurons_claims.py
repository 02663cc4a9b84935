r"""Model-scale claims (M-n): verdicts computed from the recorded rows of the neuron study.

Each claim is a published statement about training with Aurora (Dewulf et al., arXiv
2606.27715; the Aurora blog and its third-party summaries), measured here on the tiny
models of :mod:`polarlab.studies.neurons_models`, with the rule stated beside it. The
verdict is a pure function of the rows in ``neuron_runs.csv`` and ``neuron_timing.csv``
(:func:`neuron_claims`), so a reader recomputes the table from the committed CSV files
with ``neuron_claims(read_csv(runs), read_csv(timing))``.

Statistics: a seed-averaged quantity is given as mean and 95% Student-t interval over
seeds (``mean +- t_{0.975, k-1} sd / sqrt(k)``); Muon-vs-Aurora differences are paired
by seed (same initialisation and batches). Timing is judged only through ratios of
times measured side by side (interleaved repeats), by their median and its 95% interval, so a
verdict does not follow the load of a shared machine.

Verdicts: ``"holds"``, ``"does not hold"``, ``"mixed"`` (part of the population
satisfies the rule; the ``part`` column names it) and ``NOT_REPRODUCED``, ``"not
reproduced at this scale"``: the effect the claim describes is absent or within noise
in these models (the claims are made at 340M-1.1B parameters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from polarlab.studies.claim_rules import HOLDS, MIXED, NOT_HOLDS, NOT_REPRODUCED

__all__ = [
    "CLAIM_COLUMNS",
    "NOT_REPRODUCED",
    "median_interval",
    "neuron_claims",
    "seed_interval",
]

#: The record shape of :data:`polarlab.studies.claims.AURORA_COLUMNS`, one row per claim.
CLAIM_COLUMNS: tuple[str, ...] = (
    "case_id",
    "claim_id",
    "claim",
    "source",
    "quote",
    "quantity",
    "population",
    "setting",
    "rule",
    "thresholds",
    "measured",
    "figure",
    "verdict",
    "part",
)
#: The dead fraction the claim calls "a large share": the quote's ">25%".
DEATH_SHARE = 0.25
#: The threshold tau (x layer mean) the death claims are judged at (the replication's
#: middle value; the measured column shows every tau).
JUDGED_TAU = 0.25
#: Below this Muon dead fraction there is no death to prevent (M-2).
DEATH_FLOOR = 0.05
#: Overhead: the quoted 6%, plus a margin of 0.04 for timer resolution and the noise of
#: interleaved repeats on a shared machine.
OVERHEAD_QUOTE, OVERHEAD_MARGIN = 0.06, 0.04


def seed_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, low, high)``: the 95% Student-t interval of the mean over seeds.

    >>> m, lo, hi = seed_interval([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    """
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if v.size < 2:
        return mean, -math.inf, math.inf
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, mean - half, mean + half


def _fmt(mean, lo, hi) -> str:
    return f"{mean:.3g} [{lo:.3g}, {hi:.3g}]"


def _main(runs, model, optimizer, expansion):
    rows = [r for r in runs if r["phase"] == "main" and r["model"] == model]
    return sorted(
        (r for r in rows if r["optimizer"] == optimizer and r["expansion"] == expansion),
        key=lambda r: r["seed"],
    )


def _paired(runs, model, expansion, column="test_loss"):
    """Per seed: Muon's value minus Aurora's."""
    muon = {r["seed"]: r[column] for r in _main(runs, model, "muon", expansion)}
    aurora = {r["seed"]: r[column] for r in _main(runs, model, "aurora", expansion)}
    return {s: muon[s] - aurora[s] for s in sorted(set(muon) & set(aurora))}


def _record(claim_id: str, *fields, part: str = "") -> dict:
    """A claim record: ``fields`` are the columns from ``claim`` to ``verdict``, in order."""
    return dict(zip(CLAIM_COLUMNS, (claim_id, claim_id, *fields, part), strict=True))


def _combine(outcomes: dict[str, str]) -> tuple[str, str]:
    """One verdict from per-cell outcomes; ``part`` names the cells when mixed."""
    values = set(outcomes.values())
    if len(values) == 1:
        return values.pop(), ""
    return MIXED, "; ".join(f"{k}: {v}" for k, v in outcomes.items())


def _death(runs, models, main_e, seeds_text):
    key = f"dead_{JUDGED_TAU:g}"
    outcomes, measured, figure = {}, [], math.nan
    for model in models:
        muon = _main(runs, model, "muon", main_e)
        if not muon:
            continue
        stat = seed_interval([r[key] for r in muon])
        figure = stat[0] if math.isnan(figure) else figure
        sweep = ", ".join(
            f"tau {t}: {np.mean([r[f'dead_{t}'] for r in muon]):.3g}"
            for t in ("0.05", "0.1", "0.25", "0.5")
        )
        measured.append(f"{model}: dead {_fmt(*stat)} ({sweep})")
        outcomes[model] = HOLDS if stat[0] >= DEATH_SHARE else NOT_REPRODUCED
    verdict, part = _combine(outcomes)
    return _record(
        "M-1",
        "under Muon a large share of MLP neurons die early and permanently (C-6)",
        "Aurora TL;DR and blog (third-party summary); 340M SwiGLU",
        "'>25%' of MLP neurons 'effectively dead by step 500'",
        f"fraction of dead neurons (SwiGLU: dead gate-and-up pairs) under Muon at tau = "
        f"{JUDGED_TAU} (gradient and applied update below tau x layer mean at every "
        "checkpoint from the reference step)",
        f"{seeds_text}, models {', '.join(models)}, expansion {main_e}",
        "character-level models on Python stdlib text, same step budget as every optimizer",
        f"holds where the seed mean >= {DEATH_SHARE}; otherwise not reproduced at this scale",
        f"{DEATH_SHARE} (quote '>25%'); tau {JUDGED_TAU} (replication's sweep, all taus shown)",
        "; ".join(measured),
        figure,
        verdict,
        part=part,
    )


def _prevention(runs, models, main_e, seeds_text):
    key = f"dead_{JUDGED_TAU:g}"
    outcomes, measured = {}, []
    for model in models:
        means = {
            name: float(np.mean([r[key] for r in _main(runs, model, name, main_e)] or [math.nan]))
            for name in ("muon", "aurora", "u_normuon")
        }
        tails = {
            name: float(
                np.mean(
                    [r["update_ratio_q01"] for r in _main(runs, model, name, main_e)] or [math.nan]
                )
            )
            for name in ("muon", "aurora", "u_normuon")
        }
        measured.append(
            f"{model}: dead "
            + ", ".join(f"{k} {v:.3g}" for k, v in means.items())
            + "; 1% quantile of update/layer mean "
            + ", ".join(f"{k} {v:.3g}" for k, v in tails.items())
        )
        if not means["muon"] >= DEATH_FLOOR:
            outcomes[model] = NOT_REPRODUCED
        elif max(means["aurora"], means["u_normuon"]) <= means["muon"] / 2:
            outcomes[model] = HOLDS
        else:
            outcomes[model] = NOT_HOLDS
    verdict, part = _combine(outcomes)
    return _record(
        "M-2",
        "row-uniform updates (Aurora, U-NorMuon) prevent the neuron death seen under Muon (C-11)",
        "Aurora blog; U-NorMuon (third-party summary)",
        "Aurora and U-NorMuon 'remove' the death",
        f"dead fraction at tau = {JUDGED_TAU} of Aurora and U-NorMuon against Muon's",
        f"{seeds_text}, models {', '.join(models)}, expansion {main_e}",
        "as M-1",
        f"testable where Muon's mean dead fraction >= {DEATH_FLOOR}: holds if Aurora's and "
        "U-NorMuon's are at most half of Muon's, does not hold otherwise; where Muon shows no "
        "death: not reproduced at this scale",
        f"{DEATH_FLOOR} (no death to prevent below it: the 4M replication's level was 0.004%); "
        "1/2 (a halving, the least 'prevent' can mean)",
        "; ".join(measured),
        float(np.mean([r[key] for r in _main(runs, models[0], "aurora", main_e)] or [math.nan])),
        verdict,
        part=part,
    )


def _loss_sign(runs, models, main_e, seeds_text):
    outcomes, measured, figure = {}, [], math.nan
    for model in models:
        diff = _paired(runs, model, main_e)
        if not diff:
            continue
        stat = seed_interval(list(diff.values()))
        figure = stat[0] if math.isnan(figure) else figure
        measured.append(f"{model}: test loss Muon - Aurora {_fmt(*stat)} nats")
        outcomes[model] = HOLDS if stat[1] > 0 else NOT_HOLDS if stat[2] < 0 else NOT_REPRODUCED
    verdict, part = _combine(outcomes)
    return _record(
        "M-3",
        "Aurora reaches a lower loss than Muon at the same step budget (C-12, sign only)",
        "Aurora abstract (arXiv 2606.27715); 1.1B and 350M runs",
        "Aurora 2.26 vs Muon 2.31 (smoothed loss, 1.1B)",
        "final test loss of Muon minus Aurora, paired by seed, each at its validation-chosen lr",
        f"{seeds_text}, models {', '.join(models)}, expansion {main_e}",
        "as M-1",
        "holds if the 95% interval of the paired difference is above 0, does not hold if "
        "below 0, not reproduced at this scale if it contains 0",
        "0 (the sign of the quoted difference)",
        "; ".join(measured),
        figure,
        verdict,
        part=part,
    )


def _expansion(runs, expansions, seeds_text):
    if len(expansions) < 2:
        return None
    deltas = {e: _paired(runs, "transformer", e) for e in expansions}
    lo_e, hi_e = expansions[0], expansions[-1]
    seeds = sorted(set(deltas[lo_e]) & set(deltas[hi_e]))
    growth = seed_interval([deltas[hi_e][s] - deltas[lo_e][s] for s in seeds])
    means = [float(np.mean(list(deltas[e].values()))) for e in expansions]
    rho = float(stats.spearmanr(expansions, means)[0]) if len(set(means)) > 1 else 0.0
    dead = {
        name: ", ".join(
            f"e={e}: {np.mean([r['dead_0.25'] for r in _main(runs, 'transformer', name, e)]):.3g}"
            for e in expansions
        )
        for name in ("muon", "aurora")
    }
    if growth[1] > 0 and rho >= 0.8:
        verdict = HOLDS
    elif growth[2] < 0:
        verdict = NOT_HOLDS
    else:
        verdict = NOT_REPRODUCED
    measured = (
        "test loss Muon - Aurora per e: "
        + ", ".join(f"e={e}: {m:.3g}" for e, m in zip(expansions, means))
        + f"; growth e={hi_e} minus e={lo_e}: {_fmt(*growth)}; Spearman(e, mean) {rho:.2f}; "
        + f"dead at tau 0.25, Muon {dead['muon']}; Aurora {dead['aurora']}"
    )
    return _record(
        "M-4",
        "Aurora's advantage over Muon grows with the MLP expansion factor (C-14)",
        "Aurora abstract (arXiv 2606.27715); third-party summary 'monotonically'",
        "gains grow (monotonically) with the MLP expansion",
        "final test loss of Muon minus Aurora (paired by seed) against e",
        f"{seeds_text}, transformer, e in {', '.join(map(str, expansions))}",
        "as M-1, the MLP hidden width e d",
        f"holds if the paired growth from e={lo_e} to e={hi_e} has its 95% interval above 0 and "
        "Spearman(e, mean difference) >= 0.8; does not hold if the interval is below 0; "
        "otherwise not reproduced at this scale",
        "0 (sign); 0.8 (a monotone trend over 4 points allows one tie)",
        measured,
        growth[0],
        verdict,
    )


def median_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """``(median, low, high)``: the median and its distribution-free 95% interval.

    The interval is between the order statistics of ranks about ``n/2 -+ 1.96 sqrt(n)/2``
    (the binomial(n, 1/2) normal approximation; Conover, *Practical Nonparametric
    Statistics*, 3rd ed., 1999, section 3.2), clipped to the sample.

    >>> median_interval(list(range(1, 31)))
    (15.5, 10.0, 21.0)
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    half = 1.96 * math.sqrt(n) / 2
    # 1-based ranks floor(n/2 - half) + 1 and ceil(n/2 + half): 10 and 21 for n = 30, as the
    # exact binomial table gives (P(Bin(30, 1/2) <= 9) = 0.021).
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return float(np.median(v)), float(v[low]), float(v[high])


def _overhead(timing, main_e, size_text, device):
    measured, cells = [], {}
    for e in sorted({r["expansion"] for r in timing}):
        for kind in ("model_step", "matrix_step"):
            ratios = [r["ratio"] for r in timing if r["expansion"] == e and r["kind"] == kind]
            if ratios:
                cells[e, kind] = median_interval(ratios)
        step, matrix = cells.get((e, "model_step")), cells.get((e, "matrix_step"))
        measured.append(
            f"e={e}: training step {_fmt(*step)}, lone up-matrix optimizer step {_fmt(*matrix)}"
        )
    if (main_e, "model_step") not in cells:
        return None
    median, low, high = cells[main_e, "model_step"]
    bound = 1 + OVERHEAD_QUOTE + OVERHEAD_MARGIN
    verdict = HOLDS if high <= bound else NOT_REPRODUCED if low > bound else MIXED
    part = "" if verdict != MIXED else "the 95% interval of the median ratio contains the bound"
    return _record(
        "M-5",
        "Aurora costs 'only a 6% overhead over traditional Muon' end to end (C-17)",
        "Aurora TL;DR",
        "only a 6% overhead over traditional Muon",
        "time of one training step (forward, backward, optimizer) Aurora / Muon, same model "
        "and batch, interleaved repeats; median of the per-repeat ratios [95% interval]",
        f"{size_text} at expansion {main_e} on {device} (every e in the measured column)",
        "whole training step of the transformer; beside it one optimizer step on the lone "
        "(e d) x d up matrix",
        f"holds if the 95% interval of the median ratio is <= {bound:.2f}; not reproduced at "
        f"this scale if it is > {bound:.2f}; mixed otherwise",
        f"1.06 (quote '6%') + margin {OVERHEAD_MARGIN} (timer and interleaving noise)",
        "; ".join(measured),
        median,
        verdict,
        part=part,
    )


def neuron_claims(
    runs: Sequence[dict], timing: Sequence[dict], *, device: str = "cpu", size_text: str = ""
) -> list[dict]:
    """The model-scale claim records (:data:`CLAIM_COLUMNS`) from the recorded rows.

    ``runs`` are the rows of ``neuron_runs.csv``, ``timing`` those of
    ``neuron_timing.csv``; nothing is measured here.
    """
    main = [r for r in runs if r["phase"] == "main"]
    if not main:
        raise ValueError("no main runs in the rows; run the study first")
    models = [m for m in ("transformer", "mlp") if any(r["model"] == m for r in main)]
    counts = {}
    for r in main:
        counts[r["model"], r["expansion"], r["optimizer"]] = (
            counts.get((r["model"], r["expansion"], r["optimizer"]), 0) + 1
        )
    main_e = max(
        {r["expansion"] for r in main},
        key=lambda e: len({r["optimizer"] for r in main if r["expansion"] == e}),
    )
    seeds_text = f"{min(counts.values())} seeds per setting"
    expansions = sorted(
        e
        for e in {r["expansion"] for r in main if r["model"] == "transformer"}
        if _paired(runs, "transformer", e)
    )
    records = [
        _death(runs, models, main_e, seeds_text),
        _prevention(runs, models, main_e, seeds_text),
        _loss_sign(runs, models, main_e, seeds_text),
        _expansion(runs, expansions, seeds_text),
        _overhead(list(timing), main_e, size_text or "the study's transformer", device),
    ]
    return [r for r in records if r is not None]
