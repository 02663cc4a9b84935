"""Step time per rank of the matrix optimizers in 2 processes: replicated work against split.

Each rank holds the same GPT-like parameter set (``benchmarks.suite.config.gpt_shapes``)
with the same gradients (what DDP leaves after its all-reduce) and three copies of one
optimizer: ``distributed=None`` (every rank computes every direction, no communication),
``"replicate"`` (the same, plus the all-reduce of the non-finite flags) and ``"split"``
(each rank computes its share of the directions, one ``all_to_all`` per shape). The three
steps are timed interleaved (one of each per round, behind a barrier, the order rotated),
and each rank reports the medians of its per-round ratios ``split / None`` and
``replicate / None`` with quartiles.

The work split is reported too: the direction work ``m n min(m, n)`` each rank owns, and
the bytes each rank receives per step in split mode against an all-gather of every matrix.

Usage (repository root; CPU gloo, or CUDA nccl with one GPU per rank)::

    flock /tmp/polarlab-bench.lock python -m benchmarks.bench_distributed
    python -m benchmarks.bench_distributed --device cuda --layers 12 --d 768
    python -m benchmarks.bench_distributed --quick --out /tmp/dist

Writes ``results/distributed_<device>[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from benchmarks._common import RESULTS, machine_facts, write_results
from benchmarks.suite.config import gpt_shapes
from polarlab.optim import ARO, Aurora, Muon, NorMuon, distributed

OPTIMIZERS = {"Muon": Muon, "NorMuon": NorMuon, "Aurora": Aurora, "ARO": ARO}
MODES = (None, "replicate", "split")


def _quartiles(values: list[float]) -> list[float]:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return [q[0], statistics.median(values), q[-1]]


def _rank(rank: int, world: int, store: str, args: argparse.Namespace, out: str) -> None:
    torch.set_num_threads(args.threads)
    cuda = args.device == "cuda"
    device = torch.device("cuda", rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group(
        "nccl" if cuda else "gloo", init_method=f"file://{store}", rank=rank, world_size=world
    )
    shapes = gpt_shapes(args.layers, args.d)
    gen = torch.Generator(device="cpu").manual_seed(0)
    base = [torch.randn(s, generator=gen) * s[1] ** -0.5 for s in shapes]
    grads = [torch.randn(s, generator=gen).to(device) for s in shapes]
    report = {}
    for name in args.optimizers:
        opts = []
        for mode in MODES:
            params = [torch.nn.Parameter(w.clone().to(device)) for w in base]
            for p, g in zip(params, grads):
                p.grad = g
            opts.append(OPTIMIZERS[name](params, distributed=mode))
        times: list[list[float]] = [[] for _ in MODES]
        for r in range(args.repeats + 1):  # round 0 warms up
            order = [(r + k) % len(MODES) for k in range(len(MODES))]
            for k in order:
                dist.barrier()
                if cuda:
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                opts[k].step()
                if cuda:
                    torch.cuda.synchronize(device)
                if r:
                    times[k].append(time.perf_counter() - start)
        report[name] = {
            "split_over_none": _quartiles([s / n for n, s in zip(times[0], times[2])]),
            "replicate_over_none": _quartiles([p / n for n, p in zip(times[0], times[1])]),
            "median_seconds": {str(m): statistics.median(t) for m, t in zip(MODES, times)},
        }
    torch.save(report, os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


def work_and_bytes(shapes: list[tuple[int, int]], world: int, itemsize: int = 4) -> dict:
    """Direction work per rank under the ownership rule, and bytes each rank receives per
    step: split mode (DDP: the directions it does not own; FSDP: the shards of the momenta
    it owns, then its shard of every direction it does not own) against an all-gather of
    every matrix (every rank receives ``(world - 1) / world`` of all of them)."""
    costs = [distributed.cost(m, n) for m, n in shapes]
    owners = distributed.assign_owners(costs, world)
    sizes = [m * n * itemsize for m, n in shapes]
    total = sum(sizes)
    per_rank = []
    for r in range(world):
        owned = sum(s for s, o in zip(sizes, owners) if o == r)
        ddp = total - owned
        fsdp = owned * (world - 1) / world + (total - owned) / world
        per_rank.append({"work": sum(c for c, o in zip(costs, owners) if o == r), "owned": owned,
                         "ddp_split_bytes": ddp, "fsdp_split_bytes": fsdp})  # fmt: skip
    return {
        "total_work": sum(costs),
        "total_bytes": total,
        "all_gather_bytes": total * (world - 1) / world,
        "ranks": per_rank,
    }


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Distributed optimizer step: replicated against split work (2 processes)",
        "",
        f"{m['cpu_model']}, {m['cpu_count']} cores, torch {m['torch']}, device {m['device']}, "
        f"backend {report['backend']}, {report['threads']} thread(s) per rank, "
        f"load average at start {[round(x, 2) for x in report['load_start']]}, "
        f"at end {[round(x, 2) for x in report['load_end']]}.",
        "",
        f"Parameters: {report['matrices']} matrices of a {report['layers']}-layer d={report['d']} "
        "GPT (q, k, v, o, up, down), same gradients on both ranks (as after DDP's all-reduce). "
        f"Medians of {report['repeats']} interleaved rounds; ratios per round, then median "
        "[q25, q75]. Below 1: split is faster.",
        "",
        "| optimizer | rank | split / None | replicate / None | None s (median) |",
        "|---|---|---|---|---|",
    ]
    for name in report["optimizers"]:
        for rank, per in enumerate(report["ranks"]):
            r = per[name]
            s, p = r["split_over_none"], r["replicate_over_none"]
            lines.append(
                f"| {name} | {rank} | {s[1]:.2f} [{s[0]:.2f}, {s[2]:.2f}] | "
                f"{p[1]:.2f} [{p[0]:.2f}, {p[2]:.2f}] | {r['median_seconds']['None']:.3g} |"
            )
    w = report["work"]
    lines += [
        "",
        "Ownership (greedy longest-processing-time over m n min(m, n)) and bytes each rank "
        "receives per step (float32):",
        "",
        "| rank | work share | split DDP MiB | split FSDP MiB | all-gather of every matrix MiB |",
        "|---|---|---|---|---|",
    ]
    for rank, r in enumerate(w["ranks"]):
        lines.append(
            f"| {rank} | {r['work'] / w['total_work']:.3f} | {r['ddp_split_bytes'] / 2**20:.2f} | "
            f"{r['fsdp_split_bytes'] / 2**20:.2f} | {w['all_gather_bytes'] / 2**20:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--optimizers", nargs="+", default=["Muon", "NorMuon", "Aurora", "ARO"])
    parser.add_argument("--quick", action="store_true", help="1 layer, d=64, 3 rounds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.layers, args.d, args.repeats = 1, 64, 3
    world = 2
    if args.device == "cuda" and torch.cuda.device_count() < world:
        raise SystemExit(f"--device cuda needs {world} GPUs, found {torch.cuda.device_count()}")
    load_start = list(os.getloadavg())
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(_rank, args=(world, os.path.join(folder, "store"), args, folder), nprocs=world)
        ranks = [torch.load(os.path.join(folder, f"rank{r}.pt")) for r in range(world)]
    shapes = gpt_shapes(args.layers, args.d)
    report = {
        "machine": machine_facts(torch.device(args.device)),
        "backend": "nccl" if args.device == "cuda" else "gloo",
        "threads": args.threads,
        "world": world,
        "layers": args.layers,
        "d": args.d,
        "matrices": len(shapes),
        "repeats": args.repeats,
        "optimizers": args.optimizers,
        "load_start": load_start,
        "load_end": list(os.getloadavg()),
        "ranks": ranks,
        "work": work_and_bytes(shapes, world),
    }
    stem = f"distributed_{args.device}" + ("_quick" if args.quick else "")
    for path in write_results(args.out, stem, report, markdown(report)):
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
