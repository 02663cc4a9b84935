"""The suite's command line: run the sections, write JSON, Markdown and plots."""

from __future__ import annotations

import argparse
import datetime
import json
import os
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
SECTIONS = ("polar", "torch_ns", "aurora", "optimizers", "imports")
SCHEMA = 1


def machine(device: torch.device) -> dict:
    import numpy

    return {
        **machine_facts(device),
        "polarlab": polarlab.__version__,
        "numpy": numpy.__version__,
        "peers": {"gram-newton-schulz": polar.peer_version()},
    }


def run(cfg, device: torch.device, sections) -> dict:
    start = time.perf_counter()
    report = {
        "schema": SCHEMA,
        "mode": cfg.name,
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(device),
        "config": {
            "polar_n": cfg.polar_n,
            "aspects": list(cfg.aspects),
            "gram_shapes": [list(s) for s in cfg.gram_shapes],
            "aurora_shapes": [list(s) for s in cfg.aurora_shapes],
            "torch_ns_shapes": [list(s) for s in cfg.torch_ns_shapes],
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
    if "torch_ns" in sections:
        s["torch_ns"] = polar.torch_ns_record(cfg, device)
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


def write(report: dict, out: Path, stem: str) -> None:
    """``<stem>.json``, ``<stem>.md`` and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = plots(report, out, stem)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(report, report["plots"]))


def merge(old: dict, new: dict) -> dict:
    """``old`` with ``new``'s sections replacing its own; each rerun is listed in ``updates``."""
    merged = {**old, "sections": {**old["sections"], **new["sections"]}}
    merged["updates"] = [
        *old.get("updates", []),
        {
            "sections": list(new["sections"]),
            "when": new["when"],
            "seconds": new["seconds"],
            "machine": new["machine"],
        },
    ]
    merged["targets"] = evaluate(merged)
    return merged


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
    parser.add_argument(
        "--update",
        action="store_true",
        help="rerun only the --only sections and merge them into the existing results "
        "(the other sections are kept; the file records which sections ran when)",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: write the Markdown and plots again from the existing JSON",
    )
    args = parser.parse_args(argv)
    stem = f"suite_{args.device.split(':')[0]}" + ("_quick" if args.quick else "")
    if args.render:
        report = json.loads((args.out / f"{stem}.json").read_text())
        report["targets"] = evaluate(report)
        write(report, args.out, stem)
        return report
    sections = [x for x in args.only.split(",") if x]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    report = run(cfg, device, sections)
    if args.update:
        report = merge(json.loads((args.out / f"{stem}.json").read_text()), report)
    write(report, args.out, stem)
    for t in report["targets"]:
        print(f"{t['id']:22s} {t['detail']:28s} {t['measured']!s:>22s}  met={t['met']}")
    return report
