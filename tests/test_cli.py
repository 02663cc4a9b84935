"""The ``polarlab`` command: each subcommand at a tiny size, files and columns, bad input."""

import json
import subprocess
import sys

import pytest
import torch

import polarlab
import polarlab.studies.precision_study as precision_module
from polarlab import metrics
from polarlab.cli import main
from polarlab.studies import AURORA_COLUMNS, PRECISION_COLUMNS
from polarlab.studies._io import read_csv

polar_package = sys.modules["polarlab.polar"]  # the package (polarlab.polar is the function)

TINY_PRECISION = [
    "--methods",
    "newton_schulz",
    "--schedules",
    "polar_express",
    "--dtype",
    "float64",
    "--families",
    "gaussian",
    "--shapes",
    "12x6",
    "--steps",
    "3",
    "--no-progress",
]


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_help_works_without_matplotlib():
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['tqdm'] = None\n"
        "from polarlab.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    sys.exit(e.code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "precision" in result.stdout and "aurora" in result.stdout and "report" in result.stdout


def test_precision_subcommand(tmp_path, capsys):
    assert main(["precision", "--out", str(tmp_path), *TINY_PRECISION]) == 0
    for name in ("precision.csv", "precision.json", "precision_error.png", "precision_sigma.png"):
        assert (tmp_path / name).exists(), name
    rows = read_csv(tmp_path / "precision.csv")
    assert list(rows[0]) == list(PRECISION_COLUMNS)
    assert len(rows) == 3
    data = json.loads((tmp_path / "precision.json").read_text())
    assert data["meta"]["columns"] == list(PRECISION_COLUMNS) and len(data["rows"]) == 3
    # A row of the CSV equals a direct metric call on a fresh run.
    A = polarlab.random_matrix("gaussian", 12, 6, seed=0)
    X = polarlab.polar(
        A, method="newton_schulz", schedule="polar_express", steps=2, dtype="float64"
    )
    assert rows[1]["polar_error"] == pytest.approx(metrics.polar_error(X, A), rel=1e-12)
    printed = capsys.readouterr().out
    assert "polar_express" in printed and "scalar_spectral_error" in printed


def test_aurora_subcommand(tmp_path, capsys):
    args = ["aurora", "--out", str(tmp_path), "--claims", "C-10,R-1", "--no-plots", "--no-progress"]
    assert main(args) == 0
    for name in ("aurora_claims.csv", "aurora_claims.json", "aurora_claims.md"):
        assert (tmp_path / name).exists(), name
    rows = read_csv(tmp_path / "aurora_claims.csv")
    assert list(rows[0]) == list(AURORA_COLUMNS)
    assert [r["verdict"] for r in rows] == ["holds", "holds"]
    assert "C-10" in capsys.readouterr().out


def test_report_subcommand_with_toml_config_and_readme_figure(tmp_path):
    pytest.importorskip("matplotlib")
    config = tmp_path / "sweep.toml"
    config.write_text(
        '[precision]\nschedules = ["polar_express"]\ndtype = ["float64"]\n'
        'families = ["gaussian"]\nshapes = ["12x6"]\nsteps = 2\n'
        '[aurora]\nclaims = ["C-10"]\n'
        '[neurons]\nmodels = ["mlp"]\nexpansions = [2]\nseeds = 1\nsteps = 20\n'
    )
    out = tmp_path / "report"
    figure = tmp_path / "docs" / "images" / "precision_error.png"
    args = [
        "report",
        "--out",
        str(out),
        "--config",
        str(config),
        "--no-progress",
        "--readme-figure",
        str(figure),
    ]
    assert main(args) == 0
    for name in (
        "report.md",
        "report.html",
        "precision.csv",
        "aurora_claims.json",
        "figures/precision_error.png",
        "figures/claim_C-10.png",  # --claims C-10: its own figure, no overview
    ):
        assert (out / name).exists(), name
    assert figure.read_bytes() == (out / "figures" / "precision_error.png").read_bytes()
    assert len(read_csv(out / "precision.csv")) == 2  # the config's 2 steps, 1 case
    text = (out / "report.md").read_text()
    assert "figures/precision_error.png" in text and "| C-10 |" in text
    assert len(read_csv(out / "aurora_claims.csv")) == 1  # the config's one claim
    assert "data:image/png;base64," in (out / "report.html").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["precision", "--methods", "nope"], "unknown method 'nope'; choose one of"),
        (["precision", "--families", "nope"], "unknown matrix family 'nope'"),
        (["precision", "--shapes", "0x5"], "impossible shape 0x5"),
        (["precision", "--shapes", "abc"], "bad shape 'abc'"),
        (["precision", "--dtype", "int8"], "unsupported dtype 'int8'"),
        (["aurora", "--method", "nope"], "unknown method 'nope'"),
        (["aurora", "--claims", "C-99"], "unknown claim"),
    ],
)
def test_bad_input_one_line_error(tmp_path, capsys, args, message):
    code = main([*args, "--out", str(tmp_path), "--no-progress", "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # A directory cannot be created below a regular file (this holds even for root).
    assert main(["precision", "--out", str(blocker / "sub"), *TINY_PRECISION]) == 2
    assert "cannot write to --out" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_the_machine_lacks(tmp_path, capsys):
    assert main(["precision", "--out", str(tmp_path), "--device", "cuda", *TINY_PRECISION]) == 2
    assert "device 'cuda' is not available here; available: cpu" in capsys.readouterr().err


def test_bad_config(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"precision": {"stepz": 3}}))
    assert main(["precision", "--out", str(tmp_path), "--config", str(config)]) == 2
    assert "unknown option(s) stepz in --config" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="unknown method"):
        main(["--debug", "precision", "--out", str(tmp_path), "--methods", "nope"])
    with pytest.raises(ValueError, match="unknown method"):
        main(["precision", "--debug", "--out", str(tmp_path), "--methods", "nope"])


