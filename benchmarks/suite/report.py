"""A suite report as Markdown tables and plots (drawn from the recorded numbers only)."""

from __future__ import annotations

from pathlib import Path


def _x(r) -> str:
    """A ratio as ``median [q25-q75]``."""
    if r is None:
        return "skipped"
    return f"{r['median']:.2f} [{r['q25']:.2f}, {r['q75']:.2f}]"


def _met(entry: dict) -> str:
    return {True: "yes", False: "**no**", None: "not measured"}[entry["met"]]


def _heading(title: str, *paragraphs: str) -> list[str]:
    """A Markdown heading and paragraphs, each followed by a blank line."""
    return [line for text in (title, *paragraphs) for line in (text, "")]


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _limit(t: dict) -> str:
    return f"<= {t['limit']:.2f}x" if t["unit"] == "x" else f"<= {t['limit']:g} {t['unit']}"


def targets_table(targets: list[dict]) -> list[str]:
    rows = []
    for t in targets:
        value = "-" if t["measured"] is None else f"{t['measured']:.2f}{t['unit']}"
        spread = "" if not t["spread"] else f" [{t['spread'][0]:.2f}, {t['spread'][1]:.2f}]"
        rows.append([t["claim"], t["detail"], _limit(t), value + spread, _met(t)])
    return _table(["target", "where", "limit", "measured (median [IQR])", "met"], rows)


