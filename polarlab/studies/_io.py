"""Tidy output for studies: append-only CSV by case, JSON, resume, progress, lazy plotting.

A study is a list of *cases* (one matrix, one method, one dtype, ...), each producing
one or more *rows* (e.g. one per iterate). Rows of a case are written together, in
one write, once the case is finished, so an interrupted run (Ctrl-C) leaves only
complete cases on disk, and a rerun with ``resume=True`` skips them by their
``case_id`` once :mod:`polarlab.studies._resume` has checked that they are whole and
were computed with this run's settings. One run at a time writes to a directory
(:mod:`polarlab.studies._lock`).

Optional dependencies (the ``studies`` extra: ``pip install 'polarlab[studies]'``)
are imported here, lazily, and nowhere else: ``tqdm`` for progress bars (a plain
text counter is used without it) and ``matplotlib`` for figures (required only
when figures are asked for).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from polarlab.studies._lock import folder_lock
from polarlab.studies._resume import (
    BOOKKEEPING,
    COLUMN_KINDS,
    ResumeError,
    _cell,
    _parse,
    check_cases,
    check_kind,
    check_settings,
    read_rows,
)

__all__ = [
    "COLUMN_KINDS",
    "MissingDependencyError",
    "ResumeError",
    "TidyWriter",
    "plain_options",
    "progress",
    "pyplot",
    "read_csv",
    "run_cases",
    "write_json",
]

_INSTALL_HINT = "install the studies extra: pip install 'polarlab[studies]'"


class MissingDependencyError(RuntimeError):
    """An optional dependency of the studies (matplotlib) is not installed."""


def pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend, imported on first use.

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed; the message says how to install it.

    Examples
    --------
    >>> pyplot().__name__
    'matplotlib.pyplot'
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"figures need matplotlib, which is not installed; {_INSTALL_HINT} (or pass --no-plots)"
        ) from exc
    matplotlib.use("Agg", force=True)  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def progress(
    items: Iterable, *, total: int | None = None, desc: str = "", enabled: bool = True
) -> Iterator:
    """Iterate over ``items`` showing a progress bar on stderr.

    Uses ``tqdm`` when installed; otherwise prints a one-line counter (so long runs
    are never silent). ``enabled=False`` iterates quietly.

    Examples
    --------
    >>> list(progress(range(3), total=3, enabled=False))
    [0, 1, 2]
    """
    if not enabled:
        yield from items
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - depends on the environment
        tqdm = None
    if tqdm is not None:
        yield from tqdm(items, total=total, desc=desc, leave=False, file=sys.stderr)
        return
    count = 0  # pragma: no cover - fallback without tqdm
    for item in items:  # pragma: no cover
        count += 1
        print(f"\r{desc} {count}/{total or '?'}", end="", file=sys.stderr, flush=True)
        yield item
    print(file=sys.stderr)  # pragma: no cover


def read_csv(path: str | Path) -> list[dict]:
    """Rows of a CSV written by :class:`TidyWriter`, with numbers parsed back.

    Floats round-trip exactly (they are written with ``repr``); empty cells read
    back as ``None``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
    >>> writer = TidyWriter(path, ["case_id", "x"])
    >>> writer.write_case([{"case_id": "a", "x": 0.1}])
    >>> read_csv(path) == [{"case_id": "a", "x": 0.1}]
    True
    """
    with open(path, newline="") as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _json_value(value):
    # JSON has no nan/inf; write them as null so every JSON reader accepts the file.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the new one."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="") as fh:
        fh.write(text)
    os.replace(partial, path)


def write_json(path: str | Path, rows: Sequence[dict], **meta) -> Path:
    """Write ``{"meta": meta, "rows": rows}`` as JSON (nan and inf become null), atomically.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> path = write_json(path, [{"x": float("nan")}], study="demo")
    >>> json.loads(path.read_text())
    {'meta': {'study': 'demo'}, 'rows': [{'x': None}]}
    """
    path = Path(path)
    clean = [{k: _json_value(v) for k, v in row.items()} for row in rows]
    _replace(path, json.dumps({"meta": meta, "rows": clean}, indent=1, default=str) + "\n")
    return path


class TidyWriter:
    """Append-only tidy CSV, written one finished case at a time.

    Parameters
    ----------
    path : path-like
        The CSV file. Its parent directory is created if needed.
    columns : sequence of str
        The documented columns, in order; a row with any other key raises
        ``ValueError`` (missing keys are written empty).
    kinds : mapping, optional
        Column -> kind (:data:`COLUMN_KINDS`; ``auto`` for columns not named). A
        row whose value does not fit its column's kind raises ``ValueError`` when
        written; a cell that does not fit raises :class:`ResumeError` when read back.
    resume : bool
        Keep the rows already in ``path`` (``rows``, with their line numbers in
        ``lines``) and report their ``case_id`` values as done; otherwise start a
        fresh file. Reading back checks the file line by line: a 0-byte file, a
        last line cut mid-row, a foreign header, a row with the wrong number of
        cells or a cell that does not fit its kind raise :class:`ResumeError`
        naming the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "study.csv"
    >>> TidyWriter(path, ["case_id", "k"]).write_case([{"case_id": "a", "k": 1}])
    >>> TidyWriter(path, ["case_id", "k"], resume=True).done_cases()
    {'a'}
    """

    def __init__(
        self,
        path: str | Path,
        columns: Sequence[str],
        *,
        kinds: Mapping[str, str] | None = None,
        resume: bool = False,
    ):
        self.path = Path(path)
        self.columns = list(columns)
        self.kinds = dict(kinds or {})
        unknown = {k: v for k, v in self.kinds.items() if v not in COLUMN_KINDS}
        if unknown or not set(self.kinds) <= set(self.columns):
            raise ValueError(
                f"bad column kinds {unknown or sorted(set(self.kinds) - set(self.columns))}; "
                f"kinds: {', '.join(COLUMN_KINDS)}, for columns of the study"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []
        self.lines: list[int] = []
        if resume and self.path.exists():
            found = read_rows(self.path, self.columns, self.kinds)
            self.lines = [line for line, _ in found]
            self.rows = [row for _, row in found]
        else:
            _replace(self.path, self._text([dict(zip(self.columns, self.columns))]))

    def _text(self, rows: Sequence[dict]) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in self.columns])
        return buffer.getvalue()

    def done_cases(self) -> set[str]:
        """``case_id`` values already on disk."""
        return {str(row["case_id"]) for row in self.rows}

    def write_case(self, rows: Sequence[dict]) -> None:
        """Append the rows of one finished case, in one write, and flush them to disk."""
        for row in rows:
            extra = set(row) - set(self.columns)
            if extra:
                raise ValueError(f"undocumented column(s) {sorted(extra)}; add them to COLUMNS")
            for column, kind in self.kinds.items():
                if not check_kind(row.get(column), kind):
                    raise ValueError(
                        f"case {row.get('case_id')!r}: column {column!r} holds "
                        f"{row.get(column)!r}, not {COLUMN_KINDS[kind]}"
                    )
        with open(self.path, "a", newline="") as fh:
            fh.write(self._text(rows))  # one write: an interrupt leaves whole cases
            fh.flush()
        self.rows.extend(dict(row) for row in rows)


def run_cases(
    cases: Sequence[dict],
    run: Callable[[dict], list[dict]],
    *,
    out: str | Path | None,
    name: str,
    columns: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    case_rows: Callable[[dict], Sequence[dict]] | None = None,
    resume: bool = False,
    show_progress: bool = False,
    **settings,
) -> list[dict]:
    """Run each case (a dict with a ``case_id``) not already on disk; every study's loop.

    With ``out``, the rows of each finished case are appended to ``out/<name>.csv``
    (:class:`TidyWriter`) and ``out/<name>.json`` holds them with ``meta``: the
    ``settings`` plus ``study``, ``columns``, ``complete``, ``seconds`` and
    ``polarlab_version``; it is written when the run starts and again at its end,
    also after an interrupt. The directory is locked for the run
    (:func:`polarlab.studies._lock.folder_lock`: a second run into it fails at once).

    ``settings`` are the run-wide options that change a result (the ``case_id``
    names those that differ between cases). With ``resume``, the cases found in the
    CSV are kept and skipped, after checking (:class:`ResumeError` naming the file
    and the line, or the setting, otherwise) that the JSON records the same
    settings and polarlab version, that every line is whole and of the right kinds
    (``kinds``, see :class:`TidyWriter`), and that every case on disk is one of
    ``cases``, appears once, holds the case's values in the columns the case
    dict (or the settings) also has, and, when ``case_rows(case)`` gives the
    expected rows (dicts of the values that identify them, in order), has exactly
    those.

    Returns
    -------
    list of dict
        The rows kept from disk, then those of ``run(case)`` for the other cases.

    Raises
    ------
    ValueError
        Two cases with one ``case_id``.

    Examples
    --------
    >>> cases = [{"case_id": "a"}, {"case_id": "b"}]
    >>> run_cases(cases, lambda c: [{"case_id": c["case_id"], "k": 1}], out=None,
    ...           name="demo", columns=["case_id", "k"])
    [{'case_id': 'a', 'k': 1}, {'case_id': 'b', 'k': 1}]
    """
    by_id: dict[str, dict] = {}
    for case in cases:
        if case["case_id"] in by_id:
            raise ValueError(
                f"case {case['case_id']!r} is defined twice (an option list repeats a value?)"
            )
        by_id[case["case_id"]] = case
    if not out:
        return _loop(list(cases), run, None, [], name, show_progress, lambda done: None)
    from polarlab import __version__

    settings = {**settings, "polarlab_version": __version__}
    clash = set(BOOKKEEPING) & set(settings)
    if clash:
        raise ValueError(f"settings may not be named {sorted(clash)}")
    csv_path, json_path = Path(out) / f"{name}.csv", Path(out) / f"{name}.json"
    started = time.perf_counter()
    kinds = {"case_id": "text", **(kinds or {})}
    with folder_lock(out):
        if resume and csv_path.exists():
            writer = TidyWriter(csv_path, columns, kinds=kinds, resume=True)
            check_settings(json_path, csv_path, name, settings)
            check_cases(
                csv_path, columns, list(zip(writer.lines, writer.rows)), by_id, settings, case_rows
            )
        else:
            writer = TidyWriter(csv_path, columns, kinds=kinds)

        def record(complete: bool) -> None:
            meta = dict(study=name, columns=list(columns), complete=complete)
            seconds = round(time.perf_counter() - started, 3)
            write_json(json_path, writer.rows, **meta, seconds=seconds, **settings)

        record(False)  # the settings are on disk before the first case
        done = writer.done_cases()
        todo = [c for c in cases if c["case_id"] not in done]
        return _loop(todo, run, writer, list(writer.rows), name, show_progress, record)


def _loop(todo, run, writer, rows, name, show_progress, record) -> list[dict]:
    complete = False
    try:
        for case in progress(todo, total=len(todo), desc=name, enabled=show_progress):
            found = run(case)
            if writer:
                writer.write_case(found)
            rows.extend(found)
        complete = True
    finally:  # also on Ctrl-C: the JSON mirrors the finished cases in the CSV
        record(complete)
    return rows


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str, tuple)):
        return value
    # A Schedule by its name, a torch dtype by its name ("torch.float32" -> "float32").
    return getattr(value, "name", None) or str(value).removeprefix("torch.")


def plain_options(solver) -> dict:
    """A polar solver's options as plain values (for JSON and labels): names for
    a schedule and a dtype.

    Examples
    --------
    >>> from polarlab.polar import resolve
    >>> options = plain_options(resolve("newton_schulz", schedule="jordan", dtype="float32"))
    >>> options["schedule"], options["dtype"], options["steps"]
    ('jordan', 'float32', None)
    """
    return {k: _plain(v) for k, v in solver.options.items()}
