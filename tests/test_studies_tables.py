"""The one table renderer: text for the terminal, Markdown for the report and claims file."""

import pytest

from polarlab.studies.tables import format_table

RECORDS = [{"id": "C-3", "x": 0.0123456, "note": "a | b"}, {"id": "C-10", "x": None}]


def test_text_columns_are_aligned():
    lines = format_table(RECORDS, ["id", "x"]).splitlines()
    assert lines == ["id    x     ", "----  ------", "C-3   0.0123", "C-10  -     "]


def test_markdown_escapes_pipes_and_formats_cells_like_text():
    text = format_table(RECORDS, style="markdown")
    assert text.splitlines() == [
        "| id | x | note |",
        "|---|---|---|",
        "| C-3 | 0.0123 | a / b |",
        "| C-10 | - | - |",
    ]
    assert text.endswith("\n")


def test_no_rows_and_bad_style():
    assert format_table([], style="markdown") == "(no rows)\n"
    assert format_table([]) == "(no rows)"
    with pytest.raises(ValueError, match="unknown table style 'html'; choose one of: text"):
        format_table(RECORDS, style="html")
