r"""Precision metrics for approximate polar factors, computed in float64.

Every metric is a pure function. Inputs are numpy arrays or torch tensors of shape
``(..., m, n)`` in any floating dtype; they are cast *up* to float64 before any
arithmetic, so a bfloat16 iterate is measured exactly as stored. The exact
reference ``Q = polar(A)`` is the float64 SVD polar factor
(``polarlab.polar(A, method="svd")``, rank ``r`` by the threshold
``sigma_i > sigma_1 max(m, n) u``), or is passed in by the caller as
``reference=`` to avoid recomputing it (e.g. an mpmath oracle, or one reference
shared by many iterates).

Return rule (one rule, applied everywhere)
------------------------------------------
- A scalar metric of a single matrix (2-D input) is a Python ``float``.
- A scalar metric of a batch ``(..., m, n)`` is a numpy float64 array of the batch
  shape ``(...)``, whatever the input kind or device.
- Per-row quantities (:func:`row_norms`, :func:`leverage_scores`) are numpy float64
  arrays of shape ``(..., m)`` (``(..., n)`` for columns).
- Pairs (:func:`singular_value_range`) are tuples of the above.

Two-argument metrics take inputs with equal matrix dimensions and broadcastable
batch dimensions (one reference against a stack of iterates, say).

Degenerate input is an error, not a ``nan``: metrics normalised by the rank or by
``||A||_*`` raise ``ValueError`` when a slice has rank 0.

Definitions follow Amsel et al., "The Polar Express", arXiv 2505.16932, for the
spectral criterion; the Aurora paper, arXiv 2606.27715, for row uniformity and
leverage; microsoft/dion's tests for the max-entry orthogonality defect.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from polarlab._arrays import ArrayKind, as_work, resolve_dtype, to_caller
from polarlab.polar import polar
from polarlab.polar.exact import default_rank_tol

__all__ = [
    "alignment",
    "bound_violation",
    "condition_number",
    "distance_to_polar",
    "dual_gap",
    "input_cast_floor",
    "leverage_scores",
    "orthogonality_defect",
    "polar_error",
    "row_norm_cv",
    "row_norm_deviation",
    "row_norm_ratio",
    "row_norms",
    "singular_value_deviation",
    "singular_value_range",
    "spectral_error",
]

Axis = Literal["rows", "columns"]
_AXES = ("rows", "columns")
_NORMS = ("fro", "spectral", "max")

# Results leave as numpy float64 on the host, whatever came in (see the module docstring).
_HOST_FLOAT64 = ArrayKind(is_numpy=True, dtype=torch.float64, device=torch.device("cpu"))


# --------------------------------------------------------------------------- helpers


def _work64(A, name: str) -> torch.Tensor:
    work, _ = as_work(A, name=name)
    return work.to(torch.float64)  # a new tensor unless already float64; never written to


def _scalar(values: torch.Tensor):
    """Python float for an unbatched metric, numpy float64 array of the batch shape otherwise."""
    out = to_caller(values, _HOST_FLOAT64)
    return float(out) if out.ndim == 0 else out


def _vector(values: torch.Tensor):
    return to_caller(values, _HOST_FLOAT64)


def _pair(X, A, x_name: str, a_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Both inputs in float64 on X's device; equal (m, n), broadcastable batch dims."""
    X64, A64 = _work64(X, x_name), _work64(A, a_name)
    if X64.shape[-2:] != A64.shape[-2:]:
        raise ValueError(
            f"{x_name} and {a_name} must have the same matrix shape (m, n); got "
            f"{tuple(X64.shape)} and {tuple(A64.shape)}"
        )
    try:
        torch.broadcast_shapes(X64.shape[:-2], A64.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch dimensions of {x_name} {tuple(X64.shape[:-2])} and {a_name} "
            f"{tuple(A64.shape[:-2])} do not broadcast"
        ) from None
    return X64, A64.to(X64.device)


