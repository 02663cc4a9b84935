"""The package's version has one source, ``polarlab.__version__``.

pyproject.toml declares the version dynamic and reads it from that attribute
(setuptools reads the literal without importing polarlab); the installed
metadata and ``polarlab --version`` report the same string. CI builds the
wheel and sdist and smoke-tests the wheel in a fresh venv (.ci/run).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import re
from pathlib import Path

import pytest

import polarlab
from polarlab.cli import main

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_version_is_read_from_the_package():
    project = tomllib.loads(PYPROJECT.read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "polarlab.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", polarlab.__version__)


def test_installed_metadata_and_command_report_the_version():
    # the README's set-up (pip install -e) writes the metadata from the same attribute
    assert importlib.metadata.version("polarlab") == polarlab.__version__
    with contextlib.redirect_stdout(io.StringIO()) as out, pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert out.getvalue().strip() == f"polarlab {polarlab.__version__}"