def markdown(report: dict, plots: dict[str, str]) -> str:
    m = report["machine"]
    s = report["sections"]
    lines = [
        f"# polarlab benchmark suite: {m['device']}, {report['mode']} run",
        "",
        f"{m.get('cpu_model') or m['processor']}, {m['cpu_count']} cores, "
        f"{m['threads']} thread(s); torch {m['torch']}, polarlab {m['polarlab']}, "
        f"Python {m['python']}; load average {m['load_average']} at start, "
        f"{m.get('load_average_at_end')} at end; {report['seconds']:.0f} s, "
        f"{report.get('when', 'date not recorded')}.",
        "",
        *[
            f"Rerun later ({u['when']}, load average {u['machine']['load_average']}): "
            f"{', '.join(u['sections'])}."
            for u in report.get("updates", [])
        ],
        "",
        "Ratios are medians of per-round ratios over interleaved rounds, with the "
        "interquartile range in brackets (`[q25, q75]`); read ratios, not absolute times, "
        "and compare entries of one run only.",
        "",
        "## Headline targets",
        "",
        *targets_table(report["targets"]),
    ]
    if "polar" in s:
        lines += ["## Polar methods against their matmul floor and torch.linalg.svd", ""]
        rows = [
            [r["method"], r["dtype"], r["aspect"], f"{r['m']}x{r['n']}",
             f"{r['vs_svd']['num_ms']:.1f}", _x(r["vs_floor"]), _x(r.get("call_vs_floor")),
             _x(r["vs_svd"])]
            for r in s["polar"]["methods"]
        ]  # fmt: skip
        lines += [
            "`engine / floor`: `PolarSolver.apply` on the work tensor against the same "
            "products alone; `call / floor`: the public call (input check, result cast "
            "back to the input's dtype); `/ torch.linalg.svd`: the public call.",
            "",
        ]
        lines += _table(
            ["method", "dtype", "aspect", "shape", "ms", "engine / floor", "call / floor",
             "/ torch.linalg.svd"],
            rows,
        )  # fmt: skip
        if "polar" in plots:
            lines += [f"![polar methods]({plots['polar']})", ""]
        staged = [r for r in s["polar"]["methods"] if r.get("stages_vs_floor")]
        if staged:
            lines += _heading(
                "### Where the Newton-Schulz engine's time goes",
                "Each stage against the same matmul floor, timed in the same rounds: "
                "`arithmetic`, the engine's own steps from the floor's normalised start "
                "(`baddbmm` for `b A + c A^2`, `a I` added on the diagonal); `normalised`, "
                "the scale-safe normalisation of `G` and those steps; `engine`, "
                "`PolarSolver.apply` (the same and its dispatch); `call`, the public call.",
            )
            rows = [
                [r["dtype"], r["aspect"], f"{r['m']}x{r['n']}",
                 _x(r["stages_vs_floor"].get("arithmetic")),
                 _x(r["stages_vs_floor"].get("normalised")), _x(r["vs_floor"]),
                 _x(r["call_vs_floor"])]
                for r in staged
            ]  # fmt: skip
            lines += _table(
                ["dtype", "aspect", "shape", "arithmetic", "normalised", "engine", "call"], rows
            )
        g = s["polar"]["gram"]
        lines += _heading(
            "### Standard against Gram Newton-Schulz against the gram-newton-schulz package",
            g["note"],
        )
        rows = [
            [r["dtype"], f"{r['m']}x{r['n']}", f"{r['aspect']:.0f}", _x(r["gram_vs_standard"]),
             f"{r['flop_ratio_gram_vs_standard']:.2f}", _x(r["package_gram_vs_gram"]),
             _x(r["package_standard_vs_standard"])]
            for r in g["rows"]
        ]  # fmt: skip
        lines += _table(
            ["dtype", "shape", "aspect", "Gram / standard", "FLOP ratio",
             "package Gram / Gram", "package standard / standard"],
            rows,
        )  # fmt: skip
    if "torch_ns" in s:
        t = s["torch_ns"]
        title = "## polarlab's Newton-Schulz engine against torch.optim.Muon's"
        lines += _heading(title, t["note"])
        rows = [[f"{r['m']}x{r['n']}", _x(r["polarlab_vs_torch"])] for r in t["rows"]]
        lines += _table(["shape", "polarlab / torch"], rows)
    if "aurora" in s:
        a = s["aurora"]
        lines += _heading("## Aurora's direction against one Muon orthogonalization", a["note"])
        rows = [
            [r["dtype"], f"{r['m']}x{r['n']}", f"{r['aspect']:.0f}", r["engine"], r["iters"],
             _x(r["vs_muon"])]
            for r in a["rows"]
        ]  # fmt: skip
        lines += _table(["dtype", "shape", "aspect", "engine", "K", "/ one 5-step PE"], rows)
    if "optimizers" in s:
        lines += [
            "## Optimizer steps",
            "",
            "Settings: see `benchmarks/suite/optimizers.py`. `torch.optim.Muon` iterates in "
            "bfloat16 whatever the group's dtype, so in the float32 groups "
            "`muon_vs_torch_muon` compares polarlab in float32 with torch in bfloat16 (not the "
            "same settings). Peak extra memory: the most bytes a step allocates above what "
            "was allocated before it (weights, gradients and state excluded), from the CPU "
            "allocator's events. Product flops: the ratio of the two steps' matrix-product "
            "flops (`torch.utils.flop_counter`, one step each; Cholesky and other "
            "factorizations not counted), the time ratio if every product ran at one rate.",
            "",
        ]
        for rec in s["optimizers"]:
            lines += [
                f"### {rec['set']} set ({rec['matrices']} matrices, "
                f"{rec['parameters']:,} parameters), iterations in {rec['dtype']}",
                "",
            ]
            flop_ratios = rec.get("flop_ratios", {})
            lines += _table(
                ["ratio", "time: median [IQR]", "product flops"],
                [
                    [k, _x(v), f"{flop_ratios[k]:.2f}" if k in flop_ratios else "-"]
                    for k, v in rec["ratios"].items()
                ],
            )
            peak = rec.get("peak_step_mib", {})
            gflop = rec.get("step_gflop", {})
            rows = [
                [k, f"{ms:.1f}", f"{gflop[k]:.1f}" if k in gflop else "-",
                 f"{rec['state_bytes_per_param_byte'][k]:.2f}",
                 f"{peak[k]:.2f}" if k in peak else "-"]
                for k, ms in rec["step_ms"].items()
            ]  # fmt: skip
            lines += _table(
                ["optimizer", "step ms", "GFLOP / step", "state bytes / param byte",
                 "peak extra MiB"],
                rows,
            )  # fmt: skip
        if "steps" in plots:
            lines += [f"![optimizer step ratios]({plots['steps']})", ""]
    if "imports" in s:
        i = s["imports"]

        def ms(v):
            return f"{v['median']:.0f} [{v['q25']:.0f}, {v['q75']:.0f}]"

        lines += [
            "## Import time",
            "",
            f"`import torch` alone: {ms(i['import_torch_ms'])} ms (wall, {i['rounds']} "
            "fresh interpreters, warm bytecode cache). What polarlab adds, in ms "
            "(median [IQR]):",
            "",
        ]
        rows = [
            [f"`import {k}`, side by side (paired rounds)", ms(i["added_cpu_ms"][k]),
             ms(i["added_ms"][k])]
            for k in i["added_ms"]
        ]  # fmt: skip
        rows += [
            ["`import polarlab` after `import torch`, in process", "", ms(i["in_process_ms"])],
            ["`polarlab`, cumulative in `-X importtime`", "", ms(i["importtime_ms"])],
        ]
        lines += _table(["measure", "CPU time", "wall time"], rows)
        heavy = ", ".join(i["heavy_modules_imported"]) or "none"
        lines += [f"Heavy optional modules imported by `import polarlab`: {heavy}.", ""]
    return "\n".join(lines)


