"""The Aurora claims study: verdicts follow from measurements, never from a table.

The decisive test injects a broken projection (plain polar registered as "aurora")
and checks that every claim about row uniformity flips to "does not hold", while the
claims about Muon's own polar factor (which do not involve the projection) keep
their verdict.
"""

import json

import pytest
import torch

import polarlab
from polarlab import metrics
from polarlab.studies import AURORA_COLUMNS, CLAIMS, aurora_claims
from polarlab.studies._io import read_csv
from polarlab.studies.aurora import (
    HOLDS,
    HOLDS_WITH_CAVEAT,
    NOT_HOLDS,
    claims_markdown,
    write_claims,
)

# Claims about the projection's row uniformity (and its defining identities).
UNIFORMITY = ["C-4a", "C-4b", "C-9", "C-10", "C-15", "R-1"]
# Claims about Muon's polar(G) only: unaffected by the projection under test.
POLAR_ONLY = ["C-1a", "C-1b", "C-2"]
FAST = UNIFORMITY + POLAR_ONLY + ["C-3", "C-4c", "C-5", "F-1"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
        assert r["verdict"] in (HOLDS, NOT_HOLDS, HOLDS_WITH_CAVEAT)
        assert r["rule"] and r["source"] and r["setting"] and r["measured"]


def test_aurora_with_exact_polar_satisfies_its_uniformity_claims(records):
    # The released form with an exact base polar: uniformity, identities, zero rows.
    for claim_id in ["C-4a", "C-9", "C-10", "C-15", "R-1", "C-3", "C-4c", "C-5"]:
        assert records[claim_id]["verdict"] == HOLDS, records[claim_id]["measured"]


def test_headline_figure_equals_direct_library_call(records):
    # C-4a measures rho of Aurora (K=2, beta=0.5) on a Gaussian 512x128, seed 0.
    G = polarlab.random_matrix("gaussian", 512, 128, seed=0)
    U = polarlab.project_balanced_stiefel(G, iters=2, beta=0.5, method="svd")
    assert records["C-4a"]["figure"] == pytest.approx(metrics.row_norm_ratio(U), rel=1e-12)


def test_broken_projection_flips_uniformity_claims(records):
    broken = {r["claim_id"]: r for r in aurora_claims(projection=broken_projection, claims=FAST)}
    for claim_id in UNIFORMITY:
        assert broken[claim_id]["verdict"] == NOT_HOLDS, (claim_id, broken[claim_id]["measured"])
    for claim_id in POLAR_ONLY:
        assert broken[claim_id]["verdict"] == records[claim_id]["verdict"], claim_id
        assert broken[claim_id]["figure"] == records[claim_id]["figure"], claim_id


def test_verdict_thresholds_follow_the_measured_number(records):
    # C-4a's rule: rho_Aurora < 1.15 and < rho_polar; its figure is rho_Aurora.
    r = records["C-4a"]
    assert (r["figure"] < 1.15) == (r["verdict"] == HOLDS)


def test_slow_claims_run(tmp_path):
    # Riemannian, exact solver and timing claims, once, at the quick size.
    out = aurora_claims(claims=["C-20", "E-1", "C-16", "C-17"], out=tmp_path)
    assert [r["claim_id"] for r in out] == ["C-20", "E-1", "C-16", "C-17"]
    by_id = {r["claim_id"]: r for r in out}
    # The exact balanced-Stiefel maximiser cannot be beaten by a feasible fixed point.
    assert by_id["E-1"]["figure"] >= -1e-8
    # Aurora K=2 makes two polar calls: at least about as slow as one polar call.
    assert by_id["C-17"]["figure"] > 0.8


def test_files_markdown_and_resume(tmp_path):
    calls = []

    def counting(G, iters, beta):
        calls.append(1)
        return polarlab.project_balanced_stiefel(G, iters, beta, "svd")

    first = aurora_claims(projection=counting, claims=["C-10", "R-1"], out=tmp_path)
    assert calls
    assert read_csv(tmp_path / "aurora_claims.csv") == first
    data = json.loads((tmp_path / "aurora_claims.json").read_text())
    assert [r["claim_id"] for r in data["rows"]] == ["C-10", "R-1"]
    calls.clear()
    again = aurora_claims(projection=counting, claims=["C-10", "R-1"], out=tmp_path, resume=True)
    assert calls == []  # nothing recomputed
    assert again == first
    text = write_claims(first, tmp_path).read_text()
    assert "| C-10 |" in text and "| R-1 |" in text
    assert claims_markdown(first).count("\n") == 2 + len(first)


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
