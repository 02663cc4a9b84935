"""ARO: adaptively rotated optimization, with the rotation on the short side.

Gong et al., "ARO: A New Lens On Matrix Optimization For Large Models",
arXiv 2602.09006; released code: microsoft/dion branch ``dev/aro`` (PR #36).
Per step, for momentum ``M`` and rotation state ``R`` (orthogonal):

    C = M f(R^T M)^T          (cross-alignment; grad of J(R) = <M, R f(R^T M)>)
    R <- Q factor of QR(C)    (one ascent step + QR retraction)
    U = R f(R^T M)

with a base map ``f`` (:data:`BASE_MAPS`). With ``f = row_norm`` and ``M`` fixed,
``R <- qr(M M^T R)`` is orthogonal iteration, so ``U -> sqrt(q) polar(M)``
(``q`` the long side): Muon is a special case (orthogonal iteration; derived
from the update rule of arXiv 2602.09006).

Two modes (the ``mode`` option):

``"corrected"`` (default)
    Tall matrices are transposed so ``R`` rotates the short side
    (``min(m, n)`` square), which also caps the state at ``min(m, n)^2``; the QR
    has a positive diagonal (shifted CholeskyQR3 by default); computed in the
    momentum's dtype (at least float32).
``"release"``
    The released algorithm as it is (microsoft/dion ``dev/aro``): ``R`` is
    ``m x m`` on the *row* side even for tall ``M``, Householder QR
    (``torch.linalg.qr``, no sign fix), float32, the base maps in the released
    form (:data:`RELEASED_BASE_MAPS`), one matrix at a time. With
    :meth:`ARO.release` the optimizer also takes the released defaults
    (:data:`RELEASE_DEFAULTS`: lr 0.01, EMA momentum 0.95 without Nesterov,
    weight decay 0.01, ``adjust_lr="rms_norm"``, base ``sinkhorn``).

The defect the release has on tall ``M`` (``m > n``): ``C`` has rank
``<= n < m``, so the last ``m - n`` columns of its Q factor are whatever
completion the QR backend picks from round-off; the rows of ``R^T M`` along them
are round-off too, yet the base map renormalises them to full size. About
``sqrt(1 - n/m)`` of ``||U||_F`` then lies outside range(M), and the update is
not a continuous function of ``M`` (a perturbation at the rounding level
changes it by O(1) with ``sign`` and ``sinkhorn``). The release's
``adjust_lr="rms_norm"`` assumes an update of entry RMS ``1/sqrt(max(m, n))``
while ARO's has RMS about 1, so its per-entry step is ``0.2 lr sqrt(max(m, n))``,
``sqrt(max(m, n))`` times Muon's under the same convention.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch

from polarlab import linalg
from polarlab._arrays import compute_dtype, resolve_dtype
from polarlab._deprecation import moved_names
from polarlab.manifolds import project_row_oblique
from polarlab.optim.base import PolarOptimizer
from polarlab.optim.direction import Direction
from polarlab.optim.options import Option, choice

__all__ = [
    "ARO",
    "ARO_MODES",
    "BASE_MAPS",
    "RELEASED_BASE_MAPS",
    "RELEASE_DEFAULTS",
    "ARODirection",
    "aro_direction",
    "released_aro_direction",
]

#: The two modes of :class:`ARODirection`: the short-side fix and the released algorithm.
ARO_MODES = ("corrected", "release")


def row_norm(X: torch.Tensor) -> torch.Tensor:
    """``sqrt(q) X_i / max(||X_i||, 1e-8)`` for each row of ``X`` (p x q); RMS 1.

    The row-oblique projection :func:`polarlab.manifolds.project_row_oblique`
    with radius ``sqrt(q)`` and the released clamp ``eps = 1e-8`` (a row of norm
    below 1e-8 is scaled by ``sqrt(q) / 1e-8``, a zero row stays zero).

    Examples
    --------
    >>> row_norm(torch.tensor([[3.0, 4.0], [0.0, 2.0]])).norm(dim=1)
    tensor([1.4142, 1.4142])
    """
    return project_row_oblique(X, math.sqrt(X.shape[-1]), eps=1e-8, check_finite=False)


def sign(X: torch.Tensor) -> torch.Tensor:
    """Entrywise sign; RMS 1 for a matrix without zeros.

    Examples
    --------
    >>> sign(torch.tensor([[-2.0, 0.5]])).tolist()
    [[-1.0, 1.0]]
    """
    return torch.sign(X)


#: Base maps by name (arXiv 2602.09006; microsoft/dion ``dev/aro``); each commutes
#: with row sign flips, ``f(S X) = S f(X)``, so the sign convention of the QR does not change ``U``.
BASE_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "row_norm": row_norm,
    "sign": sign,
    "sinkhorn": linalg.sinkhorn,
}


def _released_row_norm(X: torch.Tensor) -> torch.Tensor:
    # sqrt(q) X_i / max(||X_i||, 1e-8), evaluated in the released order
    return math.sqrt(X.shape[-1]) * X / X.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def _released_sinkhorn(X: torch.Tensor, rounds: int = 5) -> torch.Tensor:
    # SR-Sinkhorn (arXiv 2502.06742): rows to norm sqrt(q), then columns to sqrt(p)
    p, q = X.shape[-2:]
    for _ in range(rounds):
        X = X * (math.sqrt(q) / X.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        X = X * (math.sqrt(p) / X.norm(dim=-2, keepdim=True).clamp_min(1e-8))
    return X


#: The base maps as the released code evaluates them (plain norms, clamp 1e-8, the
#: same order of operations). On tall matrices the released update depends on the
#: rounding of every intermediate (see the module docstring), so ``mode="release"``
#: evaluates these rather than :data:`BASE_MAPS` (whose norms are scaled against
#: overflow): the same values to rounding, other rounding.
RELEASED_BASE_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "row_norm": _released_row_norm,
    "sign": torch.sign,
    "sinkhorn": _released_sinkhorn,
}

#: The released code's defaults (microsoft/dion ``dev/aro``, ``ARO.__init__``) in
#: polarlab's option names; :meth:`ARO.release` builds an optimizer with them.
RELEASE_DEFAULTS: Mapping[str, Any] = {
    "lr": 0.01,
    "momentum": 0.95,  # mu; M <- mu M + (1 - mu) G
    "nesterov": False,
    "momentum_form": "ema",
    "weight_decay": 0.01,  # decoupled, W <- W (1 - lr wd), the unadjusted lr
    "adjust_lr": "rms_norm",  # 0.2 sqrt(max(m, n))
    "base": "sinkhorn",
    "mode": "release",
}


def released_aro_direction(
    M: torch.Tensor, R: torch.Tensor, base: str = "sinkhorn"
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the released ARO rule: rotation on the row side, Householder QR.

    Per matrix, in the dtype of ``M`` (the release computes in float32)::

        C = M f(R^T M)^T        (m x m)
        R' = Q factor of torch.linalg.qr(C)   (no sign fix)
        U = R' f(R'^T M)

    with ``f`` from :data:`RELEASED_BASE_MAPS`. For tall ``M`` this has the
    defect described in the module docstring: do not use it to train, use it to
    reproduce published runs.

    Parameters
    ----------
    M : torch.Tensor, shape (..., m, n)
    R : torch.Tensor, shape (..., m, m)
        Current rotation (identity at the start), in ``M``'s dtype.
    base : {"row_norm", "sign", "sinkhorn"}

    Returns
    -------
    U : torch.Tensor, shape (..., m, n)
    R' : torch.Tensor, shape (..., m, m)

    Examples
    --------
    On wide input the released rule and the corrected one rotate the same side;
    they give the same direction:

    >>> _ = torch.manual_seed(0)
    >>> M = torch.randn(4, 12, dtype=torch.float64)
    >>> U, R = released_aro_direction(M, torch.eye(4, dtype=torch.float64))
    >>> V, S = aro_direction(M, torch.eye(4, dtype=torch.float64), qr="householder")
    >>> bool(torch.allclose(U, V))
    True
    """
    if base not in RELEASED_BASE_MAPS:
        raise ValueError(f"unknown base map {base!r}; choose one of: {', '.join(BASE_MAPS)}")
    f = RELEASED_BASE_MAPS[base]
    m, n = M.shape[-2:]
    directions, rotations = [], []
    # One matrix at a time, as released: on tall matrices batched kernels would round
    # differently and, through the QR completion, change U by O(1).
    for Mi, Ri in zip(M.reshape(-1, m, n), R.reshape(-1, m, m)):
        C = Mi @ f(Ri.mT @ Mi).mT  # m x m cross-alignment, grad of <M, R f(R^T M)>
        Q = torch.linalg.qr(C).Q
        rotations.append(Q)
        directions.append(Q @ f(Q.mT @ Mi))
    return torch.stack(directions).reshape(M.shape), torch.stack(rotations).reshape(R.shape)


