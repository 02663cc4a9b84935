"""What ``import polarlab`` adds to ``import torch``, with a bytecode cache.

Three measures, each over fresh interpreters with a warm bytecode cache (a
temporary ``PYTHONPYCACHEPREFIX`` filled by one warm-up run of each variant, so
nothing is written next to the sources and no run compiles):

- **side by side**: ``python -c "import torch"`` against ``python -c "import
  torch; import polarlab"`` (and ``polarlab.optim``), interleaved per round; the
  added cost is the median of the per-round differences, in wall-clock time and
  in the child's CPU time (user + system; unaffected by waiting for a core on a
  shared machine). Interpreter start and exit (with its final garbage
  collection) are part of every variant alike;
- **in process**: ``import torch``, then the wall-clock time of ``import polarlab``
  alone (any garbage collection it triggers included);
- **-X importtime**: the cumulative microseconds Python reports for ``polarlab``.

The headline target reads the side-by-side CPU time.
"""

from __future__ import annotations

import os
import resource
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
IN_PROCESS = (
    "import time, torch; t = time.perf_counter(); import polarlab; print(time.perf_counter() - t)"
)
#: modules that should not be imported by ``import polarlab`` (heavy, optional)
LAZY = ("mpmath", "matplotlib", "scipy", "pandas")


def _env(cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _run(args: list[str], env: dict) -> tuple[float, float, str, str]:
    """``(wall s, child CPU s, stdout, stderr)`` of ``python *args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout, out.stderr


def _importtime_us(stderr: str, module: str) -> int:
    """The cumulative microseconds of ``module`` in ``-X importtime`` output."""
    for line in stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise ValueError(f"{module} not in the -X importtime output")


def imports_record(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = _env(cache)
        for code in VARIANTS.values():  # fill the bytecode cache
            _run(["-c", code], env)
        wall = {k: [] for k in VARIANTS}
        cpu = {k: [] for k in VARIANTS}
        names = list(VARIANTS)
        for r in range(rounds):
            for name in names[r % 3 :] + names[: r % 3]:
                w, c, _, _ = _run(["-c", VARIANTS[name]], env)
                wall[name].append(w)
                cpu[name].append(c)
        in_process = [1e3 * float(_run(["-c", IN_PROCESS], env)[2]) for _ in range(rounds)]
        importtime = [
            1e-3 * _importtime_us(_run(["-X", "importtime", "-c", VARIANTS["polarlab"]], env)[3],
                                  "polarlab")
            for _ in range(rounds)
        ]  # fmt: skip
        probe = (
            "import sys, torch; before = set(sys.modules); import polarlab; "
            f"print(','.join(m for m in {LAZY!r} if m in sys.modules and m not in before))"
        )
        eager = _run(["-c", probe], env)[2].strip()

    def added(times, name):
        return spread([1e3 * (t - base) for t, base in zip(times[name], times["torch"])])

    return {
        "import_torch_ms": spread([1e3 * t for t in wall["torch"]]),
        "added_ms": {name: added(wall, name) for name in ("polarlab", "polarlab.optim")},
        "added_cpu_ms": {name: added(cpu, name) for name in ("polarlab", "polarlab.optim")},
        "in_process_ms": spread(in_process),
        "importtime_ms": spread(importtime),
        "heavy_modules_imported": [m for m in eager.split(",") if m],
        "rounds": rounds,
    }
