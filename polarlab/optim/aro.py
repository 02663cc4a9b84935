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
from collections.abc import Callable, Iterable
from typing import Any

import torch

from polarlab._arrays import resolve_dtype, unit_roundoff
from polarlab.optim.base import PolarOptimizer, _matrix_defaults

__all__ = ["ARO", "BASE_MAPS", "QR_METHODS", "aro_direction", "positive_qr"]


def row_norm(X: torch.Tensor) -> torch.Tensor:
    """``sqrt(q) X_i / max(||X_i||, 1e-8)`` for each row of ``X`` (p x q); RMS 1.

    Examples
    --------
    >>> row_norm(torch.tensor([[3.0, 4.0], [0.0, 2.0]])).norm(dim=1)
    tensor([1.4142, 1.4142])
    """
    q = X.shape[-1]
    return X * (math.sqrt(q) / X.norm(dim=-1, keepdim=True).clamp_min(1e-8))


def sign(X: torch.Tensor) -> torch.Tensor:
    """Entrywise sign; RMS 1 for a matrix without zeros.

    Examples
    --------
    >>> sign(torch.tensor([[-2.0, 0.5]])).tolist()
    [[-1.0, 1.0]]
    """
    return torch.sign(X)


def sinkhorn(X: torch.Tensor, rounds: int = 5) -> torch.Tensor:
    """SR-Sinkhorn (SinkGD, arXiv 2502.06742) on ``X`` (p x q).

    ``rounds`` alternations of rows to norm ``sqrt(q)``, then columns to ``sqrt(p)``
    (columns last), eps 1e-8, as released.

    Examples
    --------
    >>> X = sinkhorn(torch.randn(4, 9, dtype=torch.float64))
    >>> bool(torch.allclose(X.norm(dim=0), torch.full((9,), 2.0, dtype=torch.float64)))
    True
    """
    p, q = X.shape[-2:]
    for _ in range(rounds):
        X = X * (math.sqrt(q) / X.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        X = X * (math.sqrt(p) / X.norm(dim=-2, keepdim=True).clamp_min(1e-8))
    return X


#: Base maps by name (arXiv 2602.09006; microsoft/dion ``dev/aro``); each commutes
#: with row sign flips, ``f(S X) = S f(X)``, so the sign convention of the QR does not change ``U``.
BASE_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "row_norm": row_norm,
    "sign": sign,
    "sinkhorn": sinkhorn,
}
QR_METHODS = ("cholesky", "householder")


def _cholesky_qr(A: torch.Tensor, shift: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """One (shifted) CholeskyQR pass: ``A^T A + s I = L L^T``, ``Q = A L^{-T}``."""
    n = A.shape[-1]
    eye = torch.eye(n, dtype=A.dtype, device=A.device)
    gram = A.mT @ A + shift * eye
    L, info = torch.linalg.cholesky_ex(gram)
    Q = torch.linalg.solve_triangular(L, A.mT, upper=False).mT  # A L^{-T}
    return Q, info


def positive_qr(A: torch.Tensor, method: str = "cholesky") -> tuple[torch.Tensor, torch.Tensor]:
    """Q factor of ``A = QR`` with ``diag(R) > 0`` (deterministic), and a success flag.

    Parameters
    ----------
    A : torch.Tensor, shape (..., k, k)
        Square (batched) input; float32 or float64.
    method : {"cholesky", "householder"}
        ``"cholesky"``: shifted CholeskyQR3 (Fukaya, Kannan, Nakatsukasa, Yamamoto,
        Yanagisawa, "Shifted Cholesky QR for computing the QR factorization of
        ill-conditioned matrices", SIAM J. Sci. Comput. 2020): one pass with
        shift ``s = 11 (k^2 + k(k+1)) u ||A||_F^2`` (which keeps the shifted
        Gram matrix numerically positive definite), then two plain passes
        (CholeskyQR2). Matmuls and k x k Cholesky only: fast on GPUs, no
        host synchronisation. ``"householder"``: ``torch.linalg.qr`` with the
        signs fixed so ``diag(R) > 0``.

    Returns
    -------
    Q : torch.Tensor, shape (..., k, k)
    ok : torch.Tensor of bool, shape (...)
        False where a Cholesky factorisation failed or ``Q`` is not finite
        (e.g. ``A = 0``); callers keep their previous factor there (``torch.where``).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> A = torch.randn(3, 5, 5, dtype=torch.float64)
    >>> Q, ok = positive_qr(A)
    >>> Qh, _ = positive_qr(A, "householder")
    >>> bool(ok.all()), bool(torch.allclose(Q, Qh))
    (True, True)
    """
    if method == "householder":
        Q, R = torch.linalg.qr(A)
        s = torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))
        Q = Q * torch.where(s == 0, 1.0, s).unsqueeze(-2)
        return Q, torch.isfinite(Q).flatten(-2).all(-1)
    if method != "cholesky":
        raise ValueError(f"unknown qr method {method!r}; choose one of: {', '.join(QR_METHODS)}")
    k = A.shape[-1]
    u = unit_roundoff(A.dtype)
    fro2 = A.square().sum((-2, -1), keepdim=True)
    Q, info0 = _cholesky_qr(A, 11 * (k * k + k * (k + 1)) * u * fro2)
    Q, info1 = _cholesky_qr(Q, 0.0)
    Q, info2 = _cholesky_qr(Q, 0.0)
    ok = (info0 == 0) & (info1 == 0) & (info2 == 0) & torch.isfinite(Q).flatten(-2).all(-1)
    return Q, ok


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
        See :func:`positive_qr`; where it fails, ``R`` is kept.

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
    Q, ok = positive_qr(C, qr)
    R_new = torch.where(ok[..., None, None], Q, R)
    U = R_new @ f(R_new.mT @ X)
    return (U.mT if tall else U), R_new


