r"""The multiplier space of the balanced Stiefel constraints and its Schur complement.

The constraints ``V^T V = I_n`` and ``||V_i||^2 = n/m`` of a tall ``V`` (m x n) have
the normal map ``N_B(E, mu) = B E + diag(mu) B`` (``E`` symmetric n x n, ``mu`` in
R^m) at a point ``B``, and its adjoint ``N_B^T(X) = (sym(B^T X), (<B_i, X_i>)_i)``.
``(E, mu) = (I, -1)`` is in the kernel of ``N_B`` (the row constraints sum to the
trace constraint), so the last ``mu`` is fixed to 0: ``k = n(n+1)/2 + m - 1``
coordinates, ``E`` written in the orthonormal basis ``E^{pq} = (e_p e_q^T + e_q e_p^T)/sqrt(2)``
(``p < q``), ``E^{pp} = e_p e_p^T``.

For a diagonal weight ``R`` (m x n, elementwise) the Schur complement
``K = N_B^T diag(R) N_B`` is the Hessian of the Lagrangian dual
(:mod:`~polarlab.manifolds.exact_dual`, ``B = W``) and the reduced matrix of a
Newton step on the manifold (:mod:`~polarlab.manifolds.exact_newton`, ``B = U``),
both written in the eigenbasis of ``S`` where ``S kron I + I kron diag(lambda)``
is the elementwise weight ``s_j + lambda_i``. Its blocks, with
``T[b, a, c] = sum_i R_ib B_ia B_ic`` (``m n^3`` flops; no ``mn x mn`` matrix):

- ``<E^s, B^T (R o (B E^t))>``: ``sum_b c c' T[b, a, a']`` over the ordered pairs
  ``(a, b)`` of ``s`` and ``(a', b)`` of ``t``;
- ``<e_i, rowdot(B, R o (B E^t))>``: ``sum_b c R_ib B_ib B_ia`` over the ordered pairs
  ``(a, b)`` of ``t``;
- ``diag(sum_b R_ib B_ib^2)`` for ``mu``.

Batched over the leading dimension (shape ``(batch, m, n)`` throughout).
"""

from __future__ import annotations

import math

import torch

__all__ = ["SymmetricBasis", "inertia", "normal_adjoint", "normal_map", "schur_complement"]


class SymmetricBasis:
    """The orthonormal basis ``E^{pq}`` (``p <= q``) of symmetric n x n matrices.

    ``index[a, b]`` is the coordinate of the unordered pair ``{a, b}``; ``pair_coef[a, b]``
    the weight of the ordered pair ``(a, b)`` in it (1 on the diagonal, ``1/sqrt 2`` off it),
    so that ``<E^s, M> = sum over the ordered pairs (a, b) of s of pair_coef M_ab``.

    Examples
    --------
    >>> import torch
    >>> basis = SymmetricBasis(3)
    >>> M = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> y = basis.coords(M)  # 6 coordinates, norm-preserving on symmetric matrices
    >>> bool(torch.allclose(basis.matrix(y), (M + M.T) / 2))
    True
    >>> bool(torch.isclose(y.norm(), ((M + M.T) / 2).norm()))
    True
    """

    def __init__(self, n: int, device=None):
        p, q = torch.triu_indices(n, n, device=device)
        self.n, self.size = n, p.numel()
        self.p, self.q = p, q
        index = torch.empty(n, n, dtype=torch.long, device=device)
        index[p, q] = torch.arange(self.size, device=device)
        index[q, p] = torch.arange(self.size, device=device)
        self.index = index
        coef = torch.full((n, n), 1.0 / math.sqrt(2), dtype=torch.float64, device=device)
        self.pair_coef = coef.fill_diagonal_(1.0)
        self._coef = self.pair_coef[p, q]

    def coords(self, M: torch.Tensor) -> torch.Tensor:
        """``<E^s, M>`` for every s (the coordinates of ``sym(M)``); (..., n, n) -> (..., size)."""
        return torch.where(
            self.p == self.q,
            M[..., self.p, self.q],
            self._coef * (M[..., self.p, self.q] + M[..., self.q, self.p]),
        )

    def matrix(self, y: torch.Tensor) -> torch.Tensor:
        """``sum_s y_s E^s``; (..., size) -> (..., n, n)."""
        E = y.new_zeros((*y.shape[:-1], self.n, self.n))
        v = self._coef * y
        E[..., self.p, self.q] = v
        E[..., self.q, self.p] = v
        return E


def normal_map(B: torch.Tensor, y: torch.Tensor, basis: SymmetricBasis) -> torch.Tensor:
    """``B E + diag(mu) B`` for ``y = (E coordinates, mu_1..mu_{m-1})``, ``mu_m = 0``."""
    E = basis.matrix(y[..., : basis.size])
    mu = torch.nn.functional.pad(y[..., basis.size :], (0, 1))
    return B @ E + mu.unsqueeze(-1) * B


