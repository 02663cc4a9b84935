"""Memory of a call: peak bytes allocated above the start, and optimizer state bytes.

On CPU torch keeps no allocation statistics, so the peak is read from the
profiler's memory events: the CPU allocator reports every storage it allocates
or frees (op-internal temporaries included), and the running sum of those
events, in time order, peaks where the call held the most. On CUDA the caching
allocator's own peak counter is used.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks._common import peak_memory_since, reset_peak_memory


def net_and_peak_bytes(fn: Callable[[], object]) -> tuple[int, int]:
    """``(net, peak)`` bytes allocated on the CPU by ``fn()`` above what was allocated before.

    ``net`` is what ``fn`` left allocated (0 for a call that frees every
    temporary; storages allocated before the call and freed by it are not
    counted, since the profiler never saw their allocation).
    """
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return current, peak


def peak_extra_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated by ``fn()`` on ``device`` above what was allocated before it."""
    if device.type == "cuda":
        baseline = reset_peak_memory(device)
        fn()
        return int(peak_memory_since(device, baseline))
    return net_and_peak_bytes(fn)[1]


def tensor_bytes(tensors) -> int:
    """Bytes of the tensors among ``tensors`` (other values are skipped)."""
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in an optimizer's state."""
    return sum(tensor_bytes(s.values()) for s in opt.state.values())
