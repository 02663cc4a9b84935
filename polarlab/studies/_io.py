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
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "MissingDependencyError",
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


def run_cases(
    cases: Sequence[dict],
    run: Callable[[dict], list[dict]],
    *,
    out: str | Path | None,
    name: str,
    columns: Sequence[str],
    resume: bool = False,
    show_progress: bool = False,
    **meta,
) -> list[dict]:
    """Run each case (a dict with a ``case_id``) not already on disk; every study's loop.

    With ``out``, the rows of each finished case are appended to ``out/<name>.csv``
    (:class:`TidyWriter`; ``resume`` keeps and skips the cases found there) and
    ``out/<name>.json`` is written at the end, also after an interrupt, with
    ``meta`` plus ``study``, ``columns``, ``complete`` and ``seconds``.

    Returns
    -------
    list of dict
        The rows kept from disk, then those of ``run(case)`` for the other cases.

    Examples
    --------
    >>> cases = [{"case_id": "a"}, {"case_id": "b"}]
    >>> run_cases(cases, lambda c: [{"case_id": c["case_id"], "k": 1}], out=None,
    ...           name="demo", columns=["case_id", "k"])
    [{'case_id': 'a', 'k': 1}, {'case_id': 'b', 'k': 1}]
    """
    writer = TidyWriter(Path(out) / f"{name}.csv", columns, resume=resume) if out else None
    done = writer.done_cases() if writer else set()
    rows = list(writer.rows) if writer else []
    todo = [c for c in cases if c["case_id"] not in done]
    started = time.perf_counter()
    complete = False
    try:
        for case in progress(todo, total=len(todo), desc=name, enabled=show_progress):
            case_rows = run(case)
            if writer:
                writer.write_case(case_rows)
            rows.extend(case_rows)
        complete = True
    finally:  # also on Ctrl-C: the JSON mirrors the finished cases in the CSV
        if out:
            write_json(
                Path(out) / f"{name}.json",
                rows,
                study=name,
                columns=list(columns),
                complete=complete,
                seconds=round(time.perf_counter() - started, 3),
                **meta,
            )
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
    >>> plain_options(resolve("newton_schulz", schedule="jordan", dtype="float32"))
    {'schedule': 'jordan', 'steps': None, 'dtype': 'float32', 'normalization': 'frobenius'}
    """
    return {k: _plain(v) for k, v in solver.options.items()}