def _reference(A64: torch.Tensor, reference) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q, r)``: the float64 polar factor of ``A`` and its rank per slice.

    For a partial isometry ``||Q||_F^2 = r`` exactly, so the rank is read off the
    reference itself; that also holds for a reference the caller computed elsewhere.
    """
    if reference is None:
        # A64 was validated finite already; rank-0 slices are reported by the metrics.
        Q = polar(A64, method="svd", check_finite=False)
    else:
        Q = _work64(reference, "reference").to(A64.device)
        if Q.shape[-2:] != A64.shape[-2:]:
            raise ValueError(
                f"reference must have the matrix shape of A {tuple(A64.shape[-2:])}; got "
                f"{tuple(Q.shape)}"
            )
    r = torch.round(Q.square().sum(dim=(-2, -1)))
    return Q, r


def _require_positive(values: torch.Tensor, what: str, metric: str) -> None:
    bad = values <= 0
    if bool(bad.any()):
        raise ValueError(
            f"{metric} is undefined for {int(bad.sum())} of {bad.numel()} slice(s) with "
            f"{what} = 0; pass matrices of rank >= 1"
        )


def _check_rank(rank: int | None, k: int) -> int:
    if rank is None:
        return k
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= k:
        raise ValueError(f"rank must be an integer in [1, min(m, n) = {k}], got {rank!r}")
    return rank


def _check_axis(axis: str) -> None:
    if axis not in _AXES:
        raise ValueError(f"unknown axis {axis!r}; choose one of: {', '.join(_AXES)}")


def _vectors(X64: torch.Tensor, axis: str) -> torch.Tensor:
    """The vectors measured by the row statistics, as rows: X (rows) or X^T (columns)."""
    _check_axis(axis)
    return X64 if axis == "rows" else X64.mT


# --------------------------------------------------------------------------- errors against Q


def polar_error(X, A, *, reference=None):
    r"""Relative Frobenius error ``||X - Q||_F / sqrt(r)`` of an approximate polar factor.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Approximate polar factor (any floating dtype; measured in float64).
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
        The matrix whose polar factor ``X`` approximates.
    reference : array, shape (..., m, n), optional
        ``Q = polar(A)`` if already known; default the float64 SVD polar factor.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Notes
    -----
    ``Q = U_r V_r^T`` for the thin SVD ``A = U Sigma V^T`` of rank ``r``. The
    normalisation makes ``X = c Q`` score ``|c - 1|`` at every size. This is the
    headline number of precision studies, but it is dominated by the small-sigma
    singular directions and is meaningless for near-rank-deficient input in
    bfloat16: report :func:`input_cast_floor` beside it. Raises ``ValueError`` if a
    slice of ``A`` has rank 0.

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> round(polar_error(1.25 * polar(A), A), 12)
    0.25
    """
    X64, A64 = _pair(X, A, "X", "A")
    Q, r = _reference(A64, reference)
    _require_positive(r, "rank", "polar_error")
    return _scalar(torch.linalg.matrix_norm(X64 - Q) / r.sqrt())


def spectral_error(X, A, *, reference=None):
    r"""Spectral-norm error ``||X - Q||_2`` with ``Q = polar(A)``.

    For a polynomial iterate ``X = U f(Sigma) V^T`` of full-rank ``A`` this equals
    ``max_i |f(sigma_i) - 1|`` in exact arithmetic: the worst-case criterion
    Polar Express optimises (Amsel et al., arXiv 2505.16932).

    Parameters
    ----------
    X, A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    reference : array, shape (..., m, n), optional
        ``Q = polar(A)`` if already known.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> round(spectral_error(0.5 * polar(A), A), 12)
    0.5
    """
    X64, A64 = _pair(X, A, "X", "A")
    Q, _ = _reference(A64, reference)
    return _scalar(torch.linalg.matrix_norm(X64 - Q, ord=2))


def distance_to_polar(U, G, *, reference=None):
    r"""Distance ``||U - polar(G)||_F / sqrt(min(m, n))`` of a direction from the polar factor.

    What a constrained direction such as Aurora's balanced-Stiefel update gives up
    relative to Muon's ``polar(G)`` (Aurora, arXiv 2606.27715). Unlike
    :func:`polar_error` it is normalised by the short side, not the rank, so it
    stays defined for rank-deficient ``G``; the two agree for full-rank ``G``.

    Parameters
    ----------
    U, G : numpy.ndarray or torch.Tensor, shape (..., m, n)
    reference : array, shape (..., m, n), optional
        ``polar(G)`` if already known.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> G = np.diag([3.0, 2.0, 1.0])
    >>> d = distance_to_polar(np.diag([1.0, 1.0, -1.0]), G)  # one entry off by 2
    >>> abs(d - 2 / 3**0.5) < 1e-15
    True
    """
    U64, G64 = _pair(U, G, "U", "G")
    Q, _ = _reference(G64, reference)
    k = min(G64.shape[-2:])
    return _scalar(torch.linalg.matrix_norm(U64 - Q) / math.sqrt(k))


def input_cast_floor(A, dtype, *, reference=None):
    r"""Input-cast floor ``||polar(fl(A)) - polar(A)||_F / sqrt(r)``, ``fl`` = round to ``dtype``.

    No method that reads ``A`` in ``dtype`` can beat this error: it is the error of
    the *exact* polar factor of the rounded input. Print it beside every
    low-precision number; it dominates for ill-conditioned input (first-order
    perturbation: about ``u ||A||_2 / sigma_min``).

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    dtype : torch dtype or name
        The storage dtype to round to (``"bfloat16"``, ``"float16"``, ...).
    reference : array, shape (..., m, n), optional
        ``polar(A)`` if already known.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Raises
    ------
    ValueError
        ``A`` overflows or rounds to zero in ``dtype``, or has rank 0.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((16, 4))
    >>> input_cast_floor(A, "float64")
    0.0
    >>> bool(input_cast_floor(A, "float16") < input_cast_floor(A, "bfloat16"))
    True
    """
    A64 = _work64(A, "A")
    target = resolve_dtype(dtype)
    if target is None:
        raise ValueError("dtype is required: one of float64, float32, float16, bfloat16")
    fl = A64.to(target).to(torch.float64)  # fl(A): rounded once, measured in float64
    if not bool(torch.isfinite(fl).all()):
        raise ValueError(
            f"A overflows in {target}: max |A| = {float(A64.abs().max()):.3g}; rescale A first"
        )
    Q, r = _reference(A64, reference)
    _require_positive(r, "rank", "input_cast_floor")
    _require_positive(fl.abs().amax(dim=(-2, -1)), f"||fl(A)|| in {target}", "input_cast_floor")
    Q_fl = polar(fl, method="svd", check_finite=False)
    return _scalar(torch.linalg.matrix_norm(Q_fl - Q) / r.sqrt())


# --------------------------------------------------------------------------- spectrum of X


def _top_singular_values(X, rank: int | None) -> torch.Tensor:
    X64 = _work64(X, "X")
    r = _check_rank(rank, min(X64.shape[-2:]))
    return torch.linalg.svdvals(X64)[..., :r]  # descending


def singular_value_range(X, rank: int | None = None):
    r"""``(sigma_min, sigma_max)`` over the top ``rank`` singular values of ``X``.

    For an approximate polar factor the interval should hug 1; compare it with the
    scalar bound of the method's schedule.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    rank : int, optional
        How many leading singular values to consider (the rank of the matrix whose
        polar factor ``X`` approximates). Default ``min(m, n)``: all of them, so a
        collapsed direction is not hidden by the numerical rank of ``X`` itself.

    Returns
    -------
    (sigma_min, sigma_max) : pair of floats, or of numpy float64 arrays of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> singular_value_range(np.diag([0.5, 1.2, 0.0]), rank=2)
    (0.5, 1.2)
    """
    s = _top_singular_values(X, rank)
    return _scalar(s[..., -1]), _scalar(s[..., 0])


def singular_value_deviation(X, rank: int | None = None):
    r"""``delta_sigma = max_i |sigma_i(X) - 1|`` over the top ``rank`` singular values.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    rank : int, optional
        As for :func:`singular_value_range` (default ``min(m, n)``).

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> round(singular_value_deviation(np.diag([0.75, 1.1, 1.0])), 12)
    0.25
    """
    s = _top_singular_values(X, rank)
    return _scalar((s - 1).abs().amax(dim=-1))


def bound_violation(X):
    r"""How far ``||X||_2`` exceeds 1: ``max(sigma_max(X) - 1, 0)``.

    A direction with ``sigma > 1`` overshoots the spectral-norm ball that Muon's
    update is the steepest-descent step in; it also makes :func:`dual_gap` negative.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> round(bound_violation(np.diag([1.25, 0.5])), 12), bound_violation(np.diag([0.9, 0.5]))
    (0.25, 0.0)
    """
    s = _top_singular_values(X, None)
    return _scalar((s[..., 0] - 1).clamp(min=0))


def condition_number(A, *, rank_tol: float | None = None):
    r"""``kappa = sigma_1 / sigma_r`` over the numerical rank ``r`` of ``A``.

    The rank uses the same rule as the SVD reference: ``sigma_i > rank_tol sigma_1``
    with default ``rank_tol = max(m, n) 2^-53``. Reported beside every precision
    number because the float64 reference is accurate only to about ``u kappa``.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    rank_tol : float, optional
        Relative rank threshold.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> condition_number(np.diag([4.0, 2.0, 0.5, 0.0]))
    8.0
    """
    A64 = _work64(A, "A")
    m, n = A64.shape[-2:]
    tol = default_rank_tol(m, n) if rank_tol is None else float(rank_tol)
    if not tol >= 0:
        raise ValueError(f"rank_tol must be >= 0, got {rank_tol!r}")
    s = torch.linalg.svdvals(A64)
    keep = s > tol * s[..., :1]
    r = keep.sum(dim=-1)
    _require_positive(r, "rank", "condition_number")
    sigma_r = s.gather(-1, (r - 1).unsqueeze(-1)).squeeze(-1)
    return _scalar(s[..., 0] / sigma_r)


# --------------------------------------------------------------------------- orthogonality


def orthogonality_defect(
    X,
    *,
    norm: Literal["fro", "spectral", "max"] = "fro",
    rank: int | None = None,
    reference=None,
):
    r"""Orthogonality defect on the short side: ``||X^T X - P||`` (tall), ``||X X^T - P||`` (wide).

    A backward-type error: it can be small while ``X`` is far from ``polar(A)``
    (any semi-orthogonal ``X`` scores 0), so pair it with :func:`polar_error`.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    norm : {"fro", "spectral", "max"}
        ``"fro"``: ``||.||_F / sqrt(trace P)`` (``/ sqrt(min(m, n))`` for ``P = I``);
        ``"spectral"``: ``||.||_2``; ``"max"``: largest absolute entry (the
        criterion of dion's Polar Express tests). Only the Frobenius form is
        normalised, so that it reads as an RMS over the short side.
    rank : int, optional
        Rank-deficient variant: ``P = P_r``, the projector onto the top-``r``
        singular subspace of ``X`` on the short side (``V_r V_r^T`` for tall ``X``).
    reference : array, shape (..., m, n), optional
        Rank-deficient variant with the subspace taken from a reference polar factor
        ``Q``: ``P = Q^T Q`` (tall) or ``Q Q^T`` (wide), of rank ``r = ||Q||_F^2``.
        At most one of ``rank`` and ``reference``. Default ``P = I``.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Notes
    -----
    With ``X = W diag(s) V^T`` and ``P = I``, the defect is the norm of
    ``diag(s_i^2 - 1)``: for ``X = diag(s)`` the Frobenius form is
    ``sqrt(sum (s_i^2 - 1)^2 / k)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.diag([2.0, 1.0, 1.0, 1.0])
    >>> orthogonality_defect(X), orthogonality_defect(X, norm="spectral")
    (1.5, 3.0)
    >>> orthogonality_defect(np.diag([1.0, 1.0, 0.0]), rank=2)
    0.0
    """
    if norm not in _NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(_NORMS)}")
    if rank is not None and reference is not None:
        raise ValueError("pass at most one of rank and reference")
    X64 = _work64(X, "X")
    m, n = X64.shape[-2:]
    k = min(m, n)
    tall = m >= n
    gram = X64.mT @ X64 if tall else X64 @ X64.mT  # short side, (..., k, k)
    if reference is not None:
        X64, A64 = _pair(X64, reference, "X", "reference")
        Q = A64
        P = Q.mT @ Q if tall else Q @ Q.mT  # projector onto the reference's short-side subspace
    elif rank is not None:
        r = _check_rank(rank, k)
        W, _, Vh = torch.linalg.svd(X64, full_matrices=False)
        B = Vh[..., :r, :].mT if tall else W[..., :, :r]  # top-r short-side singular basis
        P = B @ B.mT
    else:
        P = torch.eye(k, dtype=torch.float64, device=X64.device)
    E = gram - P
    if norm == "fro":
        trace = torch.round(torch.diagonal(P, dim1=-2, dim2=-1).sum(-1))
        _require_positive(trace, "rank", "orthogonality_defect")
        return _scalar(torch.linalg.matrix_norm(E) / trace.sqrt())
    if norm == "spectral":
        return _scalar(torch.linalg.matrix_norm(E, ord=2))
    return _scalar(E.abs().amax(dim=(-2, -1)))


# --------------------------------------------------------------------------- duality with A


def _nuclear_and_inner(A, X) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    X64, A64 = _pair(X, A, "X", "A")
    nuclear = torch.linalg.matrix_norm(A64, ord="nuc")
    inner = (A64 * X64).sum(dim=(-2, -1))  # <A, X> = trace(A^T X)
    return X64, nuclear, inner


def dual_gap(A, X):
    r"""Dual gap ``1 - <A, X> / ||A||_*`` of a direction ``X`` for the matrix ``A``.

    ``polar(A)`` maximises ``<A, X>`` over ``||X||_2 <= 1`` with value ``||A||_*``,
    so the gap is 0 there and positive for every other feasible ``X``. It weights
    directions by ``sigma_i`` (far smaller than :func:`polar_error`), and it is
    *negative* when ``sigma(X) > 1``: pair it with :func:`singular_value_range`.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
        The matrix (gradient, momentum); must not be zero.
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        The direction.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> abs(dual_gap(A, polar(A))) < 1e-14, round(dual_gap(A, 0.5 * polar(A)), 12)
    (True, 0.5)
    """
    _, nuclear, inner = _nuclear_and_inner(A, X)
    _require_positive(nuclear, "||A||_*", "dual_gap")
    return _scalar(1 - inner / nuclear)


def alignment(A, X):
    r"""Normalised alignment ``<A, X> / (||A||_* ||X||_2)``, in ``[-1, 1]``.

    Scale-free, so it compares directions that are not semi-orthogonal (NorMuon-
    like row-normalised updates, Aurora); it equals 1 exactly for ``X`` a positive
    multiple of ``polar(A)`` (Hoelder: ``<A, X> <= ||A||_* ||X||_2``).

    Parameters
    ----------
    A, X : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Neither may be zero.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from polarlab import polar
    >>> A = np.random.default_rng(0).standard_normal((8, 5))
    >>> round(alignment(A, 3 * polar(A)), 12), round(alignment(A, -polar(A)), 12)
    (1.0, -1.0)
    """
    X64, nuclear, inner = _nuclear_and_inner(A, X)
    spectral = torch.linalg.matrix_norm(X64, ord=2)
    _require_positive(nuclear, "||A||_*", "alignment")
    _require_positive(spectral, "||X||_2", "alignment")
    return _scalar(inner / (nuclear * spectral))


# --------------------------------------------------------------------------- rows and leverage


def row_norms(X, *, axis: Axis = "rows"):
    r"""Euclidean norms ``||X_i||`` of the rows (or columns) of ``X``.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        ``"rows"`` (default): the ``m`` output neurons of a ``(out, in)`` weight.
        ``"columns"``: the ``n`` columns; this is what Aurora v1 equalises for wide
        matrices (it transposes them to balance the long axis).

    Returns
    -------
    numpy float64 array, shape (..., m) (or (..., n) for columns)

    Examples
    --------
    >>> import numpy as np
    >>> row_norms(np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]]))
    array([5., 1., 0.])
    """
    return _vector(_row_norm_tensor(X, axis))


def _row_norm_tensor(X, axis: Axis) -> torch.Tensor:
    """Float64 norms of the rows (or columns) of ``X``, shape (..., m) (or (..., n))."""
    return torch.linalg.vector_norm(_vectors(_work64(X, "X"), axis), dim=-1)


def row_norm_ratio(X, *, axis: Axis = "rows"):
    r"""Row-uniformity ratio ``rho = max_i ||X_i|| / min_i ||X_i||`` (>= 1).

    ``rho = inf`` when a row is zero (and so for the zero matrix): a dead row is
    infinitely non-uniform, which a study should see rather than have skipped.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        As for :func:`row_norms`.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> row_norm_ratio(np.array([[3.0, 4.0], [0.0, 1.0]]))
    5.0
    >>> row_norm_ratio(np.array([[3.0, 4.0], [0.0, 0.0]]))
    inf
    """
    norms = _row_norm_tensor(X, axis)
    top, low = norms.amax(dim=-1), norms.amin(dim=-1)
    ratio = torch.where(low > 0, top / low.clamp(min=torch.finfo(torch.float64).tiny), torch.inf)
    return _scalar(ratio)


def row_norm_cv(X, *, axis: Axis = "rows"):
    r"""Coefficient of variation ``std_i ||X_i|| / mean_i ||X_i||`` of the row norms.

    Population standard deviation (``ddof = 0``). Raises ``ValueError`` for a zero
    matrix, whose mean row norm is 0.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        As for :func:`row_norms`.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> row_norm_cv(np.array([[1.0, 0.0], [0.0, 3.0]]))
    0.5
    """
    norms = _row_norm_tensor(X, axis)
    mean = norms.mean(dim=-1)
    _require_positive(mean, "mean row norm", "row_norm_cv")
    return _scalar(norms.std(dim=-1, correction=0) / mean)


def row_norm_deviation(X, *, axis: Axis = "rows"):
    r"""``max_i | ||X_i||^2 / t - 1 |`` with the balanced target ``t = min(m, n) / L``.

    ``L`` is the number of vectors measured (``m`` rows or ``n`` columns). A
    semi-orthogonal ``X`` has ``||X||_F^2 = min(m, n)``, so uniform vectors have
    squared norm ``t``: ``n/m`` for the rows of a tall ``X`` (row norm
    ``sqrt(n/m)``, the balanced-Stiefel target of Aurora, arXiv 2606.27715), 1 for
    the rows of a wide one (already unit for a polar factor), ``m/n`` for the
    columns of a wide one (Aurora v1's balanced axis).

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (..., m, n)
    axis : {"rows", "columns"}
        As for :func:`row_norms`.

    Returns
    -------
    float, or numpy float64 array of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])  # target 2/4
    >>> row_norm_deviation(X)
    1.0
    >>> row_norm_deviation(np.full((4, 2), 0.5))
    0.0
    """
    X64 = _work64(X, "X")
    V = _vectors(X64, axis)
    target = min(X64.shape[-2:]) / V.shape[-2]
    squared = V.square().sum(dim=-1)
    return _scalar((squared / target - 1).abs().amax(dim=-1))


def leverage_scores(A, *, reference=None):
    r"""Leverage scores ``l_i = ||polar(A)_i||^2`` of the rows of ``A``.

    ``l_i`` is the squared norm of row ``i`` of ``U_r`` (``U_r V_r^T`` has the row
    norms of ``U_r``): the diagonal of the projector onto the column space of
    ``A``. Hence ``0 <= l_i <= 1`` and ``sum_i l_i = rank(A)``; the mean is ``n/m``
    for a full-rank tall ``A``. Aurora (arXiv 2606.27715) tracks them as the row
    norms Muon's update gives each neuron.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
    reference : array, shape (..., m, n), optional
        ``polar(A)`` if already known.

    Returns
    -------
    numpy float64 array, shape (..., m)

    Examples
    --------
    >>> import numpy as np
    >>> leverage_scores(np.vstack([np.diag([2.0, 0.5]), np.zeros((2, 2))]))
    array([1., 1., 0., 0.])
    """
    A64 = _work64(A, "A")
    Q, _ = _reference(A64, reference)
    return _vector(Q.square().sum(dim=-1))
