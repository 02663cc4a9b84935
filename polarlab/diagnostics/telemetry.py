r"""Per-row telemetry of an optimizer: gradient norms and applied-update norms, kept on device.

For a weight ``W`` of shape ``(m, n)`` (row ``i`` = output neuron ``i``, PyTorch's
``(out, in)`` layout) a recorded step ``t`` stores

* ``grad_norm[t, i] = ||G_i||``, the norm of row ``i`` of the gradient the step uses;
* ``update_norm[t, i] = ||W_i(after) - W_i(before)||``, the norm of the change the
  optimizer actually applied (momentum, the direction map, lr scaling and weight decay
  included) -- not the norm of the direction before scaling.

These are the two per-row histories of the dead-neuron definition of the third-party
replication "Muon: Steepest Descent on Matrices, and Does It Kill Neurons?" (criteria
1 and 2; see :mod:`polarlab.diagnostics.dead_neurons`).

:class:`RowTelemetry` works with any ``torch.optim.Optimizer`` (polarlab's optimizers
and ``torch.optim.AdamW`` alike) through ``register_step_pre_hook`` /
``register_step_post_hook``. The histories are preallocated device tensors written at a
Python-side index, so a step with telemetry makes **no host synchronisation** (no
``.item()``, no data-dependent branch); they are copied to the host only by
:meth:`RowTelemetry.history`, which a training loop calls at checkpoints.
Cost per recorded step and weight: one copy of ``W`` (the snapshot), two row-norm
reductions; memory: the snapshot plus ``2 x capacity x m`` floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["RowHistory", "RowTelemetry"]


@dataclass(frozen=True)
class RowHistory:
    """Recorded per-row norms of one weight: ``steps`` (T,), ``grad_norm`` and
    ``update_norm`` (T, m), float64 numpy arrays; ``steps[t]`` is the optimizer step
    (0-based count of ``step()`` calls) that row ``t`` records."""

    steps: np.ndarray
    grad_norm: np.ndarray
    update_norm: np.ndarray


class RowTelemetry:
    """Record per-row gradient and applied-update norms of chosen weights at each step.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Any optimizer; the hooks run around each ``optimizer.step()``.
    weights : mapping of str to torch.Tensor
        Name -> 2-D weight (a parameter the optimizer updates), shape (m, n).
    capacity : int
        Number of steps that can be recorded (the buffers are allocated once).
    every : int
        Record every ``every``-th step (0, every, 2 every, ...); steps in between cost
        nothing.

    Notes
    -----
    Norms are computed in float32, or in the weight's dtype if wider (float64). A
    weight without a gradient at a step records a gradient norm of 0. Recording stops
    silently once ``capacity`` steps are recorded (the index is a Python counter, so
    checking it needs no synchronisation). Use as a context manager, or call
    :meth:`remove`, to detach the hooks.

    Examples
    --------
    >>> W = torch.nn.Parameter(torch.ones(3, 2))
    >>> opt = torch.optim.SGD([W], lr=0.5)
    >>> with RowTelemetry(opt, {"w": W}, capacity=4) as telemetry:
    ...     W.grad = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    ...     opt.step()
    >>> h = telemetry.history()["w"]
    >>> h.steps.tolist(), h.grad_norm.tolist(), h.update_norm.tolist()
    ([0], [[1.0, 2.0, 0.0]], [[0.5, 1.0, 0.0]])
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        weights: Mapping[str, torch.Tensor],
        *,
        capacity: int,
        every: int = 1,
    ) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if not weights:
            raise ValueError("weights must name at least one 2-D weight")
        self.every = every
        self.capacity = capacity
        self._weights = {}
        self._before, self._grad, self._update = {}, {}, {}
        for name, W in weights.items():
            if not isinstance(W, torch.Tensor) or W.ndim != 2:
                shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
                raise ValueError(f"weight {name!r} must be a 2-D tensor (m, n), got {shape}")
            dtype = torch.promote_types(W.dtype, torch.float32)
            self._weights[name] = W
            self._before[name] = torch.empty_like(W, memory_format=torch.contiguous_format)
            self._grad[name] = torch.zeros(capacity, W.shape[0], dtype=dtype, device=W.device)
            self._update[name] = torch.zeros_like(self._grad[name])
        self._calls = 0  # optimizer steps seen (Python side)
        self._steps: list[int] = []  # the recorded ones
        self._recording = False
        self._handles = [
            optimizer.register_step_pre_hook(self._pre_step),
            optimizer.register_step_post_hook(self._post_step),
        ]

    def _pre_step(self, optimizer, args, kwargs) -> None:
        self._recording = self._calls % self.every == 0 and len(self._steps) < self.capacity
        if not self._recording:
            return
        t = len(self._steps)
        with torch.no_grad():
            for name, W in self._weights.items():
                self._before[name].copy_(W)
                row = self._grad[name][t]
                if W.grad is None:
                    row.zero_()
                else:
                    row.copy_(torch.linalg.vector_norm(W.grad, dim=-1, dtype=row.dtype))

    def _post_step(self, optimizer, args, kwargs) -> None:
        if self._recording:
            t = len(self._steps)
            with torch.no_grad():
                for name, W in self._weights.items():
                    row = self._update[name][t]
                    # ||W_after - W_before|| per row, in at least float32
                    change = W.to(row.dtype) - self._before[name].to(row.dtype)
                    row.copy_(torch.linalg.vector_norm(change, dim=-1))
            self._steps.append(self._calls)
        self._recording = False
        self._calls += 1

    @property
    def recorded(self) -> int:
        """Number of recorded steps so far."""
        return len(self._steps)

    def history(self) -> dict[str, RowHistory]:
        """The recorded histories, copied to the host (the one synchronising call)."""
        t = len(self._steps)
        steps = np.asarray(self._steps, dtype=np.int64)
        return {
            name: RowHistory(
                steps=steps,
                grad_norm=self._grad[name][:t].detach().cpu().double().numpy(),
                update_norm=self._update[name][:t].detach().cpu().double().numpy(),
            )
            for name in self._weights
        }

    def remove(self) -> None:
        """Detach the hooks (the recorded histories stay readable)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> RowTelemetry:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
