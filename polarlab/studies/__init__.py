"""Studies: functions returning plain records; the ``polarlab`` command and notebooks call them.

- :func:`precision`: every metric per iterate of polar methods, beside the
  exact-arithmetic scalar bound and the input-cast floor (columns
  :data:`PRECISION_COLUMNS`).
- :func:`aurora_claims`: one experiment and one measured verdict per published
  claim about Aurora's projection (columns :data:`AURORA_COLUMNS`).
- :func:`report`: both at a small size, in one report directory.

Each returns a list of dicts (one per row), ready for ``pandas.DataFrame(rows)``.
Figures need matplotlib, rows do not: ``pip install 'polarlab[studies]'``.

Modules: ``precision_study`` (named so that ``polarlab.studies.precision`` can be
the function), ``aurora``, ``report``, and ``_io`` (tidy CSV/JSON, resume, progress,
lazy matplotlib).
"""

from polarlab.studies.aurora import AURORA_COLUMNS, CLAIMS, aurora_claims
from polarlab.studies.precision_study import PRECISION_COLUMNS, precision
from polarlab.studies.report import report

__all__ = [
    "AURORA_COLUMNS",
    "CLAIMS",
    "PRECISION_COLUMNS",
    "aurora_claims",
    "precision",
    "report",
]
