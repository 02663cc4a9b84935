"""NorMuon and U-NorMuon: the polar factor with per-row second-moment normalisation.

NorMuon (Li et al., arXiv 2510.05491): ``O = polar(M)``; per-row second moment
``v <- beta2 v + (1 - beta2) mean_j O_ij^2``; ``O_hat = O / (sqrt(v) + eps)``,
rescaled to ``||O||_F`` (Frobenius grafting, as in microsoft/dion and the
speedrun code). U-NorMuon (unofficial gvlassis/U-NorMuon) sets the Frobenius
norm to ``sqrt(n)`` instead, so tall updates get rows of norm about
``sqrt(n/m)``. The row normalisations are the primitives
:func:`polarlab.manifolds.normuon_normalize` and
:func:`polarlab.manifolds.u_normuon_normalize`; the state ``v`` is explicit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from polarlab.manifolds import normuon_normalize, u_normuon_normalize
from polarlab.optim.base import PolarOptimizer, _matrix_defaults, _polar_options
from polarlab.optim.muon import polar_direction

__all__ = ["NorMuon", "UNorMuon", "normuon_direction"]


def normuon_direction(
    M: torch.Tensor,
    v: torch.Tensor,
    *,
    beta2: float = 0.95,
    uniform: bool = False,
    method: str = "polar_express",
    **polar_opts: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """NorMuon (``uniform=False``) or U-NorMuon (``uniform=True``) direction and new state.

    Parameters
    ----------
    M : torch.Tensor, shape (..., m, n)
        Momentum.
    v : torch.Tensor, shape (..., m)
        Per-row second moment (zeros at the start).
    beta2 : float
        EMA factor of ``v``, in [0, 1).
    uniform : bool
        U-NorMuon: Frobenius norm ``sqrt(n)`` for tall and square ``M``; wide
        ``M`` (whose rows are already uniform under polar) gets NorMuon's grafting.
    method, **polar_opts
        Registered polar method and its options.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n)
    v : torch.Tensor, shape (..., m)

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> M = torch.randn(8, 2, dtype=torch.float64)
    >>> U, v = normuon_direction(M, torch.zeros(8, dtype=torch.float64), uniform=True, method="svd")
    >>> bool(torch.allclose(U.square().sum(1), torch.full((8,), 2 / 8, dtype=torch.float64)))
    True
    """
    O = polar_direction(M, method, **polar_opts)
    m, n = M.shape[-2:]
    normalize = u_normuon_normalize if uniform and m >= n else normuon_normalize
    return normalize(O, v, beta2=beta2, check_finite=False)


class NorMuon(PolarOptimizer):
    r"""NorMuon (arXiv 2510.05491): Muon with per-row second-moment normalisation.

    Takes every keyword of :class:`polarlab.optim.Muon`, plus ``beta2`` (EMA
    factor of the per-row second moment, default 0.95 as in microsoft/dion).
    State per matrix: ``row_second_moment`` (``m`` values).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W = torch.nn.Parameter(torch.randn(8, 4))
    >>> opt = NorMuon([W], lr=0.01, method="svd")
    >>> W.grad = torch.randn(8, 4)
    >>> opt.step()
    >>> opt.state[W]["row_second_moment"].shape
    torch.Size([8])
    """

    algorithm = "normuon"
    uniform = False

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
        beta2: float = 0.95,
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
            beta2=beta2,
        )
        super().__init__(params, defaults)

    def check_extra(self, group: dict[str, Any]) -> None:
        b2 = group["beta2"]
        if not isinstance(b2, (int, float)) or not 0 <= b2 < 1:
            raise ValueError(f"beta2 must lie in [0, 1), got {b2!r}")

    def init_extra_state(self, m, n, group, device, dtype):
        return {"row_second_moment": torch.zeros(m, dtype=dtype, device=device)}

    def direction(self, M, state, group):
        """Row-normalised ``polar(M)`` and the updated second moment."""
        U, v = normuon_direction(
            M,
            state["row_second_moment"],
            beta2=group["beta2"],
            uniform=self.uniform,
            method=group["method"],
            **_polar_options(group, M.device),
        )
        return U, {"row_second_moment": v}


class UNorMuon(NorMuon):
    r"""U-NorMuon: NorMuon aimed at the balanced row norm ``sqrt(n/m)`` on tall matrices.

    Same keywords and state as :class:`NorMuon`; the normalised update of a tall
    or square matrix is scaled to Frobenius norm ``sqrt(n)`` (the exact polar
    factor's), wide matrices use NorMuon's grafting.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W = torch.nn.Parameter(torch.randn(8, 2, dtype=torch.float64))
    >>> W0 = W.detach().clone()
    >>> opt = UNorMuon([W], lr=1.0, method="svd", adjust_lr=None)
    >>> W.grad = torch.randn(8, 2, dtype=torch.float64)
    >>> opt.step()
    >>> rows = (W0 - W.detach()).norm(dim=1)  # first step: every row sqrt(2/8)
    >>> bool(torch.allclose(rows, torch.full((8,), 0.5, dtype=torch.float64)))
    True
    """

    algorithm = "unormuon"
    uniform = True
