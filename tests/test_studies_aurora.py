"""The Aurora claims study: verdicts follow from measurements, never from a table.

The decisive test injects a broken projection (plain polar registered as "aurora")
and checks that no claim about row uniformity still holds, while the claims about
Muon's own polar factor (which do not involve the projection) keep their verdict.
The rules and their verdicts are tested in tests/test_claims.py.
"""

import json

import pytest
import torch

import polarlab
import polarlab.studies.aurora as aurora_module
import polarlab.studies.claims as claims_module
from polarlab import metrics
from polarlab.polar import resolve
from polarlab.studies import AURORA_COLUMNS, CLAIMS, aurora_claims
from polarlab.studies._io import read_csv
from polarlab.studies.aurora import aurora_rows, claims_markdown, write_claims
from polarlab.studies.aurora_experiments import (
    EXPERIMENTS,
    FIGURE_COLUMNS,
    FIGURE_EXPERIMENTS,
    Projection,
)
from polarlab.studies.aurora_figures import plot_aurora_rows
from polarlab.studies.claims import HOLDS, MIXED, NOT_HOLDS, NOT_TESTABLE, VERDICTS

# Claims about the projection's row uniformity (and its defining identities).
UNIFORMITY = ["C-4a", "C-4b", "C-9", "C-10", "C-15", "R-1"]
# Claims about Muon's polar(G) only: unaffected by the projection under test.
POLAR_ONLY = ["C-1a", "C-1b", "C-2"]
FAST = UNIFORMITY + POLAR_ONLY + ["C-3", "C-4c", "C-5", "F-1"]


@pytest.fixture(scope="module")
def records():
    torch.set_num_threads(1)
    return {r["claim_id"]: r for r in aurora_claims(claims=FAST)}


def broken_projection(G, iters, beta):
    """Plain polar, posing as Aurora."""
    return polarlab.polar(G, method="svd")


def test_records_have_documented_columns_and_verdicts(records):
    assert set(records) == set(FAST)
    for r in records.values():
        assert tuple(r) == AURORA_COLUMNS
        assert r["verdict"] in VERDICTS
        assert r["rule"] and r["source"] and r["setting"] and r["measured"] and r["quote"]
        # Every measured claim lists its population: seeds, sizes, base polar and dtype.
        assert "10 seeds" in r["population"] and "svd (float64)" in r["population"]
        # A mixed verdict names the part that holds and the part that does not.
        assert (r["part"] is not None) == (r["verdict"] == MIXED)


def test_aurora_with_exact_polar_satisfies_its_uniformity_claims(records):
    # The released form with an exact base polar: uniformity, identities, zero rows.
    for claim_id in ["C-4a", "C-9", "C-10", "C-15", "R-1", "C-3", "C-4c", "C-5"]:
        assert records[claim_id]["verdict"] == HOLDS, records[claim_id]["measured"]


def test_measured_point_equals_direct_library_call():
    # C-4a measures rho of Aurora (K=2, beta=0.5) on Gaussian 512x128 matrices, per base.
    _, points = aurora_claims(claims=["C-4a"], size=dict(seeds=2), return_points=True)
    G = polarlab.random_matrix("row_lognormal", 512, 128, seed=1, sigma=0.0)
    U = polarlab.project_balanced_stiefel(G, iters=2, beta=0.5, method="svd")
    (value,) = [
        p["value"]
        for p in points
        if p["series"] == "rho(Aurora)" and p["matrix_seed"] == 1 and p["x"] == 64  # svd base
    ]
    assert value == pytest.approx(metrics.row_norm_ratio(U), rel=1e-12)


