r"""Riemannian Aurora: gradient ascent of ``<G, U>`` on the balanced Stiefel manifold.

After tilde-research/aurora-release's ``riemannian_aurora.py`` (Dewulf, Pai,
Yang, Zhang, Keigwin, arXiv 2606.27715), made scale invariant: the tangent part
of the normalised ``G`` (:mod:`polarlab.manifolds.balanced_tangent`, multipliers
by conjugate gradients), a step, and a retraction by alternating row
normalisation and polar factors.
"""

from __future__ import annotations

import math

import torch

from polarlab._arrays import meta_result, to_caller
from polarlab.linalg import max_abs_scale
from polarlab.manifolds._common import (
    check_choice,
    check_positive,
    check_positive_int,
    projection_input,
)
from polarlab.manifolds.balanced import WIDE_RULES, Wide, long_axis
from polarlab.manifolds.balanced_tangent import balanced_tangent
from polarlab.polar import PolarSolver, resolve

__all__ = ["riemannian_balanced_stiefel"]


def riemannian_balanced_stiefel(
    G,
    steps: int = 3,
    step_size: float = 0.1,
    method: str | PolarSolver = "svd",
    *,
    cg_steps: int = 20,
    cg_tol: float = 1e-8,
    retraction_steps: int = 2,
    wide: Wide = "transpose",
    eps: float = 1e-7,
    return_residual: bool = False,
    check_finite: bool = True,
    **polar_options,
):
    r"""Riemannian Aurora: gradient ascent of ``<G, U>`` on the balanced Stiefel manifold.

    For tall ``G`` (``m > n``, ``r = n/m``), after tilde-research/aurora-release's
    ``riemannian_aurora.py`` but **scale invariant**:

    1. ``G_hat = sqrt(n) G / ||G||_F`` (so ``||G_hat||_F = ||U||_F``);
       ``U = polar(G_hat)``.
    2. ``steps`` times: ``Z = P_U(G_hat)``, the tangent part of ``G_hat``
       (see :func:`~polarlab.manifolds.tangent_balanced_stiefel`), whose multipliers
       ``(diag(l) - P o P) lambda = q`` are solved by ``cg_steps`` of conjugate
       gradients (stopping at relative residual ``cg_tol``);
       ``Y = U + step_size Z``; retract ``retraction_steps`` times
       ``Y_i <- sqrt(r) Y_i / max(||Y_i||, eps)``, ``Y <- polar(Y)``; ``U = Y``.

    Differences from the released reference, and why:

    - ``G`` is normalised first. The reference takes ``Y = U + 0.1 Z`` with ``Z``
      on the scale of ``G`` while ``U`` has entries ~ ``1/sqrt(m)``: at raw
      gradient scale the step is huge (worse than plain Aurora), at tiny scale it
      reduces to alternating projection. Here ``G`` and ``1000 G`` give the same
      result up to round-off.
    - The multiplier system uses the actual row norms ``l_i = ||U_i||^2`` (a graph
      Laplacian, exact for any semi-orthogonal ``U``) instead of
      ``r_eff I - P o P`` with the reference's shift
      ``r_eff = r + max(0, max_i ||U_i||^4 - r + 1e-3)``.
    - Validation, the wide/square rule of
      :func:`~polarlab.manifolds.project_balanced_stiefel` (square input returns
      :func:`~polarlab.manifolds.project_stiefel`), any registered polar method
      (the reference's first version hard-codes a bf16 Polar Express whose
      bf16 x fp32 matmul fails on non-square input).

    With ``steps`` and ``retraction_steps`` large the iterate converges to a
    stationary point of ``<G, U>`` on the manifold (compare with
    :func:`~polarlab.manifolds.balanced_stiefel_exact`).

    **Polar options.** ``steps`` here are the outer ascent steps. Options of the
    polar method go in as ``**polar_options`` when their names are free; one
    that clashes with this function's own names (a Newton-Schulz ``steps``)
    goes in through a resolved method, which carries it:
    ``riemannian_balanced_stiefel(G, steps=3, method=resolve("newton_schulz", steps=5))``
    (:func:`polarlab.polar.resolve`).

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (..., m, n)
    steps : int
        Outer ascent steps (default 3, as released).
    step_size : float
        Ascent step on the normalised ``G_hat`` (default 0.1, as released).
    method : str or PolarSolver
        Registered polar method (default ``"svd"``) or a solver from
        :func:`polarlab.polar.resolve`, validated once and used for every polar
        call (the first one and each retraction).
    cg_steps : int
        Conjugate-gradient iterations per multiplier solve (default 20).
    cg_tol : float
        Relative residual at which CG stops moving (default 1e-8).
    retraction_steps : int
        Alternating row-normalise / polar rounds per retraction (default 2).
    wide : {"transpose", "polar"}
        As for :func:`~polarlab.manifolds.project_balanced_stiefel`.
    eps : float
        Norm clamps (default 1e-7), relative to ``max |g_ij|``: ``G`` is first
        divided by (a power of two near) its largest entry, so the result is the
        same for ``c G`` at every scale.
    return_residual : bool
        Also return the largest relative CG residual
        ``||(diag(l) - P o P) lambda - q|| / ||q||`` over the steps (a float).
    check_finite : bool
    **polar_options
        Options of the polar method whose names are not taken here (see above).

    Returns
    -------
    U : same kind, shape, device and dtype as ``G``
    residual : float, only if ``return_residual``

    Examples
    --------
    >>> import numpy as np
    >>> G = np.random.default_rng(0).standard_normal((32, 4))
    >>> U = riemannian_balanced_stiefel(G, steps=20, retraction_steps=10)
    >>> bool(np.allclose(U, riemannian_balanced_stiefel(1000 * G, steps=20, retraction_steps=10)))
    True
    >>> bool(np.allclose((U**2).sum(1), 4 / 32, rtol=1e-6))
    True
    """
    check_positive_int(steps, "steps")
    check_positive_int(cg_steps, "cg_steps")
    check_positive_int(retraction_steps, "retraction_steps")
    check_positive(step_size, "step_size")
    if not isinstance(cg_tol, (int, float)) or not cg_tol >= 0:
        raise ValueError(f"cg_tol must be a number >= 0, got {cg_tol!r}")
    check_positive(eps, "eps")
    check_choice(wide, "wide", WIDE_RULES)
    solver = resolve(method, **polar_options)
    work, kind = projection_input(G, "riemannian_balanced_stiefel", check_finite=check_finite)
    if work.is_meta:
        U = meta_result(work.shape, kind)
        return (U, 0.0) if return_residual else U
    flip = long_axis(work, wide)
    if flip is None:
        U = solver(G, check_finite=check_finite)
        return (U, 0.0) if return_residual else U
    # Divided by max |g_ij| in the scaling dtype: ||G||_F cannot over- or underflow and the
    # eps clamp is relative to the largest entry, so the result is invariant under G -> c G.
    G_hat, _ = max_abs_scale(work.mT if flip else work)
    dtype = G_hat.dtype
    m, n = G_hat.shape[-2:]
    root_r = math.sqrt(n / m)
    G_hat = G_hat * (
        math.sqrt(n) / torch.linalg.vector_norm(G_hat, dim=(-2, -1), keepdim=True).clamp(min=eps)
    )
    U = solver.apply(G_hat)[0].to(dtype)
    worst = torch.zeros((), dtype=dtype)
    for _ in range(steps):
        Z, _, residual = balanced_tangent(U, G_hat, cg_steps=cg_steps, cg_tol=cg_tol)
        worst = torch.maximum(worst, residual.max())
        Y = U + step_size * Z
        for _ in range(retraction_steps):
            Y = root_r * Y / torch.linalg.vector_norm(Y, dim=-1, keepdim=True).clamp(min=eps)
            Y = solver.apply(Y)[0].to(dtype)
        U = Y
    U = to_caller(U.mT if flip else U, kind)
    return (U, float(worst)) if return_residual else U
