"""Aurora: a leverage-aware update for tall matrices, ``polar(D M)`` with balanced rows.

Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715; code
tilde-research/aurora-release. The update is the projection of the momentum
onto (nearly) the balanced Stiefel manifold ``{U : U^T U = I, ||U_i||^2 = n/m}``,
computed by the primitive :func:`polarlab.manifolds.project_balanced_stiefel`
(forms ``"preconditioned"``, the released code, and ``"alternating"``, the paper's
Algorithm 3) or :func:`polarlab.manifolds.riemannian_balanced_stiefel`
(``form="riemannian"``). Square matrices get exactly Muon's update.

The preconditioned form picks its engine per stacked shape (``engine="auto"``,
:func:`polarlab.manifolds.balanced_gram.choose_engine`): the Gram form (the same
polynomial schedule run on the ``n x n`` Gram matrix, the same result in exact
arithmetic) where the polar method is polynomial and the Gram form counts at most
3/4 of the plain form's matrix-product flops at that shape and compute dtype; for
the default Polar Express rows that is aspect ratio ``m / n >= 2.4`` for small
``n``, falling to every tall matrix from ``n = 1024`` (float32, the CPU default;
bfloat16, the CUDA default, restarts before steps 1 and 3 and needs 4.8 for small
``n``). The plain form otherwise, and always for an exact method such as ``"svd"``
and for the alternating and Riemannian forms. Square matrices take Muon's update
whatever the engine.
"""

from __future__ import annotations

from typing import Any

import torch

from polarlab.manifolds import (
    ENGINES,
    WIDE_RULES,
    project_balanced_stiefel,
    riemannian_balanced_stiefel,
)
from polarlab.manifolds.balanced import balanced_work, long_axis
from polarlab.manifolds.balanced_gram import check_engine
from polarlab.optim.base import PolarOptimizer
from polarlab.optim.direction import POLAR_OPTIONS, PolarDirection
from polarlab.optim.options import Option, choice, finite_positive, interval, positive_int
from polarlab.polar import PolarSolver, resolve

__all__ = ["AURORA_FORMS", "Aurora", "AuroraDirection", "aurora_direction"]

#: Aurora forms: the released code form, the paper's alternating form, Riemannian ascent.
AURORA_FORMS = ("preconditioned", "alternating", "riemannian")
#: The damping exponent when ``beta`` is ``None`` (aurora-release ``pp_beta``).
DEFAULT_BETA = 0.5

_beta_range = interval(0, 1, closed="right")


def _check_beta(name: str, value) -> None:
    if value is not None:
        _beta_range(name, value)


def _check_riemannian_beta(form: str, beta) -> None:
    if form == "riemannian" and beta is not None:
        raise ValueError(
            f"beta={beta!r} is not used by form='riemannian' (it damps the row scaling of "
            "the preconditioned and alternating forms); leave beta=None"
        )


