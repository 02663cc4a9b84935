"""The package layout: no module over 600 lines; importable without docstrings (-OO)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polarlab

PACKAGE = Path(polarlab.__file__).parent
MAX_LINES = 600


def test_no_module_over_600_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_imports_under_python_OO():
    """Nothing at import time may depend on docstrings (stripped by -OO)."""
    code = "import polarlab, polarlab.optim, polarlab.studies, polarlab.cli; print('ok')"
    run = subprocess.run(
        [sys.executable, "-OO", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
