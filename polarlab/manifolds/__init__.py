r"""Projections onto the manifolds behind Muon-type updates, and their tangent spaces.

For a tall ``G`` (``m >= n``; after Absil, Mahony & Sepulchre, *Optimization
Algorithms on Matrix Manifolds*, 2008):

========================  ====================================  =====================
manifold                  definition                            Frobenius projection
========================  ====================================  =====================
row-oblique (radius rho)  ``||U_i|| = rho`` for every row       ``rho X_i / ||X_i||``
Stiefel                   ``U^T U = I_n``                       ``polar(X)``
balanced Stiefel          ``U^T U = I_n``, ``||U_i||^2 = n/m``  no closed form
========================  ====================================  =====================

Since ``sum_i ||U_i||^2 = ||U||_F^2 = n`` on the Stiefel manifold, uniform rows must
have squared norm ``n/m`` (sources that write ``m/n`` have swapped the axes). The
balanced Stiefel manifold is non-empty for every ``m >= n`` (equal-norm tight
frames exist). Because ``||U||_F`` is fixed on it, the nearest point to ``G`` is
also the maximiser of the alignment ``<G, U>``, whose KKT condition is
``G = U S + diag(lambda) U`` with ``S`` symmetric.

One concept per module:

- :mod:`~polarlab.manifolds.oblique`: :func:`project_row_oblique`,
  :func:`tangent_row_oblique`;
- :mod:`~polarlab.manifolds.stiefel`: :func:`project_stiefel`, :func:`tangent_stiefel`;
- :mod:`~polarlab.manifolds.balanced_tangent`: :func:`tangent_balanced_stiefel`
  and its multiplier system;
- :mod:`~polarlab.manifolds.balanced`: Aurora (Dewulf, Pai, Yang, Zhang,
  Keigwin, arXiv 2606.27715; code tilde-research/aurora-release), which
  approximates the balanced projection by ``polar(D G)`` with a diagonal ``D``
  driven towards the radial-isotropic scaling of the rows
  (:func:`project_balanced_stiefel`), and MuonEq-R (arXiv 2603.28254,
  :func:`muoneq_r`);
- :mod:`~polarlab.manifolds.balanced_gram`: the same polar factors computed on the
  ``n x n`` Gram matrix (``engine="gram"``) and the rule ``engine="auto"`` follows;
- :mod:`~polarlab.manifolds.riemannian`: :func:`riemannian_balanced_stiefel`
  ascends ``<G, U>`` on the manifold;
- :mod:`~polarlab.manifolds.exact`: :func:`balanced_stiefel_exact` solves the
  problem to a stated tolerance and returns a :class:`BalancedStiefelCertificate`.

Every function is pure: input arrays are never modified. Polar factors come from
:mod:`polarlab.polar`: every function that takes ``method`` accepts a registered
name plus options, or a :class:`~polarlab.polar.PolarSolver` from
:func:`polarlab.polar.resolve`, validated once at entry (default ``"svd"``,
exact); the optimizers pass their own. The NorMuon and U-NorMuon row
normalisations live with their optimizers in :mod:`polarlab.optim.normuon`.
"""

from __future__ import annotations

from polarlab._deprecation import moved_names
from polarlab.manifolds.balanced import FORMS, WIDE_RULES, muoneq_r, project_balanced_stiefel
from polarlab.manifolds.balanced import Wide as Wide  # the type of the ``wide`` arguments
from polarlab.manifolds.balanced_gram import ENGINES
from polarlab.manifolds.balanced_tangent import tangent_balanced_stiefel
from polarlab.manifolds.exact import BalancedStiefelCertificate, balanced_stiefel_exact
from polarlab.manifolds.oblique import project_row_oblique, tangent_row_oblique
from polarlab.manifolds.riemannian import riemannian_balanced_stiefel
from polarlab.manifolds.stiefel import project_stiefel, tangent_stiefel

__all__ = [
    "ENGINES",
    "FORMS",
    "WIDE_RULES",
    "BalancedStiefelCertificate",
    "balanced_stiefel_exact",
    "muoneq_r",
    "project_balanced_stiefel",
    "project_row_oblique",
    "project_stiefel",
    "riemannian_balanced_stiefel",
    "tangent_balanced_stiefel",
    "tangent_row_oblique",
    "tangent_stiefel",
]

# Names that moved out of this package: name -> the module that now holds them.
__getattr__ = moved_names(
    __name__,
    {
        "normuon_normalize": "polarlab.optim.normuon",
        "u_normuon_normalize": "polarlab.optim.normuon",
    },
)
