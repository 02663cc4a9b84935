"""Studies: functions returning plain records; the ``polarlab`` command and notebooks call them.

- :func:`precision`: every metric per iterate of polar methods, beside the
  exact-arithmetic scalar bound and the input-cast floor (columns
  :data:`PRECISION_COLUMNS`).
- :func:`aurora_claims`: one experiment and one measured verdict per published
  claim about Aurora's projection (columns :data:`AURORA_COLUMNS`).
- :func:`neurons`: the model-scale claims (neuron death, expansion factor, end-to-end
  overhead) on tiny character-level models (modules ``neurons_*``).
- :func:`report`: both at a small size, in one report directory.

Each returns a list of dicts (one per row), ready for ``pandas.DataFrame(rows)``.
Figures need matplotlib, rows do not: ``pip install 'polarlab[studies]'``.

Modules: ``precision_study`` (named so that ``polarlab.studies.precision`` can be
the function; its sweeps are :data:`polarlab.studies.precision_study.SWEEPS`);
the Aurora study in four: ``claims`` (the claim records, as data),
``aurora_experiments`` (one experiment per claim and per figure),
``aurora_figures`` (figures from recorded rows) and ``aurora`` (the runner and
the Markdown table); ``report``; ``tables`` (the one table renderer, text or
Markdown); ``_io`` (tidy CSV/JSON, the resumable case loop, progress, lazy
matplotlib).
"""

from polarlab.studies.aurora import aurora_claims
from polarlab.studies.claims import AURORA_COLUMNS, CLAIMS
from polarlab.studies.neurons_study import neurons
from polarlab.studies.precision_study import PRECISION_COLUMNS, precision
from polarlab.studies.report import report

__all__ = [
    "AURORA_COLUMNS",
    "CLAIMS",
    "PRECISION_COLUMNS",
    "aurora_claims",
    "neurons",
    "precision",
    "report",
]
