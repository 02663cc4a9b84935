"""ARO: the row_norm/Muon identity, continuity on tall matrices (short-side rotation),
the row normalisation, the state dtype, and the functional form."""

import math

import pytest
import torch

from polarlab.optim import ARO
from polarlab.optim.aro import BASE_MAPS, aro_direction
from polarlab.optim.functional import aro_update

F64 = torch.float64


def _polar(M):
    svd = torch.linalg.svd(M, full_matrices=False)
    return svd.U @ svd.Vh


def _released_direction(M, R, base):
    """Transcription of the released rule (rotation on the ROW side, R is m x m),
    Householder QR with a positive-diagonal sign fix."""
    f = BASE_MAPS[base]
    C = M @ f(R.mT @ M).mT
    Q, Rr = torch.linalg.qr(C)
    Q = Q * torch.sign(torch.diagonal(Rr))
    return Q @ f(Q.mT @ M), Q


@pytest.mark.parametrize("shape", [(24, 6), (6, 24), (8, 8)])
def test_row_norm_with_fixed_momentum_converges_to_scaled_muon(shape):
    # arXiv 2602.09006 update rule: with M fixed, R <- qr(M M^T R) is orthogonal iteration, so
    # U -> sqrt(q) polar(M), q the long side (the row length of the rotated matrix).
    # momentum=0 makes M = G at every step.
    m, n = shape
    torch.manual_seed(0)
    G = torch.randn(m, n, dtype=F64)
    W = torch.nn.Parameter(torch.zeros(m, n, dtype=F64))
    opt = ARO([W], lr=1.0, momentum=0.0, base="row_norm")
    for _ in range(200):
        before = W.detach().clone()
        W.grad = G
        opt.step()
    U = before - W.detach()
    expected = math.sqrt(max(m, n)) * _polar(G)
    # orthogonal iteration converges like (sigma_{i+1}/sigma_i)^t; 200 steps on a
    # Gaussian spectrum reach float64 round-off times a gap factor
    torch.testing.assert_close(U, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("base", list(BASE_MAPS))
def test_tall_update_is_continuous_in_the_momentum(base):
    # A relative perturbation 1e-8 of M changes the short-side update by a comparable
    # relative amount; the released long-side rotation's QR completes an arbitrary
    # basis of the m - n null directions, so sign and sinkhorn jump by O(1).
    g = torch.Generator().manual_seed(0)
    M = torch.randn(24, 6, dtype=F64, generator=g)
    E = torch.randn(24, 6, dtype=F64, generator=g)
    Mp = M + 1e-8 * M.norm() * E / E.norm()
    R = Rp = torch.eye(6, dtype=F64)
    L = Lp = torch.eye(24, dtype=F64)
    for _ in range(3):
        U, R = aro_direction(M, R, base)
        Up, Rp = aro_direction(Mp, Rp, base)
        V, L = _released_direction(M, L, base)
        Vp, Lp = _released_direction(Mp, Lp, base)
    # comparable: within 100x of the perturbation (condition of polar/QR on a Gaussian)
    assert ((U - Up).norm() / U.norm()).item() < 1e-6
    if base != "row_norm":  # row_norm's null rows are clamped in float64; see below
        assert ((V - Vp).norm() / V.norm()).item() > 0.1


def test_row_norm_tall_update_stays_in_the_range_of_the_momentum():
    # microsoft/dion dev/aro rotates the row (long) side; in float32 about
    # sqrt(1 - n/m) of ||U||_F lies outside range(M) (null rows of R^T M are round-off
    # above the 1e-8 clamp, renormalised to full size); the short-side form keeps
    # U = M R diag(.) R^T inside range(M).
    g = torch.Generator().manual_seed(0)
    m, n = 64, 8
    M = torch.randn(m, n, generator=g)
    P = M @ torch.linalg.pinv(M)
    R, L = torch.eye(n), torch.eye(m)
    for _ in range(3):
        U, R = aro_direction(M, R, "row_norm")
        V, L = _released_direction(M, L, "row_norm")

    def off_range(X):
        return ((X - P @ X).norm() / X.norm()).item()

    assert off_range(U) < 1e-5  # float32 round-off
    assert off_range(V) == pytest.approx(math.sqrt(1 - n / m), abs=0.1)


def test_zero_momentum_keeps_the_rotation():
    # QR of C = 0 fails (ok = False); the previous R is kept and the update is zero.
    R0 = torch.linalg.qr(torch.randn(5, 5, dtype=F64))[0]
    for base in BASE_MAPS:
        U, R = aro_direction(torch.zeros(5, 9, dtype=F64), R0, base)
        assert torch.equal(R, R0)
        assert torch.isfinite(U).all()


def test_functional_update_equals_optimizer_step():
    torch.manual_seed(0)
    W0 = torch.randn(10, 4, dtype=F64)
    W = torch.nn.Parameter(W0.clone())
    opt = ARO([W], lr=0.01, weight_decay=0.1, base="sinkhorn")
    buf, R, Wf = torch.zeros_like(W0), torch.eye(4, dtype=F64), W0
    for _ in range(3):
        G = torch.randn(10, 4, dtype=F64)
        W.grad = G
        opt.step()
        Wf, buf, R = aro_update(Wf, G, buf, R, lr=0.01, weight_decay=0.1, base="sinkhorn")
    torch.testing.assert_close(W.detach(), Wf, rtol=0, atol=1e-13)
    torch.testing.assert_close(opt.state[W]["rotation"], R, rtol=0, atol=1e-13)
    assert opt.state[W]["rotation"].shape == (4, 4)  # short side


def test_row_norm_is_the_row_oblique_projection_with_the_released_clamp():
    # Released rule: sqrt(q) X_i / max(||X_i||, 1e-8). Rows above, below and at zero norm.
    X = torch.randn(4, 9, dtype=F64, generator=torch.Generator().manual_seed(0))
    X[1] *= 1e-10  # below the clamp: scaled by sqrt(q) / 1e-8, not normalised
    X[2] = 0.0  # stays zero
    expected = X * (3.0 / X.norm(dim=1, keepdim=True).clamp_min(1e-8))
    torch.testing.assert_close(BASE_MAPS["row_norm"](X), expected, rtol=0, atol=0)


def test_rotation_state_dtype_and_bfloat16_request():
    # State in the "scaling" role (float32 for bf16 parameters); a bf16 compute request is
    # raised to float32 (the QR needs single precision), so it equals the default.
    g = torch.Generator().manual_seed(0)
    W0 = torch.randn(10, 4, generator=g).bfloat16()
    G = torch.randn(10, 4, generator=g).bfloat16()
    runs = []
    for dtype in (None, "bfloat16"):
        W = torch.nn.Parameter(W0.clone())
        opt = ARO([W], lr=0.01, dtype=dtype)
        W.grad = G
        opt.step()
        assert opt.state[W]["rotation"].dtype == torch.float32
        runs.append(W.detach())
    assert torch.equal(*runs)
