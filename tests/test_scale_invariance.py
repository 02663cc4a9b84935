"""Scale invariance over the whole finite range of each dtype (issue 11, cause 1).

A polar factor, and every projection built from polar factors and row scalings, is
invariant under ``A -> c A`` for ``c > 0``. The tests scale a well-conditioned matrix
``A`` (singular values in [1, 4], so kappa = 4) by powers of two from the bottom of the
dtype's normal range (smallest entry ``2^10 * tiny``) to its top (largest entry about
``max / 2^10``), so ``c A`` is exactly representable and both calls see the same matrix
up to an exact factor. The two results may then differ only by rounding in the
operations that see the scale (norms, the SVD's internal scaling, the first division):

    tol = 1e3 u(compute dtype) + 2 u(output dtype) max|U|

``1e3 u`` allows a few hundred roundings on a kappa = 4 matrix (the methods' own
backward error bounds are a small multiple of ``n u kappa``); ``2 u(out) max|U|`` is one
unit in the last place of the output, where the two values may round to neighbours.
Before the fix the errors were O(0.1 - 1) or NaN (Newton-Schulz returned zeros at 1e20
in float64, rows of norm 1e8 at 1e-30), so the tolerance separates the two clearly.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import polarlab
from polarlab._arrays import unit_roundoff
from polarlab.linalg import cholesky_qr, max_abs_scale, positive_qr, safe_norm
from polarlab.manifolds import (
    balanced_stiefel_exact,
    muoneq_r,
    project_balanced_stiefel,
    project_row_oblique,
    project_stiefel,
    riemannian_balanced_stiefel,
)
from polarlab.matrices import prescribed_spectrum
from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon
from polarlab.optim.normuon import normuon_normalize, u_normuon_normalize

DTYPES = [torch.float64, torch.float32, torch.bfloat16]
M, N = 12, 5


def _matrix(dtype=torch.float64, m=M, n=N, seed=0) -> torch.Tensor:
    s = torch.linspace(4.0, 1.0, min(m, n), dtype=torch.float64)
    return prescribed_spectrum(s, m, n, seed=seed).to(dtype)


def _scales(A: torch.Tensor) -> list[float]:
    """Powers of two taking A's entries to both ends of A's dtype range, and to 2^+-33."""
    fi = torch.finfo(A.dtype)
    amax = float(A.abs().max())
    amin = float(A.abs()[A != 0].min())
    top = 2.0 ** math.floor(math.log2(fi.max / amax) - 10)
    bottom = 2.0 ** math.ceil(math.log2(fi.tiny / amin) + 10)
    return [bottom, 2.0**-33, 2.0**33, top]


def _tol(compute: torch.dtype, out: torch.dtype, U: torch.Tensor) -> float:
    return 1e3 * unit_roundoff(compute) + 2 * unit_roundoff(out) * max(1.0, float(U.abs().max()))


def _compute_dtype(method: str, dtype: torch.dtype) -> torch.dtype:
    # polynomial methods iterate in float32 by default; the others in float64
    return (
        torch.float32
        if method in {"newton_schulz", "polar_express", "gram_newton_schulz"}
        else (torch.float64)
    )


def _check_invariant(f, A: torch.Tensor, compute: torch.dtype, scales=None):
    ref = f(A)
    tol = _tol(compute, A.dtype, ref)
    assert torch.isfinite(ref).all()
    for c in scales or _scales(A):
        cA = A * c
        assert torch.equal(cA / c, A), "the scale must be exact"
        out = f(cA)
        err = float((out.double() - ref.double()).abs().max())
        assert err <= tol, f"c = {c:.3g}: max |f(cA) - f(A)| = {err:.3g} > {tol:.3g}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "method", ["svd", "qdwh", "newton", "newton_schulz", "polar_express", "gram_newton_schulz"]
)
def test_polar_scale_invariant(method, dtype):
    _check_invariant(
        lambda X: polarlab.polar(X, method), _matrix(dtype), _compute_dtype(method, dtype)
    )


@pytest.mark.parametrize("normalization", ["schatten8", "one_inf"])
@pytest.mark.parametrize("method", ["polar_express", "gram_newton_schulz"])
def test_other_normalizations_scale_invariant(method, normalization):
    def f(X):
        return polarlab.polar(X, method, normalization=normalization)

    _check_invariant(f, _matrix(torch.float32), torch.float32)


def test_mpmath_scale_invariant():
    A = _matrix(torch.float64, 4, 3)
    _check_invariant(lambda X: polarlab.polar(X, "mpmath", digits=20), A, torch.float64)


def test_the_issue_example_newton_schulz_at_1e20_in_float64():
    A = _matrix()
    U = polarlab.polar(A * 1e20, "newton_schulz")
    # the schedule's documented bound: singular values of polar_express (5 steps) in
    # [0.88, 1.124] for a spectrum inside [1e-3, 1] after normalisation
    s = torch.linalg.svdvals(U)
    assert float(s.min()) > 0.8 and float(s.max()) < 1.13


@pytest.mark.parametrize("method", ["polar_express", "qdwh", "gram_newton_schulz"])
def test_batch_slices_normalised_one_by_one(method):
    """A batch holding a tiny and a huge slice gives each slice its own polar factor."""
    A = _matrix(torch.float32)
    hi, lo = _scales(A)[3], _scales(A)[0]
    B = torch.stack([A * hi, A * lo])
    U = polarlab.polar(B, method)
    ref = polarlab.polar(A, method)
    tol = _tol(_compute_dtype(method, A.dtype), A.dtype, ref)
    assert float((U - ref).abs().max()) <= tol


PROJECTIONS = {
    "row_oblique": (project_row_oblique, "scaling"),
    "stiefel_svd": (project_stiefel, "scaling"),
    "stiefel_polar_express": (lambda X: project_stiefel(X, "polar_express"), torch.float32),
    "aurora_preconditioned": (project_balanced_stiefel, "scaling"),
    "aurora_alternating": (lambda X: project_balanced_stiefel(X, form="alternating"), "scaling"),
    "aurora_gram_polar_express": (
        lambda X: project_balanced_stiefel(X, method="polar_express", engine="gram"),
        torch.float32,
    ),
    "muoneq_r": (muoneq_r, "scaling"),
    "riemannian": (riemannian_balanced_stiefel, "scaling"),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_projection_scale_invariant(name, dtype):
    f, compute = PROJECTIONS[name]
    if compute == "scaling":  # row scalings run in the input's dtype, at least float32
        compute = torch.promote_types(dtype, torch.float32)
    _check_invariant(f, _matrix(dtype), compute)


def test_balanced_stiefel_exact_scale_invariant():
    A = _matrix()
    # the solver stops at relative stationarity tol = 1e-10 (its documented accuracy)
    ref = balanced_stiefel_exact(A)[0]
    for c in _scales(A):
        err = float((balanced_stiefel_exact(A * c)[0] - ref).abs().max())
        assert err <= 1e-8, f"c = {c:.3g}: {err:.3g}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_row_oblique_rows_have_the_radius(dtype):
    """The issue's example: at 1e-30 (float32) the rows had norm 1e8."""
    A = _matrix(dtype)
    for c in _scales(A):
        rows = torch.linalg.vector_norm(project_row_oblique(A * c).double(), dim=-1)
        assert torch.allclose(rows, torch.ones_like(rows), rtol=0, atol=4 * unit_roundoff(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_safe_norm_matches_float64_at_every_scale(dtype):
    A = _matrix(dtype)
    for c in _scales(A):
        exact = torch.linalg.vector_norm(A.double()) * c  # float64 reference, scaled exactly
        got = float(safe_norm(A * c))
        assert math.isclose(got, float(exact), rel_tol=8 * unit_roundoff(torch.float32))
        rows = safe_norm(A * c, -1)
        ref_rows = torch.linalg.vector_norm(A.double(), dim=-1) * c
        assert torch.allclose(rows.double(), ref_rows, rtol=8 * unit_roundoff(torch.float32))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_qr_kernels_scale_invariant(dtype):
    """Q of A = QR is invariant under A -> c A (ARO's rotation uses these kernels)."""
    A = _matrix(dtype, N, N)
    _check_invariant(lambda X: cholesky_qr(X)[0], A, dtype)
    _check_invariant(lambda X: positive_qr(X)[0], A, dtype)


def test_row_norm_metrics_at_every_float64_scale():
    """Row norms scale with c, their ratio and coefficient of variation do not."""
    A = _matrix()
    norms = polarlab.metrics.row_norms(A)
    cv, ratio = polarlab.metrics.row_norm_cv(A), polarlab.metrics.row_norm_ratio(A)
    for c in _scales(A):
        assert np.allclose(polarlab.metrics.row_norms(A * c) / c, norms, rtol=4 * 2.0**-53)
        assert math.isclose(polarlab.metrics.row_norm_cv(A * c), cv, rel_tol=1e-14)
        assert math.isclose(polarlab.metrics.row_norm_ratio(A * c), ratio, rel_tol=1e-14)


def test_safe_norm_zero_and_scale():
    Y, a = max_abs_scale(torch.zeros(2, 3, 4))
    assert torch.equal(Y, torch.zeros(2, 3, 4)) and bool((a > 0).all())
    assert torch.equal(safe_norm(torch.zeros(3, 4)), torch.tensor(0.0))
    # the smallest subnormal float64: an exact norm, where squaring underflows to 0
    x = torch.tensor([[5e-324, 0.0]], dtype=torch.float64)
    assert float(safe_norm(x)) == 5e-324


# --------------------------------------------------------------------------- NorMuon


def _normuon_reference(U, v, beta2, eps, uniform):
    """The released formula in float64 (no scaling tricks), with eps in units of
    ||U||_F / sqrt(n) (eps itself for a polar factor)."""
    U = U.double()
    n = U.shape[-1]
    v_new = (1 - beta2) * (U * U).mean(-1) + (0.0 if v is None else beta2 * v.double())
    W = U / (v_new.sqrt().unsqueeze(-1) + eps * torch.linalg.vector_norm(U) / math.sqrt(n))
    target = math.sqrt(n) if uniform else torch.linalg.vector_norm(U)
    return W * (target / torch.linalg.vector_norm(W)), v_new


@pytest.mark.parametrize("uniform", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_normuon_homogeneous(uniform, dtype):
    """normuon(cU, c^2 v) = c normuon(U, v) (U-NorMuon: without the c), eps included.

    In float32 at c = 2^60 the squares and ||U||_F overflowed before (all NaN at 1e30),
    and at small c the absolute eps took over. Tolerance: 16 u of the dtype (a few
    roundings per entry on rows of comparable norm).
    """
    fn = u_normuon_normalize if uniform else normuon_normalize
    U = _matrix(dtype)
    v = torch.rand(M, dtype=dtype, generator=torch.Generator().manual_seed(1)) + 0.1
    ref, v_ref = fn(U, v, eps=1e-3)
    exact, _ = _normuon_reference(U, v, 0.95, 1e-3, uniform)
    assert torch.allclose(ref.double(), exact, rtol=0, atol=16 * unit_roundoff(dtype))
    fi = torch.finfo(dtype)
    for k in (-60, 60, int(math.log2(fi.max)) // 2 - 4):  # v = c^2 v stays in range
        c = 2.0**k
        out, v_out = fn(U * c, v * c * c, eps=1e-3)
        back = out if uniform else out / c
        assert torch.allclose(back, ref, rtol=0, atol=16 * unit_roundoff(dtype)), k
        assert torch.allclose(v_out / (c * c), v_ref, rtol=8 * unit_roundoff(dtype), atol=0)


def test_normuon_eps_is_the_released_eps_for_a_polar_factor():
    """For U = polar(G) (||U||_F = sqrt(n)) the released formula, eps = 1e-8 absolute."""
    U = polarlab.polar(_matrix(), "svd")
    v = torch.full((M,), 1e-17, dtype=torch.float64)  # sqrt(v) ~ eps: eps matters here
    out, _ = normuon_normalize(U, v, beta2=0.5)
    v_new = 0.5 * v + 0.5 * (U * U).mean(-1)
    W = U / (v_new.sqrt().unsqueeze(-1) + 1e-8)
    assert torch.allclose(out, W * (torch.linalg.vector_norm(U) / torch.linalg.vector_norm(W)))


@pytest.mark.parametrize("fn", [normuon_normalize, u_normuon_normalize])
def test_normuon_at_1e30_in_float32_is_finite(fn):
    """The issue's example: float32 at 1e30 (v = mean U^2 ~ 1e60 overflows float32).

    The update itself is still the formula's value (rows equalised, first step); the
    state that cannot be represented is reported as inf rather than poisoning U_hat.
    """
    U = _matrix(torch.float32)
    out, v = fn(U * 1e30)
    ref, _ = fn(U)
    scale = 1.0 if fn is u_normuon_normalize else 1e30
    assert torch.isfinite(out).all() and not torch.isnan(v).any()
    assert torch.allclose(out / scale, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_normuon_rejects_negative_or_nan_state(bad):
    U = _matrix()
    v = torch.full((M,), 0.5, dtype=torch.float64)
    v[3] = bad
    with pytest.raises(ValueError, match=r"v .*(negative|NaN|infinite)"):
        normuon_normalize(U, v)
    with pytest.raises(ValueError, match=r"v .*(negative|NaN|infinite)"):
        u_normuon_normalize(U, v.numpy())


# ------------------------------------------------------------------------ optimizers


@pytest.mark.parametrize("cls", [Muon, NorMuon, UNorMuon, Aurora, ARO])
def test_optimizer_update_scale_invariant(cls):
    """A gradient of scale 2^66 (~7e19) gives the same first update as the unscaled one.

    Before the fix the float32 Frobenius norm overflowed to inf and the update was
    exactly zero (and not counted as skipped). Polar-factor directions are scale
    invariant, so the updates agree to the polar iteration's float32 rounding.
    """
    G = _matrix(torch.float32, 16, 8)
    updates = []
    for c in (1.0, 2.0**66, 2.0**-66, 2.0**100, 2.0**-100):
        W = torch.nn.Parameter(torch.zeros(16, 8))
        opt = cls([W], lr=0.1)
        W.grad = G * c
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step()
        updates.append(W.detach().clone())
    ref = updates[0]
    assert float(ref.abs().max()) > 0.01
    for U in updates[1:]:
        assert float((U - ref).abs().max()) <= 1e3 * unit_roundoff(torch.float32)


def test_numpy_input_scale_invariant():
    A = _matrix().numpy()
    ref = polarlab.polar(A, "polar_express")
    out = polarlab.polar(A * 2.0**1000, "polar_express")
    assert np.abs(out - ref).max() <= 1e3 * 2.0**-24
