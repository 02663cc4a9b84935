"""Optimizers built from polarlab primitives.

One base class, :class:`PolarOptimizer`, owns the common options (lr, momentum
as EMA or sum with Nesterov, decoupled weight decay, ``adjust_lr``, the
non-finite guard, ``flatten``, row telemetry), batching of same-shape matrices
and AdamW/Lion groups. Each optimizer contributes one direction object
(:mod:`polarlab.optim.direction`): its own validated options, its per-matrix
state and the map ``M -> U``:

=================  =============================================  ============================
optimizer          direction of momentum ``M``                    primitive
=================  =============================================  ============================
:class:`Muon`      ``polar(M)``                                   ``polarlab.polar.resolve``
:class:`NorMuon`   ``polar(M)``, rows normalised by a 2nd moment  ``normuon_normalize``
:class:`UNorMuon`  as NorMuon, rows aimed at ``sqrt(n/m)``        ``u_normuon_normalize``
:class:`Aurora`    ``polar(D M)``, rows balanced                  ``project_balanced_stiefel``
:class:`ARO`       ``R f(R^T M)``, ``R`` from QR                  ``polarlab.linalg``
=================  =============================================  ============================

Every option of a polar method is reachable from the optimizers (``method``,
``schedule``, ``steps``, ``dtype`` and ``polar_options``; ``method`` may be a
:class:`~polarlab.polar.PolarSolver`). The per-tensor form is
:func:`polarlab.optim.functional.update`; :func:`split_params` builds matrix and
AdamW/Lion groups from a model.
"""

from polarlab.optim.aro import ARO, ARODirection
from polarlab.optim.aurora import Aurora, AuroraDirection
from polarlab.optim.base import PolarOptimizer
from polarlab.optim.direction import Direction, PolarDirection
from polarlab.optim.groups import split_params
from polarlab.optim.muon import Muon, MuonDirection
from polarlab.optim.normuon import NorMuon, NorMuonDirection, UNorMuon, UNorMuonDirection

__all__ = [
    "ARO",
    "ARODirection",
    "Aurora",
    "AuroraDirection",
    "Direction",
    "Muon",
    "MuonDirection",
    "NorMuon",
    "NorMuonDirection",
    "PolarDirection",
    "PolarOptimizer",
    "UNorMuon",
    "UNorMuonDirection",
    "split_params",
]