def aro_direction(
    M: torch.Tensor, R: torch.Tensor, base: str = "sinkhorn", qr: str = "cholesky"
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ARO rotation update and direction; rotation on the short side.

    Parameters
    ----------
    M : torch.Tensor, shape (..., m, n)
        Momentum (float32 or float64).
    R : torch.Tensor, shape (..., k, k), k = min(m, n)
        Current rotation (identity at the start).
    base : {"row_norm", "sign", "sinkhorn"}
        Base map ``f`` (:data:`BASE_MAPS`).
    qr : {"cholesky", "householder"}
        See :func:`polarlab.linalg.positive_qr`; where it fails, ``R`` is kept.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n)
        ``R' f(R'^T X)`` (transposed back for tall ``M``); entry RMS about 1.
    R' : torch.Tensor, shape (..., k, k)

    Examples
    --------
    With ``row_norm`` and the eigen-rotation, ``U = sqrt(max(m, n)) polar(M)``
    (orthogonal iteration on ``M M^T``); steps from ``R = I`` approach it:

    >>> _ = torch.manual_seed(0)
    >>> M = torch.randn(12, 4, dtype=torch.float64)
    >>> R = torch.eye(4, dtype=torch.float64)
    >>> for _ in range(200):
    ...     U, R = aro_direction(M, R, "row_norm")
    >>> P = torch.linalg.svd(M, full_matrices=False)
    >>> polar = P.U @ P.Vh
    >>> bool(torch.allclose(U, 12**0.5 * polar, atol=1e-6))
    True
    """
    if base not in BASE_MAPS:
        raise ValueError(f"unknown base map {base!r}; choose one of: {', '.join(BASE_MAPS)}")
    f = BASE_MAPS[base]
    tall = M.shape[-2] > M.shape[-1]
    X = M.mT if tall else M  # short side first: X is k x q with k <= q
    C = X @ f(R.mT @ X).mT  # k x k cross-alignment, grad of <X, R f(R^T X)>
    Q, ok = linalg.positive_qr(C, qr)
    R_new = torch.where(ok[..., None, None], Q, R)
    U = R_new @ f(R_new.mT @ X)
    return (U.mT if tall else U), R_new


def _check_dtype(name: str, value) -> None:
    resolve_dtype(value)  # ValueError naming the allowed dtypes


def _check_qr(name: str, value) -> None:
    if value is not None:
        choice(linalg.QR_METHODS, "qr")(name, value)


class ARODirection(Direction):
    """ARO's direction ``R f(R^T M)`` after one QR-retracted ascent step on ``R``.

    State: ``rotation`` (identity at the start): ``k x k``, ``k = min(m, n)``, in
    the corrected mode; ``m x m`` in the release mode. The mode is fixed for the
    life of the state. Its common defaults differ: ``lr=1e-3`` and
    ``adjust_lr=None`` (the update entries have RMS about 1); the released
    defaults are :data:`~polarlab.optim.aro.RELEASE_DEFAULTS`
    (:meth:`~polarlab.optim.aro.ARO.release`).
    """

    options = (
        Option(
            "base",
            "sinkhorn",
            '{"sinkhorn", "row_norm", "sign"}',
            "Base map ``f`` (the paper recommends ``sinkhorn``).",
            choice(BASE_MAPS, "base map"),
        ),
        Option(
            "qr",
            None,
            '{"cholesky", "householder"}, optional',
            "QR of the cross-alignment in the corrected mode: shifted CholeskyQR3 or "
            "Householder (``polarlab.linalg.positive_qr``); where it fails the previous "
            '``R`` is kept. ``None``: ``"cholesky"``. The release mode uses the released '
            'Householder QR (``"householder"`` or ``None``).',
            _check_qr,
        ),
        Option(
            "dtype",
            None,
            "str or torch.dtype, optional",
            "Compute dtype of the rotation and direction; ``None``: the momentum's, at "
            "least float32 (a bfloat16 or float16 request is raised to float32: the QR "
            "needs single precision).",
            _check_dtype,
        ),
        Option(
            "mode",
            "corrected",
            '{"corrected", "release"}',
            '``"corrected"``: rotate the short side (continuous in the momentum); '
            '``"release"``: the released algorithm (microsoft/dion ``dev/aro``), rotation '
            "on the row side even for tall matrices (a defect: on tall matrices part of the "
            "update lies outside the momentum's range and jumps with rounding), Householder "
            "QR, float32 unless ``dtype`` is given; for reproducing published runs "
            "(``ARO.release`` also sets the released defaults).",
            choice(ARO_MODES, "mode"),
            position="late",
        ),
    )
    state_names = ("rotation",)
    common_defaults: ClassVar[Mapping[str, Any]] = {"lr": 1e-3, "adjust_lr": None}

    def setup(self) -> None:
        if self.mode == "release" and self.qr not in (None, "householder"):
            raise ValueError(
                f"mode='release' uses the released Householder QR; got qr={self.qr!r} "
                "(choose qr='householder' or None, or mode='corrected')"
            )

    def init_state(self, m, n, device, dtype):
        k = m if self.mode == "release" else min(m, n)
        return {"rotation": torch.eye(k, dtype=dtype, device=device)}

    def __call__(self, M, state):
        R = state["rotation"]
        if self.mode == "release":  # float32 as released, unless a dtype is requested
            work = resolve_dtype(self.dtype) or torch.float32
            U, R_new = released_aro_direction(M.to(work), R.to(work), self.base)
            return U, {"rotation": R_new.to(R.dtype)}
        # the requested dtype, else the momentum's (the "scaling" role); at least float32,
        # since the Cholesky QR needs single precision
        work = compute_dtype(
            self.dtype, M.device, role="scaling", input_dtype=M.dtype, at_least=torch.float32
        )
        U, R_new = aro_direction(M.to(work), R.to(work), self.base, self.qr or "cholesky")
        return U, {"rotation": R_new.to(R.dtype)}


class ARO(PolarOptimizer):
    r"""ARO (arXiv 2602.09006): ``U = R f(R^T M)`` with ``R`` from QR of the cross-alignment.

    The direction is :class:`ARODirection`; ARO uses no polar method.

    Notes
    -----
    State per matrix: ``rotation`` (``k x k``, ``k = min(m, n)``; identity at
    start; ``m x m`` with ``mode="release"``). Defaults differ from the released
    code in documented ways: the short-side rotation (see module docstring),
    Nesterov on (the common default here; the release has none), ``lr=1e-3``
    (release 0.01), no weight decay (release 0.01) and ``adjust_lr=None``: the
    update entries have RMS about 1, so the release's ``"rms_norm"`` (which
    assumes RMS ``1/sqrt(max(m, n))``) makes the per-entry step
    ``sqrt(max(m, n))`` times Muon's. :meth:`release` builds the released
    algorithm with the released defaults, to reproduce published runs.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> W = torch.nn.Parameter(torch.randn(8, 4))
    >>> opt = ARO([W], lr=1e-3, base="row_norm")
    >>> W.grad = torch.randn(8, 4)
    >>> opt.step()
    >>> opt.state[W]["rotation"].shape
    torch.Size([4, 4])
    """

    algorithm = "aro"
    direction_type = ARODirection

    @classmethod
    def release(cls, params, **options) -> ARO:
        """ARO as released (microsoft/dion ``dev/aro``): ``mode="release"`` and the
        released defaults (:data:`~polarlab.optim.aro.RELEASE_DEFAULTS`); ``options``
        replace any of them.

        >>> W = torch.nn.Parameter(torch.zeros(8, 4))
        >>> opt = ARO.release([W])
        >>> g = opt.param_groups[0]
        >>> g["lr"], g["nesterov"], g["weight_decay"], g["adjust_lr"], g["mode"]
        (0.01, False, 0.01, 'rms_norm', 'release')
        >>> W.grad = torch.randn(8, 4)
        >>> opt.step()
        >>> opt.state[W]["rotation"].shape  # the row side, also for a tall matrix
        torch.Size([8, 8])
        """
        return cls(params, **{**RELEASE_DEFAULTS, **options})


# Names that moved: served from their new module with a DeprecationWarning.
__getattr__ = moved_names(
    __name__, dict.fromkeys(("QR_METHODS", "positive_qr", "sinkhorn"), "polarlab.linalg")
)
