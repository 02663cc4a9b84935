"""The one table renderer of the studies: records (dicts) as plain text or Markdown.

The ``polarlab`` command prints text tables; the report and the claims file write
Markdown ones. Both render cells the same way: floats to three significant digits,
``None`` as ``-``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table"]

_STYLES = ("text", "markdown")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def format_table(
    records: Sequence[dict],
    columns: Sequence[str] | None = None,
    *,
    style: str = "text",
    escape: bool = False,
) -> str:
    """``records`` (dicts) as a table restricted to ``columns`` (default: the first's keys).

    Parameters
    ----------
    records : sequence of dict
        One row each; a missing key is an empty (``-``) cell.
    columns : sequence of str, optional
        Column keys, in order; default the keys of the first record.
    style : {"text", "markdown"}
        ``"text"``: left-aligned columns under a dashed rule, for a terminal.
        ``"markdown"``: a pipe table ending in a newline; no records give ``(no rows)``.
    escape : bool
        Markdown only: write ``|`` inside a cell as ``\\|`` (GitHub-flavoured Markdown's
        escape, rendered as ``|``, so ``|x|`` stays an absolute value) instead of ``/``
        (the default, for plain-text readers of the file).

    Examples
    --------
    >>> print(format_table([{"claim": "C-3", "figure": 0.0123456}], ["claim", "figure"]))
    claim  figure
    -----  ------
    C-3    0.0123
    >>> print(format_table([{"a": 1, "b": None}], style="markdown"), end="")
    | a | b |
    |---|---|
    | 1 | - |
    >>> print(format_table([{"x": "|x|"}], style="markdown", escape=True).splitlines()[2])
    | \\|x\\| |
    """
    if style not in _STYLES:
        raise ValueError(f"unknown table style {style!r}; choose one of: {', '.join(_STYLES)}")
    if not records:
        return "(no rows)\n" if style == "markdown" else "(no rows)"
    columns = list(records[0] if columns is None else columns)
    cells = [[_cell(r.get(c)) for c in columns] for r in records]
    if style == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        pipe = "\\|" if escape else "/"
        lines += ["| " + " | ".join(c.replace("|", pipe) for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)
