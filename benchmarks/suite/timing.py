"""Interleaved timing and the statistics of paired ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch

from benchmarks._common import sync


def interleaved(
    fns: Mapping[str, Callable[[], object]],
    device: torch.device,
    rounds: int,
    *,
    budget_s: float = 0.0,
    max_rounds: int = 41,
) -> dict[str, list[float]]:
    """Seconds of each ``fn()`` per round: one call of each per round, order rotated.

    One warm-up call each first. Entries that are fast get more rounds (up to
    ``budget_s`` seconds of rounds in all, at most ``max_rounds``), so that
    small shapes are not left to a handful of noisy calls. Because every round
    calls every entry, a change in background load hits all entries of a round
    alike, and the per-round ratios cancel it.
    """
    names = list(fns)
    start = time.perf_counter()
    for name in names:
        fns[name]()
        sync(device)
    warm = time.perf_counter() - start
    rounds = max(rounds, min(max_rounds, int(budget_s / max(warm, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            sync(device)
            t0 = time.perf_counter()
            fns[name]()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def spread(values: list[float]) -> dict:
    """Median, quartiles, range and count of ``values``."""
    if len(values) > 1:
        q25, _, q75 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q25 = q75 = values[0]
    return {
        "median": statistics.median(values),
        "q25": q25,
        "q75": q75,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def ratio(times: Mapping[str, list[float]], num: str, den: str) -> dict:
    """Paired ratio ``num / den`` over the rounds: its spread and both medians (ms)."""
    per_round = [a / b for a, b in zip(times[num], times[den])]
    return {
        "num": num,
        "den": den,
        **spread(per_round),
        "num_ms": 1e3 * statistics.median(times[num]),
        "den_ms": 1e3 * statistics.median(times[den]),
    }