class ARO(PolarOptimizer):
    r"""ARO (arXiv 2602.09006): ``U = R f(R^T M)`` with ``R`` from QR of the cross-alignment.

    Takes the common matrix-optimizer keywords (see :class:`polarlab.optim.Muon`)
    except the polar-method ones, plus:

    Parameters
    ----------
    base : {"sinkhorn", "row_norm", "sign"}
        Base map (default ``"sinkhorn"``, the paper's recommendation).
    qr : {"cholesky", "householder"}
        QR of the cross-alignment (default shifted CholeskyQR3; see
        :func:`positive_qr`). Where it fails, the previous ``R`` is kept.
    dtype : str, optional
        Compute dtype of the rotation and direction (default float32; float64
        for float64 parameters).

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

    def __init__(
        self,
        params: Iterable,
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0.95,
        nesterov: bool = True,
        momentum_form: str = "ema",
        weight_decay: float = 0.0,
        cautious_wd: bool = False,
        adjust_lr: str | None = None,
        base: str = "sinkhorn",
        qr: str = "cholesky",
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
            method=None,
            schedule=None,
            steps=None,
            dtype=dtype,
            flatten=flatten,
            nonfinite=nonfinite,
            row_telemetry=row_telemetry,
            base=base,
            qr=qr,
        )
        super().__init__(params, defaults)

    def check_extra(self, group: dict[str, Any]) -> None:
        if group["base"] not in BASE_MAPS:
            raise ValueError(
                f"unknown base map {group['base']!r}; choose one of: {', '.join(BASE_MAPS)}"
            )
        if group["qr"] not in QR_METHODS:
            raise ValueError(f"unknown qr {group['qr']!r}; choose one of: {', '.join(QR_METHODS)}")
        if group["method"] is not None:
            raise ValueError("ARO uses no polar method; leave method=None")

    def init_extra_state(self, m, n, group, device, dtype):
        k = min(m, n)
        return {"rotation": torch.eye(k, dtype=dtype, device=device)}

    def direction(self, M, state, group):
        """``R f(R^T M)`` after one QR-retracted ascent step on ``R``."""
        # QR needs at least single precision: a bf16 request is raised to float32
        work = M.dtype if group["dtype"] is None else resolve_dtype(group["dtype"])
        work = torch.promote_types(work, torch.float32)
        U, R = aro_direction(M.to(work), state["rotation"].to(work), group["base"], group["qr"])
        return U, {"rotation": R.to(state["rotation"].dtype)}
