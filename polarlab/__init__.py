"""polarlab: polar decomposition routines, manifold projections, precision metrics,
studies and the optimizers built on them.

This module is the public surface and nothing else: each line re-exports one
module's ``__all__``. Optimizers live in :mod:`polarlab.optim`, studies in
:mod:`polarlab.studies`.
"""

from polarlab.manifolds import *  # noqa: F403
from polarlab.matrices import *  # noqa: F403
from polarlab.metrics import *  # noqa: F403
from polarlab.polar import names as polar_methods
from polarlab.polar import polar, polar_iterates
from polarlab.polar.classical import *  # noqa: F403
from polarlab.polar.exact import *  # noqa: F403
from polarlab.polar.gram import *  # noqa: F403
from polarlab.polar.polynomial import *  # noqa: F403
from polarlab import schedules
from polarlab.schedules import *  # noqa: F403

__version__ = "0.1.0"
