r"""Precision metrics for approximate polar factors, computed in float64.

Every metric is a pure function. Inputs are numpy arrays or torch tensors of shape
``(..., m, n)`` in any floating dtype; they are cast *up* to float64 before any
arithmetic, so a bfloat16 iterate is measured exactly as stored. The exact
reference ``Q = polar(A)`` is the float64 SVD polar factor
(``polarlab.polar(A, method="svd")``, rank ``r`` by the threshold
``sigma_i > sigma_1 max(m, n) u``), or is passed in by the caller as
``reference=`` to avoid recomputing it (e.g. an mpmath oracle, or one reference
shared by many iterates).

Return rule (one rule, applied everywhere)
------------------------------------------
- A scalar metric of a single matrix (2-D input) is a Python ``float``.
- A scalar metric of a batch ``(..., m, n)`` is a numpy float64 array of the batch
  shape ``(...)``, whatever the input kind or device.
- Per-row quantities (:func:`row_norms`, :func:`leverage_scores`) are numpy float64
  arrays of shape ``(..., m)`` (``(..., n)`` for columns).
- Pairs (:func:`singular_value_range`) are tuples of the above.

Two-argument metrics take inputs with equal matrix dimensions and broadcastable
batch dimensions (one reference against a stack of iterates, say).

Degenerate input is an error, not a ``nan``: metrics normalised by the rank or by
``||A||_*`` raise ``ValueError`` when a slice has rank 0.

Definitions follow Amsel et al., "The Polar Express", arXiv 2505.16932, for the
spectral criterion; the Aurora paper, arXiv 2606.27715, for row uniformity and
leverage; microsoft/dion's tests for the max-entry orthogonality defect.

Modules, one concept each (every name is re-exported here):

- :mod:`polarlab.metrics.precision`: errors against ``Q`` (:func:`polar_error`,
  :func:`spectral_error`, :func:`distance_to_polar`) and :func:`input_cast_floor`;
- :mod:`polarlab.metrics.spectrum`: singular values of ``X``
  (:func:`singular_value_range`, :func:`singular_value_deviation`,
  :func:`bound_violation`), :func:`condition_number` and
  :func:`orthogonality_defect`;
- :mod:`polarlab.metrics.duality`: :func:`dual_gap` and :func:`alignment` of ``X``
  with ``A``;
- :mod:`polarlab.metrics.rows`: row norms and their uniformity
  (:func:`row_norms`, :func:`row_norm_ratio`, :func:`row_norm_cv`,
  :func:`row_norm_deviation`) and :func:`leverage_scores`.
"""

from __future__ import annotations

from polarlab.metrics.duality import alignment, dual_gap
from polarlab.metrics.precision import (
    distance_to_polar,
    input_cast_floor,
    polar_error,
    spectral_error,
)
from polarlab.metrics.rows import (  # noqa: F401  (Axis: typing alias, as before the split)
    Axis,
    leverage_scores,
    row_norm_cv,
    row_norm_deviation,
    row_norm_ratio,
    row_norms,
)
from polarlab.metrics.spectrum import (
    bound_violation,
    condition_number,
    orthogonality_defect,
    singular_value_deviation,
    singular_value_range,
)

__all__ = [
    "alignment",
    "bound_violation",
    "condition_number",
    "distance_to_polar",
    "dual_gap",
    "input_cast_floor",
    "leverage_scores",
    "orthogonality_defect",
    "polar_error",
    "row_norm_cv",
    "row_norm_deviation",
    "row_norm_ratio",
    "row_norms",
    "singular_value_deviation",
    "singular_value_range",
    "spectral_error",
]
