"""What ``import polarlab`` adds to ``import torch``, with a bytecode cache.

Each variant is a fresh interpreter (``python -c``) timed from the outside,
variants interleaved per round; the added cost is the median of the per-round
differences against ``import torch`` alone. The bytecode cache lives in a
temporary ``PYTHONPYCACHEPREFIX`` filled by one warm-up run of each variant, so
nothing is written next to the sources and no run compiles. The interpreter's
exit (with its final garbage collection) is part of every variant alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.suite.timing import spread

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {
    "torch": "import torch",
    "polarlab": "import torch; import polarlab",
    "polarlab.optim": "import torch; import polarlab.optim",
}
#: modules that should not be imported by ``import polarlab`` (heavy, optional)
LAZY = ("mpmath", "matplotlib", "scipy", "pandas")


def _env(cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _run(code: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def imports_record(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = _env(cache)
        for code in VARIANTS.values():  # fill the bytecode cache
            _run(code, env)
        times = {k: [] for k in VARIANTS}
        names = list(VARIANTS)
        for r in range(rounds):
            for name in names[r % 3 :] + names[: r % 3]:
                times[name].append(_run(VARIANTS[name], env))
        probe = (
            "import sys, torch; before = set(sys.modules); import polarlab; "
            f"print(','.join(m for m in {LAZY!r} if m in sys.modules and m not in before))"
        )
        eager = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    added = {
        name: spread([1e3 * (t - base) for t, base in zip(times[name], times["torch"])])
        for name in ("polarlab", "polarlab.optim")
    }
    return {
        "import_torch_ms": 1e3 * statistics.median(times["torch"]),
        "added_ms": added,
        "heavy_modules_imported": [m for m in eager.split(",") if m],
        "rounds": rounds,
    }
