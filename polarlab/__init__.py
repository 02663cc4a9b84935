"""polarlab: polar decomposition routines, manifold projections, precision metrics,
studies and the optimizers built on them.

This module is the public surface and nothing else. Subpackages and modules:
:mod:`polarlab.schedules` (coefficient tables), :mod:`polarlab.metrics`,
:mod:`polarlab.matrices`, :mod:`polarlab.manifolds`, :mod:`polarlab.optim`,
:mod:`polarlab.studies`. Polar methods are reached by name through
:func:`polar`; ``polar_methods()`` lists them, and
:func:`~polarlab.polar.resolve` turns a name and its options into a validated
:class:`~polarlab.polar.PolarSolver` that every layer accepts in place of the name.
"""

from polarlab import metrics, schedules
from polarlab.manifolds import (
    WIDE_RULES,
    BalancedStiefelCertificate,
    balanced_stiefel_exact,
    muoneq_r,
    project_balanced_stiefel,
    project_row_oblique,
    project_stiefel,
    riemannian_balanced_stiefel,
    tangent_balanced_stiefel,
    tangent_row_oblique,
    tangent_stiefel,
)
from polarlab.matrices import families, haar_orthogonal, prescribed_spectrum, random_matrix
from polarlab.metrics import (
    alignment,
    bound_violation,
    condition_number,
    distance_to_polar,
    dual_gap,
    input_cast_floor,
    leverage_scores,
    orthogonality_defect,
    polar_error,
    row_norm_cv,
    row_norm_deviation,
    row_norm_ratio,
    row_norms,
    singular_value_deviation,
    singular_value_range,
    spectral_error,
)
from polarlab.optim.normuon import normuon_normalize, u_normuon_normalize
from polarlab.polar import PolarSolver, polar, polar_iterates, resolve
from polarlab.polar import names as polar_methods
from polarlab.polar.gram import gram_newton_schulz
from polarlab.polar.polynomial import NORMALIZATIONS, newton_schulz
from polarlab.schedules import (
    BEYOND_RULES,
    Schedule,
    optimal_composition,
    optimal_cubic,
    optimal_quintic,
)

__version__ = "0.2.0.dev0"

__all__ = [
    "BEYOND_RULES",
    "NORMALIZATIONS",
    "WIDE_RULES",
    "BalancedStiefelCertificate",
    "PolarSolver",
    "Schedule",
    "__version__",
    "alignment",
    "balanced_stiefel_exact",
    "bound_violation",
    "condition_number",
    "distance_to_polar",
    "dual_gap",
    "families",
    "gram_newton_schulz",
    "haar_orthogonal",
    "input_cast_floor",
    "leverage_scores",
    "metrics",
    "muoneq_r",
    "newton_schulz",
    "normuon_normalize",
    "optimal_composition",
    "optimal_cubic",
    "optimal_quintic",
    "orthogonality_defect",
    "polar",
    "polar_error",
    "polar_iterates",
    "polar_methods",
    "prescribed_spectrum",
    "project_balanced_stiefel",
    "project_row_oblique",
    "project_stiefel",
    "random_matrix",
    "resolve",
    "riemannian_balanced_stiefel",
    "row_norm_cv",
    "row_norm_deviation",
    "row_norm_ratio",
    "row_norms",
    "schedules",
    "singular_value_deviation",
    "singular_value_range",
    "spectral_error",
    "tangent_balanced_stiefel",
    "tangent_row_oblique",
    "tangent_stiefel",
    "u_normuon_normalize",
]
