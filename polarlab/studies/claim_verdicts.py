r"""Verdicts from measured points: a pure function of a claim record and its points.

A *point* is one measurement: ``(claim_id, series, x, matrix_seed, value)`` (the columns
:data:`POINT_COLUMNS`). :func:`judge` applies each :class:`~polarlab.studies.claim_rules.Condition`
of a claim to the points, cell by cell (a series at one sweep point ``x``, or a
series along the sweep), and gives the claim's verdict:

- a ``"mean"`` condition is decided on the 95% percentile-bootstrap interval of the
  mean over seeds (Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993,
  ch. 13; 2000 resamples from a fixed generator, so the interval is a function of the
  points alone): the cell holds when the whole interval satisfies the rule, fails when
  none of it does, and is undecided otherwise;
- an ``"every"`` condition holds when every seed satisfies the rule;
- ``increasing`` / ``decreasing`` compare neighbouring sweep points through the
  seed-paired differences, each decided like a ``"mean"`` cell.

Every cell holds: ``"holds"``; none holds: ``"does not hold"``; otherwise ``"mixed"``,
with the cells that hold and those that do not named. Nothing here reads a clock, so
the same points give the same verdict on any machine, and
:func:`polarlab.studies.aurora.judge_points` recomputes a committed table from its CSV.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from polarlab.studies.claim_rules import (
    HOLDS,
    MIXED,
    NOT_HOLDS,
    NOT_TESTABLE,
    Claim,
    Condition,
)

__all__ = [
    "POINT_COLUMNS",
    "Cell",
    "Judgement",
    "bootstrap_interval",
    "judge",
]

#: Columns of the measured points, one value each.
POINT_COLUMNS: tuple[str, ...] = ("case_id", "claim_id", "series", "x", "matrix_seed", "value")

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_RESAMPLES = 2000
_LEVEL = 0.95
UNDECIDED = "undecided"


def bootstrap_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values`` (fixed generator).

    One value gives the degenerate interval ``(v, v)``.

    Examples
    --------
    >>> lo, hi = bootstrap_interval([1.0, 2.0, 3.0, 4.0])
    >>> 1.0 <= lo < 2.5 < hi <= 4.0
    True
    >>> bootstrap_interval([2.0])
    (2.0, 2.0)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(0)
    means = v[rng.integers(0, v.size, size=(_RESAMPLES, v.size))].mean(axis=1)
    tail = (1 - _LEVEL) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


@dataclass(frozen=True)
class Cell:
    """One judged cell: what it is, its statistic, interval and outcome."""

    label: str
    mean: float
    low: float
    high: float
    outcome: str  # HOLDS, NOT_HOLDS or UNDECIDED

    def text(self) -> str:
        return f"{self.label}: {self.mean:.3g} [{self.low:.3g}, {self.high:.3g}]"


@dataclass(frozen=True)
class Judgement:
    """A claim's verdict, the part named (mixed) or the reason (not testable), the cells."""

    verdict: str
    part: str
    measured: str
    figure: float
    cells: tuple[Cell, ...]


def _by_x(points, series: str, at) -> dict[float, dict[int, float]]:
    """``{x: {seed: value}}`` of one series, restricted to the interval ``at``."""
    table: dict[float, dict[int, float]] = {}
    for p in points:
        x = float(p["x"])
        if p["series"] == series and (at is None or at[0] <= x <= at[1]):
            table.setdefault(x, {})[int(p["matrix_seed"])] = float(p["value"])
    return dict(sorted(table.items()))


def _decide(values, rule) -> tuple[float, float, float, str]:
    """Mean, interval and outcome of ``rule(v)`` decided on the mean's interval."""
    mean = float(np.mean(values))
    low, high = bootstrap_interval(values)
    ok_low, ok_high = rule(low), rule(high)
    # The interval lies on one side of a threshold iff both ends do (an "in" rule's
    # interval can also cover [lower, upper] whole: then it is undecided too).
    outside = not (ok_low or ok_high) and not (low < float("inf") and _covers(rule, low, high))
    outcome = HOLDS if ok_low and ok_high else NOT_HOLDS if outside else UNDECIDED
    return mean, low, high, outcome


def _covers(rule, low: float, high: float) -> bool:
    """Whether some value of ``[low, high]`` satisfies ``rule`` though both ends fail
    (an interval that covers a whole ``"in"`` range); checked on a fine grid."""
    return any(rule(v) for v in np.linspace(low, high, 1001))


def _every(values, rule) -> tuple[float, float, float, str]:
    v = np.asarray(values, dtype=np.float64)
    outcome = HOLDS if all(rule(x) for x in v) else NOT_HOLDS
    return float(v.mean()), float(v.min()), float(v.max()), outcome


