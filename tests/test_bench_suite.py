"""The benchmark suite's output: schema of its JSON, its Markdown and plots (quick mode).

Nothing here is timed: the quick run measures tiny shapes, and only the shape of what
it writes is checked (every section present, every ratio a median inside its
quartiles, the machine and versions recorded, no file paths), so that the committed
results and the README table keep a stable format.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.suite.optimizers import RATIOS

ROOT = Path(__file__).resolve().parents[1]
RATIO_KEYS = {"median", "q25", "q75", "min", "max", "n", "num", "den", "num_ms", "den_ms"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.suite", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((out / "suite_cpu_quick.json").read_text())
    return out, report, (out / "suite_cpu_quick.md").read_text()


def _check_ratio(r):
    assert set(r) == RATIO_KEYS
    assert r["min"] <= r["q25"] <= r["median"] <= r["q75"] <= r["max"]
    assert r["median"] > 0 and r["n"] >= 1


def test_machine_versions_and_load_are_recorded(quick):
    _, report, _ = quick
    assert report["schema"] == 1 and report["mode"] == "quick"
    m = report["machine"]
    for key in ("torch", "polarlab", "numpy", "python", "cpu_count", "threads", "device"):
        assert m[key], key
    assert len(m["load_average"]) == 3 and len(m["load_average_at_end"]) == 3
    assert "gram-newton-schulz" in m["peers"]
    assert report["seconds"] > 0


def test_polar_section(quick):
    _, report, _ = quick
    polar = report["sections"]["polar"]
    methods = {(r["method"], r["dtype"], r["aspect"]) for r in polar["methods"]}
    for aspect in report["config"]["aspects"]:
        for method in ("polar_express", "gram_newton_schulz"):
            assert (method, "float32", aspect) in methods
        for method in ("svd", "qdwh", "newton"):
            assert (method, "float64", aspect) in methods
    for r in polar["methods"]:
        _check_ratio(r["vs_svd"])
        assert r["vs_svd"]["den"] == "torch.linalg.svd"
        if r["dtype"] == "float64":
            assert r["vs_floor"] is None  # a factorization has no matmul floor
            assert r["call_vs_floor"] is None
        else:
            _check_ratio(r["vs_floor"])
            _check_ratio(r["call_vs_floor"])
            assert r["vs_floor"]["num"].endswith(" engine")  # the engine, not the public call
            assert r["gemms"] > 0 and r["gflop_per_s"] > 0
        # the engine's stages are timed apart for polar_express only, each against its floor
        stages = r.get("stages_vs_floor") or {}
        assert set(stages) == (
            {"arithmetic", "normalised"} if r["method"] == "polar_express" else set()
        )
        for stage in stages.values():
            _check_ratio(stage)
            assert stage["den"] == "polar_express floor"
    gram = polar["gram"]
    assert gram["peer"]["package"] == "gram-newton-schulz"
    for r in gram["rows"]:
        _check_ratio(r["gram_vs_standard"])
        assert 0 < r["flop_ratio_gram_vs_standard"] <= 1
        if gram["peer"]["version"] is None:
            assert r["package_gram_vs_gram"] is None
        elif r["dtype"] == "float32":
            _check_ratio(r["package_gram_vs_gram"])


def test_torch_ns_section(quick):
    _, report, _ = quick
    rows = report["sections"]["torch_ns"]["rows"]
    assert [(r["m"], r["n"]) for r in rows] == [
        tuple(s) for s in report["config"]["torch_ns_shapes"]
    ]
    for r in rows:
        _check_ratio(r["polarlab_vs_torch"])


def test_aurora_section(quick):
    _, report, _ = quick
    aurora = report["sections"]["aurora"]
    assert "plain" in aurora["engines"]
    keys = {(r["dtype"], r["m"], r["engine"], r["iters"]) for r in aurora["rows"]}
    for dtype in ("float32", "bfloat16"):
        for m, _ in report["config"]["aurora_shapes"]:
            for engine in ("plain", "gram"):
                for k in (1, 2, 3):
                    assert (dtype, m, engine, k) in keys
    for r in aurora["rows"]:
        if r["engine"] in aurora["engines"]:
            _check_ratio(r["vs_muon"])
        else:
            assert r["vs_muon"] is None  # skipped, and the note says why
            assert "skipped" in aurora["note"]


def test_optimizer_section(quick):
    _, report, _ = quick
    records = {(r["set"], r["dtype"]): r for r in report["sections"]["optimizers"]}
    assert set(records) == {
        ("gpt", "bfloat16"), ("tall", "bfloat16"), ("tall", "float32"), ("gpt", "float32")
    }  # fmt: skip
    for (name, dtype), r in records.items():
        full = dtype == "bfloat16" or name == "tall"  # the GPT set in float32: Muon and Aurora
        keys = ("muon_vs_torch_muon", "aurora_vs_muon", "normuon_vs_muon", "aro_vs_muon")
        for key in keys if full else ("aurora_vs_muon",):
            _check_ratio(r["ratios"][key])
        assert set(r["step_ms"]) == set(r["state_bytes_per_param_byte"]) == set(r["peak_step_mib"])
        # state of every optimizer here: a float32 momentum per float32 parameter, at least
        for value in r["state_bytes_per_param_byte"].values():
            assert value >= 1.0
        assert (r.get("peak_muon_vs_torch_muon", 0) > 0) == full
        assert set(r["step_gflop"]) == set(r["step_ms"])
        for key, value in r["flop_ratios"].items():
            num, den = RATIOS[key]
            assert value == pytest.approx(r["step_gflop"][num] / r["step_gflop"][den])


def _muon_flops(shapes, steps=5):
    """Closed form: each quintic step is ``A = X X^T`` (2 M N^2), ``A^2`` (2 N^3) and the
    update (2 M N^2) on the short side ``N`` of an ``M x N`` matrix (Jordan, torch.optim.Muon)."""
    return sum(steps * (4 * max(s) * min(s) ** 2 + 2 * min(s) ** 3) for s in shapes)


def test_step_flops_of_both_muons_are_the_closed_form(quick):
    from benchmarks.suite.config import QUICK

    _, report, _ = quick
    for r in report["sections"]["optimizers"]:
        if "torch.optim.Muon" not in r["step_gflop"]:
            continue
        expected = _muon_flops(QUICK.sets[r["set"]]) / 1e9
        assert r["step_gflop"]["torch.optim.Muon"] == pytest.approx(expected, rel=1e-12)
        assert r["step_gflop"]["Muon (jordan)"] == pytest.approx(expected, rel=1e-12)
        assert r["flop_ratios"]["muon_vs_torch_muon"] == pytest.approx(1.0, rel=1e-12)


def test_imports_section(quick):
    _, report, _ = quick
    imports = report["sections"]["imports"]
    assert imports["import_torch_ms"]["median"] > 0
    variants = {"polarlab", "polarlab.optim"}
    assert set(imports["added_ms"]) == set(imports["added_cpu_ms"]) == variants
    assert imports["in_process_ms"]["median"] > 0 and imports["importtime_ms"]["median"] > 0
    assert imports["heavy_modules_imported"] == []  # mpmath and friends are imported lazily


def test_targets_markdown_and_plots(quick):
    out, report, md = quick
    ids = {t["id"] for t in report["targets"]}
    assert {"muon_vs_torch_muon", "muon_peak_memory", "engine_floor", "import_time"} <= ids
    assert {"gram_aurora_aspect4", "gram_aurora_aspect8", "aurora_step_tall"} <= ids
    for t in report["targets"]:
        assert t["met"] in (True, False, None)
        assert (t["met"] is None) == (t["measured"] is None)
        if t["measured"] is not None:
            assert t["met"] == (t["measured"] <= t["limit"])
    assert "## Headline targets" in md and "| target |" in md
    for name in report["plots"].values():
        assert (out / name).stat().st_size > 1000
        assert f"]({name})" in md


def test_results_name_no_machine_paths(quick):
    out, _, md = quick
    text = (out / "suite_cpu_quick.json").read_text() + md
    for path in (str(ROOT), str(Path.home()), str(out)):
        assert path not in text
