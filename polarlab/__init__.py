"""polarlab: polar decomposition routines, manifold projections, precision metrics,
studies and the optimizers built on them.

The public surface is re-exported here; everything else is an implementation detail.
"""

from polarlab.polar import names as polar_methods
from polarlab.polar import polar, polar_iterates

__version__ = "0.1.0"

__all__ = ["__version__", "polar", "polar_iterates", "polar_methods"]
