"""Tests for polarlab.manifolds.exact_schur: the symmetric basis, the normal map and its
adjoint, the Schur complement against explicit products, and inertia from the
Bunch-Kaufman factors against eigenvalues."""

from __future__ import annotations

import numpy as np
import torch
from manifold_cases import U64

from polarlab.manifolds.exact_schur import (
    SymmetricBasis,
    inertia,
    normal_adjoint,
    normal_map,
    schur_complement,
)


def test_symmetric_basis_is_orthonormal():
    basis = SymmetricBasis(4)
    eye = torch.eye(basis.size, dtype=torch.float64)
    E = basis.matrix(eye)  # one basis matrix per row
    gram = torch.einsum("sab,tab->st", E, E)
    torch.testing.assert_close(gram, eye, atol=4 * U64, rtol=0)
    assert torch.equal(E, E.mT)
    M = torch.randn(3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sym = (M + M.mT) / 2
    torch.testing.assert_close(basis.matrix(basis.coords(M)), sym, atol=10 * U64, rtol=0)


def test_schur_complement_is_the_adjoint_composed_with_the_map():
    """K y = N^T(R o N(y)) for random y, K symmetric; the adjoint is the adjoint:
    <N(y), X> = <y, N^T(X)>."""
    gen = torch.Generator().manual_seed(1)
    m, n, b = 9, 4, 2
    B = torch.randn(b, m, n, dtype=torch.float64, generator=gen)
    R = torch.rand(b, m, n, dtype=torch.float64, generator=gen) - 0.3  # indefinite weights
    basis = SymmetricBasis(n)
    K = schur_complement(B, R, basis)
    k = n * (n + 1) // 2 + m - 1
    assert K.shape == (b, k, k)
    torch.testing.assert_close(K, K.mT, atol=1e3 * U64, rtol=0)  # summation order only
    y = torch.randn(b, k, dtype=torch.float64, generator=gen)
    X = torch.randn(b, m, n, dtype=torch.float64, generator=gen)
    Ny = normal_map(B, y, basis)
    expected = normal_adjoint(B, R * Ny, basis)
    torch.testing.assert_close((K @ y[..., None])[..., 0], expected, atol=1e3 * U64, rtol=0)
    torch.testing.assert_close(
        (Ny * X).sum((-2, -1)), (y * normal_adjoint(B, X, basis)).sum(-1), atol=1e3 * U64, rtol=0
    )
    # The gauge direction (E, mu) = (I, -1) is in the kernel of the full map; dropping
    # mu_m leaves N injective: K > 0 for positive weights.
    K_pos = schur_complement(B, R.abs() + 0.1, basis)
    assert bool((torch.linalg.eigvalsh(K_pos)[..., 0] > 0).all())


def test_inertia_matches_eigenvalues():
    """Negative and zero counts from torch.linalg.ldl_factor_ex (1 x 1 and 2 x 2 pivots)
    agree with eigvalsh, including matrices that force 2 x 2 blocks."""
    rng = np.random.default_rng(2)
    mats = []
    for k in (1, 2, 5, 12, 30):
        for _ in range(4):
            A = rng.standard_normal((k, k))
            mats.append(A + A.T)
        if k == 1:
            continue
        # A zero diagonal forces 2 x 2 pivots.
        H = rng.standard_normal((k, k))
        H = H + H.T
        np.fill_diagonal(H, 0.0)
        mats.append(H)
    for A in mats:
        K = torch.from_numpy(A)[None]
        LD, pivots, _ = torch.linalg.ldl_factor_ex(K)
        negative, zero = inertia(LD, pivots)
        w = np.linalg.eigvalsh(A)
        assert int(negative[0]) == int((w < -1e-10).sum()), A
        assert int(zero[0]) == 0
    singular = torch.zeros(1, 3, 3, dtype=torch.float64)
    singular[0, 0, 0], singular[0, 1, 1] = 2.0, -1.0
    LD, pivots, _ = torch.linalg.ldl_factor_ex(singular)
    negative, zero = inertia(LD, pivots)
    assert (int(negative[0]), int(zero[0])) == (1, 1)