def test_interrupt_keeps_finished_cases_and_resume_skips_them(tmp_path, capsys, monkeypatch):
    real = precision_module.run_case
    calls = []

    def interrupted(case, **kw):
        calls.append(case["case_id"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(case, **kw)

    monkeypatch.setattr(precision_module, "run_case", interrupted)
    args = [
        "precision",
        "--out",
        str(tmp_path),
        *TINY_PRECISION,
        "--schedules",
        "polar_express,jordan",
        "--no-plots",
    ]
    assert main(args) == 130
    assert "--resume" in capsys.readouterr().err
    assert len(read_csv(tmp_path / "precision.csv")) == 3  # the first case, complete
    monkeypatch.setattr(precision_module, "run_case", real)
    calls.clear()
    assert main([*args, "--resume"]) == 0
    rows = read_csv(tmp_path / "precision.csv")
    assert len(rows) == 6 and {r["schedule"] for r in rows} == {"polar_express", "jordan"}


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "polarlab", "aurora", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--claims" in result.stdout


def test_a_flag_given_beats_the_config_even_at_its_default(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"seed": 5, "precision": {"steps": 2}}))
    base = ["precision", "--config", str(config), *TINY_PRECISION, "--no-plots"]
    assert main([*base, "--out", str(tmp_path / "flag"), "--seed", "0", "--steps", "3"]) == 0
    rows = read_csv(tmp_path / "flag" / "precision.csv")
    assert {r["seed"] for r in rows} == {0} and len(rows) == 3
    # Without the flags the config wins over the defaults.
    config.write_text(json.dumps({"seed": 5}))
    base = [a for a in base if a not in ("--steps", "3")]
    assert main([*base, "--out", str(tmp_path / "config")]) == 0
    assert {r["seed"] for r in read_csv(tmp_path / "config" / "precision.csv")} == {5}


def test_the_quick_preset_is_the_library_default(tmp_path, monkeypatch):
    seen = {}

    def spy(case, **kw):
        seen[case["case_id"]] = case["steps"]
        return []

    monkeypatch.setattr(precision_module, "run_case", spy)
    assert main(["precision", "--out", str(tmp_path), "--no-plots", "--no-progress"]) == 0
    expected = precision_module.precision_cases()
    assert seen == {c["case_id"]: c["steps"] for c in expected}


def test_a_method_option_from_the_command_line_reaches_the_method(tmp_path, monkeypatch):
    calls = []
    real = polar_package.resolve

    def spy(method, **options):
        calls.append((method, options))
        return real(method, **options)

    monkeypatch.setattr(polar_package, "resolve", spy)
    args = ["precision", "--out", str(tmp_path), *TINY_PRECISION, "--no-plots"]
    assert main([*args, "--method-option", "normalization=schatten8"]) == 0
    # The command resolves the method once (the "svd" calls are the study's references).
    assert [c for c in calls if c[0] != "svd"] == [
        ("newton_schulz", {"normalization": "schatten8"})
    ]
    rows = read_csv(tmp_path / "precision.csv")
    assert {r["options"] for r in rows} == {"normalization=schatten8"}
    A = polarlab.random_matrix("gaussian", 12, 6, seed=0)
    X = polarlab.polar(
        A,
        method="newton_schulz",
        schedule="polar_express",
        steps=2,
        dtype="float64",
        normalization="schatten8",
    )
    assert rows[1]["polar_error"] == pytest.approx(metrics.polar_error(X, A), rel=1e-12)


