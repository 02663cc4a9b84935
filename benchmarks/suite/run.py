"""The suite's command line: run the sections, write JSON, Markdown and plots."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

import polarlab
from benchmarks._common import machine_facts
from benchmarks.suite import aurora, imports, optimizers, polar
from benchmarks.suite.config import FULL, QUICK
from benchmarks.suite.report import markdown, plots
from benchmarks.suite.targets import evaluate

RESULTS = Path(__file__).resolve().parents[1] / "results"
SECTIONS = ("polar", "aurora", "optimizers", "imports")
SCHEMA = 1


def cpu_model() -> str | None:
    """The CPU's model name (Linux), e.g. ``AMD EPYC ...``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine(device: torch.device) -> dict:
    import numpy

    return {
        **machine_facts(device),
        "cpu_model": cpu_model(),
        "polarlab": polarlab.__version__,
        "numpy": numpy.__version__,
        "peers": {"gram-newton-schulz": polar.peer_version()},
    }


def run(cfg, device: torch.device, sections) -> dict:
    start = time.perf_counter()
    report = {
        "schema": SCHEMA,
        "mode": cfg.name,
        "machine": machine(device),
        "config": {
            "polar_n": cfg.polar_n,
            "aspects": list(cfg.aspects),
            "gram_shapes": [list(s) for s in cfg.gram_shapes],
            "aurora_shapes": [list(s) for s in cfg.aurora_shapes],
            "sets": {k: len(v) for k, v in cfg.sets.items()},
            "rounds": cfg.rounds,
        },
        "sections": {},
    }
    s = report["sections"]
    if "polar" in sections:
        s["polar"] = {
            "methods": polar.methods_record(cfg, device),
            "gram": polar.gram_record(cfg, device),
        }
    if "aurora" in sections:
        s["aurora"] = aurora.aurora_record(cfg, device)
    if "optimizers" in sections:
        s["optimizers"] = optimizers.optimizers_record(cfg, device)
    if "imports" in sections:
        s["imports"] = imports.imports_record(cfg.import_rounds)
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_at_end"] = list(os.getloadavg())
    report["seconds"] = time.perf_counter() - start
    report["targets"] = evaluate(report)
    return report


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: on shared cores, oversubscribed threads time noise)",
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections: {SECTIONS}"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)
    sections = [x for x in args.only.split(",") if x]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    report = run(cfg, device, sections)
    stem = f"suite_{device.type}" + ("_quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    drawn = plots(report, args.out, stem)
    report["plots"] = drawn
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report, drawn))
    for t in report["targets"]:
        print(f"{t['id']:22s} {t['detail']:28s} {t['measured']!s:>22s}  met={t['met']}")
    return report
