"""The shared kernels of polarlab.linalg: positive-diagonal QR and Sinkhorn scaling."""

import math

import pytest
import torch

from polarlab.linalg import cholesky_qr, positive_qr, sinkhorn

F64 = torch.float64


def test_qr_methods_agree_and_give_orthogonal_positive_factors():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 7, 7, dtype=F64, generator=g)
    A[1] = A[1] @ torch.diag(torch.logspace(0, -6, 7, dtype=F64))  # ill-conditioned
    Qc, okc = positive_qr(A, "cholesky")
    Qh, okh = positive_qr(A, "householder")
    assert okc.all() and okh.all()
    eye = torch.eye(7, dtype=F64)
    # shifted CholeskyQR3 is orthogonal to O(u) for kappa up to ~u^-1
    assert (Qc.mT @ Qc - eye).abs().max() < 1e-13
    # Q is unique given diag(R) > 0; the two differ by the conditioning (1e6) times u
    assert (Qc - Qh).abs().max() < 1e-8
    with pytest.raises(ValueError, match="unknown qr method 'lu'"):
        positive_qr(A, "lu")


def test_sinkhorn_columns_exact_rows_near():
    # SR-Sinkhorn (arXiv 2502.06742): columns exactly sqrt(p) (last normalisation), rows ~ sqrt(q)
    X = sinkhorn(torch.randn(12, 30, dtype=F64, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(X.norm(dim=0), torch.full((30,), math.sqrt(12), dtype=F64))
    assert (X.norm(dim=1) / math.sqrt(30) - 1).abs().max() < 0.05


def test_cholesky_qr_pass_is_a_qr_of_a_well_conditioned_input():
    # One unshifted pass: Q = A L^{-T} with L L^T = A^T A, so Q^T Q = I up to kappa^2 u
    # (kappa <= 10 here) and Q L^T = A.
    A = torch.randn(20, 5, dtype=F64, generator=torch.Generator().manual_seed(1))
    Q, info = cholesky_qr(A)
    assert int(info) == 0
    torch.testing.assert_close(Q.mT @ Q, torch.eye(5, dtype=F64), rtol=0, atol=1e-12)
    L = torch.linalg.cholesky(A.mT @ A)
    torch.testing.assert_close(Q @ L.mT, A, rtol=0, atol=1e-12)
