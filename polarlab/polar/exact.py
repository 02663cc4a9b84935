"""Exact references: the SVD polar factor in float64 and an arbitrary-precision oracle.

The polar factor of ``A = U_r diag(s) V_r^T`` (thin SVD, rank ``r``) is the
partial isometry ``U_r V_r^T``; for full column rank it is the nearest
semi-orthogonal matrix to ``A`` in every unitarily invariant norm
(Higham, *Functions of Matrices*, 2008, Thm 8.4).

Two methods register here:

``"svd"``
    float64 SVD (LAPACK through torch). Its forward error is about ``u * kappa``
    (``u = 2**-53``), so it is only as good as the conditioning allows.
``"mpmath"``
    the same formula evaluated with ``mpmath`` at ``digits`` significant decimal
    digits, then rounded to float64: the polar factor of the float64 input,
    correct to float64 rounding for any condition number below ``10**(digits - 16)``.
    Pure Python, so small matrices only.
"""

from __future__ import annotations

import torch

from polarlab._arrays import unit_roundoff
from polarlab.polar.registry import register

__all__: list[str] = []  # reached through polarlab.polar(method="svd")


def default_rank_tol(m: int, n: int) -> float:
    """Relative rank threshold ``max(m, n) * u`` (u: float64 unit round-off).

    Singular values ``s_i <= s_1 * max(m, n) * u`` are treated as zero
    (partial isometry as in Higham, *Functions of Matrices*, 2008, ch. 8; the
    threshold rule of ``numpy.linalg.matrix_rank``, up to ``u`` versus ``eps``).
    """
    return max(m, n) * unit_roundoff(torch.float64)


def polar_svd(X: torch.Tensor, *, rank_tol: float | None = None) -> tuple[torch.Tensor, dict]:
    """Polar factor ``U_r V_r^T`` from a thin SVD computed in float64.

    Parameters
    ----------
    X : torch.Tensor, shape (..., m, n), m >= n
        Tall or square work tensor (any floating dtype; cast to float64).
    rank_tol : float, optional
        Relative threshold: singular values ``s_i <= rank_tol * s_1`` are dropped,
        giving the partial isometry of rank ``r`` (zero matrices give zeros).
        Default :func:`default_rank_tol` ``= max(m, n) * 2**-53``.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), float64
    info : dict
        ``rank``: the numerical rank of each slice, as a list (a single int for
        unbatched input).
    """
    m, n = X.shape[-2:]
    tol = default_rank_tol(m, n) if rank_tol is None else float(rank_tol)
    if not tol >= 0:
        raise ValueError(f"rank_tol must be >= 0, got {rank_tol!r}")
    A = X.to(torch.float64)
    W, s, Vh = torch.linalg.svd(A, full_matrices=False)
    keep = s > tol * s[..., :1]  # s[..., 0] = s_1; zero matrices keep nothing
    U = (W * keep.unsqueeze(-2).to(A.dtype)) @ Vh
    rank = keep.sum(-1)
    return U, {"rank": rank.tolist()}


#: Largest ``m * n`` per slice the mpmath oracle accepts by default (64 x 64).
MPMATH_MAX_SIZE = 64 * 64


