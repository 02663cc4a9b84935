"""Coefficient schedules for odd-polynomial polar iterations, stored as data.

A step maps ``X <- a X + (b A + c A^2) X`` with ``A = X X^T``; on singular values
it is the scalar map ``x -> a x + b x^3 + c x^5``, so ``k`` steps act on the
normalised singular values ``x = sigma / (factor * ||G||_F + eps)`` as the
composition ``f_k = p_k o ... o p_1``. The engine that runs a schedule
(``polarlab.polar.polynomial``) knows nothing about where it comes from.

One concept per module:

- :mod:`polarlab.schedules.schedule`: the :class:`Schedule` value (rows, input
  normalisation, rule past the table's end, provenance) and its exact-arithmetic
  scalar oracle (``apply_scalar``, ``image_interval``, ``worst_case_error``);
- :mod:`polarlab.schedules.generator`: the Polar Express generator
  (:func:`optimal_quintic`, :func:`optimal_cubic`, :func:`optimal_composition`;
  Amsel, Persson, Musco & Gower, arXiv 2505.16932);
- :mod:`polarlab.schedules.presets`: the published tables with their sources;
- :mod:`polarlab.schedules.registry`: :func:`register`, :func:`get`, :func:`names`.

Every name is re-exported here, so ``schedules.get("polar_express")`` and
``from polarlab.schedules import Schedule`` work whatever module holds it.

>>> get("jordan").coefficients
((3.4445, -4.775, 2.0315),)
"""

from __future__ import annotations

# Importing presets registers the built-in schedules.
from polarlab.schedules import presets  # noqa: F401
from polarlab.schedules.generator import (
    POLAR_EXPRESS_CUSHION,
    SafetyMode,  # noqa: F401  (typing alias, importable from here as before the split)
    optimal_composition,
    optimal_cubic,
    optimal_quintic,
)
from polarlab.schedules.registry import get, names, register
from polarlab.schedules.schedule import (  # noqa: F401  (Beyond: typing alias, as SafetyMode)
    BEYOND_RULES,
    Beyond,
    Schedule,
)

__all__ = [
    "BEYOND_RULES",
    "POLAR_EXPRESS_CUSHION",
    "Schedule",
    "get",
    "names",
    "optimal_composition",
    "optimal_cubic",
    "optimal_quintic",
    "register",
]
