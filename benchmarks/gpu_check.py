"""GPU readiness check: the CUDA tests, then the GPU benchmark, in one call.

On a CUDA machine ``python benchmarks/gpu_check.py`` (or ``bash benchmarks/gpu_check.sh``,
which first checks that the project's own dependencies import) runs, in about 8 minutes:

1. **checks**: ``pytest -m cuda tests`` (every polar method, projection and optimizer on
   CUDA against the CPU float64 reference, no host synchronisation in ``step()``,
   ``torch.compile(fullgraph=True)`` of the engines, the Aurora projection and an
   optimizer step, a CUDA-graph capture of a step); pass, fail and skip counts and the
   failing test ids are recorded.
2. **engine**: the polynomial engine (``polar_express`` and Gram Newton-Schulz, 5 steps,
   through ``PolarSolver.apply``, the optimizers' hot path) against its bf16 GEMM floor
   (the same ``torch.bmm`` calls and nothing else; ``bench_polar.ns_floor`` and
   ``gns_floor``) at 4096x1024, 4096x4096 and 4096x14336, and Gram against standard
   Newton-Schulz with the same schedule (``gram_ns``). FLOP counts: Zhang, Amsel,
   Chen, Dao, "Gram Newton-Schulz" (2026).
3. **optimizers**: ``polarlab.optim.Muon`` (Keller Jordan's quintic, 5 steps: the
   maths of ``torch.optim.Muon``) against ``torch.optim.Muon``, and ``Aurora`` (its
   defaults) against that Muon: step time (median of interleaved steps) and peak
   memory above the live tensors (``torch.cuda.max_memory_allocated``), eager and
   ``torch.compile``d, on the matrices of a 12-layer d=768 GPT (per layer q, k, v, o:
   768x768; MLP up 3072x768, down 768x3072).

``--device cpu --quick`` runs the same code on small shapes (2 layers, d=64;
engine shapes divided by 16; compiled with the ``aot_eager`` backend) in well under a
minute: CI runs it so the script is known to be wired before a GPU is at hand.
Results: ``benchmarks/results/gpu_check_<device>[_quick].json`` and ``.md``. The exit
status is 0 when every check passed and every measurement ran.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import torch
from torch._dynamo.utils import counters

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling scripts, run as a script
from _common import (
    RESULTS,
    gram_vs_standard,
    machine_facts,
    peak_memory_since,
    reset_peak_memory,
    sync,
    write_results,
)
from bench_polar import flops, gns_floor, gns_gemms, median_times, ns_floor, ns_gemms

from polarlab.optim import Aurora, Muon
from polarlab.polar import resolve

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = 1
STEPS = 5
RESTARTS = (2,)
ENGINE_SHAPES = {
    False: [(4096, 1024), (4096, 4096), (4096, 14336)],
    True: [(256, 64), (256, 256), (256, 896)],
}
GPT = {False: (12, 768), True: (2, 64)}  # (layers, d)
LR = 0.02
# Seconds for the whole run (GPU: 7.5 minutes, under 8 with one compile past the deadline); the
# tests may take at most CHECKS_SHARE of it, and measurements past the deadline are skipped.
TOTAL_S = {False: 450, True: 150}
CHECKS_SHARE = 0.65


def gpt_shapes(layers: int, d: int) -> list[tuple[int, int]]:
    """The hidden matrices of a GPT block stack, (fan_out, fan_in) as PyTorch stores them."""
    block = [(d, d)] * 4 + [(4 * d, d), (d, 4 * d)]  # q, k, v, o; MLP up, down
    return block * layers


#: name -> optimizer factory; polarlab's Muon runs torch's maths (jordan quintic, 5 steps,
#: X / (||X||_F + 1e-7), EMA Nesterov momentum 0.95, lr * sqrt(max(1, m/n))).
OPTIMIZERS = {
    "torch.optim.Muon": lambda ps: torch.optim.Muon(ps, lr=LR, weight_decay=0.0),
    "polarlab.Muon": lambda ps: Muon(ps, lr=LR, schedule="jordan", steps=STEPS),
    "polarlab.Aurora": lambda ps: Aurora(ps, lr=LR),
}
RATIOS = {  # ratio name -> (numerator, denominator)
    "muon_vs_torch_muon": ("polarlab.Muon", "torch.optim.Muon"),
    "aurora_vs_muon": ("polarlab.Aurora", "polarlab.Muon"),
}


class Budget:
    """Wall-clock budget: past the deadline, remaining measurements are skipped."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.perf_counter() + seconds

    def left(self) -> bool:
        return time.perf_counter() < self.deadline


