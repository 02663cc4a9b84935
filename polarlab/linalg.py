"""Small dense kernels shared by the library: safe norms, positive-diagonal QR, Sinkhorn.

All run on batched torch work tensors ``(..., p, q)`` with elementwise passes,
matrix products and small factorisations only, without host synchronisation, so
they can sit inside an optimizer step. Inputs are never modified.

The safe norms (:func:`max_abs_scale`, :func:`safe_norm`) are the one place
where polarlab takes a norm that must not overflow or underflow: squaring an
entry of ``1e20`` overflows float32 and one of ``1e-30`` underflows it, so the
entries are first divided by (the power of two nearest below) the largest
magnitude, the classical remedy of LAPACK's ``xNRM2`` and of Blue's algorithm
(Blue, "A portable Fortran program to find the Euclidean norm of a vector", ACM
TOMS 4(1), 1978), here as two elementwise passes (``amax``, then the norm of
``X / a``), which torch runs without a host synchronisation.
"""

from __future__ import annotations

import math

import torch

from polarlab._arrays import compute_dtype, scratch_ok, unit_roundoff

__all__ = [
    "QR_METHODS",
    "cholesky_qr",
    "max_abs_scale",
    "positive_qr",
    "pow2_scale",
    "safe_norm",
    "sinkhorn",
]

Dims = int | tuple[int, ...]

# The exponent field of the IEEE formats the scaling dtype can be: (same-size int, mask).
_EXPONENT_BITS = {
    torch.float32: (torch.int32, 0x7F800000),
    torch.float64: (torch.int64, 0x7FF0000000000000),
}


def pow2_scale(X: torch.Tensor, dim: Dims = (-2, -1)) -> torch.Tensor:
    """``a = 2^floor(log2 max |x|)`` over ``dim``, the power of two of :func:`max_abs_scale`.

    In the ``"scaling"`` dtype of ``polarlab._arrays.compute_dtype`` (the input's,
    at least float32), at least the smallest normal number of that dtype; ``inf``
    for a slice holding NaN or infinity; 1 for an empty slice. Two reductions over
    ``X`` and a few kernels on the reduced tensor; ``X`` is not copied, so a caller
    that owns ``X`` can divide it in place (``X.div_(a)``, exact).

    Parameters
    ----------
    X : torch.Tensor, shape (..., p, q)
    dim : int or tuple of int
        The axes of one slice.

    Returns
    -------
    a : torch.Tensor, shape of ``X`` with ``dim`` kept as size 1

    Examples
    --------
    >>> pow2_scale(torch.tensor([[3.0, -5.0], [0.0, 0.0]]), -1).flatten().tolist()
    [4.0, 1.1754943508222875e-38]
    """
    scaling = compute_dtype(None, X.device, role="scaling", input_dtype=X.dtype)
    dims = (dim,) if isinstance(dim, int) else dim
    if any(X.shape[d] == 0 for d in dims):  # empty slices: nothing to scale (a shape test)
        shape = [1 if i - X.ndim in dims or i in dims else k for i, k in enumerate(X.shape)]
        return torch.ones(shape, dtype=scaling, device=X.device)
    Xd = X.detach()
    # max |x| = max(max x, -min x): two reductions without an |X| copy (about 3x faster on
    # CPU than X.abs().amax(), 25x faster than vector_norm(X, inf)); NaN propagates
    amax = torch.maximum(Xd.amax(dim=dim, keepdim=True), Xd.amin(dim=dim, keepdim=True).neg())
    amax = amax.to(scaling)  # exact: the scaling dtype holds every value of the input's
    # 2^floor(log2 amax): keep the exponent bits (inf for inf and NaN, 0 below normal); few
    # small kernels, since this runs in every optimizer step
    int_type, exponent = _EXPONENT_BITS[scaling]
    return (amax.view(int_type) & exponent).view(scaling).clamp_min(torch.finfo(scaling).tiny)