def test_method_options_from_a_config_table_and_flags_merge_by_key(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[precision.method_options]\nnormalization = "one_inf"\n')
    args = ["precision", "--config", str(config), *TINY_PRECISION, "--no-plots"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert read_csv(tmp_path / "a" / "precision.csv")[0]["options"] == "normalization=one_inf"
    flag = ["--method-option", "normalization=schatten8", "--methods", "gram_newton_schulz"]
    assert (
        main([*args, *flag, "--method-option", "restarts=2,4", "--out", str(tmp_path / "b")]) == 0
    )
    options = read_csv(tmp_path / "b" / "precision.csv")[0]["options"]
    assert options == "restarts=2,4;normalization=schatten8"


def test_aurora_method_options(tmp_path):
    args = ["aurora", "--out", str(tmp_path), "--claims", "C-10", "--no-plots", "--no-progress"]
    extra = ["--method", "newton_schulz", "--dtype", "float64", "--method-option", "steps=7"]
    assert main([*args, *extra]) == 0
    meta = json.loads((tmp_path / "aurora_claims.json").read_text())["meta"]
    assert meta["method"] == "newton_schulz"
    assert meta["options"]["steps"] == 7 and meta["options"]["dtype"] == "float64"


@pytest.mark.parametrize(
    "args, message",
    [
        (["precision", "--method-option", "schedule=jordan"], "set schedule with --schedules"),
        (["precision", "--method-option", "dtype=float32"], "set dtype with --dtype"),
        (["precision", "--method-option", "nope=1"], "takes no option(s) nope"),
        (["aurora", "--method-option", "rank_tol=x"], "error"),
    ],
)
def test_bad_method_options(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path), "--no-progress", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_method_option_needs_key_and_value(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["precision", "--method-option", "schatten8", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_format_table_moved_with_a_deprecation_alias():
    import polarlab.cli as cli
    from polarlab.studies.tables import format_table

    with pytest.warns(DeprecationWarning, match="polarlab.studies.tables.format_table"):
        assert cli.format_table is format_table


# --- the command line: empty lists and wrongly typed config values ----------------------


def one_line_error(capsys, args) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--shapes", "", "--shapes is empty"),
        ("--methods", "", "--methods is empty"),
        ("--schedules", ",", "--schedules is empty"),
        ("--families", " ", "--families is empty"),
        ("--dtype", "", "--dtype is empty"),
        ("--dtype", "float64,float64", "--dtype lists 'float64' twice"),
        ("--families", "gaussian,logspaced,gaussian", "--families lists 'gaussian' twice"),
        ("--steps", "0", "--steps must be a positive integer, got 0"),
        ("--seed", "-1", "--seed must be a non-negative integer, got -1"),
        ("--shapes", "8x", "--shapes: bad shape '8x'"),
    ],
)
def test_empty_or_repeated_flag_values(tmp_path, capsys, flag, value, message):
    args = ["precision", *TINY_PRECISION, "--no-plots", flag, value, "--out", str(tmp_path / "o")]
    err = one_line_error(capsys, args)
    assert message in err
    assert not (tmp_path / "o").exists()


def test_empty_claims(tmp_path, capsys):
    err = one_line_error(capsys, ["aurora", "--claims", "", "--out", str(tmp_path)])
    assert "--claims is empty" in err


@pytest.mark.parametrize(
    "config, message",
    [
        ({"steps": 2.5}, "steps in --config {} must be a positive integer, got 2.5"),
        ({"steps": True}, "steps in --config {} must be a positive integer, got True"),
        ({"steps": "3"}, "steps in --config {} must be a positive integer, got '3'"),
        ({"seed": "x"}, "seed in --config {} must be a non-negative integer, got 'x'"),
        ({"seed": 1.0}, "seed in --config {} must be a non-negative integer, got 1.0"),
        ({"shapes": 3}, "shapes in --config {} must be a list"),
        ({"shapes": []}, "shapes in --config {} is empty"),
        ({"shapes": [[8, 4, 2]]}, "shapes in --config {}: bad shape [8, 4, 2]"),
        ({"precision": {"methods": ""}}, "methods in --config {} is empty"),
        ({"families": [1, 2]}, "families in --config {} must be a list of names"),
        ({"device": 3}, "device in --config {} must be a non-empty string, got 3"),
        ({"out": ["a"]}, "out in --config {} must be a non-empty string"),
    ],
)
def test_wrongly_typed_config_values_name_the_key(tmp_path, capsys, config, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    args = ["precision", "--config", str(path), "--no-plots", "--no-progress"]
    if "out" not in config:
        args += ["--out", str(tmp_path / "o")]
    err = one_line_error(capsys, args)
    assert message.format(path) in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "table, message",
    [
        ("size = 3", "size in --config {} must be quick, full or a table of sizes, got 3"),
        ("method = 5", "method in --config {} must be a non-empty string, got 5"),
        ("claims = []", "claims in --config {} is empty"),
        ('claims = ["C-10", "C-10"]', "claims in --config {} lists 'C-10' twice"),
    ],
)
def test_wrongly_typed_aurora_config_values_name_the_key(tmp_path, capsys, table, message):
    pytest.importorskip("tomllib")
    path = tmp_path / "c.toml"
    path.write_text(f"[aurora]\n{table}\n")
    err = one_line_error(capsys, ["aurora", "--config", str(path), "--out", str(tmp_path)])
    assert message.format(path) in err


def test_a_toml_float_for_steps_is_not_truncated(tmp_path, capsys):
    pytest.importorskip("tomllib")
    path = tmp_path / "c.toml"
    path.write_text("[precision]\nsteps = 2.5\n")
    args = ["precision", *(a for a in TINY_PRECISION if a not in ("--steps", "3"))]
    err = one_line_error(capsys, [*args, "--config", str(path), "--out", str(tmp_path)])
    assert f"steps in --config {path} must be a positive integer, got 2.5" in err
