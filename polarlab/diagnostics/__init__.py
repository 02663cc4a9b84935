"""Diagnostics of training runs: per-row telemetry and the dead-neuron detector.

- :class:`RowTelemetry` records, for chosen weights, the per-row gradient norm and the
  per-row norm of the update the optimizer applied, on device and without host
  synchronisation (any ``torch.optim.Optimizer``).
- :mod:`polarlab.diagnostics.dead_neurons`: the three-criteria definition (low
  effective gradient, low effective update, persistence after a reference step; SwiGLU
  gate and up rows judged together), swept over ``tau``, and its leverage version.
"""

from polarlab.diagnostics.dead_neurons import (
    TAUS,
    dead_fractions,
    dead_rows,
    effective_norms,
    leverage_dead_rows,
    low_fraction_by_checkpoint,
    relative_to_layer_mean,
    update_ratio_quantiles,
)
from polarlab.diagnostics.telemetry import RowHistory, RowTelemetry

__all__ = [
    "TAUS",
    "RowHistory",
    "RowTelemetry",
    "dead_fractions",
    "dead_rows",
    "effective_norms",
    "leverage_dead_rows",
    "low_fraction_by_checkpoint",
    "relative_to_layer_mean",
    "update_ratio_quantiles",
]
