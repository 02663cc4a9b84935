"""Muon: the polar factor of the momentum as the update direction.

Jordan et al., "Muon: An optimizer for hidden layers in neural networks"
(blog, 2024; KellerJordan/Muon); steepest descent under the spectral norm
(the polar factor maximises ``<M, U>`` over ``||U||_2 <= 1``). The polar factor is
computed by any registered method of :mod:`polarlab.polar`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from polarlab.optim.base import PolarOptimizer, _matrix_defaults, _polar_options
from polarlab.polar import registry

__all__ = ["Muon", "polar_direction"]


def polar_direction(M: torch.Tensor, method: str, **options: Any) -> torch.Tensor:
    """``polar(M)`` by a registered method on a work tensor, returned in ``M``'s dtype.

    Parameters
    ----------
    M : torch.Tensor, shape (..., m, n)
        Momentum (tall, square or wide; wide input is transposed so the method
        iterates on the short side, as :func:`polarlab.polar.polar` does).
    method : str
        Registered polar method name.
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
    wide = M.shape[-2] < M.shape[-1]
    X = M.mT if wide else M
    U, _ = registry.get(method).solve(X, **options)
    U = U.to(M.dtype)
    return U.mT if wide else U


class Muon(PolarOptimizer):
    r"""Muon: ``W <- W (1 - lr wd) - lr s(m, n) polar(M)``.

    ``M`` is the (Nesterov) momentum, ``s`` the ``adjust_lr`` multiplier.

    Parameters
    ----------
    params : iterable
        Matrices (2-D; N-D with ``flatten=True``) and optionally groups with
        ``algorithm="adamw"`` or ``"lion"`` (see :func:`polarlab.optim.split_params`).
    lr : float or 0-d tensor
        Learning rate (default 0.02, KellerJordan/Muon).
    momentum : float in [0, 1)
        Default 0.95.
    nesterov : bool
        Default True.
    momentum_form : {"ema", "sum"}
        ``"ema"``: ``B <- lerp(B, G, 1 - mu)``; ``"sum"``: ``B <- mu B + G``.
    weight_decay : float
        Decoupled: ``W <- W (1 - lr wd)`` with the unadjusted lr. Default 0.
    cautious_wd : bool
        Decay only entries where ``W * U >= 0`` (arXiv 2510.12402).
    adjust_lr : {"aspect", "spectral_norm", "rms_norm", None}
        lr multiplier by shape; default ``"aspect"`` = ``sqrt(max(1, m/n))``.
    method : str
        Registered polar method (default ``"polar_express"``).
    schedule, steps : optional
        Coefficient schedule name and step count, for polynomial methods.
    dtype : str, optional
        Compute dtype of the polar step; default bfloat16 on CUDA, float32 on CPU.
    flatten : bool
        Optimize N-D weights as ``shape[0] x prod(shape[1:])`` matrices.
    nonfinite : {"skip", "raise"}
        ``"skip"``: a matrix whose gradient or update is non-finite keeps its
        weights and state for the step (no host sync). ``"raise"``: raise
        ``FloatingPointError`` (a host sync; for debugging).
    row_telemetry : bool
        Keep ``state["row_update_norm"]``, the per-row norm of the applied change.

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
    """

    algorithm = "muon"

    def __init__(
        self,
        params: Iterable,
        lr: float | torch.Tensor = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        momentum_form: str = "ema",
        weight_decay: float = 0.0,
        cautious_wd: bool = False,
        adjust_lr: str | None = "aspect",
        method: str = "polar_express",
        schedule: str | None = None,
        steps: int | None = None,
        dtype: str | None = None,
        flatten: bool = False,
        nonfinite: str = "skip",
        row_telemetry: bool = False,
    ) -> None:
        defaults = _matrix_defaults(
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            momentum_form=momentum_form,
            weight_decay=weight_decay,
            cautious_wd=cautious_wd,
            adjust_lr=adjust_lr,
            method=method,
            schedule=schedule,
            steps=steps,
            dtype=dtype,
            flatten=flatten,
            nonfinite=nonfinite,
            row_telemetry=row_telemetry,
        )
        super().__init__(params, defaults)

    def direction(self, M, state, group):
        """``polar(M)`` by the group's method."""
        opts = _polar_options(group, M.device)
        return polar_direction(M, group["method"], **opts), {}