def normal_adjoint(B: torch.Tensor, X: torch.Tensor, basis: SymmetricBasis) -> torch.Tensor:
    """``(coordinates of sym(B^T X), <B_i, X_i> for i < m)``, shape (batch, k).

    The adjoint of :func:`normal_map`: ``<N_B(y), X> = <y, N_B^T(X)>``.

    Examples
    --------
    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> B, X = torch.randn(2, 1, 5, 2, dtype=torch.float64, generator=gen)
    >>> basis = SymmetricBasis(2)
    >>> y = torch.randn(1, 3 + 4, dtype=torch.float64, generator=gen)
    >>> lhs = (normal_map(B, y, basis) * X).sum()
    >>> bool(torch.isclose(lhs, (y * normal_adjoint(B, X, basis)).sum()))
    True
    """
    return torch.cat([basis.coords(B.mT @ X), (B * X).sum(-1)[..., :-1]], dim=-1)


def schur_complement(B: torch.Tensor, R: torch.Tensor, basis: SymmetricBasis) -> torch.Tensor:
    """``K = N_B^T diag(R) N_B`` in the coordinates above; (batch, m, n) x 2 -> (batch, k, k).

    Symmetric; positive definite when ``R > 0`` and ``B`` has rows in general position.

    Examples
    --------
    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> B = torch.randn(1, 6, 2, dtype=torch.float64, generator=gen)
    >>> R = torch.rand(1, 6, 2, dtype=torch.float64, generator=gen)
    >>> basis = SymmetricBasis(2)
    >>> K = schur_complement(B, R, basis)  # order 3 + 6 - 1
    >>> y = torch.randn(1, 8, dtype=torch.float64, generator=gen)
    >>> expected = normal_adjoint(B, R * normal_map(B, y, basis), basis)
    >>> bool(torch.allclose(K @ y[0], expected[0]))
    True
    """
    batch, m, n = B.shape
    size = basis.size
    RB = R * B
    T = torch.einsum("zib,zia,zic->zbac", R, B, B)  # T[b, a, c] = sum_i R_ib B_ia B_ic
    coef = basis.pair_coef.T  # coef[b, a]: weight of the ordered pair (a, b)
    slot = basis.index.T  # slot[b, a]: coordinate of {a, b}
    vals = coef[:, :, None] * coef[:, None, :] * T  # (batch, b, a, c)
    rows = slot[:, :, None].expand(n, n, n).reshape(-1)
    cols = slot[:, None, :].expand(n, n, n).reshape(-1)
    K = B.new_empty(batch, size + m - 1, size + m - 1)  # mu_m dropped (the gauge)
    KE = B.new_zeros(batch, size * size)
    KE.index_add_(1, rows * size + cols, vals.reshape(batch, -1))
    K[:, :size, :size] = KE.reshape(batch, size, size)
    cross = B.new_zeros(batch, m, size)  # <e_i, rowdot(B, R o (B E^t))>
    X = B[..., :, None] * RB[..., None, :]  # X[i, a, b] = B_ia R_ib B_ib
    cross.index_add_(
        2, basis.index.reshape(-1), X.reshape(batch, m, -1) * basis.pair_coef.reshape(-1)
    )
    K[:, size:, :size] = cross[:, :-1]
    K[:, :size, size:] = cross[:, :-1].mT
    K[:, size:, size:] = torch.diag_embed((RB * B).sum(-1)[:, :-1])
    return K


def inertia(LD: torch.Tensor, pivots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative and zero eigenvalue counts of ``K`` from its Bunch-Kaufman factors.

    ``LD, pivots = torch.linalg.ldl_factor_ex(K)`` (LAPACK ``sytrf``, lower): ``K = P L D L^T P^T``
    with ``D`` block diagonal, a negative pivot pair marking a 2 x 2 block. By Sylvester's law of
    inertia ``K`` and ``D`` have the same inertia. Returns ``(negative, zero)``, shape (batch,).

    Examples
    --------
    >>> import torch
    >>> K = torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]]).double()
    >>> LD, pivots, _ = torch.linalg.ldl_factor_ex(K)  # a 2 x 2 pivot: eigenvalues -1, 1, 2
    >>> [int(c) for c in inertia(LD, pivots)]
    [1, 0]
    """
    k = LD.shape[-1]
    d = torch.diagonal(LD, dim1=-2, dim2=-1)
    two = pivots < 0
    idx = torch.arange(k, device=LD.device).expand_as(pivots)
    # A 2 x 2 block starts at an even offset inside a run of negative pivots.
    last_plain = torch.cummax(torch.where(two, -1, idx), dim=-1).values
    start = two & ((idx - last_plain - 1) % 2 == 0)
    one = ~two
    negative = ((d < 0) & one).sum(-1)
    zero = ((d == 0) & one).sum(-1)
    sub = torch.nn.functional.pad(torch.diagonal(LD, offset=-1, dim1=-2, dim2=-1), (0, 1))
    d_next = torch.nn.functional.pad(d[..., 1:], (0, 1))
    det = d * d_next - sub * sub
    # det < 0: one of each sign; det > 0: both of the sign of the trace.
    negative = negative + (start & (det < 0)).sum(-1)
    negative = negative + 2 * (start & (det > 0) & (d + d_next < 0)).sum(-1)
    zero = zero + (start & (det == 0)).sum(-1)
    return negative, zero