# --- 1. checks ------------------------------------------------------------------------------


def run_checks(timeout_s: float) -> dict:
    """``pytest -m cuda tests`` in a subprocess; counts and failing ids from its JUnit XML.

    Past ``timeout_s`` the run is stopped and the verdicts printed so far (``-v``: one
    line per test) are counted instead, so a slow compile does not lose every result.
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-v", "-m", "cuda", "-p", "no:cacheprovider"]
        try:
            proc = subprocess.run(
                [*cmd, f"--junitxml={junit}", "tests"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            return _partial_record(out, timeout_s, time.perf_counter() - start)
        suite = ET.parse(junit).getroot() if junit.exists() else None
        tail = [line.strip("= ") for line in proc.stdout.strip().splitlines()[-1:]]
        return _checks_record(suite, proc.returncode, time.perf_counter() - start, *tail)


_VERDICT = re.compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)", re.MULTILINE)


def _partial_record(stdout: str, timeout_s: float, seconds: float) -> dict:
    """Counts from the ``-v`` lines of a run stopped at its timeout (``ok`` is false)."""
    verdicts = [m.groups() for m in _VERDICT.finditer(stdout)]
    words = [word for _, word in verdicts]
    failed = [test for test, word in verdicts if word in ("FAILED", "ERROR")]
    return {
        "command": "python -m pytest -m cuda tests",
        "exit_code": -1,
        "collected": len(words),
        "passed": words.count("PASSED"),
        "failed": len(failed),
        "skipped": words.count("SKIPPED"),
        "failures": failed,
        "seconds": seconds,
        "summary": f"stopped at the {timeout_s:.0f} s timeout after {len(words)} tests",
        "ok": False,
    }


def _checks_record(suite, code: int, seconds: float, summary: str = "") -> dict:
    if suite is not None and suite.tag == "testsuites":
        suite = suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) if suite is not None else 0 for k in
              ("tests", "failures", "errors", "skipped")}  # fmt: skip
    failed = []
    for case in suite.iter("testcase") if suite is not None else ():
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            message = (bad.get("message") or "").splitlines()[:1]
            failed.append(f"{case.get('classname')}::{case.get('name')}: {''.join(message)}")
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {
        "command": "python -m pytest -m cuda tests",
        "exit_code": code,
        "collected": counts["tests"],
        "passed": passed,
        "failed": counts["failures"] + counts["errors"],
        "skipped": counts["skipped"],
        "failures": failed,
        "seconds": seconds,
        "summary": summary,
        # exit 0 with every test skipped is a pass on a machine without CUDA
        "ok": code == 0 and counts["tests"] > 0,
    }


# --- 2. engine ------------------------------------------------------------------------------


def _engine_entry(fn, gemms, floor, batch, device, repeats) -> dict:
    seconds, floor_seconds = median_times([fn, floor], device, repeats)
    gflop = flops(gemms, batch) / 1e9
    return {
        "seconds": seconds,
        "floor_seconds": floor_seconds,
        "ratio_to_floor": seconds / floor_seconds,
        "gemms": len(gemms),
        "gflop": gflop,
        "tflop_per_s": gflop / seconds / 1e3,
    }


def engine_record(shape, dtype, device, repeats: int) -> dict:
    """Engine against its GEMM floor, and Gram against standard NS, for one ``rows x cols``."""
    rows, cols = shape
    m, n = max(rows, cols), min(rows, cols)
    gen = torch.Generator().manual_seed(1)
    G = torch.randn(rows, cols, generator=gen).to(device=device, dtype=dtype)
    G3 = G[None]
    X0 = (G3.mT if rows < cols else G3) / torch.linalg.matrix_norm(G3, keepdim=True)
    ns = ns_gemms(m, n, STEPS)
    square = m == n  # Gram NS falls back to the standard engine
    gns = ns if square else gns_gemms(m, n, STEPS, RESTARTS)
    solvers = {  # resolved once; .apply is the unvalidated hot path the optimizers call
        "polar_express": resolve("polar_express", steps=STEPS, dtype=dtype),
        "newton_schulz[gram_ns]": resolve(
            "newton_schulz", schedule="gram_ns", steps=STEPS, dtype=dtype
        ),
        "gram_newton_schulz": resolve(
            "gram_newton_schulz", schedule="gram_ns", steps=STEPS, restarts=RESTARTS, dtype=dtype
        ),
    }
    pe, ns_g, gram = (s.apply for s in solvers.values())
    record = {"shape": [rows, cols], "m": m, "n": n, "dtype": str(dtype).removeprefix("torch.")}
    record["polar_express"] = _engine_entry(
        lambda: pe(G), ns, ns_floor(X0, STEPS), 1, device, repeats
    )
    gram_floor = ns_floor(X0, STEPS) if square else gns_floor(X0, STEPS, RESTARTS)
    record["gram_newton_schulz"] = _engine_entry(
        lambda: gram(G), gns, gram_floor, 1, device, repeats
    )
    standard, gram_t = median_times([lambda: ns_g(G), lambda: gram(G)], device, repeats)
    flop_ratio = flops(ns, 1) / flops(gns, 1)
    record["gram_vs_standard"] = gram_vs_standard(standard, gram_t, flop_ratio, m, n)
    return record


# --- 3. optimizers --------------------------------------------------------------------------


def _state_bytes(opt: torch.optim.Optimizer) -> int:
    return sum(
        v.numel() * v.element_size()
        for s in opt.state.values()
        for v in s.values()
        if isinstance(v, torch.Tensor)
    )


def _make_params(shapes, device, seed=0) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    for i, (m, n) in enumerate(shapes):
        p = torch.nn.Parameter((torch.randn(m, n, generator=gen) / math.sqrt(n)).to(device))
        g = torch.Generator().manual_seed(10_000 + i)
        p.grad = (torch.randn(m, n, generator=g) * (torch.rand(m, 1, generator=g) + 0.1)).to(device)
        params.append(p)
    return params


def optimizer_records(
    shapes, device, repeats: int, backend: str, budget: Budget
) -> tuple[list[dict], dict]:
    """Step time and memory of each optimizer, eager and compiled, timed interleaved."""
    runs: dict[tuple[str, str], dict] = {}
    for mode in ("eager", "compiled"):  # eager first: a tight budget skips compiles first
        for name, factory in OPTIMIZERS.items():
            params = _make_params(shapes, device)
            opt = factory(params)
            step = opt.step if mode == "eager" else torch.compile(opt.step, backend=backend)
            runs[name, mode] = {"params": params, "opt": opt, "step": step}
    # the first eager updates of the two Muons: same weights and gradients, fresh state
    before = {
        (name, "eager"): [p.detach().clone() for p in runs[name, "eager"]["params"]]
        for name in ("torch.optim.Muon", "polarlab.Muon")
    }
    deltas: dict[str, list[torch.Tensor]] = {}
    records = []
    for (name, mode), run in runs.items():
        rec = {"optimizer": name, "mode": mode, "backend": backend if mode == "compiled" else None}
        if not budget.left():
            records.append({**rec, "skipped": "time budget"})
            continue
        start = time.perf_counter()
        try:
            for i in range(3):  # the first step creates state, the second traces the steady path
                run["step"]()
                if i == 0 and (name, mode) in before:
                    deltas[name] = [
                        p.detach() - p0 for p, p0 in zip(run["params"], before[name, mode])
                    ]
            sync(device)
            rec["warmup_seconds"] = time.perf_counter() - start
            baseline = reset_peak_memory(device)
            run["step"]()
            rec["peak_bytes_above_live"] = peak_memory_since(device, baseline)
        except Exception as exc:  # a failure is a finding: record it, go on
            rec["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            run["failed"] = True
        rec["state_bytes"] = _state_bytes(run["opt"])
        rec["param_bytes"] = sum(p.numel() * p.element_size() for p in run["params"])
        records.append(rec)
    ready = [(key, run) for key, run in runs.items() if not run.get("failed")]
    graphs = counters["stats"]["unique_graphs"]
    if budget.left() and ready:
        times = median_times([run["step"] for _, run in ready], device, repeats)
        by_key = dict(zip([key for key, _ in ready], times))
        for rec in records:
            if (rec["optimizer"], rec["mode"]) in by_key:
                rec["step_seconds"] = by_key[rec["optimizer"], rec["mode"]]
    extra = {
        "ratios": _ratios(records),
        # a compiled step that recompiles while timed would show here (expected: 0)
        "graphs_compiled_while_timing": counters["stats"]["unique_graphs"] - graphs,
        "muon_first_update_relative_difference": None,
    }
    if len(deltas) == 2:  # ||dW_polarlab - dW_torch||_F / ||dW_torch||_F over all matrices
        ours, theirs = deltas["polarlab.Muon"], deltas["torch.optim.Muon"]
        num = sum(float((a - b).square().sum()) for a, b in zip(ours, theirs))
        den = sum(float(b.square().sum()) for b in theirs)
        extra["muon_first_update_relative_difference"] = math.sqrt(num / den)
    return records, extra


def _ratios(records: list[dict]) -> dict:
    index = {(r["optimizer"], r["mode"]): r for r in records}
    out = {}
    for ratio, (num, den) in RATIOS.items():
        for mode in ("eager", "compiled"):
            a, b = index[num, mode], index[den, mode]
            ok = "step_seconds" in a and "step_seconds" in b
            pa, pb = a.get("peak_bytes_above_live"), b.get("peak_bytes_above_live")
            out[f"{ratio}/{mode}"] = {
                "time": a["step_seconds"] / b["step_seconds"] if ok else None,
                "peak_memory": pa / pb if pa is not None and pb else None,
            }
    for name in OPTIMIZERS:
        a, b = index[name, "compiled"], index[name, "eager"]
        ok = "step_seconds" in a and "step_seconds" in b
        out[f"compiled_vs_eager/{name}"] = {
            "time": a["step_seconds"] / b["step_seconds"] if ok else None
        }
    return out


# --- report ---------------------------------------------------------------------------------


def _ms(x) -> str:
    return "-" if x is None else f"{1e3 * x:.3f}"


def _mib(x) -> str:
    return "-" if x is None else f"{x / 2**20:.1f}"


def _x(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(report: dict) -> str:
    """The report as Markdown: machine, checks, engine table, optimizer table, ratios."""
    mc, ck = report["machine"], report["checks"]
    lines = [
        f"# GPU check: {mc['gpu'] or mc['processor']} ({report['device']}"
        f"{', quick' if report['quick'] else ''})",
        "",
        f"torch {mc['torch']}, CUDA {mc['cuda']}, driver {mc['driver']}, "
        f"{mc['cpu_count']} CPU cores, {mc['threads']} torch thread(s); "
        f"{report['seconds']:.0f} s in all. Times are medians of interleaved repeats; "
        "compare entries of this run only.",
        "",
        "## Checks (`pytest -m cuda tests`)",
        "",
    ]
    if ck.get("skipped_phase"):
        lines.append(f"Not run: {ck['skipped_phase']}.")
    else:
        lines.append(
            f"{ck['collected']} collected: {ck['passed']} passed, {ck['failed']} failed, "
            f"{ck['skipped']} skipped ({ck['seconds']:.0f} s, exit code {ck['exit_code']})."
        )
        lines += [f"- FAILED {f}" for f in ck["failures"]]
    lines += [
        "",
        f"## Engine against its GEMM floor ({STEPS} steps, {report['engine_dtype']})",
        "",
        "| shape | method | ms | floor ms | ratio to floor | TFLOP/s |",
        "|---|---|---|---|---|---|",
    ]
    for rec in report["engine"]:
        shape = "x".join(map(str, rec["shape"]))
        if "skipped" in rec or "error" in rec:
            lines.append(f"| {shape} | {rec.get('skipped') or rec.get('error')} | | | | |")
            continue
        for name in ("polar_express", "gram_newton_schulz"):
            e = rec[name]
            lines.append(
                f"| {shape} | {name} | {_ms(e['seconds'])} | {_ms(e['floor_seconds'])} | "
                f"{_x(e['ratio_to_floor'])} | {e['tflop_per_s']:.3g} |"
            )
    lines += [
        "",
        "Gram against standard Newton-Schulz, same schedule (`gram_ns`):",
        "",
        "| shape | standard ms | Gram ms | speedup | FLOP speedup | target |",
        "|---|---|---|---|---|---|",
    ]
    for rec in report["engine"]:
        if "gram_vs_standard" in rec:
            g = rec["gram_vs_standard"]
            lines.append(
                f"| {'x'.join(map(str, rec['shape']))} | {_ms(g['standard_seconds'])} | "
                f"{_ms(g['gram_seconds'])} | {_x(g['measured_speedup'])} | "
                f"{_x(g['flop_speedup'])} | {_x(g['target_speedup'])} |"
            )
    opt = report["optimizers"]
    lines += [
        "",
        f"## Optimizer step: {opt['layers']}-layer d={opt['d']} GPT matrices "
        f"({len(opt['shapes'])} matrices, {opt['parameters'] / 1e6:.1f} M parameters)",
        "",
        "| optimizer | mode | step ms | warm-up s | peak MiB above live | state MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in opt["results"]:
        note = r.get("error") or r.get("skipped")
        lines.append(
            f"| {r['optimizer']} | {r['mode']}{f' ({note})' if note else ''} | "
            f"{_ms(r.get('step_seconds'))} | {_x(r.get('warmup_seconds'))} | "
            f"{_mib(r.get('peak_bytes_above_live'))} | {_mib(r.get('state_bytes'))} |"
        )
    lines += ["", "| ratio | time | peak memory |", "|---|---|---|"]
    for key, v in opt["ratios"].items():
        lines.append(f"| {key} | {_x(v['time'])} | {_x(v.get('peak_memory'))} |")
    diff = opt["muon_first_update_relative_difference"]
    lines += [
        "",
        "First update of polarlab.Muon against torch.optim.Muon (same weights and "
        f"gradients): relative Frobenius difference {'-' if diff is None else f'{diff:.2e}'}. "
        f"Graphs compiled while timing (recompiles): {opt['graphs_compiled_while_timing']}.",
    ]
    return "\n".join(lines) + "\n"


def ok(report: dict) -> bool:
    """Every check passed (or was asked to be skipped) and every measurement ran."""
    checks = report["checks"]
    checks_ok = bool(checks.get("skipped_phase")) or checks["ok"]
    entries = [*report["engine"], *report["optimizers"]["results"]]
    return checks_ok and not any("error" in e or "skipped" in e for e in entries)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cuda (default when present) or cpu")
    parser.add_argument("--quick", action="store_true", help="small shapes: the CI wiring run")
    parser.add_argument("--skip-checks", action="store_true", help="benchmark only")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per entry")
    parser.add_argument(
        "--compile-backend",
        default=None,
        help="torch.compile backend (default: inductor on CUDA, aot_eager on CPU)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)
    if args.device is None and not torch.cuda.is_available():
        parser.error("no CUDA device here; run with --device cpu --quick for the wiring check")
    device = torch.device(args.device or "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    if device.type == "cpu":
        torch.set_num_threads(1)  # reproducible ratios on shared cores (see bench_polar)
    backend = args.compile_backend or ("inductor" if device.type == "cuda" else "aot_eager")
    repeats = args.repeats or (5 if args.quick else 10)
    start = time.perf_counter()
    report = {
        "schema": SCHEMA,
        "device": device.type,
        "quick": args.quick,
        "engine_dtype": "bfloat16",
        "machine": machine_facts(device),
    }
    print(f"gpu_check: {report['machine']['gpu'] or report['machine']['processor']}", flush=True)
    if args.skip_checks:
        report["checks"] = {"skipped_phase": "--skip-checks"}
    else:
        report["checks"] = run_checks(CHECKS_SHARE * TOTAL_S[args.quick])
        print(f"checks: {report['checks']['summary']}", flush=True)
    budget = Budget(TOTAL_S[args.quick] - (time.perf_counter() - start))
    report["engine"] = []
    for shape in ENGINE_SHAPES[args.quick]:
        if not budget.left():
            report["engine"].append({"shape": list(shape), "skipped": "time budget"})
            continue
        try:
            rec = engine_record(shape, torch.bfloat16, device, repeats)
        except Exception as exc:  # a failure is a finding: record it, go on
            rec = {"shape": list(shape), "error": f"{type(exc).__name__}: {exc}"[:300]}
        report["engine"].append(rec)
        print(f"engine {shape}: done", flush=True)
    layers, d = GPT[args.quick]
    shapes = gpt_shapes(layers, d)
    results, extra = optimizer_records(shapes, device, repeats, backend, budget)
    report["optimizers"] = {
        "layers": layers,
        "d": d,
        "shapes": [list(s) for s in shapes],
        "parameters": sum(m * n for m, n in shapes),
        "results": results,
        **extra,
    }
    report["seconds"] = time.perf_counter() - start
    report["ok"] = ok(report)
    stem = f"gpu_check_{device.type}" + ("_quick" if args.quick else "")
    text = markdown(report)
    write_results(args.out, stem, report, text)
    print(text)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
