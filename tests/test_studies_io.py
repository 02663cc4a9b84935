"""Studies on disk: resume refuses damaged, foreign or mismatched files; one run per folder.

Every damaged file here is made from a good one by an edit whose effect is known (a
case cut to 2 of its 4 iterates, the last row cut mid-row, a row repeated, a cell
replaced), so the line the error must name is known in advance; after the refusal the
file on disk must be byte-for-byte what it was (nothing merged). The concurrency
tests hold the folder's lock from another process, as a second run would find it.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

import polarlab.studies.precision_study as precision_module
from polarlab.cli import main
from polarlab.studies import AURORA_COLUMNS, PRECISION_COLUMNS, aurora_claims, precision
from polarlab.studies._io import TidyWriter, read_csv
from polarlab.studies.aurora import aurora_rows

# Two cases (two schedules) of 4 iterates: header on line 1, rows on lines 2-5 and 6-9.
TINY = dict(
    methods=["newton_schulz"],
    schedules=["polar_express", "jordan"],
    dtypes=["float64"],
    families=["gaussian"],
    shapes=[(12, 6)],
    steps=4,
    seed=3,
)
FIRST, SECOND = (f"newton_schulz/{s}/float64/gaussian/12x6/seed3" for s in TINY["schedules"])
CLI_TINY = (
    "precision --methods newton_schulz --schedules polar_express --dtype float64 "
    "--families gaussian --shapes 12x6 --steps 2 --no-progress --no-plots"
).split()
LOCK = "polarlab.lock"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """The CSV lines and the JSON text of a finished run of TINY."""
    out = tmp_path_factory.mktemp("good")
    precision(**TINY, out=out)
    with open(out / "precision.csv", newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    assert len(lines) == 9  # the layout the edits below rely on
    return lines, (out / "precision.json").read_text()


def refused(out, csv_text: str, json_text: str, match: str, **changes):
    """Write the files, resume TINY (with ``changes``); the error must match, and the
    files must be left exactly as they were."""
    csv_path = out / "precision.csv"
    with open(csv_path, "w", newline="") as fh:
        fh.write(csv_text)
    if json_text is not None:
        (out / "precision.json").write_text(json_text)
    with pytest.raises(ValueError, match=match) as error:
        precision(**{**TINY, **changes}, out=out, resume=True)
    with open(csv_path, newline="") as fh:
        assert fh.read() == csv_text  # never merged
    if json_text is not None:
        assert (out / "precision.json").read_text() == json_text
    assert str(csv_path) in str(error.value)  # the file is named
    assert "\n" not in str(error.value)  # one line
    assert not (out / LOCK).exists()
    return str(error.value)


def replace_cell(line: str, column: str, value: str) -> str:
    cells = line.rstrip("\r\n").split(",")
    cells[PRECISION_COLUMNS.index(column)] = value
    return ",".join(cells) + "\r\n"


# --- damaged, truncated, duplicated, foreign files --------------------------------------


def test_resume_of_a_good_file_keeps_it_and_runs_nothing(good, tmp_path, monkeypatch):
    lines, meta = good
    (tmp_path / "precision.csv").write_text("".join(lines), newline="")
    (tmp_path / "precision.json").write_text(meta)
    monkeypatch.setattr(precision_module, "run_case", lambda case, **kw: pytest.fail("ran"))
    rows = precision(**TINY, out=tmp_path, resume=True)
    assert rows == read_csv(tmp_path / "precision.csv") and len(rows) == 8


def test_a_resume_may_add_cases_with_the_same_settings(good, tmp_path, monkeypatch):
    lines, meta = good
    (tmp_path / "precision.csv").write_text("".join(lines), newline="")
    (tmp_path / "precision.json").write_text(meta)
    real, ran = precision_module.run_case, []
    monkeypatch.setattr(
        precision_module, "run_case", lambda case, **kw: ran.append(case) or real(case, **kw)
    )
    schedules = [*TINY["schedules"], "simple_quintic"]
    rows = precision(**{**TINY, "schedules": schedules}, out=tmp_path, resume=True)
    assert [case["schedule"] for case in ran] == ["simple_quintic"] and len(rows) == 12


def test_a_case_cut_to_2_of_its_4_iterates(good, tmp_path):
    lines, meta = good
    message = refused(tmp_path, "".join(lines[:7]), meta, r"line 7: .* has only 2 of its 4 rows")
    assert SECOND in message


@pytest.mark.parametrize("cut", [1, 2, 9, 100, 300])
def test_a_last_line_cut_mid_row(good, tmp_path, cut):
    lines, meta = good
    text = "".join(lines)[:-cut]  # cut 1 leaves "\r" without its "\n"
    refused(tmp_path, text, meta, r"line 9 is cut short")


def test_a_0_byte_file(good, tmp_path):
    refused(tmp_path, "", good[1], r"empty \(0 bytes")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda ls: [*ls[:4], ls[3], *ls[4:]], r"line 5: the row repeats line 4"),
        (lambda ls: ls + ls[1:5], rf"line 10: case '{re.escape(FIRST)}' again, after lines 2-5"),
        (lambda ls: ls + ls, r"line 10 repeats the header"),
        (lambda ls: ls[:5] + ls[2:], r"line 6: the row repeats line 3"),
    ],
    ids=["row-twice", "case-twice", "file-twice", "rows-twice"],
)
def test_duplicated_rows(good, tmp_path, edit, match):
    lines, meta = good
    refused(tmp_path, "".join(edit(list(lines))), meta, match)


@pytest.mark.parametrize(
    "column, value, kind",
    [
        ("polar_error", "nan", "a finite number"),
        ("spectral_error", "inf", "a finite number"),
        ("sigma_max", "abc", "a finite number"),
        ("dual_gap", "", "a finite number"),
        ("scalar_spectral_error", "x1", r"a number \(nan and inf allowed\)"),
        ("iteration", "nan", "an integer"),
        ("m", "12.0", "an integer"),
        ("seed", " 3", "an integer"),
        ("method", "", "non-empty text"),
    ],
)
def test_nan_or_non_numeric_cells_where_numbers_belong(good, tmp_path, column, value, kind):
    lines, meta = good
    lines = list(lines)
    lines[2] = replace_cell(lines[2], column, value)
    refused(tmp_path, "".join(lines), meta, rf"line 3, column '{column}': .* is not {kind}")


def test_a_row_with_a_cell_missing(good, tmp_path):
    lines, meta = good
    lines = list(lines)
    lines[4] = lines[4].rstrip("\r\n").rsplit(",", 1)[0] + "\r\n"
    n = len(PRECISION_COLUMNS)
    refused(tmp_path, "".join(lines), meta, rf"line 5 has {n - 1} cells, expected {n}")


@pytest.mark.parametrize(
    "column, value, match",
    [
        ("iteration", "2", r"line 4: .* has a row with iteration=2, expected iteration=3"),
        ("family", "logspaced", r"line 4: family is 'logspaced', this run's is 'gaussian'"),
        ("device", "cuda", r"line 4: device is 'cuda', this run's is 'cpu'"),
    ],
)
def test_an_edited_row_that_no_longer_matches_its_case(good, tmp_path, column, value, match):
    lines, meta = good
    lines = list(lines)
    lines[3] = replace_cell(lines[3], column, value)
    refused(tmp_path, "".join(lines), meta, match)


@pytest.mark.parametrize(
    "header",
    [
        ",".join(AURORA_COLUMNS),  # another study
        ",".join(PRECISION_COLUMNS[:-1]),  # another version: a column less
        ",".join((*PRECISION_COLUMNS, "new_metric")),  # another version: one more
    ],
)
def test_a_foreign_header(good, tmp_path, header):
    refused(tmp_path, header + "\r\n", good[1], r"line 1 is not this study's header")


# --- the resume key: every option that changes a result -------------------------------


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(steps=5), r"computed with steps=4 .* this run has steps=5"),
        (dict(seed=4), r"computed with seed=3 .* this run has seed=4"),
        (dict(device="cpu:0"), r'computed with device="cpu" .* this run has device="cpu:0"'),
        (dict(dtypes=["float32"]), r"line 2: .* none has dtype='float64'"),
        (dict(method_options={"normalization": "schatten8"}), r"line 2: .* none has options=None"),
        (dict(schedules=["jordan"]), r"line 2: .* none has schedule='polar_express'"),
        (dict(shapes=[(6, 12)]), r"line 2: .* none has m=12, n=6"),
    ],
    ids=["steps", "seed", "device", "dtype", "method-option", "schedules", "shapes"],
)
def test_a_resume_with_another_option_that_changes_results(good, tmp_path, changes, match):
    lines, meta = good
    refused(tmp_path, "".join(lines), meta, match, **changes)


def test_a_resume_by_another_polarlab_version(good, tmp_path):
    lines, meta = good
    data = json.loads(meta)
    data["meta"]["polarlab_version"] = "0.0.1"
    refused(tmp_path, "".join(lines), json.dumps(data), r'polarlab_version="0.0.1"')


@pytest.mark.parametrize(
    "json_text, match",
    [
        (None, r"precision.json, which records the settings .* is missing"),
        ('{"meta": {"study": "preci', r"precision.json is damaged"),
        ('{"meta": {"study": "aurora_claims"}, "rows": []}', r"records study 'aurora_claims'"),
    ],
)
def test_a_missing_damaged_or_foreign_settings_record(good, tmp_path, json_text, match):
    lines, _ = good
    refused(tmp_path, "".join(lines), json_text, match)


def test_the_settings_are_on_disk_before_the_first_case_ends(tmp_path, monkeypatch):
    def interrupted(case, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(precision_module, "run_case", interrupted)
    with pytest.raises(KeyboardInterrupt):
        precision(**TINY, out=tmp_path)
    meta = json.loads((tmp_path / "precision.json").read_text())["meta"]
    assert (meta["steps"], meta["seed"], meta["device"], meta["complete"]) == (4, 3, "cpu", False)
    monkeypatch.undo()
    assert len(precision(**TINY, out=tmp_path, resume=True)) == 8
    assert not (tmp_path / LOCK).exists()


def test_aurora_claims_resume_key_and_damage(tmp_path):
    first = aurora_claims(claims=["C-10", "R-1"], out=tmp_path)
    assert aurora_claims(claims=["C-10", "R-1"], out=tmp_path, resume=True) == first
    with pytest.raises(ValueError, match=r"computed with seed=0 .* this run has seed=1"):
        aurora_claims(claims=["C-10", "R-1"], seed=1, out=tmp_path, resume=True)
    with pytest.raises(ValueError, match=r'projection="default" .* projection=".*<lambda>"'):
        aurora_claims(
            projection=lambda G, iters, beta: G, claims=["C-10"], out=tmp_path, resume=True
        )
    with pytest.raises(ValueError, match=r"none has claim_id='R-1'"):
        aurora_claims(claims=["C-10"], out=tmp_path, resume=True)
    path = tmp_path / "aurora_claims.csv"
    with open(path, newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    for text, match in [
        (lines + lines[1:2], r"line 4: case 'C-10' again, after line 2 \(duplicated"),
        (
            [*lines[:2], lines[1].replace(",holds", ",does not hold"), *lines[2:]],
            r"line 3: case 'C-10' has 2 rows, expected 1",
        ),
        (
            [lines[0], lines[1].replace(lines[1].split(",")[-2], "nan"), *lines[2:]],
            r"line 2, column 'figure': 'nan' is not a finite number",
        ),
    ]:
        with open(path, "w", newline="") as fh:
            fh.write("".join(text))
        with pytest.raises(ValueError, match=match):
            aurora_claims(claims=["C-10", "R-1"], out=tmp_path, resume=True)


def test_figure_rows_resume_and_duplicated_rows(tmp_path):
    size = dict(tall=(32, 8), small=(16, 4), iters=3)
    first = aurora_rows(size=size, out=tmp_path)
    assert aurora_rows(size=size, out=tmp_path, resume=True) == first
    path = tmp_path / "aurora_rows.csv"
    with open(path, newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    with open(path, "w", newline="") as fh:
        fh.write("".join(lines[:3] + lines[2:]))
    with pytest.raises(ValueError, match=r"line 4: the row repeats line 3"):
        aurora_rows(size=size, out=tmp_path, resume=True)
    with pytest.raises(ValueError, match=r"this run has .*sigma=0.5"):
        aurora_rows(size=size, sigma=0.5, out=tmp_path, resume=True)


def test_what_is_written_reads_back_exactly(tmp_path):
    kinds = {"t": "text", "o": "optional text", "i": "int", "f": "finite", "r": "real"}
    columns = ["case_id", *kinds]
    rows = [
        {"case_id": "a", "t": 'q"uote, comma', "o": None, "i": -3, "f": 0.1, "r": float("nan")},
        {"case_id": "a", "t": "line\nbreak", "o": "y", "i": 0, "f": 1e-300, "r": float("-inf")},
        {"case_id": "b", "t": "7", "o": "x", "i": 2**40, "f": -2.5e300, "r": 1.0},
    ]
    writer = TidyWriter(tmp_path / "s.csv", columns, kinds=kinds)
    writer.write_case(rows[:2])
    writer.write_case(rows[2:])
    back = TidyWriter(tmp_path / "s.csv", columns, kinds=kinds, resume=True)
    assert [repr(r) for r in back.rows] == [repr(r) for r in rows]  # nan == nan as text
    assert back.lines == [2, 3, 5]  # the quoted line break spans lines 3-4


@pytest.mark.parametrize(
    "row, match",
    [
        ({"case_id": "a", "f": float("nan")}, r"column 'f' holds nan, not a finite number"),
        ({"case_id": "a", "f": True}, r"column 'f' holds True, not a finite number"),
        ({"case_id": "a", "f": 1.0, "t": ""}, r"column 't' holds '', not non-empty text"),
        ({"case_id": "a", "f": 1.0, "t": "x", "o": ""}, r"column 'o' holds '', not non-empty"),
    ],
)
def test_a_value_that_would_not_read_back_is_refused_when_written(tmp_path, row, match):
    kinds = {"f": "finite", "t": "text", "o": "optional text"}
    writer = TidyWriter(tmp_path / "s.csv", ["case_id", "f", "t", "o"], kinds=kinds)
    with pytest.raises(ValueError, match=match):
        writer.write_case([row])
    assert (tmp_path / "s.csv").read_bytes() == b"case_id,f,t,o\r\n"  # nothing appended


# --- one run per output folder --------------------------------------------------------


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path``'s lock (as a running study would)."""
    code = textwrap.dedent(
        f"""
        import sys
        from polarlab.studies._lock import folder_lock
        with folder_lock({str(tmp_path)!r}):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    yield process
    process.stdin.close()
    process.wait(timeout=60)


def test_a_second_run_into_a_busy_folder_fails_at_once(tmp_path, holder, capsys):
    with pytest.raises(RuntimeError, match=rf"another polarlab run \(process {holder.pid}\b"):
        precision(**TINY, out=tmp_path)
    assert main([*CLI_TINY, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"process {holder.pid}" in err
    assert "use another --out" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK]  # nothing written
    holder.stdin.close()
    holder.wait(timeout=60)
    assert not (tmp_path / LOCK).exists()  # removed by its holder on exit
    assert main([*CLI_TINY, "--out", str(tmp_path)]) == 0


def test_a_stale_lock_is_reported_with_how_to_remove_it(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = {"pid": dead.pid, "host": socket.gethostname(), "started": "then"}
    (tmp_path / LOCK).write_text(json.dumps(record))
    assert main([*CLI_TINY, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"stale lock {tmp_path / LOCK}: polarlab process {dead.pid}" in err
    assert f"rm {tmp_path / LOCK}" in err
    # A lock naming this very process, which does not hold it, is stale too (ids repeat).
    (tmp_path / LOCK).write_text(json.dumps({**record, "pid": os.getpid()}))
    with pytest.raises(RuntimeError, match=r"stale lock"):
        precision(**TINY, out=tmp_path)
    (tmp_path / LOCK).write_text("")
    with pytest.raises(RuntimeError, match=r"exists but names no process"):
        precision(**TINY, out=tmp_path)
    (tmp_path / LOCK).unlink()
    assert main([*CLI_TINY, "--out", str(tmp_path)]) == 0


def test_the_lock_is_removed_on_error_interrupt_and_sigterm(tmp_path, monkeypatch, capsys):
    out = tmp_path / "new" / "out"
    assert main([*CLI_TINY, "--out", str(out), "--families", "nope"]) == 2
    assert not (tmp_path / "new").exists()  # the directories it created, removed again
    real = precision_module.run_case

    def killed(case, **kw):  # SIGTERM during the second case
        if killed.calls:
            os.kill(os.getpid(), signal.SIGTERM)
        killed.calls += 1
        return real(case, **kw)

    killed.calls = 0
    monkeypatch.setattr(precision_module, "run_case", killed)
    args = [*CLI_TINY, "--out", str(out), "--schedules", "polar_express,jordan"]
    handler = signal.getsignal(signal.SIGTERM)
    assert main(args) == 130
    assert "--resume" in capsys.readouterr().err
    assert not (out / LOCK).exists()
    assert len(read_csv(out / "precision.csv")) == 2  # the first case, kept
    assert signal.getsignal(signal.SIGTERM) == handler  # restored
    monkeypatch.setattr(precision_module, "run_case", real)
    assert main([*args, "--resume"]) == 0 and len(read_csv(out / "precision.csv")) == 4
