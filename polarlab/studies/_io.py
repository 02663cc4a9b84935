"""Tidy output for studies: append-only CSV by case, JSON, resume, progress, lazy plotting.

A study is a list of *cases* (one matrix, one method, one dtype, ...), each producing
one or more *rows* (e.g. one per iterate). Rows of a case are written together once
the case is finished, so an interrupted run (Ctrl-C) leaves only complete cases on
disk, and a rerun with ``resume=True`` skips them by their ``case_id``.

Optional dependencies (the ``studies`` extra: ``pip install 'polarlab[studies]'``)
are imported here, lazily, and nowhere else: ``tqdm`` for progress bars (a plain
text counter is used without it) and ``matplotlib`` for figures (required only
when figures are asked for).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "MissingDependencyError",
    "TidyWriter",
    "progress",
    "pyplot",
    "read_csv",
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


def write_json(path: str | Path, rows: Sequence[dict], **meta) -> Path:
    """Write ``{"meta": meta, "rows": rows}`` as JSON (nan and inf become null).

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
    path.write_text(json.dumps({"meta": meta, "rows": clean}, indent=1, default=str) + "\n")
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
    resume : bool
        Keep the rows already in ``path`` and report their ``case_id`` values as
        done; otherwise start a fresh file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "study.csv"
    >>> TidyWriter(path, ["case_id", "k"]).write_case([{"case_id": "a", "k": 1}])
    >>> TidyWriter(path, ["case_id", "k"], resume=True).done_cases()
    {'a'}
    """

    def __init__(self, path: str | Path, columns: Sequence[str], *, resume: bool = False):
        self.path = Path(path)
        self.columns = list(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []
        if resume and self.path.exists():
            self.rows = read_csv(self.path)
            found = list(self.rows[0]) if self.rows else self.columns
            if found != self.columns:
                raise ValueError(
                    f"cannot resume from {self.path}: its columns differ from this study's "
                    "(written by another version?); use a fresh --out directory"
                )
        else:
            with open(self.path, "w", newline="") as fh:
                csv.writer(fh).writerow(self.columns)

    def done_cases(self) -> set[str]:
        """``case_id`` values already on disk."""
        return {str(row["case_id"]) for row in self.rows}

    def write_case(self, rows: Sequence[dict]) -> None:
        """Append the rows of one finished case and flush them to disk."""
        for row in rows:
            extra = set(row) - set(self.columns)
            if extra:
                raise ValueError(f"undocumented column(s) {sorted(extra)}; add them to COLUMNS")
        with open(self.path, "a", newline="") as fh:
            writer = csv.writer(fh)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in self.columns])
        self.rows.extend(dict(row) for row in rows)