def _cells(condition: Condition, points, axis: str) -> list[Cell]:
    c = condition
    series = _by_x(points, c.series, c.at)
    if not series:
        raise ValueError(f"no points for the series {c.series!r} of condition {c.describe()!r}")
    stat = _every if c.stat == "every" else _decide
    cells = []
    if c.kind in ("increasing", "decreasing"):
        sign = 1.0 if c.kind == "increasing" else -1.0
        for a, b in itertools.pairwise(series):
            seeds = sorted(set(series[a]) & set(series[b]))
            diffs = [sign * (series[b][s] - series[a][s]) for s in seeds]
            mean, low, high, outcome = stat(diffs, lambda d: d > 0)
            label = f"{c.series} {c.kind} {axis} {a:g} -> {b:g} (paired difference)"
            cells.append(Cell(label, sign * mean, *sorted((sign * low, sign * high)), outcome))
        return cells
    compare = _OPS.get(c.op)
    if c.kind == "bound":
        limit = c.threshold.value
        if c.op == "in":
            upper = c.upper.value
            rule, limits = (lambda v: limit <= v <= upper), f"[{limit:g}, {upper:g}]"
        else:
            rule, limits = (lambda v: compare(v, limit)), f"{limit:g}"
        for x, by_seed in series.items():
            mean, low, high, outcome = stat(list(by_seed.values()), rule)
            label = f"{c.series} {c.op} {limits} at {axis} = {x:g}"
            cells.append(Cell(label, mean, low, high, outcome))
        return cells
    factor = 1.0 if c.threshold is None else c.threshold.value
    other = _by_x(points, c.other, c.at)
    for x, by_seed in series.items():
        seeds = sorted(set(by_seed) & set(other.get(x, {})))
        if not seeds:
            raise ValueError(f"no points of {c.other!r} to compare with at {axis} = {x:g}")
        # a op f b  <=>  a - f b op 0, decided on the seed-paired differences
        diffs = [by_seed[s] - factor * other[x][s] for s in seeds]
        mean, low, high, outcome = stat(diffs, lambda d: compare(d, 0.0))
        scale = "" if factor == 1.0 else f"{factor:g} x "
        label = f"{c.series} - {scale}{c.other} {c.op} 0 at {axis} = {x:g}"
        cells.append(Cell(label, mean, low, high, outcome))
    return cells


def _series_summary(points, axis: str) -> list[str]:
    """Per series: the mean over seeds at each sweep point (the measured figures)."""
    names = list(dict.fromkeys(p["series"] for p in points))
    lines = []
    for name in names:
        table = _by_x(points, name, None)
        means = ", ".join(f"{x:g}: {np.mean(list(v.values())):.3g}" for x, v in table.items())
        seeds = max(map(len, table.values()))
        over = f"mean of {seeds} seeds" if seeds > 1 else "one value each"
        lines.append(f"{name} by {axis} ({over}) {means}")
    return lines


def judge(claim: Claim, points: Sequence[dict]) -> Judgement:
    """The verdict of ``claim`` on its measured ``points`` (rows with :data:`POINT_COLUMNS`).

    Raises
    ------
    ValueError
        A condition's series (or compared series) has no points.

    Examples
    --------
    >>> from polarlab.studies.claims import CLAIMS
    >>> c4a = next(c for c in CLAIMS if c.claim_id == "C-4a")
    >>> pts = [dict(series=s, x=4, matrix_seed=k, value=v) for k in range(3)
    ...        for s, v in (("rho(Aurora)", 1.05), ("rho(polar)", 1.4))]
    >>> judge(c4a, pts).verdict
    'holds'
    >>> judge(c4a, [{**p, "value": 1.2} if p["series"] == "rho(Aurora)" and p["matrix_seed"] == 0
    ...             else p for p in pts]).verdict
    'mixed'
    """
    own = [p for p in points if p.get("claim_id", claim.claim_id) == claim.claim_id]
    axis = claim.axis or "x"
    if claim.not_testable:
        # Points recorded for information only: no rule applies to them.
        summary = "; ".join(_series_summary(own, axis)) or "not measured"
        figure = float(own[0]["value"]) if own else float("nan")
        return Judgement(NOT_TESTABLE, claim.not_testable, summary, figure, ())
    cells = [cell for c in claim.conditions for cell in _cells(c, own, axis)]
    outcomes = {cell.outcome for cell in cells}
    if outcomes == {HOLDS}:
        verdict, part = HOLDS, ""
    elif outcomes == {NOT_HOLDS}:
        verdict, part = NOT_HOLDS, ""
    else:
        verdict = MIXED
        named = {
            o: [cell.label for cell in cells if cell.outcome == o]
            for o in (HOLDS, NOT_HOLDS, UNDECIDED)
        }
        part = "; ".join(
            f"{word}: {', '.join(labels)}"
            for word, labels in (
                ("holds", named[HOLDS]),
                ("does not hold", named[NOT_HOLDS]),
                ("undecided (interval straddles the threshold)", named[UNDECIDED]),
            )
            if labels
        )
    not_held = [cell for cell in cells if cell.outcome != HOLDS]
    measured = "; ".join(_series_summary(own, axis))
    if not_held:
        measured += "; cells not holding: " + "; ".join(cell.text() for cell in not_held)
    return Judgement(verdict, part, measured, cells[0].mean, tuple(cells))