def test_broken_projection_flips_uniformity_claims(records):
    broken = {r["claim_id"]: r for r in aurora_claims(projection=broken_projection, claims=FAST)}
    for claim_id in UNIFORMITY:
        assert broken[claim_id]["verdict"] != HOLDS, (claim_id, broken[claim_id]["measured"])
    # Those whose every cell measures the fix itself fail outright.
    for claim_id in ("C-4a", "C-4b", "C-10", "R-1"):
        assert broken[claim_id]["verdict"] == NOT_HOLDS, (claim_id, broken[claim_id]["measured"])
    for claim_id in POLAR_ONLY:
        assert broken[claim_id]["verdict"] == records[claim_id]["verdict"], claim_id
        assert broken[claim_id]["figure"] == records[claim_id]["figure"], claim_id


def test_verdict_thresholds_follow_the_measured_number(records):
    # C-4a's rule: rho_Aurora < 1.15 for every seed (and < rho_polar); figure: the mean.
    r = records["C-4a"]
    assert r["figure"] < 1.15 and r["verdict"] == HOLDS


SMALL = dict(seeds=3, tall=(48, 12), small=(12, 3), sigmas=(0.0, 1.0, 2.0), iters=3)


def test_slow_claims_run(tmp_path):
    # Riemannian, exact solver, conditioning and cost claims, once, at a small size.
    out = aurora_claims(claims=["C-20", "E-1", "C-16", "C-17"], out=tmp_path, size=SMALL)
    assert [r["claim_id"] for r in out] == ["C-20", "E-1", "C-16", "C-17"]
    by_id = {r["claim_id"]: r for r in out}
    # The exact balanced-Stiefel maximiser cannot be beaten by a feasible fixed point.
    assert by_id["E-1"]["figure"] >= -1e-8
    # C-17 is not measured at matrix level and says where it is judged instead.
    assert by_id["C-17"]["verdict"] == NOT_TESTABLE
    assert "model-scale study" in by_id["C-17"]["part"]
    assert by_id["C-17"]["population"].endswith("FLOP counts of Polar Express only")
    assert by_id["C-17"]["figure"] == 2.0  # K = 2 polar calls: twice one call's FLOPs


def test_files_markdown_and_resume(tmp_path):
    calls = []

    def counting(G, iters, beta):
        calls.append(1)
        return polarlab.project_balanced_stiefel(G, iters, beta, "svd")

    first = aurora_claims(
        projection=counting, claims=["C-10", "R-1"], out=tmp_path, size=dict(seeds=2)
    )
    assert calls
    assert read_csv(tmp_path / "aurora_claims.csv") == first
    data = json.loads((tmp_path / "aurora_claims.json").read_text())
    assert [r["claim_id"] for r in data["rows"]] == ["C-10", "R-1"]
    calls.clear()
    again = aurora_claims(
        projection=counting, claims=["C-10", "R-1"], out=tmp_path, resume=True, size=dict(seeds=2)
    )
    assert calls == []  # nothing recomputed
    assert again == first
    text = write_claims(first, tmp_path).read_text()
    assert "| C-10 |" in text and "| R-1 |" in text
    table = [line for line in claims_markdown(first).splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(first)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(claims=["C-99"]), "unknown claim"),
        (dict(method="nope"), "unknown method 'nope'; choose one of"),
        (dict(dtype="bfloat16"), "has no dtype option"),
        (dict(size="huge"), "unknown size 'huge'; choose one of"),
    ],
)
def test_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        aurora_claims(**bad)


