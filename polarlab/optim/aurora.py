"""Aurora: a leverage-aware update for tall matrices, ``polar(D M)`` with balanced rows.

Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715; code
tilde-research/aurora-release. The update is the projection of the momentum
onto (nearly) the balanced Stiefel manifold ``{U : U^T U = I, ||U_i||^2 = n/m}``,
computed by the primitive :func:`polarlab.manifolds.project_balanced_stiefel`
(forms ``"preconditioned"``, the released code, and ``"alternating"``, the paper's
Algorithm 3) or :func:`polarlab.manifolds.riemannian_balanced_stiefel`
(``form="riemannian"``). Square matrices get exactly Muon's update.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from polarlab.manifolds import WIDE_RULES, project_balanced_stiefel, riemannian_balanced_stiefel
from polarlab.optim.base import PolarOptimizer, _matrix_defaults, _polar_options

__all__ = ["AURORA_FORMS", "Aurora", "aurora_direction"]

#: Aurora forms: the released code form, the paper's alternating form, Riemannian ascent.
AURORA_FORMS = ("preconditioned", "alternating", "riemannian")


def aurora_direction(
    M: torch.Tensor,
    *,
    iters: int = 2,
    beta: float = 0.5,
    form: str = "preconditioned",
    wide: str = "transpose",
    eps: float = 1e-7,
    method: str = "polar_express",
    **polar_opts: Any,
) -> torch.Tensor:
    """Aurora's direction for a momentum ``M``: balanced-row polar factor.

    Parameters
    ----------
    M : torch.Tensor, shape (..., m, n)
        Momentum (work tensor, float32 or float64).
    iters : int
        Polar calls ``K`` (preconditioned/alternating) or outer ascent steps
        (riemannian). Default 2 (aurora-release).
    beta : float
        Damping exponent in (0, 1] (default 0.5; not used by ``"riemannian"``).
    form : {"preconditioned", "alternating", "riemannian"}
    wide : {"transpose", "polar"}
        Wide-matrix rule: balance the columns (aurora-release v1, dion) or plain
        polar (aurora-release v2).
    eps : float
        Row-norm clamp (default 1e-7, aurora-release).
    method, **polar_opts
        Registered polar method and its options.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), dtype of ``M``

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> M = torch.randn(32, 4, dtype=torch.float64) * torch.rand(32, 1, dtype=torch.float64)
    >>> U = aurora_direction(M, iters=10, method="svd")
    >>> bool(torch.allclose(U.square().sum(1), torch.full((32,), 4 / 32, dtype=torch.float64),
    ...                     rtol=1e-2))
    True
    """
    if form == "riemannian":
        return riemannian_balanced_stiefel(
            M, steps=iters, method=method, wide=wide, eps=eps, check_finite=False, **polar_opts
        )
    return project_balanced_stiefel(
        M, iters, beta, method, form=form, wide=wide, eps=eps, check_finite=False, **polar_opts
    )


class Aurora(PolarOptimizer):
    r"""Aurora (arXiv 2606.27715): ``W <- W (1 - lr wd) - lr s(m, n) P(M)``.

    ``P`` is :func:`aurora_direction`. Takes every keyword of
    :class:`polarlab.optim.Muon`, plus the group options:

    Parameters
    ----------
    iters : int
        Polar calls per step (default 2, aurora-release ``pp_iterations``).
    beta : float in (0, 1]
        Damping exponent (default 0.5, aurora-release ``pp_beta``).
    form : {"preconditioned", "alternating", "riemannian"}
        Default ``"preconditioned"`` (the released code form).
    wide : {"transpose", "polar"}
        Wide matrices: balance columns (default; aurora-release v1, dion) or
        plain Muon (aurora-release v2).
    eps : float
        Row-norm clamp (default 1e-7).

    Notes
    -----
    The defaults reproduce the released update rule with ``method="newton_schulz",
    schedule="simple_quintic", steps=12, dtype="bfloat16"`` (the reference's own
    polar), ``adjust_lr="aspect"`` (its ``sqrt(max(1, m/n))`` scale), lr 0.05 and
    weight_decay 0.025. Square matrices get exactly the Muon update with the same
    polar method.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W = torch.nn.Parameter(torch.randn(16, 4))
    >>> opt = Aurora([W], lr=0.01, method="svd")
    >>> W0 = W.detach().clone()
    >>> W.grad = torch.randn(16, 4) * torch.rand(16, 1)
    >>> opt.step()
    >>> rows = (W0 - W.detach()).norm(dim=1) / (0.01 * 2.0)  # aspect sqrt(16/4) = 2
    >>> bool((rows.max() / rows.min()) < 1.2)  # nearly uniform rows after 2 iterations
    True
    """

    algorithm = "aurora"

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
        iters: int = 2,
        beta: float = 0.5,
        form: str = "preconditioned",
        wide: str = "transpose",
        eps: float = 1e-7,
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
            iters=iters,
            beta=beta,
            form=form,
            wide=wide,
            eps=eps,
        )
        super().__init__(params, defaults)

    def check_extra(self, group: dict[str, Any]) -> None:
        iters, beta = group["iters"], group["beta"]
        if not isinstance(iters, int) or isinstance(iters, bool) or iters < 1:
            raise ValueError(f"iters must be a positive integer, got {iters!r}")
        if not isinstance(beta, (int, float)) or not 0 < beta <= 1:
            raise ValueError(f"beta must lie in (0, 1], got {beta!r}")
        if group["form"] not in AURORA_FORMS:
            raise ValueError(
                f"unknown form {group['form']!r}; choose one of: {', '.join(AURORA_FORMS)}"
            )
        if group["wide"] not in WIDE_RULES:
            raise ValueError(
                f"unknown wide rule {group['wide']!r}; choose one of: {', '.join(WIDE_RULES)}"
            )
        if not group["eps"] > 0:
            raise ValueError(f"eps must be > 0, got {group['eps']!r}")

    def direction(self, M, state, group):
        """Balanced-row polar factor of ``M`` (exactly ``polar(M)`` when square)."""
        U = aurora_direction(
            M,
            iters=group["iters"],
            beta=group["beta"],
            form=group["form"],
            wide=group["wide"],
            eps=group["eps"],
            method=group["method"],
            **_polar_options(group, M.device),
        )
        return U, {}
