"""Helpers shared by the benchmark scripts: machine facts, device memory, result files.

Timing itself lives in ``bench_polar.median_times`` (interleaved rounds, medians);
this module holds what every script records beside its timings. Results record
machine facts (device model, driver, versions, core count), never file paths.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def sync(device: torch.device) -> None:
    """Wait for queued device work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _nvidia_smi(field: str) -> str | None:
    """One ``nvidia-smi --query-gpu`` field of the first GPU, or ``None`` without one."""
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def cpu_model() -> str | None:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else the processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_facts(device: torch.device) -> dict:
    """Versions and hardware of this run: torch, CUDA, GPU model and driver, CPU, load.

    Every key is always present (``None`` where it does not apply), so results
    from different machines have the same shape.
    """
    cuda = device.type == "cuda"
    props = torch.cuda.get_device_properties(device) if cuda else None
    return {
        "device": str(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": props.name if cuda else None,
        "gpu_memory_gib": round(props.total_memory / 2**30, 1) if cuda else None,
        "compute_capability": f"{props.major}.{props.minor}" if cuda else None,
        "driver": _nvidia_smi("driver_version") if cuda else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def reset_peak_memory(device: torch.device) -> int | None:
    """Start a peak-memory window; returns the bytes allocated now (``None`` on CPU).

    ``torch.cuda.max_memory_allocated`` counts the caching allocator's tensors;
    CPU allocations are not tracked by torch, so CPU runs record ``None``.
    """
    if device.type != "cuda":
        return None
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def peak_memory_since(device: torch.device, baseline: int | None) -> int | None:
    """Peak bytes allocated above ``baseline`` since :func:`reset_peak_memory`."""
    if baseline is None:
        return None
    sync(device)
    return torch.cuda.max_memory_allocated(device) - baseline


def write_results(out: Path, stem: str, report: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``<out>/<stem>.json`` and ``<out>/<stem>.md``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown)
    return json_path, md_path


def gram_vs_standard(
    standard_seconds: float, gram_seconds: float, flop_ratio: float, m: int, n: int
) -> dict:
    """Gram against standard Newton-Schulz (same schedule): measured and FLOP speedups.

    The target, reported and never asserted, is the FLOP speedup minus 15% where
    ``m / n >= 4`` (Zhang, Amsel, Chen, Dao, "Gram Newton-Schulz", 2026).
    """
    return {
        "standard_seconds": standard_seconds,
        "gram_seconds": gram_seconds,
        "measured_speedup": standard_seconds / gram_seconds,
        "flop_speedup": flop_ratio,
        "target_speedup": 0.85 * flop_ratio if m >= 4 * n else None,
    }
