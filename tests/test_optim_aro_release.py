"""ARO ``mode="release"``: equal to the released update rule, written here from its formulas.

The released rule (Gong et al., arXiv 2602.09006; microsoft/dion branch ``dev/aro``),
per matrix ``W`` (m x n) with gradient ``G``, in float32:

    M <- mu M + (1 - mu) G                       (EMA, no Nesterov; mu = 0.95)
    C = M f(R^T M)^T                             (m x m; R_0 = I_m, the ROW side)
    R <- Q factor of Householder QR(C)
    U = R f(R^T M)
    W <- W (1 - lr wd) - lr 0.2 sqrt(max(m, n)) U   (adjust_lr "rms_norm"; lr = wd = 0.01)

with SR-Sinkhorn ``f`` (5 rounds: rows to norm sqrt(n), then columns to sqrt(m), each
norm clamped at 1e-8) by default.
"""

import math

import pytest
import torch

from polarlab.optim import ARO
from polarlab.optim.aro import RELEASE_DEFAULTS, ARODirection

SHAPES = [(6, 20), (12, 12), (20, 6)]  # wide, square, tall
STEPS = 4


def _sinkhorn(X, rounds=5):
    m, n = X.shape
    for _ in range(rounds):
        X = X * (math.sqrt(n) / X.norm(dim=1, keepdim=True).clamp(min=1e-8))
        X = X * (math.sqrt(m) / X.norm(dim=0, keepdim=True).clamp(min=1e-8))
    return X


BASES = {
    "sinkhorn": _sinkhorn,
    "row_norm": lambda X: math.sqrt(X.shape[1]) * X / X.norm(dim=1, keepdim=True).clamp(min=1e-8),
    "sign": torch.sign,
}


def _released_run(W, grads, base, lr=0.01, mu=0.95, wd=0.01):
    """The released rule, one matrix, step by step (plain torch, float32)."""
    m, n = W.shape
    f = BASES[base]
    M = torch.zeros(m, n)
    R = torch.eye(m)
    for G in grads:
        M = torch.lerp(M, G, 1 - mu)  # mu M + (1 - mu) G, as the release evaluates it
        C = M @ f(R.T @ M).T
        R = torch.linalg.qr(C).Q
        U = R @ f(R.T @ M)
        W = W * (1 - lr * wd) - lr * 0.2 * math.sqrt(max(m, n)) * U
    return W, R


def _grads(shape, seed):
    g = torch.Generator().manual_seed(seed)
    W0 = torch.randn(*shape, generator=g)
    return W0, [torch.randn(*shape, generator=g) for _ in range(STEPS)]


@pytest.mark.parametrize("base", list(BASES))
@pytest.mark.parametrize("shape", SHAPES, ids=["wide", "square", "tall"])
def test_release_mode_equals_the_released_rule(shape, base):
    # float32 throughout. Wide and square: the rule is well conditioned, so two
    # evaluations agree to a few float32 ulps per step (rtol 1e-5 = ~80 ulp). Tall: the
    # QR completes the m - n null directions of C (rank n) from round-off and the base
    # map renormalises the round-off rows, so the rule is only reproducible when every
    # intermediate has the same bits; the reference above follows the released order of
    # operations, one matrix at a time, as release mode does.
    W0, grads = _grads(shape, seed=sum(shape))
    W = torch.nn.Parameter(W0.clone())
    opt = ARO.release([W], base=base)
    for G in grads:
        W.grad = G.clone()
        opt.step()
    expected_W, expected_R = _released_run(W0.clone(), grads, base)
    torch.testing.assert_close(W.detach(), expected_W, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(opt.state[W]["rotation"], expected_R, rtol=1e-5, atol=1e-5)
    assert opt.state[W]["rotation"].shape == (shape[0], shape[0])  # the row side


def test_release_defaults_are_the_released_signature():
    # microsoft/dion dev/aro ARO.__init__: lr=0.01, mu=0.95, weight_decay=0.01,
    # base_opt="sinkhorn", adjust_lr="rms_norm"; momentum by lerp (EMA), no Nesterov.
    assert RELEASE_DEFAULTS == {
        "lr": 0.01,
        "momentum": 0.95,
        "nesterov": False,
        "momentum_form": "ema",
        "weight_decay": 0.01,
        "adjust_lr": "rms_norm",
        "base": "sinkhorn",
        "mode": "release",
    }
    W = torch.nn.Parameter(torch.zeros(3, 5))
    group = ARO.release([W], lr=0.5).param_groups[0]
    assert group["lr"] == 0.5 and group["mode"] == "release"  # an option replaces a default


def test_release_mode_on_tall_matrices_has_the_documented_defect():
    # Released rule on tall M (m > n): C has rank n, the QR completes m - n columns from
    # round-off and row_norm renormalises those rows of R^T M (round-off) to full size,
    # so a fraction about sqrt(1 - n/m) of ||U||_F lies outside range(M). The corrected
    # mode, U = M R diag(.) R^T on the short side, stays in range (float32 round-off).
    g = torch.Generator().manual_seed(0)
    m, n = 64, 8
    M = torch.randn(1, m, n, generator=g)
    P = M[0] @ torch.linalg.pinv(M[0])
    off = {}
    for mode in ("release", "corrected"):
        d = ARODirection(mode=mode, base="row_norm")
        state = d.init_state(m, n, M.device, M.dtype)
        state = {"rotation": state["rotation"][None]}
        for _ in range(3):
            U, state = d(M, state)
        off[mode] = ((U[0] - P @ U[0]).norm() / U[0].norm()).item()
    assert off["release"] == pytest.approx(math.sqrt(1 - n / m), abs=0.1)
    assert off["corrected"] < 1e-5


def test_release_mode_refuses_another_qr():
    with pytest.raises(ValueError, match="mode='release' uses the released Householder QR"):
        ARODirection(mode="release", qr="cholesky")
    with pytest.raises(ValueError, match="unknown mode 'paper'; choose one of: corrected, release"):
        ARODirection(mode="paper")