def polar_mpmath(
    X: torch.Tensor,
    *,
    digits: int = 50,
    rank_tol: float | None = None,
    max_size: int = MPMATH_MAX_SIZE,
) -> tuple[torch.Tensor, dict]:
    r"""Polar factor ``U_r V_r^T`` from an arbitrary-precision SVD (``mpmath``).

    The float64 input is converted exactly to ``mpmath`` numbers; the thin SVD
    ``X = U diag(s) V^T`` (``mpmath.mp.svd_r``), the rank decision and the
    product ``U_r V_r^T`` are all carried out with ``digits`` significant decimal
    digits inside a local ``mpmath.workdps(digits)`` (the global ``mpmath``
    precision is left untouched), and only the final product is rounded to
    float64. The forward error of the result is therefore float64 rounding plus
    about ``kappa * 10**-digits``: an oracle for ``"svd"``, ``"qdwh"`` and the
    iterations on small ill-conditioned matrices (30-50 digits are ample: the
    error term ``kappa * 10**-digits`` stays below float64 rounding for any
    ``kappa < 10**(digits - 16)``).

    Parameters
    ----------
    X : torch.Tensor, shape (..., m, n), m >= n
        Tall or square work tensor (any floating dtype; converted exactly via
        float64). Batches are handled by looping over the slices.
    digits : int
        Working precision in significant decimal digits, at least 16 (below
        float64's own precision the oracle would be worse than ``"svd"``).
    rank_tol : float, optional
        Relative threshold: singular values ``s_i <= rank_tol * s_1`` are dropped.
        Default ``max(m, n) * 2**-p`` with ``p`` the working precision in bits:
        the ``"svd"`` rule at the working precision. Only exactly rank-deficient
        float64 input (e.g. repeated columns) is then rank-deficient; a float64
        matrix with singular values at the level of float64 round-off is full
        rank and gets the corresponding full-rank polar factor.
    max_size : int
        Largest ``m * n`` accepted per slice, default 64 * 64 = 4096. The
        pure-Python SVD costs ``O(m n^2)`` multiprecision operations: a 64 x 64
        slice takes about 15 s at 50 digits on one CPU core, 32 x 32 about 2 s.
        Larger slices raise ``ValueError``; raise ``max_size`` deliberately to
        wait longer.

    Returns
    -------
    U : torch.Tensor, shape (..., m, n), float64, on ``X``'s device
    info : dict
        ``rank``: numerical rank per slice (a list, an int for unbatched input);
        ``digits``: the working precision used.

    Raises
    ------
    ValueError
        ``digits < 16``, ``rank_tol < 0``, or a slice with ``m * n > max_size``.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, polarlab
    >>> A = np.random.default_rng(0).standard_normal((6, 3))
    >>> U = polarlab.polar(A, method="mpmath", digits=30)
    >>> bool(np.allclose(U, scipy.linalg.polar(A)[0], rtol=0, atol=1e-13))
    True
    """
    m, n = X.shape[-2:]
    if not isinstance(digits, int) or digits < 16:
        raise ValueError(
            f"digits must be an integer >= 16 (float64 carries about 16), got {digits!r}"
        )
    if m * n > max_size:
        raise ValueError(
            f"method 'mpmath' accepts slices with m*n <= max_size={max_size}, got "
            f"{m}x{n}={m * n}: its pure-Python SVD costs O(m n^2) multiprecision "
            "operations (about 15 s for 64x64 at 50 digits); use 'svd' or 'qdwh', or "
            "pass a larger max_size to wait longer"
        )
    if rank_tol is not None and not rank_tol >= 0:
        raise ValueError(f"rank_tol must be >= 0, got {rank_tol!r}")
    if X.requires_grad and torch.is_grad_enabled():  # the front door keeps graphs
        raise ValueError(
            "polar(method='mpmath') is not differentiable (its SVD runs in mpmath, outside "
            "torch's autograd), but A requires grad; pass A.detach(), or use method='svd'"
        )
    import mpmath  # optional and slow to import (~15-30 ms): only when the oracle runs

    slices = X.detach().to(device="cpu", dtype=torch.float64).reshape(-1, m, n)
    factors, ranks = [], []
    with mpmath.workdps(digits):
        # u = 2**-prec at the working precision (mpmath's prec counts mantissa bits).
        tol = max(m, n) * mpmath.mpf(2) ** -mpmath.mp.prec if rank_tol is None else rank_tol
        for A in slices:
            W, s, Vh = mpmath.mp.svd_r(mpmath.matrix(A.tolist()), full_matrices=False)
            # s is sorted decreasingly; s_1 = 0 (zero matrix) keeps nothing.
            r = sum(1 for j in range(n) if s[j] > tol * s[0])
            # U_r V_r^T = sum over kept j of w_j v_j^T, accumulated at working precision.
            P = W[:, :r] * Vh[:r, :] if r else mpmath.zeros(m, n)
            factors.append([[float(P[i, j]) for j in range(n)] for i in range(m)])
            ranks.append(r)
    U = torch.tensor(factors, dtype=torch.float64).reshape(X.shape).to(X.device)
    rank = ranks[0] if X.ndim == 2 else torch.tensor(ranks).reshape(X.shape[:-2]).tolist()
    return U, {"rank": rank, "digits": digits}


register(
    "svd",
    polar_svd,
    "U_r V_r^T from a float64 SVD; rank-deficient input gives the partial isometry",
    exact=True,
)
register(
    "mpmath",
    polar_mpmath,
    "U_r V_r^T from an mpmath SVD at `digits` decimal digits, rounded to float64 (small only)",
    exact=True,
)