def plots(report: dict, out: Path, stem: str) -> dict[str, str]:
    """Draw the plots next to the report; returns ``{name: file name}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {}
    s = report["sections"]
    if "polar" in s:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        rows = s["polar"]["methods"]
        for method in sorted({r["method"] for r in rows}):
            for dtype in sorted({r["dtype"] for r in rows if r["method"] == method}):
                pts = [r for r in rows if r["method"] == method and r["dtype"] == dtype]
                asp = [r["aspect"] for r in pts]
                if pts[0]["vs_floor"]:
                    ax1.plot(asp, [r["vs_floor"]["median"] for r in pts], "o-",
                             label=f"{method} {dtype}")  # fmt: skip
                ax2.plot(asp, [r["vs_svd"]["median"] for r in pts], "o-", label=f"{method} {dtype}")
        ax1.axhline(1.15, color="grey", ls="--", lw=1, label="target 1.15")
        for ax, title in ((ax1, "time / matmul floor"), (ax2, "time / torch.linalg.svd")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("aspect ratio m/n")
            ax.set_title(title)
            ax.legend(fontsize=7)
        ax2.set_yscale("log")
        fig.tight_layout()
        drawn["polar"] = f"{stem}_polar.png"
        fig.savefig(out / drawn["polar"], dpi=110)
        plt.close(fig)
    if s.get("optimizers"):
        recs = s["optimizers"]
        keys = sorted({k for r in recs for k in r["ratios"]})
        fig, ax = plt.subplots(figsize=(10, 4))
        width = 0.8 / max(1, len(recs))
        for j, rec in enumerate(recs):
            xs = [i + j * width for i in range(len(keys))]
            med = [rec["ratios"][k]["median"] if k in rec["ratios"] else 0 for k in keys]
            err = [
                [
                    m - rec["ratios"][k]["q25"] if k in rec["ratios"] else 0
                    for k, m in zip(keys, med)
                ],
                [
                    rec["ratios"][k]["q75"] - m if k in rec["ratios"] else 0
                    for k, m in zip(keys, med)
                ],
            ]
            ax.bar(xs, med, width, yerr=err, label=f"{rec['set']} {rec['dtype']}")
        ax.axhline(1.0, color="grey", lw=1)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], keys, fontsize=8)
        ax.set_ylabel("step time ratio")
        ax.legend(fontsize=8)
        fig.tight_layout()
        drawn["steps"] = f"{stem}_steps.png"
        fig.savefig(out / drawn["steps"], dpi=110)
        plt.close(fig)
    return drawn