def test_every_claim_states_rule_and_source():
    ids = [c.claim_id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    assert all(c.rule and c.source and c.claim for c in CLAIMS)


def test_every_claim_has_one_experiment():
    assert list(EXPERIMENTS) == [c.claim_id for c in CLAIMS]


TINY_SIZE = dict(tall=(32, 8), small=(16, 4), iters=3)


def test_figure_rows_are_measured_with_the_injected_projection_and_size():
    rows = aurora_rows(size=TINY_SIZE)
    broken = aurora_rows(projection=broken_projection, size=TINY_SIZE)
    assert all(tuple(r) == FIGURE_COLUMNS for r in rows)
    assert {(r["m"], r["n"]) for r in rows if r["figure"] != "aurora_tradeoff"} == {(32, 8)}
    assert {(r["m"], r["n"]) for r in rows if r["figure"] == "aurora_tradeoff"} == {(16, 4)}

    def series(rs, figure, name):
        return [r["y"] for r in rs if r["figure"] == figure and r["series"] == name]

    # The broken projection is plain polar: its "Aurora" rows are the polar rows, and
    # its uniformity does not improve with K, unlike the released form's.
    polar_rows = series(broken, "aurora_row_norms", "polar (Muon)")
    assert series(broken, "aurora_row_norms", "Aurora K=2") == polar_rows
    assert series(rows, "aurora_row_norms", "Aurora K=2") != polar_rows
    released = series(rows, "aurora_uniformity", "beta=0.5")
    assert released[-1] < released[0] / 2
    assert len(set(series(broken, "aurora_uniformity", "beta=0.5"))) == 1


def test_figure_rows_use_the_base_method_options(tmp_path):
    rows = aurora_rows(
        method="newton_schulz",
        dtype="float64",
        normalization="schatten8",
        size=TINY_SIZE,
        out=tmp_path,
    )
    meta = json.loads((tmp_path / "aurora_rows.json").read_text())["meta"]
    assert meta["options"]["normalization"] == "schatten8" and meta["dtype"] == "float64"
    P = polarlab.polar(
        polarlab.random_matrix("row_lognormal", 32, 8, seed=0, sigma=1.0),
        "newton_schulz",
        dtype="float64",
        normalization="schatten8",
    )
    expected = metrics.row_norms(P) ** 2 / (8 / 32)
    measured = [r["y"] for r in rows if r["figure"] == "aurora_row_norms"][:32]
    assert measured == pytest.approx(list(expected), rel=1e-12)


def test_plots_are_drawn_from_rows_only(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    rows = aurora_rows(size=TINY_SIZE)

    def no_experiments(*args, **kwargs):
        raise AssertionError("plotting must not run experiments")

    monkeypatch.setattr(aurora_module, "aurora_rows", no_experiments)
    for name in FIGURE_EXPERIMENTS:
        monkeypatch.setitem(FIGURE_EXPERIMENTS, name, no_experiments)
    paths = aurora_module.plot_aurora(tmp_path, rows=rows)
    assert [p.name for p in paths] == [f"{name}.png" for name in FIGURE_EXPERIMENTS]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    with pytest.raises(ValueError, match="no rows for the figure 'aurora_uniformity'"):
        plot_aurora_rows([r for r in rows if r["figure"] != "aurora_uniformity"], tmp_path)


def test_method_options_reach_the_base_polar(tmp_path):
    solver = resolve("newton_schulz", normalization="schatten8", dtype="float64")
    by_name = aurora_claims(
        method="newton_schulz",
        dtype="float64",
        normalization="schatten8",
        claims=["C-1a"],
        out=tmp_path,
    )
    assert json.loads((tmp_path / "aurora_claims.json").read_text())["meta"]["options"] == {
        "schedule": "polar_express",
        "steps": None,
        "dtype": "float64",
        "normalization": "schatten8",
        "arrangement": "fused",  # the engine's step arrangement (issue 16, item 4)
    }
    by_solver = aurora_claims(method=solver, claims=["C-1a"])
    assert by_solver == by_name
    default = aurora_claims(method="newton_schulz", dtype="float64", claims=["C-1a"])
    assert default[0]["figure"] != by_name[0]["figure"]


@pytest.mark.parametrize(
    "name",
    ["AURORA_COLUMNS", "CLAIMS", "HOLDS", "HOLDS_WITH_CAVEAT", "NOT_HOLDS", "SIZES", "Claim"],
)
def test_moved_names_are_deprecated_aliases(name):
    with pytest.warns(DeprecationWarning, match=f"polarlab.studies.claims.{name}"):
        value = getattr(aurora_module, name)
    assert value is getattr(claims_module, name)


def test_moved_projection_type_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="aurora_experiments.Projection"):
        assert aurora_module.Projection is Projection
