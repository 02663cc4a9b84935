"""Optimizers built from polarlab primitives.

One base class, :class:`PolarOptimizer`, owns momentum (EMA or sum, Nesterov),
decoupled weight decay (plain or cautious), lr shape scaling (``adjust_lr``),
the non-finite guard, batching of same-shape matrices and AdamW/Lion groups.
Each optimizer supplies only its direction map:

=================  =============================================  ============================
optimizer          direction of momentum ``M``                    primitive
=================  =============================================  ============================
:class:`Muon`      ``polar(M)``                                   ``polarlab.polar``
:class:`NorMuon`   ``polar(M)``, rows normalised by a 2nd moment  ``normuon_normalize``
:class:`UNorMuon`  as NorMuon, rows aimed at ``sqrt(n/m)``        ``u_normuon_normalize``
:class:`Aurora`    ``polar(D M)``, rows balanced                  ``project_balanced_stiefel``
:class:`ARO`       ``R f(R^T M)``, ``R`` from QR                  (its own base maps)
=================  =============================================  ============================

Per-tensor functions are in :mod:`polarlab.optim.functional`;
:func:`split_params` builds matrix and AdamW/Lion groups from a model.
"""

from polarlab.optim.aro import ARO
from polarlab.optim.aurora import Aurora
from polarlab.optim.base import PolarOptimizer
from polarlab.optim.groups import split_params
from polarlab.optim.muon import Muon
from polarlab.optim.normuon import NorMuon, UNorMuon

__all__ = ["ARO", "Aurora", "Muon", "NorMuon", "PolarOptimizer", "UNorMuon", "split_params"]
