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

Departure from the released code: the released version rotates the *row*
side (``R`` is ``m x m``) even for tall ``M``. ``C`` then has rank ``<= n < m``;
the last ``m - n`` columns of its Q factor are whatever completion the QR
backend picks, so about ``sqrt(1 - n/m)`` of ``||U||_F`` lies outside range(M)
and the update is not a continuous function of ``M``. Here tall matrices are
transposed so ``R`` rotates the short side (``min(m, n)`` square), which also
caps the state at ``min(m, n)^2``.
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

__all__ = ["ARO", "BASE_MAPS", "ARODirection", "aro_direction"]


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


class ARODirection(Direction):
    """ARO's direction ``R f(R^T M)`` after one QR-retracted ascent step on ``R``.

    State: ``rotation`` (``k x k``, ``k = min(m, n)``; identity at the start).
    Its common defaults differ: ``lr=1e-3`` and ``adjust_lr=None`` (the update
    entries have RMS about 1).
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
            "cholesky",
            '{"cholesky", "householder"}',
            "QR of the cross-alignment: shifted CholeskyQR3 or Householder "
            "(``polarlab.linalg.positive_qr``); where it fails the previous ``R`` is kept.",
            choice(linalg.QR_METHODS, "qr"),
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
    )
    state_names = ("rotation",)
    common_defaults: ClassVar[Mapping[str, Any]] = {"lr": 1e-3, "adjust_lr": None}

    def init_state(self, m, n, device, dtype):
        return {"rotation": torch.eye(min(m, n), dtype=dtype, device=device)}

    def __call__(self, M, state):
        R = state["rotation"]
        # the requested dtype, else the momentum's (the "scaling" role); at least float32,
        # since the Cholesky QR needs single precision
        work = compute_dtype(
            self.dtype, M.device, role="scaling", input_dtype=M.dtype, at_least=torch.float32
        )
        U, R_new = aro_direction(M.to(work), R.to(work), self.base, self.qr)
        return U, {"rotation": R_new.to(R.dtype)}


class ARO(PolarOptimizer):
    r"""ARO (arXiv 2602.09006): ``U = R f(R^T M)`` with ``R`` from QR of the cross-alignment.

    The direction is :class:`ARODirection`; ARO uses no polar method.

    Notes
    -----
    State per matrix: ``rotation`` (``k x k``, ``k = min(m, n)``; identity at
    start). Defaults differ from the released code in three documented ways:
    the short-side rotation (see module docstring), Nesterov on (the common
    default here; the release has none) and ``adjust_lr=None``: the update
    entries have RMS about 1, so the release's ``"rms_norm"`` (which assumes RMS
    ``1/sqrt(max(m, n))``) makes the per-entry step ``sqrt(max(m, n))`` times
    Muon's.

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


# Names that moved: served from their new module with a DeprecationWarning.
__getattr__ = moved_names(
    __name__, dict.fromkeys(("QR_METHODS", "positive_qr", "sinkhorn"), "polarlab.linalg")
)
