"""Muon: the polar factor of the momentum as the update direction.

Jordan et al., "Muon: An optimizer for hidden layers in neural networks"
(blog, 2024; KellerJordan/Muon); steepest descent under the spectral norm
(the polar factor maximises ``<M, U>`` over ``||U||_2 <= 1``). The polar factor is
computed by any registered method of :mod:`polarlab.polar`.
"""

from __future__ import annotations

from typing import Any

import torch

from polarlab.optim.base import PolarOptimizer
from polarlab.optim.direction import PolarDirection
from polarlab.polar import PolarSolver, resolve

__all__ = ["Muon", "MuonDirection", "polar_direction"]


def polar_direction(M: torch.Tensor, method: str | PolarSolver, **options: Any) -> torch.Tensor:
    """``polar(M)`` by a registered method on a work tensor, returned in ``M``'s dtype.

    Parameters
    ----------
    M : torch.Tensor, shape (..., m, n)
        Momentum (tall, square or wide; wide input is transposed so the method
        iterates on the short side, as :func:`polarlab.polar.polar` does).
    method : str or PolarSolver
        Registered polar method name, or a solver (used as it is when no
        options are given: nothing is validated again).
    **options
        The method's options (``schedule``, ``steps``, ``dtype`` ...).

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), dtype of ``M``

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> M = torch.randn(6, 3, dtype=torch.float64)
    >>> U = polar_direction(M, "svd")
    >>> bool(torch.allclose(U.mT @ U, torch.eye(3, dtype=torch.float64)))
    True
    """
    U, _ = resolve(method, **options).apply(M)
    return U.to(M.dtype)


class MuonDirection(PolarDirection):
    """Muon's direction ``U = polar(M)`` by the resolved polar method.

    ``U`` is returned as the method computes it: in its compute dtype and, for wide
    ``M``, as the transposed view of the short-side result. The update rule casts it
    once into the state dtype and ``M``'s layout (one pass, no new buffer in the
    optimizer's step), so no intermediate copy is made here.

    Examples
    --------
    >>> d = MuonDirection(method="polar_express", schedule="jordan", steps=5)
    >>> d.solver.schedule.name, d.solver.role
    ('jordan', 'optimizer')
    >>> U, _ = d(torch.randn(2, 8, 4), {})
    >>> U.shape
    torch.Size([2, 8, 4])
    """

    def __call__(self, M, state):
        return self.solver.apply(M)[0], {}

    def consume(self, M, state):
        return self.solver.apply(M, overwrite=True)[0], {}


class Muon(PolarOptimizer):
    r"""Muon: ``W <- W (1 - lr wd) - lr s(m, n) polar(M)``.

    ``M`` is the (Nesterov) momentum, ``s`` the ``adjust_lr`` multiplier, and
    the polar factor is computed by :class:`MuonDirection`.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W = torch.nn.Parameter(torch.randn(8, 4))
    >>> opt = Muon([W], lr=0.1, method="svd")
    >>> W0 = W.detach().clone()
    >>> W.grad = torch.randn(8, 4)
    >>> opt.step()
    >>> s = torch.linalg.svdvals(W0 - W.detach())  # lr * sqrt(8/4) * polar(M)
    >>> bool(torch.allclose(s, torch.full((4,), 0.1 * 2**0.5)))
    True

    Any option of the polar method is reachable:

    >>> opt = Muon([W], schedule="jordan", polar_options={"normalization": "schatten8"})
    >>> opt.param_groups[0]["polar_options"]
    {'normalization': 'schatten8'}
    """

    algorithm = "muon"
    direction_type = MuonDirection
