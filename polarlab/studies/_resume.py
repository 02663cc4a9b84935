"""The tidy CSV's cells, and what a resume checks before it keeps a study's rows.

A cell holds a plain value written by :func:`_cell` (floats with ``repr``, so they
round-trip exactly; ``None`` as an empty cell). Each column has a *kind*
(:data:`COLUMN_KINDS`), checked when a row is written and when it is read back.

A resume (:func:`polarlab.studies._io.run_cases`) keeps the rows on disk only if
they are exactly what this run would write: :func:`read_rows` checks the file line
by line (not empty, not cut mid-row, this study's header, whole rows, cells of the
right kind), :func:`check_settings` that the JSON beside it records the same
run-wide settings, and :func:`check_cases` that every case on disk is one of this
run's, once, whole and with the case's values. Each failure is a
:class:`ResumeError` naming the file and the line, or the setting; nothing is
merged silently.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "COLUMN_KINDS",
    "ResumeError",
    "check_cases",
    "check_settings",
    "distinct",
    "read_rows",
]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # round-trips exactly (nan, inf included)
    return str(value)


def _parse(text: str):
    """Inverse of :func:`_cell` for the plain types studies write."""
    if text == "":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


#: Kinds of column (the ``kinds`` of :class:`~polarlab.studies._io.TidyWriter`): what a
#: cell may hold, checked when a row is written and when it is read back.
#: ``auto`` (the default) is any plain value, read back as int, float, bool or text.
COLUMN_KINDS: dict[str, str] = {
    "auto": "a plain value",
    "text": "non-empty text",
    "optional text": "non-empty text or None (an empty cell)",
    "int": "an integer",
    "finite": "a finite number",
    "real": "a number (nan and inf allowed)",
}


def check_kind(value, kind: str) -> bool:
    """Whether ``value`` (as a study returns it) may go in a column of ``kind``."""
    if kind in ("text", "optional text"):  # "" would read back as None: say None
        return (isinstance(value, str) and value != "") or (kind != "text" and value is None)
    if isinstance(value, bool):
        return kind == "auto"
    if kind == "int":
        return isinstance(value, numbers.Integral)
    if kind in ("finite", "real"):
        return isinstance(value, numbers.Real) and (kind == "real" or math.isfinite(value))
    return True


def _read_cell(text: str, kind: str):
    """The value of a cell of ``kind``: the inverse of :func:`_cell`, or ``ValueError``."""
    if kind == "auto":
        return _parse(text)
    if kind in ("text", "optional text"):
        value = text or None
    elif text.strip() != text or "_" in text:  # int() and float() would accept these
        value = text
    else:
        try:
            value = int(text) if kind == "int" else float(text)
        except ValueError:
            value = text
    if not check_kind(value, kind):
        raise ValueError(f"{text!r} is not {COLUMN_KINDS[kind]}")
    return value


class ResumeError(ValueError):
    """A study's files cannot be resumed: damaged, truncated, duplicated, foreign, or
    computed with other settings. The message names the file and the line (or the
    setting) and how to go on."""


START_AFRESH = "rerun without --resume to start afresh, or use a fresh --out"


def read_rows(path: Path, columns: Sequence[str], kinds: Mapping[str, str]) -> list[tuple]:
    """``(line, row)`` for every row of the CSV at ``path``, each cell checked; else
    :class:`ResumeError` naming the line."""

    def damaged(where: str, what: str) -> ResumeError:
        return ResumeError(f"cannot resume from {path}: {where}{what}; {START_AFRESH}")

    try:
        with open(path, newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise damaged("", "it is not a text file (not written by polarlab)") from None
    if not text:
        raise damaged("", "the file is empty (0 bytes, not even the header)")
    if not text.endswith("\n"):  # every write ends with a line end: the run was cut
        last = text.count("\n") + 1
        raise damaged(f"line {last} ", "is cut short (no line end; the run was killed mid-row?)")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    if header != list(columns):
        differ = next(
            (i for i, (a, b) in enumerate(zip(header, columns)) if a != b),
            min(len(header), len(columns)),
        )
        found = header[differ] if differ < len(header) else "<nothing>"
        expected = columns[differ] if differ < len(columns) else "<nothing>"
        raise damaged(
            "line 1 ",
            f"is not this study's header: column {differ + 1} is {found!r}, expected "
            f"{expected!r} (a file of another study, or of another polarlab version)",
        )
    rows, first = [], 2
    for cells in reader:
        line, first = first, reader.line_num + 1  # a quoted cell may span lines
        if len(cells) != len(columns):
            raise damaged(f"line {line} ", f"has {len(cells)} cells, expected {len(columns)}")
        if cells == header:
            raise damaged(f"line {line} ", "repeats the header (two files joined?)")
        row = {}
        for column, cell in zip(columns, cells):
            try:
                row[column] = _read_cell(cell, kinds.get(column, "auto"))
            except ValueError as exc:
                raise damaged(f"line {line}, column {column!r}: ", str(exc)) from None
        rows.append((line, row))
    return rows


BOOKKEEPING = ("study", "columns", "complete", "seconds")


def _plain_json(value):
    return json.loads(json.dumps(value, default=str))


def check_settings(path: Path, csv_path: Path, name: str, settings: Mapping) -> None:
    """The JSON beside the CSV must record this study and exactly these settings."""
    fresh = f"; {START_AFRESH}"
    try:
        meta = json.loads(path.read_text())["meta"]
    except FileNotFoundError:
        raise ResumeError(
            f"cannot resume from {csv_path}: {path.name}, which records the settings its rows "
            f"were computed with, is missing (an older polarlab, or a run killed at once?){fresh}"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ResumeError(
            f"cannot resume from {csv_path}: {path} is damaged ({exc}){fresh}"
        ) from None
    if not isinstance(meta, dict) or meta.get("study") != name:
        study = meta.get("study") if isinstance(meta, dict) else None
        raise ResumeError(
            f"cannot resume from {csv_path}: {path} records study {study!r}, not {name!r}{fresh}"
        )
    recorded = {k: v for k, v in meta.items() if k not in BOOKKEEPING}
    current = _plain_json(dict(settings))
    differ = [k for k in sorted(set(recorded) | set(current)) if recorded.get(k) != current.get(k)]
    if differ:

        def show(values):
            return ", ".join(f"{k}={json.dumps(values.get(k))}" for k in differ)

        raise ResumeError(
            f"cannot resume from {csv_path}: its rows were computed with {show(recorded)} "
            f"(recorded in {path.name}), this run has {show(current)}; every option that "
            f"changes a result must match{fresh}"
        )


def _unlike(row: dict, cases: Mapping[str, dict]) -> str:
    """Why no case matches ``row``: the values that no case of this run has."""
    values: dict[str, list] = {}
    for case in cases.values():
        for column, value in case.items():
            values.setdefault(column, []).append(value)
    odd = [c for c in row if c != "case_id" and c in values and row[c] not in values[c]]
    if not odd:
        return "cases (it was computed with other options)"
    return "cases: none has " + ", ".join(f"{c}={row[c]!r}" for c in odd)


def check_cases(
    path: Path,
    columns: Sequence[str],
    found: Sequence[tuple[int, dict]],
    cases: Mapping[str, dict],
    settings: Mapping,
    case_rows: Callable[[dict], Sequence[dict]] | None,
) -> None:
    """Every case on disk is one of ``cases``, once, whole, with the case's values."""

    def damaged(line: int, what: str) -> ResumeError:
        return ResumeError(f"cannot resume from {path}: line {line}: {what}; {START_AFRESH}")

    shared = [c for c in columns if c in settings]
    blocks: dict[str, list[tuple[int, dict]]] = {}
    seen: dict[tuple, int] = {}
    previous = None
    for line, row in found:
        case_id = row["case_id"]
        if case_id != previous and case_id in blocks:
            start, end = blocks[case_id][0][0], blocks[case_id][-1][0]
            where = f"line {start}" if start == end else f"lines {start}-{end}"
            raise damaged(line, f"case {case_id!r} again, after {where} (duplicated rows)")
        if case_id not in cases:
            raise damaged(line, f"case {case_id!r} is not one of this run's {_unlike(row, cases)}")
        case = cases[case_id]
        for column in [c for c in columns if c in case and c != "case_id"] + shared:
            expected = case[column] if column in case else settings[column]
            if row[column] != expected:
                raise damaged(line, f"{column} is {row[column]!r}, this run's is {expected!r}")
        text = tuple(_cell(row[c]) for c in columns)  # nan == nan here
        if text in seen:
            raise damaged(line, f"the row repeats line {seen[text]} (duplicated rows)")
        seen[text] = line
        blocks.setdefault(case_id, []).append((line, row))
        previous = case_id
    for case_id, block in blocks.items():
        expected = case_rows(cases[case_id]) if case_rows else None
        if expected is None:
            continue
        if len(block) < len(expected):
            raise damaged(
                block[-1][0],
                f"case {case_id!r} has only {len(block)} of its {len(expected)} rows "
                "(a truncated case)",
            )
        for (line, row), want in zip(block, expected):
            if any(row.get(c) != v for c, v in want.items()):
                have = ", ".join(f"{c}={row.get(c)!r}" for c in want)
                wanted = ", ".join(f"{c}={v!r}" for c, v in want.items())
                raise damaged(
                    line, f"case {case_id!r} has a row with {have}, expected {wanted} here"
                )
        if len(block) > len(expected):
            raise damaged(
                block[len(expected)][0],
                f"case {case_id!r} has {len(block)} rows, expected {len(expected)} "
                "(duplicated rows?)",
            )


def distinct(name: str, values: Sequence) -> Sequence:
    """``values``, or ``ValueError`` naming ``name`` if it is empty or repeats a value
    (a repeated value would run, and be written, twice).

    >>> distinct("--dtype", ["float32", "float32"])
    Traceback (most recent call last):
    ...
    ValueError: --dtype lists 'float32' twice
    """
    if len(values) == 0:
        raise ValueError(f"{name} is empty; give at least one value")
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"{name} lists {value!r} twice")
    return values
