"""The neuron study: data, models, a tiny end-to-end run, the claim rules on planted rows,
the command line, and the committed full-mode results recomputed from their CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from polarlab.cli import main
from polarlab.studies._io import read_csv
from polarlab.studies.neurons_claims import NOT_REPRODUCED, neuron_claims, seed_interval
from polarlab.studies.neurons_models import VOCAB, build_model, load_corpus, mlp_rows
from polarlab.studies.neurons_study import judge_neurons, neurons

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "neurons"
TINY = dict(
    steps=12,
    warmup=2,
    checkpoints=3,
    seeds=2,
    models=("mlp",),
    expansions=(2,),
    main_expansion=2,
    timing_reps=2,
    eval_batches=1,
    d=16,
    mlp_context=4,
    batch=4,
)


def test_corpus_is_deterministic_and_split_80_10_10():
    a, b = load_corpus(("string.py", "heapq.py")), load_corpus(("string.py", "heapq.py"))
    assert a.digest == b.digest and torch.equal(a.train, b.train)
    total = a.train.numel() + a.val.numel() + a.test.numel()
    assert abs(a.val.numel() / total - 0.1) < 1e-3 and abs(a.test.numel() / total - 0.1) < 1e-3
    assert int(a.train.max()) < VOCAB and int(a.train.min()) >= 0
    with pytest.raises(ValueError, match="not found"):
        load_corpus(("no_such_module.py",))


@pytest.mark.parametrize("kind", ["transformer", "mlp"])
def test_models_shapes_and_neuron_matrices(kind):
    model = build_model(kind, d=16, layers=2, heads=2, context=8, expansion=3)
    tokens = torch.randint(0, VOCAB, (2, 8))
    logits = model(tokens)
    assert logits.shape == ((2, 8, VOCAB) if kind == "transformer" else (2, 1, VOCAB))
    params = dict(model.named_parameters())
    for first, second in mlp_rows(model):
        assert params[first].shape == (48, 16)  # tall: (e d) x d
        assert second is None or params[second].shape == (48, 16)


def test_tiny_run_writes_rows_and_verdicts_recompute_from_csv(tmp_path):
    records = neurons(TINY, out=tmp_path, plots=False)
    assert [r["claim_id"] for r in records] == ["M-1", "M-2", "M-3", "M-5"]
    runs = read_csv(tmp_path / "neuron_runs.csv")
    assert len(runs) == 5 * 2  # 5 optimizers x 2 seeds, one model, one expansion
    assert {r["optimizer"] for r in runs} == {"muon", "normuon", "u_normuon", "aurora", "adamw"}
    again = neuron_claims(runs, read_csv(tmp_path / "neuron_timing.csv"))
    assert [(r["claim_id"], r["verdict"]) for r in again] == [
        (r["claim_id"], r["verdict"]) for r in records
    ]
    on_disk = read_csv(tmp_path / "neuron_claims.csv")
    assert [r["verdict"] for r in on_disk] == [r["verdict"] for r in records]
    rejudged = judge_neurons(tmp_path, plots=False)  # from the files alone
    assert [r["measured"] for r in rejudged] == [r["measured"] for r in records]
    with pytest.raises(ValueError, match=r"other settings \(steps\)"):
        neurons(dict(TINY, steps=14), out=tmp_path, resume=True)  # never mixes two studies
    assert "## Claims" in (tmp_path / "neurons.md").read_text()


def _run(model, optimizer, e, seed, loss, dead):
    row = {
        "phase": "main",
        "model": model,
        "optimizer": optimizer,
        "expansion": e,
        "seed": seed,
        "test_loss": loss,
        "update_ratio_q01": 0.5,
    }
    row.update({f"dead_{t}": dead for t in ("0.05", "0.1", "0.25", "0.5")})
    return row


def _planted(muon_dead, aurora_dead, gain):
    """Transformer rows at e = 1, 2, 4, 8: Aurora's loss lower by gain(e) (+-0.001 per seed)."""
    rows = []
    for e in (1, 2, 4, 8):
        for s in range(3):
            jitter = 0.001 * (s - 1)
            rows.append(_run("transformer", "muon", e, s, 2.0 + gain(e) + jitter, muon_dead))
            rows.append(_run("transformer", "aurora", e, s, 2.0, aurora_dead))
            rows.append(_run("transformer", "u_normuon", e, s, 2.0, aurora_dead))
            if e == 4:
                rows.append(_run("transformer", "adamw", e, s, 2.1, 0.0))
                rows.append(_run("transformer", "normuon", e, s, 2.05, 0.0))
    return rows


