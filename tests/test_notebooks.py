"""The notebook sources: plain-text jupytext files that the documentation gallery executes.

Executing them is the documentation build's job (``docs/build.sh``, under two minutes each
at ``POLARLAB_NOTEBOOK_SIZE=small``); these fast checks catch the ways a notebook silently
drops out of that build: not in percent format, not listed in the gallery, or without the
size parameter CI relies on.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext  # in the dev extra, so these checks always run
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
GALLERY = ROOT / "docs" / "gallery" / "index.md"


def test_there_are_notebooks():
    # The gallery promises at least four (precision, Aurora uniformity, neuron activity,
    # custom optimizer).
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_percent_format_with_markdown_and_code(path):
    nb = jupytext.read(path, fmt="py:percent")
    kinds = [cell.cell_type for cell in nb.cells]
    assert kinds[0] == "markdown", "a notebook opens with its question, in Markdown"
    assert kinds.count("code") >= 2
    # Every cell starts at a "# %%" marker: nothing is merged into the header or lost.
    markers = re.findall(r"^# %%", path.read_text(), flags=re.MULTILINE)
    assert len(markers) == len(nb.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_valid_python_reading_the_size_parameter(path):
    source = path.read_text()
    ast.parse(source)
    assert 'os.environ.get("POLARLAB_NOTEBOOK_SIZE", "small")' in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_listed_in_the_gallery(path):
    listed = re.findall(r"^generated/(\S+)$", GALLERY.read_text(), flags=re.MULTILINE)
    assert path.stem in listed, f"{path.name} is not in the gallery toctree"


def test_gallery_lists_no_missing_notebook():
    listed = re.findall(r"^generated/(\S+)$", GALLERY.read_text(), flags=re.MULTILINE)
    assert sorted(listed) == sorted(p.stem for p in NOTEBOOKS)
