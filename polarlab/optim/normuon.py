"""NorMuon and U-NorMuon: the polar factor with per-row second-moment normalisation.

NorMuon (Li et al., arXiv 2510.05491): ``O = polar(M)``; per-row second moment
``v <- beta2 v + (1 - beta2) mean_j O_ij^2``; ``O_hat = O / (sqrt(v) + eps)``,
rescaled to ``||O||_F`` (Frobenius grafting, as in microsoft/dion and the
speedrun code). U-NorMuon (unofficial gvlassis/U-NorMuon) sets the Frobenius
norm to ``sqrt(n)`` instead, so tall updates get rows of norm about
``sqrt(n/m)``. The row normalisations :func:`normuon_normalize` and
:func:`u_normuon_normalize` live here with the optimizers that own their state
``v``, which they take and return explicitly.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from polarlab._arrays import as_work, compute_dtype, meta_result, to_caller
from polarlab.linalg import max_abs_scale, safe_norm
from polarlab.optim import rule
from polarlab.optim.base import PolarOptimizer
from polarlab.optim.direction import POLAR_OPTIONS, PolarDirection
from polarlab.optim.muon import polar_direction
from polarlab.optim.options import Option, finite_positive, interval
from polarlab.polar import PolarSolver

__all__ = [
    "NorMuon",
    "NorMuonDirection",
    "UNorMuon",
    "UNorMuonDirection",
    "normuon_direction",
    "normuon_normalize",
    "u_normuon_normalize",
]

#: The EMA factor of the per-row second moment (microsoft/dion ``muon_beta2``).
BETA2 = Option(
    "beta2",
    0.95,
    "float in [0, 1)",
    "EMA factor of the per-row second moment ``v`` (microsoft/dion ``muon_beta2``).",
    interval(0, 1),
    position="late",
)


# ---------------------------------------------------------------- row normalisations


def _state(v, shape: torch.Size, dtype: torch.dtype, check_finite: bool) -> torch.Tensor | None:
    """The previous second moment ``v`` as a work tensor, checked (``None`` stays ``None``)."""
    if v is None:
        return None
    v_work, _ = as_work(v, name="v", min_ndim=1, check_finite=check_finite, grad="keep")
    if v_work.shape != shape:
        raise ValueError(f"v must have shape {tuple(shape)} (..., m); got {tuple(v_work.shape)}")
    # A second moment is a mean of squares: >= 0 (NaN and inf were refused by as_work).
    if check_finite and bool((v_work < 0).any()):
        raise ValueError(
            f"v has negative entries (min {float(v_work.min()):.3g}); the second-moment state "
            "is a mean of squares and must be >= 0 (pass None for the zero initial state)"
        )
    return v_work.to(dtype)


def _row_normalize(U, v, beta2: float, eps: float, check_finite: bool, uniform: bool):
    """``W = U / (sqrt(v_new) + eps)`` grafted to Frobenius norm ``||U||_F`` (NorMuon) or
    ``sqrt(n)`` (U-NorMuon, ``uniform``); returns ``(W, v_new)`` in the caller's kind.

    Scale-safe: with ``U = a Y`` (:func:`~polarlab.linalg.max_abs_scale`, ``a`` a power
    of two), ``sqrt(v_new_i) = hypot(sqrt(beta2 v_i), a sqrt(1 - beta2) rms(Y_i))`` and
    ``d_i = sqrt(v_new_i) + eps ||U||_F / sqrt(n)``; ``W_i = Y_i / (d_i / max_j d_j)``
    equals ``U_i / d_i`` up to a common factor, which the Frobenius grafting removes. No
    square of an entry is formed, so the update is the formula's value over the dtype's
    whole range (before, a float32 ``U`` at 1e30 gave NaN); only ``v_new`` itself
    overflows to inf when it exceeds the dtype (float32: ``|u| > 1e19``).
    """
    finite_positive("eps", eps)
    BETA2.validate(beta2)
    routine = "u_normuon_normalize" if uniform else "normuon_normalize"
    work, kind = as_work(
        U, name="U", check_finite=check_finite, grad="keep", routine=routine, allow_meta=True
    )
    if work.is_meta:  # shapes only: U_hat like U, v one value per row in the scaling dtype
        dtype = compute_dtype(None, "cpu", role="scaling", input_dtype=work.dtype)
        return meta_result(work.shape, kind), meta_result(work.shape[:-1], kind, dtype)
    Y, a = max_abs_scale(work)  # scaling dtype; a: (..., 1, 1)
    v_old = _state(v, work.shape[:-1], Y.dtype, check_finite)
    if 0 in work.shape[-2:]:  # empty in, empty out; a row without entries adds 0 to v
        v_new = Y.new_zeros(work.shape[:-1]) if v_old is None else v_old * beta2
        return to_caller(Y, kind), to_caller(v_new, kind, v_new.dtype)
    n = work.shape[-1]
    tiny = torch.finfo(Y.dtype).tiny
    norm_Y = torch.linalg.vector_norm(Y, dim=(-2, -1), keepdim=True)  # ||U||_F = a ||Y||_F
    # rms(U_i) = a ||Y_i|| / sqrt(n), each row prescaled too (no underflow of small rows)
    root_v = safe_norm(Y, -1) * (a[..., 0] * math.sqrt((1.0 - beta2) / n))
    if v_old is not None:  # v <- beta2 v + (1 - beta2) mean_j U_ij^2 (EMA, no bias correction)
        root_v = torch.hypot(root_v, v_old.sqrt() * math.sqrt(beta2))
    # eps in units of ||U||_F / sqrt(n): eps itself for a polar factor (||U||_F = sqrt(n))
    d = root_v + (a * (norm_Y * (eps / math.sqrt(n))))[..., 0]
    ratio = (d / d.amax(-1, keepdim=True).clamp_min(tiny)).clamp_min(tiny)  # 0 only if U_i = 0
    # Y is this function's own (U / a): without autograd the rest runs on it in place (the
    # same operations, so the same values), with it on new tensors (Y is saved for norm_Y).
    inplace = not Y.requires_grad
    W = Y.div_(ratio.unsqueeze(-1)) if inplace else Y / ratio.unsqueeze(-1)  # U_i / d_i, up to
    norm_W = safe_norm(W, keepdim=True)  # a common factor
    norm_W = torch.where(norm_W > 0, norm_W, 1.0)  # unit Frobenius norm (zero W stays zero)
    W = W.div_(norm_W) if inplace else W / norm_W
    if uniform:  # the Frobenius norm of an exact polar factor
        W = W.mul_(math.sqrt(n)) if inplace else W * math.sqrt(n)
    else:  # ||U||_F = a ||Y||_F, applied in two factors (no overflow before the end)
        W = W.mul_(norm_Y).mul_(a) if inplace else W * norm_Y * a
    v_new = root_v.square()
    return to_caller(W, kind), to_caller(v_new, kind, v_new.dtype)


def normuon_normalize(
    U, v=None, *, beta2: float = 0.95, eps: float = 1e-8, check_finite: bool = True
):
    r"""NorMuon's row normalisation of an orthogonalised update, with its state explicit.

    ``v <- beta2 v + (1 - beta2) mean_j U_ij^2`` (one second moment per row, no
    bias correction); ``U_hat = U / (sqrt(v) + eps)``; then Frobenius grafting
    ``U_hat <- U_hat ||U||_F / ||U_hat||_F`` (Li et al., arXiv 2510.05491, in the
    form of microsoft/dion's NorMuon and the speedrun code, which divide by
    ``max(||U_hat||_F, eps)``: the two differ only when ``||U||_F < eps^2``; here a
    zero ``U_hat`` stays zero). Computed without forming squares of entries, so
    it holds over the whole range of the dtype: ``normuon_normalize(c U, c^2 v,
    eps=c eps) = c normuon_normalize(U, v, eps)`` (``eps`` itself is absolute, as
    released).
    Rows become (nearly) equal in norm at the cost of orthogonality: the singular
    values of ``U_hat`` spread, the more the more heterogeneous the rows of ``U``.

    Parameters
    ----------
    U : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Typically ``polar(M)`` of the momentum ``M``.
    v : same kind as ``U``, shape (..., m), optional
        Previous second-moment state, entries ``>= 0``; ``None`` means the zero
        initial state. Negative, NaN or infinite entries raise ``ValueError`` when
        ``check_finite``.
    beta2 : float
        EMA factor in [0, 1) (default 0.95, dion's ``muon_beta2``).
    eps : float
        Added to ``sqrt(v)``, in units of ``||U||_F / sqrt(n)`` (default 1e-8, as
        released for a polar factor ``U``).
    check_finite : bool
        Validate that ``U`` and ``v`` are finite (reads the data: a host sync on
        CUDA). Optimizer steps pass ``False`` and guard finiteness themselves.

    Returns
    -------
    U_hat : same kind, shape, device and dtype as ``U``
    v : same kind as ``U``, shape (..., m), dtype of ``U`` promoted to float32
        The new state (a new array; the input state is not modified). It is
        ``inf`` where the true second moment exceeds the dtype (float32:
        ``|u_ij|`` above about 1e19); ``U_hat`` is still correct there.

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab.manifolds import project_stiefel
    >>> U = project_stiefel(np.random.default_rng(0).standard_normal((8, 3)))
    >>> U_hat, v = normuon_normalize(U)
    >>> bool(np.isclose(np.linalg.norm(U_hat), np.sqrt(3.0)))
    True
    >>> bool(np.allclose((U_hat**2).sum(1), 3 / 8))  # first step: rows equalised
    True
    """
    return _row_normalize(U, v, beta2, eps, check_finite, uniform=False)


def u_normuon_normalize(
    U, v=None, *, beta2: float = 0.95, eps: float = 1e-8, check_finite: bool = True
):
    r"""U-NorMuon's row normalisation: NorMuon aimed at row norm ``sqrt(n/m)``.

    As :func:`normuon_normalize`, but the Frobenius norm is set to ``sqrt(n)``
    (the value of an exact polar factor, whatever ``||U||_F`` is):
    ``U_hat = sqrt(n) W / ||W||_F`` with ``W = U / (sqrt(v) + eps)``. With the
    instantaneous second moment (``beta2 = 0``, or the first step from the zero
    state) every row then has norm ``sqrt(n/m)``, the row norm of a balanced
    Stiefel point (unofficial gvlassis/U-NorMuon, as summarised by a third
    party). The singular values of ``U_hat`` are not 1: the "loss of polar
    precision".

    Parameters
    ----------
    U : numpy.ndarray or torch.Tensor, shape (..., m, n)
    v : same kind as ``U``, shape (..., m), optional
        Previous second-moment state (``None``: zero initial state).
    beta2, eps, check_finite
        As for :func:`normuon_normalize`.

    Returns
    -------
    U_hat : same kind, shape, device and dtype as ``U``
    v : same kind as ``U``, shape (..., m)

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab.manifolds import project_stiefel
    >>> U = project_stiefel(np.random.default_rng(0).standard_normal((8, 2)))
    >>> U_hat, v = u_normuon_normalize(U)
    >>> bool(np.allclose((U_hat**2).sum(1), 2 / 8))
    True
    """
    return _row_normalize(U, v, beta2, eps, check_finite, uniform=True)


# ---------------------------------------------------------------- directions and optimizers


def normuon_direction(
    M: torch.Tensor,
    v: torch.Tensor,
    *,
    beta2: float = 0.95,
    uniform: bool = False,
    method: str | PolarSolver = "polar_express",
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
        Registered polar method and its options, or a
        :class:`~polarlab.polar.PolarSolver`.

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
    return _normalized(polar_direction(M, method, **polar_opts), v, beta2, uniform)


def _normalized(O: torch.Tensor, v: torch.Tensor, beta2: float, uniform: bool):
    """NorMuon's (or, ``uniform``, U-NorMuon's) row normalisation of a polar factor."""
    m, n = O.shape[-2:]
    normalize = u_normuon_normalize if uniform and m >= n else normuon_normalize
    return normalize(O, v, beta2=beta2, check_finite=False)


class NorMuonDirection(PolarDirection):
    """NorMuon's direction: ``polar(M)`` with rows normalised by their second moment.

    State: ``row_second_moment`` (``m`` values, zeros at the start).
    """

    options = (*POLAR_OPTIONS, BETA2)
    state_names = ("row_second_moment",)
    #: U-NorMuon's ``sqrt(n)`` Frobenius target instead of NorMuon's grafting.
    uniform = False

    def init_state(self, m, n, device, dtype):
        return {"row_second_moment": torch.zeros(m, dtype=dtype, device=device)}

    def __call__(self, M, state):
        U, v = normuon_direction(
            M,
            state["row_second_moment"],
            beta2=self.beta2,
            uniform=self.uniform,
            method=self.solver,
        )
        return U, {"row_second_moment": v}

    def consume(self, M, state):
        # The engine may normalise M in place; the polar factor then lands in M, in M's
        # dtype (rule.land), before the row normalisation: no float32 copy of either.
        O = rule.land(self.solver.apply(M, overwrite=True)[0], M)
        U, v = _normalized(O, state["row_second_moment"], self.beta2, self.uniform)
        return U, {"row_second_moment": v}


class UNorMuonDirection(NorMuonDirection):
    """U-NorMuon's direction: as NorMuon's, with the Frobenius norm set to ``sqrt(n)``."""

    uniform = True


class NorMuon(PolarOptimizer):
    r"""NorMuon (arXiv 2510.05491): Muon with per-row second-moment normalisation.

    The direction is :class:`NorMuonDirection`. State per matrix:
    ``row_second_moment`` (``m`` values).

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
    direction_type = NorMuonDirection


class UNorMuon(NorMuon):
    r"""U-NorMuon: NorMuon aimed at the balanced row norm ``sqrt(n/m)`` on tall matrices.

    Same options and state as :class:`NorMuon`; the normalised update of a tall
    or square matrix is scaled to Frobenius norm ``sqrt(n)`` (the exact polar
    factor's), wide matrices use NorMuon's grafting (:class:`UNorMuonDirection`).

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
    direction_type = UNorMuonDirection
