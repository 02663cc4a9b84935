"""The headline targets of issue 13, read from a suite report: each a claim, a limit, a verdict.

A target is met when the median ratio (or difference) is at or below its
limit; ``met`` is ``None`` when the run did not measure it (a skipped section
or a missing engine), never a guess.
"""

from __future__ import annotations

#: id -> (claim, limit, unit)
TARGETS = {
    "gram_aurora_aspect4": (
        "Gram-form Aurora direction (K=2) / one 5-step Polar Express orthogonalization, "
        "aspect 4, float32",
        1.0,
        "x",
    ),
    "gram_aurora_aspect8": (
        "Gram-form Aurora direction (K=2) / one 5-step Polar Express orthogonalization, "
        "aspect 8, float32",
        1.0,
        "x",
    ),
    "aurora_step_tall": ("Aurora step / Muon step, tall set", 1.1, "x"),
    "aurora_step_gpt": ("Aurora step / Muon step, GPT-like set", 1.1, "x"),
    "muon_vs_torch_muon": (
        "polarlab Muon step / torch.optim.Muon step, same settings (bfloat16), GPT-like set",
        1.0,
        "x",
    ),
    "muon_peak_memory": (
        "polarlab Muon / torch.optim.Muon peak extra memory of a step, GPT-like set",
        1.25,
        "x",
    ),
    "engine_floor": ("Newton-Schulz engine / its matmul floor, worst aspect", 1.15, "x"),
    "import_time": ("import polarlab on top of import torch", 100.0, "ms"),
}


def _entry(key: str, measured, spread=None, detail: str = "") -> dict:
    claim, limit, unit = TARGETS[key]
    return {
        "id": key,
        "claim": claim,
        "limit": limit,
        "unit": unit,
        "measured": measured,
        "spread": spread,
        "met": None if measured is None else measured <= limit,
        "detail": detail,
    }


def _iqr(r: dict) -> list[float]:
    return [r["q25"], r["q75"]]


def _with_flops(detail: str, rec: dict, key: str) -> str:
    """``detail`` with the step pair's product-flop ratio, where the record has one."""
    flops = rec.get("flop_ratios", {}).get(key)
    return detail if flops is None else f"{detail}; product flops {flops:.2f}x"


def evaluate(report: dict) -> list[dict]:
    """The headline targets of ``report`` (a suite run's JSON), one entry per target and dtype."""
    out = []
    sections = report["sections"]
    aurora = sections.get("aurora", {}).get("rows", [])
    for aspect in (4, 8):
        found = [
            r
            for r in aurora
            if r["engine"] == "gram" and r["iters"] == 2 and r["dtype"] == "float32"
            and round(r["aspect"]) == aspect and r["vs_muon"] is not None
        ]  # fmt: skip
        r = found[0]["vs_muon"] if found else None
        detail = f"{found[0]['m']}x{found[0]['n']}" if found else "not measured"
        out.append(
            _entry(
                f"gram_aurora_aspect{aspect}",
                r and r["median"],
                r and _iqr(r),
                detail,
            )
        )
    steps = sections.get("optimizers", [])
    for set_name in ("tall", "gpt"):
        for rec in (s for s in steps if s["set"] == set_name):
            r = rec["ratios"].get("aurora_vs_muon")
            detail = _with_flops(rec["dtype"], rec, "aurora_vs_muon")
            out.append(_entry(f"aurora_step_{set_name}", r and r["median"], r and _iqr(r), detail))
    for rec in (s for s in steps if s["set"] == "gpt" and s["dtype"] == "bfloat16"):
        r = rec["ratios"]["muon_vs_torch_muon"]
        detail = _with_flops(rec["dtype"], rec, "muon_vs_torch_muon")
        out.append(_entry("muon_vs_torch_muon", r["median"], _iqr(r), detail))
        if "peak_muon_vs_torch_muon" in rec:
            peak = rec["peak_step_mib"]
            detail = f"{peak['Muon (jordan)']:.1f} vs {peak['torch.optim.Muon']:.1f} MiB"
            out.append(_entry("muon_peak_memory", rec["peak_muon_vs_torch_muon"], None, detail))
    methods = sections.get("polar", {}).get("methods", [])
    for dtype in sorted({r["dtype"] for r in methods if r["vs_floor"]}):
        engine = [r for r in methods if r["method"] == "polar_express" and r["dtype"] == dtype]
        if engine:
            worst = max(engine, key=lambda r: r["vs_floor"]["median"])
            out.append(
                _entry(
                    "engine_floor",
                    worst["vs_floor"]["median"],
                    _iqr(worst["vs_floor"]),
                    f"{dtype}, {worst['m']}x{worst['n']}",
                )
            )
    imports = sections.get("imports")
    if imports:
        cpu = imports["added_cpu_ms"]["polarlab"]
        detail = (
            f"CPU time, side by side; wall {imports['added_ms']['polarlab']['median']:.0f} ms, "
            f"in process {imports['in_process_ms']['median']:.0f} ms"
        )
        out.append(_entry("import_time", cpu["median"], _iqr(cpu), detail))
    return out