def max_abs_scale(
    X: torch.Tensor, dim: Dims = (-2, -1), *, overwrite: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Y, a)`` with ``X = a Y`` exactly, ``a`` a power of two and ``max |Y| < 2``.

    ``a = 2^floor(log2 max |x|)`` over ``dim`` (the exponent bits of ``max |x|``),
    at least the smallest normal number, in the ``"scaling"`` dtype of
    ``polarlab._arrays.compute_dtype`` (the input's, at least float32). Dividing
    by a power of two is exact (short of entries below ``2^-126 max |x|`` in
    float32, which no norm can see), so ``Y`` is the matrix the caller would get at
    unit scale, bit for bit, and every norm of ``Y`` lies between 1 and twice the
    root of the number of entries: no overflow, no underflow of the entries that
    matter, over the whole finite range of the dtype. A zero slice gives ``Y = 0``
    (and ``a`` the smallest normal number); a slice whose largest entry is
    subnormal gives ``max |Y| < 1``; NaN and infinity propagate. ``a`` is
    piecewise constant in ``X``: gradients flow through ``Y = X / a`` alone.

    Parameters
    ----------
    X : torch.Tensor, shape (..., p, q)
    dim : int or tuple of int
        The axes of one slice: ``(-2, -1)`` per matrix, ``-1`` per row.
    overwrite : bool
        ``X`` is the caller's scratch: when it is already in the scaling dtype and may
        be updated in place (``polarlab._arrays.scratch_ok``: no element shared, no
        gradient required), ``Y`` is ``X`` itself, divided in place (the same bits),
        instead of a new tensor.

    Returns
    -------
    Y : torch.Tensor, shape of ``X``
    a : torch.Tensor, shape of ``X`` with ``dim`` kept as size 1

    Examples
    --------
    >>> X = torch.tensor([[3e30, 4e30], [0.0, 0.0]])  # float32
    >>> Y, a = max_abs_scale(X, -1)
    >>> Y[1].tolist(), float(a[0]) == 2.0**101, 1.0 <= float(Y[0].abs().max()) < 2.0
    ([0.0, 0.0], True, True)
    >>> bool(torch.equal(a * Y, X))
    True
    """
    scaling = compute_dtype(None, X.device, role="scaling", input_dtype=X.dtype)
    in_place = overwrite and X.dtype == scaling and scratch_ok(X)
    X = X.to(scaling)
    a = pow2_scale(X, dim)
    return (X.div_(a) if in_place else X / a), a


def safe_norm(X: torch.Tensor, dim: Dims = (-2, -1), *, keepdim: bool = False) -> torch.Tensor:
    """Euclidean norm over ``dim`` (Frobenius for ``(-2, -1)``) without overflow or underflow.

    ``||X|| = a ||X / a||`` with ``a`` from :func:`max_abs_scale`, in the
    ``"scaling"`` dtype. The result overflows only when the norm itself exceeds
    the dtype's range; a zero slice has norm 0. Costs two elementwise passes
    more than ``torch.linalg.vector_norm`` and no host synchronisation.

    Examples
    --------
    >>> big, tiny = torch.full((2, 3), 1e30), torch.full((2, 3), 1e-30)  # float32
    >>> float(torch.linalg.vector_norm(big)), float(torch.linalg.vector_norm(tiny))
    (inf, 0.0)
    >>> round(float(safe_norm(big)) / 1e30, 6), round(float(safe_norm(tiny)) / 1e-30, 6)
    (2.44949, 2.44949)
    """
    Y, a = max_abs_scale(X, dim)
    norm = a * torch.linalg.vector_norm(Y, dim=dim, keepdim=True)
    return norm if keepdim else norm.squeeze(dim)


#: Ways :func:`positive_qr` computes the Q factor.
QR_METHODS = ("cholesky", "householder")


def cholesky_qr(
    A: torch.Tensor, shift: torch.Tensor | float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """One (shifted) CholeskyQR pass: ``A^T A + s I = L L^T``, ``Q = A L^{-T}``.

    Parameters
    ----------
    A : torch.Tensor, shape (..., p, k)
    shift : float or torch.Tensor broadcastable to (..., 1, 1)
        ``s >= 0``, added to the diagonal of the Gram matrix.

    Returns
    -------
    Q : torch.Tensor, shape (..., p, k)
    info : torch.Tensor of int, shape (...)
        ``torch.linalg.cholesky_ex``'s flag: 0 where the factorisation succeeded.

    Examples
    --------
    >>> A = torch.tensor([[3.0, 0.0], [4.0, 5.0]], dtype=torch.float64)
    >>> Q, info = cholesky_qr(A)
    >>> bool(torch.allclose(Q.mT @ Q, torch.eye(2, dtype=torch.float64))), int(info)
    (True, 0)
    """
    k = A.shape[-1]
    # A = a Y (a a power of two, exact): L scales by a and Q = Y L_Y^{-T} does not, so the
    # Gram matrix of Y (entries below 2^2 p) cannot overflow or underflow at any scale
    Y, a = max_abs_scale(A)
    A, shift = Y.to(A.dtype), shift / a / a
    eye = torch.eye(k, dtype=A.dtype, device=A.device)
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
    # Q is invariant under A -> c A; dividing by a power of two near max |a_ij| is exact, so
    # at ordinary scales nothing changes, and A^T A cannot overflow at any scale.
    A = max_abs_scale(A)[0].to(A.dtype)
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
    Q, info0 = cholesky_qr(A, 11 * (k * k + k * (k + 1)) * u * fro2)
    Q, info1 = cholesky_qr(Q)
    Q, info2 = cholesky_qr(Q)
    ok = (info0 == 0) & (info1 == 0) & (info2 == 0) & torch.isfinite(Q).flatten(-2).all(-1)
    return Q, ok


def sinkhorn(X: torch.Tensor, rounds: int = 5) -> torch.Tensor:
    """SR-Sinkhorn (SinkGD, arXiv 2502.06742) on ``X`` (..., p, q).

    ``rounds`` alternations of rows to norm ``sqrt(q)``, then columns to ``sqrt(p)``
    (columns last, so the column norms are exact), each norm clamped below at
    1e-8, as in microsoft/dion ``dev/aro``, after ``X`` is divided by the power of
    two nearest below ``max |x_ij|`` (exact; it keeps the first norms finite at any
    scale and makes the clamp relative to the largest entry).

    Examples
    --------
    >>> X = sinkhorn(torch.randn(4, 9, dtype=torch.float64))
    >>> bool(torch.allclose(X.norm(dim=0), torch.full((9,), 2.0, dtype=torch.float64)))
    True
    """
    p, q = X.shape[-2:]
    # rows are normalised first, so only the first norm sees X's scale: divided by a power
    # of two near max |x_ij| (exact), it cannot overflow, and the clamp is relative to it
    X = max_abs_scale(X)[0].to(X.dtype)
    for _ in range(rounds):
        X = X * (math.sqrt(q) / X.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        X = X * (math.sqrt(p) / X.norm(dim=-2, keepdim=True).clamp_min(1e-8))
    return X