def aurora_direction(
    M: torch.Tensor,
    *,
    iters: int = 2,
    beta: float | None = None,
    form: str = "preconditioned",
    wide: str = "transpose",
    eps: float = 1e-7,
    method: str | PolarSolver = "polar_express",
    engine: str = "auto",
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
    beta : float in (0, 1], optional
        Damping exponent of the preconditioned and alternating forms; ``None``
        means 0.5 (aurora-release). The Riemannian form has no damping: a
        ``beta`` given with ``form="riemannian"`` raises ``ValueError``.
    form : {"preconditioned", "alternating", "riemannian"}
    wide : {"transpose", "polar"}
        Wide-matrix rule: balance the columns (aurora-release v1, dion) or plain
        polar (aurora-release v2).
    eps : float
        Row-norm clamp (default 1e-7, aurora-release), relative to the largest
        entry of G.
    method, **polar_opts
        Registered polar method and its options (e.g. a Newton-Schulz
        ``steps``), or a :class:`~polarlab.polar.PolarSolver`; resolved once here.
    engine : {"auto", "plain", "gram"}
        How the preconditioned form computes its polar factors
        (:func:`~polarlab.manifolds.project_balanced_stiefel`); ``"gram"`` with
        another form or a non-polynomial method raises ``ValueError``.

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
    _check_riemannian_beta(form, beta)
    solver = resolve(method, **polar_opts)
    check_engine(engine, form, solver)
    if form == "riemannian":
        return riemannian_balanced_stiefel(
            M, iters, method=solver, wide=wide, eps=eps, check_finite=False
        )
    beta = DEFAULT_BETA if beta is None else beta
    return project_balanced_stiefel(
        M, iters, beta, solver, form=form, wide=wide, eps=eps, check_finite=False, engine=engine
    )


class AuroraDirection(PolarDirection):
    """Aurora's direction: the balanced-row polar factor of ``M`` (``polar(M)`` when square).

    With ``form="riemannian"`` the polar method's own ``steps`` set the
    Newton-Schulz iterations of every polar call, and ``iters`` the outer
    ascent steps.
    """

    options = (
        *POLAR_OPTIONS,
        Option(
            "iters",
            2,
            "int >= 1",
            "Polar calls per step (aurora-release ``pp_iterations``); outer ascent steps "
            'for ``form="riemannian"``.',
            positive_int,
            position="late",
        ),
        Option(
            "beta",
            None,
            "float in (0, 1] or None",
            "Damping exponent of the row scaling; ``None`` means 0.5 (aurora-release "
            '``pp_beta``). Not used by ``form="riemannian"``: giving it there raises '
            "``ValueError``.",
            _check_beta,
            position="late",
        ),
        Option(
            "form",
            "preconditioned",
            '{"preconditioned", "alternating", "riemannian"}',
            "The released code form, the paper's alternating form (Algorithm 3), or "
            "Riemannian ascent on the balanced Stiefel manifold.",
            choice(AURORA_FORMS, "form"),
            position="late",
        ),
        Option(
            "wide",
            "transpose",
            '{"transpose", "polar"}',
            "Wide matrices: balance the columns (aurora-release v1, dion) or plain Muon "
            "(aurora-release v2).",
            choice(WIDE_RULES, "wide rule"),
            position="late",
        ),
        Option(
            "eps",
            1e-7,
            "float > 0",
            "Row-norm clamp (aurora-release), relative to the largest entry of G.",
            finite_positive,
            "late",
        ),
        Option(
            "engine",
            "auto",
            '{"auto", "plain", "gram"}',
            '``"plain"``: ``iters`` polar calls on ``D M``; ``"gram"``: the same polynomial '
            "schedule run on the ``n x n`` Gram matrix (preconditioned form, polynomial "
            'method); ``"auto"``: the Gram form where it is valid and counts fewer flops at '
            "the matrix's shape and compute dtype "
            "(``polarlab.manifolds.balanced_gram.choose_engine``), else plain.",
            choice(ENGINES, "engine"),
            position="late",
        ),
    )

    def setup(self) -> None:
        _check_riemannian_beta(self.form, self.beta)
        super().setup()
        check_engine(self.engine, self.form, self.solver)

    def __call__(self, M, state):
        U = aurora_direction(
            M,
            iters=self.iters,
            beta=self.beta,
            form=self.form,
            wide=self.wide,
            eps=self.eps,
            method=self.solver,
            engine=self.engine,
        )
        return U, {}

    def consume(self, M, state):
        """``self(M, state)`` with the momentum batch as scratch: ``M`` is divided in
        place by its largest entry and holds the last ``D M`` (no full-size copy of
        it), and the result stays in the polar method's compute dtype (the optimizer
        casts it into ``M``). The same values, bit for bit, once cast."""
        if self.form == "riemannian":
            return self(M, state)
        flip = long_axis(M, self.wide)
        if flip is None:  # square (or empty): the plain polar factor, as aurora_direction
            return self.solver.apply(M, overwrite=True)[0], {}
        beta = DEFAULT_BETA if self.beta is None else self.beta
        U = balanced_work(
            M, flip, self.iters, beta, self.eps, self.solver, self.form, self.engine, overwrite=True
        )
        return U, {}


class Aurora(PolarOptimizer):
    r"""Aurora (arXiv 2606.27715): ``W <- W (1 - lr wd) - lr s(m, n) P(M)``.

    ``P`` is :class:`AuroraDirection` (:func:`aurora_direction`).

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
    direction_type = AuroraDirection
