"""Wall-clock benchmark of the polynomial polar methods against their matmul floor and the SVD.

For each shape the script times, as the median over repeats:

- ``newton_schulz`` with the ``polar_express`` schedule (5 steps) and with the
  ``gram_ns`` schedule (5 steps), and ``gram_newton_schulz`` (``gram_ns``, 5 steps,
  restart before step 2), each called through the public tensor function;
- the *matmul floor* of each: the same sequence of plain ``torch.bmm`` calls
  on the same shapes, nothing else (no normalisation, no additions);
- ``torch.linalg.svd`` followed by ``U @ Vh`` (the exact polar factor).

FLOP counts (2 per multiply-add), short side n, long side m, T steps: standard
Newton-Schulz ``T (4 n^2 m + 2 n^3)``; Gram Newton-Schulz with T = 5 and
restart set {2}: ``8 n^2 m + 28 n^3`` (Zhang, Amsel, Chen, Dao, "Gram
Newton-Schulz", 2026). Targets reported, not asserted: the engine within 1.15x
of its matmul floor; Gram NS faster than standard NS (same schedule) by at
least the FLOP ratio minus 15% where m / n >= 4.

Usage::

    python -m benchmarks.bench_polar                 # CPU, float32, full shapes
    python -m benchmarks.bench_polar --quick         # small shapes
    python -m benchmarks.bench_polar --device cuda --dtype bfloat16

Writes ``benchmarks/results/bench_polar_<device>[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks._common import machine_facts
from polarlab._arrays import resolve_dtype
from polarlab.polar.gram import gram_newton_schulz
from polarlab.polar.polynomial import newton_schulz

FULL_SHAPES = [(256, 1024), (1024, 4096), (16, 512, 512)]
QUICK_SHAPES = [(64, 256), (256, 1024), (8, 128, 128)]
STEPS = 5
RESTARTS = (2,)
MAX_REPEATS = 51
ROUND_BUDGET_S = 1.0  # seconds of timed rounds per entry before repeats stop growing
RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_times(
    fns: list[Callable[[], object]], device: torch.device, repeats: int
) -> list[float]:
    """Median wall time (seconds) of each ``fn()``, after one warm-up call each.

    The functions are timed interleaved (one call of each per round), so a
    method and its floor see the same background load on a shared machine.
    Fast entries get more rounds (up to about one second per entry, at most
    ``MAX_REPEATS``), so small shapes are not left to a handful of noisy calls.
    """
    _sync(device)
    start = time.perf_counter()
    for fn in fns:
        fn()
    _sync(device)
    warm = time.perf_counter() - start
    rounds = max(repeats, min(MAX_REPEATS, int(ROUND_BUDGET_S / max(warm, 1e-9))))
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, bucket in zip(fns, times):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def ns_gemms(m: int, n: int, steps: int) -> list[tuple[int, int, int]]:
    """The (rows, inner, cols) of every product standard NS performs (tall form, quintic)."""
    return [(n, m, n), (n, n, n), (m, n, n)] * steps  # X^T X, A A (in b A + c A^2), X B


def gns_gemms(m: int, n: int, steps: int, restarts) -> list[tuple[int, int, int]]:
    """The products Gram NS performs for ``steps`` quintic rows and restart set ``restarts``."""
    tall, small = (m, n, n), (n, n, n)
    gemms = [(n, m, n)]  # R_0 = X^T X
    for t in range(steps):
        if t in restarts:
            gemms += [tall, (n, m, n)]  # X <- X Q, R <- X^T X
        gemms.append(small)  # Z = b R + c R^2
        if t > 0 and t not in restarts:
            gemms.append(small)  # Q <- Q h_t(R)
        if t < steps - 1 and (t + 1) not in restarts:
            gemms += [small, small]  # R <- H R H
    return [*gemms, tall]  # X Q


def flops(gemms, batch: int) -> float:
    return float(sum(2 * p * q * r for p, q, r in gemms) * batch)


def ns_floor(X0: torch.Tensor, steps: int) -> Callable[[], object]:
    """Plain ``torch.bmm`` calls in the engine's order and operand layouts.

    ``X0`` is the engine's normalised start (a transposed view for wide input);
    later iterates are contiguous, as the engine's products return them.
    """
    X = X0.contiguous()
    A = torch.bmm(X.mT, X)

    def run():
        for t in range(steps):
            Xt = X0 if t == 0 else X
            torch.bmm(Xt.mT, Xt)
            torch.bmm(A, A)
            torch.bmm(Xt, A)

    return run


def gns_floor(X0: torch.Tensor, steps: int, restarts) -> Callable[[], object]:
    """Plain ``torch.bmm`` calls in Gram NS's order and operand layouts."""
    X = X0.contiguous()
    R = torch.bmm(X.mT, X)

    def run():
        Xr = X0
        torch.bmm(Xr.mT, Xr)
        for t in range(steps):
            if t in restarts:
                torch.bmm(Xr, R)
                Xr = X
                torch.bmm(Xr.mT, Xr)
            torch.bmm(R, R)
            if t > 0 and t not in restarts:
                torch.bmm(R, R)
            if t < steps - 1 and (t + 1) not in restarts:
                torch.bmm(R, torch.bmm(R, R))
        torch.bmm(Xr, R)

    return run