def _timing(ratios):
    return [
        {"expansion": e, "kind": kind, "rep": i, "ratio": r}
        for e in (1, 2, 4, 8)
        for kind in ("model_step", "matrix_step")
        for i, r in enumerate(ratios)
    ]


def test_claim_rules_on_planted_rows():
    verdicts = lambda recs: {r["claim_id"]: r["verdict"] for r in recs}  # noqa: E731
    # Death under Muon (30%), prevented by Aurora/U-NorMuon (5%), a gain growing with e.
    found = verdicts(neuron_claims(_planted(0.3, 0.05, lambda e: 0.01 * e), _timing([1.03] * 5)))
    assert found == {"M-1": "holds", "M-2": "holds", "M-3": "holds", "M-4": "holds", "M-5": "holds"}
    # No death, Aurora worse at every e by the same amount, a 50% overhead.
    found = verdicts(neuron_claims(_planted(0.0, 0.0, lambda e: -0.02), _timing([1.5] * 5)))
    assert found == {
        "M-1": NOT_REPRODUCED,
        "M-2": NOT_REPRODUCED,
        "M-3": "does not hold",
        "M-4": NOT_REPRODUCED,
        "M-5": NOT_REPRODUCED,
    }
    # Death under Muon that Aurora does not prevent; a gain that shrinks with e; timing
    # quartiles straddling 1.10.
    found = verdicts(
        neuron_claims(_planted(0.3, 0.3, lambda e: 0.1 - 0.01 * e), _timing([1.0, 1.05, 1.2, 1.3]))
    )
    assert found["M-2"] == "does not hold" and found["M-4"] == "does not hold"
    assert found["M-5"] == "mixed"


def test_seed_interval_is_student_t():
    mean, _, hi = seed_interval([1.0, 3.0])  # sd sqrt(2), t(0.975, 1) = 12.706
    assert mean == 2.0 and hi - mean == pytest.approx(12.7062047 * 2**0.5 / 2**0.5, rel=1e-6)


def test_cli_neurons_and_errors(tmp_path, capsys):
    args = [
        "neurons",
        "--out",
        str(tmp_path / "n"),
        "--no-progress",
        "--no-plots",
        "--models",
        "mlp",
        "--expansions",
        "2",
        "--seeds",
        "1",
        "--steps",
        "10",
        "--optimizers",
        "muon,aurora",
    ]
    assert main(args) == 0
    assert "M-5" in capsys.readouterr().out
    assert len(read_csv(tmp_path / "n" / "neuron_runs.csv")) == 2
    for bad, message in (
        (["--optimizers", "muon,nope"], "unknown optimizer 'nope'"),
        (["--optimizers", "muon,adamw"], "must include muon and aurora"),
        (["--expansions", "0"], "--expansions must be positive integers"),
        (["--dtype", "float32"], "--dtype does not apply"),
    ):
        assert main(["neurons", "--out", str(tmp_path / "x"), *bad]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.skipif(not (RESULTS / "neuron_claims.csv").exists(), reason="no committed results")
def test_committed_results_recompute_from_csv():
    records = read_csv(RESULTS / "neuron_claims.csv")
    again = neuron_claims(
        read_csv(RESULTS / "neuron_runs.csv"), read_csv(RESULTS / "neuron_timing.csv")
    )
    assert [(r["claim_id"], r["verdict"]) for r in again] == [
        (r["claim_id"], r["verdict"]) for r in records
    ]
    runs = read_csv(RESULTS / "neuron_runs.csv")
    seeds = {}
    for r in runs:
        if r["phase"] == "main":
            key = (r["model"], r["expansion"], r["optimizer"])
            seeds[key] = seeds.get(key, 0) + 1
    assert min(seeds.values()) >= 3  # the full mode's population: at least 3 seeds per setting


def test_report_shows_model_scale_claims_beside_matrix_ones(tmp_path):
    from polarlab.studies.report import report

    path = report(
        tmp_path,
        plots=False,
        precision_options=dict(
            schedules=["jordan"],
            dtypes=["float64"],
            families=["gaussian"],
            shapes=[(8, 4)],
            steps=2,
        ),
        aurora_options=dict(claims=["C-10"]),
        neurons_options=dict(size=TINY),
    )
    text = path.read_text()
    assert text.index("## Aurora claims") < text.index("## Model-scale claims (neuron study)")
    assert "| M-5 |" in text and "C-17" in text
    assert "neuron study" in text.splitlines()[2]  # its time in the header