def bench_shape(shape, dtype, device, repeats: int) -> dict:
    batch = 1 if len(shape) == 2 else shape[0]
    rows, cols = shape[-2:]
    m, n = max(rows, cols), min(rows, cols)
    gen = torch.Generator(device="cpu").manual_seed(1)
    G = torch.randn(*shape, generator=gen, dtype=torch.float32).to(device=device, dtype=dtype)
    G3 = G.reshape(batch, rows, cols)
    X0 = (G3.mT if rows < cols else G3) / torch.linalg.matrix_norm(G3, keepdim=True)
    ns = ns_gemms(m, n, STEPS)
    square = m == n  # Gram NS falls back to the standard engine
    gns = ns if square else gns_gemms(m, n, STEPS, RESTARTS)
    record = {"shape": list(shape), "m": m, "n": n, "batch": batch, "aspect": m / n}

    def svd_polar():
        W, _, Vh = torch.linalg.svd(G, full_matrices=False)
        return W @ Vh

    timed = {
        "newton_schulz[polar_express]": (
            lambda: newton_schulz(G, "polar_express", STEPS, dtype=dtype, check_finite=False),
            ns,
            ns_floor(X0, STEPS),
        ),
        "newton_schulz[gram_ns]": (
            lambda: newton_schulz(G, "gram_ns", STEPS, dtype=dtype, check_finite=False),
            ns,
            ns_floor(X0, STEPS),
        ),
        "gram_newton_schulz[gram_ns]": (
            lambda: gram_newton_schulz(
                G, "gram_ns", STEPS, restarts=RESTARTS, dtype=dtype, check_finite=False
            ),
            gns,
            ns_floor(X0, STEPS) if square else gns_floor(X0, STEPS, RESTARTS),
        ),
    }
    for name, (fn, gemms, floor) in timed.items():
        seconds, floor_seconds = median_times([fn, floor], device, repeats)
        record[name] = {
            "seconds": seconds,
            "gemms": len(gemms),
            "gflop": flops(gemms, batch) / 1e9,
            "gflop_per_s": flops(gemms, batch) / 1e9 / seconds,
            "matmul_floor_seconds": floor_seconds,
            "ratio_to_floor": seconds / floor_seconds,
        }
    (record["svd"],) = (
        {"seconds": t} for t in median_times([svd_polar], device, max(1, repeats // 2))
    )
    # Gram against standard NS with the same schedule, timed interleaved once more
    ns_t, gns_t = median_times(
        [timed["newton_schulz[gram_ns]"][0], timed["gram_newton_schulz[gram_ns]"][0]],
        device,
        repeats,
    )
    flop_speedup = flops(ns, batch) / flops(gns, batch)
    record["gram_vs_standard"] = {
        "standard_seconds": ns_t,
        "gram_seconds": gns_t,
        "measured_speedup": ns_t / gns_t,
        "flop_speedup": flop_speedup,
        "target_speedup": 0.85 * flop_speedup if m >= 4 * n else None,
    }
    return record


def machine_info(device: torch.device, threads: int) -> dict:
    """:func:`benchmarks._common.machine_facts` with the thread count and load of this run."""
    info = {**machine_facts(device), "threads": threads}
    info["load_average_at_start"] = info.pop("load_average")
    return info


def markdown(report: dict) -> str:
    meta = report["machine"]
    lines = [
        f"# Polar benchmark: {meta['device']}, {report['dtype']}, {STEPS} steps",
        "",
        f"torch {meta['torch']}, {meta['threads']} thread(s), {meta['processor']}, "
        f"load average at start {meta.get('load_average_at_start')}, "
        f"at end {meta.get('load_average_at_end')}. Median of at least {report['repeats']} "
        f"interleaved repeats (more for fast entries, up to {MAX_REPEATS}).",
        "",
        report["note"],
        "",
        "| shape | method | ms | GEMMs | GFLOP/s | floor ms | ratio to floor |",
        "|---|---|---|---|---|---|---|",
    ]
    methods = [
        "newton_schulz[polar_express]",
        "newton_schulz[gram_ns]",
        "gram_newton_schulz[gram_ns]",
    ]
    for rec in report["results"]:
        shape = "x".join(map(str, rec["shape"]))
        for name in methods:
            r = rec[name]
            lines.append(
                f"| {shape} | {name} | {1e3 * r['seconds']:.1f} | {r['gemms']} | "
                f"{r['gflop_per_s']:.1f} | {1e3 * r['matmul_floor_seconds']:.1f} | "
                f"{r['ratio_to_floor']:.2f} |"
            )
        lines.append(
            f"| {shape} | torch.linalg.svd + U Vh | {1e3 * rec['svd']['seconds']:.1f} | | | | |"
        )
    lines += [
        "",
        "Gram NS against standard NS with the same schedule (gram_ns, 5 steps):",
        "",
        "| shape | m/n | measured speedup | FLOP speedup | target (FLOP - 15%) | met |",
        "|---|---|---|---|---|---|",
    ]
    for rec in report["results"]:
        g = rec["gram_vs_standard"]
        target = g["target_speedup"]
        met = "n/a" if target is None else ("yes" if g["measured_speedup"] >= target else "no")
        lines.append(
            f"| {'x'.join(map(str, rec['shape']))} | {rec['aspect']:.1f} | "
            f"{g['measured_speedup']:.2f} | {g['flop_speedup']:.2f} | "
            f"{'-' if target is None else f'{target:.2f}'} | {met} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (a smoke run)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", default="float32", help="compute dtype (default float32)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per entry")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: on a shared machine, oversubscribed threads time noise)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    dtype = resolve_dtype(args.dtype)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (7 if args.quick else 5)
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    report = {
        "dtype": str(dtype).removeprefix("torch."),
        "steps": STEPS,
        "restarts": list(RESTARTS),
        "repeats": repeats,
        "machine": machine_info(device, torch.get_num_threads()),
        "note": (
            "Timings on a shared machine are noisy: other processes compete for the "
            "same cores, so compare entries measured in the same run only, and read "
            "ratios, not absolute times."
        ),
        "results": [],
    }
    for shape in shapes:
        rec = bench_shape(shape, dtype, device, repeats)
        report["results"].append(rec)
        print(json.dumps({"shape": rec["shape"], "gram_vs_standard": rec["gram_vs_standard"]}))
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_at_end"] = list(os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"bench_polar_{device.type}" + ("_quick" if args.quick else "")
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
