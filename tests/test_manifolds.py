"""Tests for the polarlab.manifolds package surface, the row-oblique and Stiefel
modules and the tangent projections (``oblique.py``, ``stiefel.py``,
``balanced_tangent.py``): closed forms and numpy references (see manifold_cases)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from manifold_cases import U64, gaussian, heterogeneous, np_polar

import polarlab.manifolds as manifolds
from polarlab.manifolds import (
    balanced_stiefel_exact,
    muoneq_r,
    project_balanced_stiefel,
    project_row_oblique,
    project_stiefel,
    riemannian_balanced_stiefel,
    tangent_balanced_stiefel,
    tangent_row_oblique,
    tangent_stiefel,
)
from polarlab.polar import polar, resolve

# ------------------------------------------------------------ package surface


def test_normuon_names_are_deprecated_aliases_of_polarlab_optim_normuon():
    from polarlab.optim import normuon

    for name in ("normuon_normalize", "u_normuon_normalize"):
        with pytest.warns(DeprecationWarning, match=f"polarlab.optim.normuon.{name}"):
            alias = getattr(manifolds, name)
        assert alias is getattr(normuon, name)
    with pytest.raises(AttributeError, match="no attribute"):
        manifolds.no_such_name  # noqa: B018


def test_every_polar_user_accepts_a_resolved_solver():
    G = gaussian(12, 4)
    ns = dict(schedule="jordan", dtype="float64")  # no "steps": Riemannian Aurora has its own
    solver = resolve("newton_schulz", **ns)
    for fn in (project_stiefel, project_balanced_stiefel, muoneq_r, riemannian_balanced_stiefel):
        np.testing.assert_array_equal(fn(G, method=solver), fn(G, method="newton_schulz", **ns))
    # options on top of a solver replace the solver's
    np.testing.assert_array_equal(
        project_stiefel(G, solver, steps=2),
        project_stiefel(G, "newton_schulz", **{**ns, "steps": 2}),
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda G, **o: project_balanced_stiefel(G, iters=5, **o),
        lambda G, **o: project_balanced_stiefel(G, iters=5, form="alternating", **o),
        lambda G, **o: riemannian_balanced_stiefel(G, steps=3, retraction_steps=3, **o),
        lambda G, **o: muoneq_r(G, **o),
        lambda G, **o: project_stiefel(G, **o),
    ],
    ids=["preconditioned", "alternating", "riemannian", "muoneq_r", "stiefel"],
)
def test_polar_options_validated_once_per_call(call, request):
    calls = request.getfixturevalue("validations")
    call(gaussian(20, 4), method="newton_schulz", schedule="jordan", dtype="float64")
    assert calls == ["newton_schulz"]


# ------------------------------------------------------------ row-oblique, Stiefel, tangents


def test_project_stiefel_errors_name_its_argument():
    for bad, message in ((np.ones(3), "dimensions"), (np.array([[np.nan, 1.0]]), "NaN")):
        with pytest.raises(ValueError, match=rf"\bX\b.*{message}"):
            project_stiefel(bad)
    with pytest.raises(TypeError, match=r"\bX\b must be a numpy array"):
        project_stiefel([[1.0]])


def test_row_oblique_closed_form_zero_rows_and_kinds():
    X = gaussian(10, 4)
    X[3] = 0.0
    X_before = X.copy()
    P = project_row_oblique(X, radius=0.5)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    expected = np.where(norms > 0, 0.5 * X / np.where(norms > 0, norms, 1), 0.0)
    assert np.array_equal(X, X_before)
    np.testing.assert_allclose(P, expected, rtol=4 * U64, atol=0)
    assert np.all(P[3] == 0)
    Pt = project_row_oblique(torch.from_numpy(X).float(), radius=0.5)
    assert Pt.dtype == torch.float32
    np.testing.assert_allclose(Pt.numpy(), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="radius"):
        project_row_oblique(X, radius=0.0)


def test_tangent_projections_are_orthogonal_projections():
    rng = np.random.default_rng(3)
    X = np_polar(rng.standard_normal((9, 4)))
    V = rng.standard_normal((9, 4))
    T = tangent_stiefel(X, V)
    # tangent: sym(X^T T) = 0; orthogonal projection: <V - T, T> = 0 and P(T) = T
    np.testing.assert_allclose(X.T @ T + T.T @ X, 0, atol=50 * U64)
    assert abs(np.vdot(V - T, T)) < 50 * U64 * np.vdot(V, V)
    np.testing.assert_allclose(tangent_stiefel(X, T), T, atol=50 * U64)

    R = project_row_oblique(rng.standard_normal((9, 4)))
    T = tangent_row_oblique(R, V)
    np.testing.assert_allclose((T * R).sum(1), 0, atol=50 * U64)
    assert abs(np.vdot(V - T, T)) < 50 * U64 * np.vdot(V, V)

    B, _ = balanced_stiefel_exact(heterogeneous(24, 4, seed=4))
    V = rng.standard_normal((24, 4))
    T = tangent_balanced_stiefel(B, V)
    np.testing.assert_allclose(B.T @ T + T.T @ B, 0, atol=1e3 * U64)
    np.testing.assert_allclose((T * B).sum(1), 0, atol=1e3 * U64)
    assert abs(np.vdot(V - T, T)) < 1e3 * U64 * np.vdot(V, V)


def test_project_stiefel_is_the_dispatcher_polar():
    G = gaussian(12, 5)
    assert np.array_equal(project_stiefel(G), polar(G, method="svd"))


@pytest.mark.parametrize(
    "tangent",
    [manifolds.tangent_stiefel, manifolds.tangent_row_oblique, manifolds.tangent_balanced_stiefel],
)
def test_tangents_promote_mixed_dtypes(tangent):
    """X in float64 and V in float32 (or the reverse): computed in the wider dtype, returned in V's.

    Reference: the same map with both arguments in float64. What is left is the rounding
    of one argument to float32 (u = 2^-24) propagated through a map whose sensitivity to
    X and V is O(1) for a well-balanced X (the balanced tangent's multiplier system is
    well conditioned there), plus the final rounding to float32: 16 u relative to ||V||.
    """
    torch.manual_seed(0)
    X = manifolds.project_balanced_stiefel(torch.randn(12, 3, dtype=torch.float64), iters=30)
    V = torch.randn(12, 3, dtype=torch.float64)
    exact = tangent(X, V)
    for Xd, Vd in ((X, V.float()), (X.float(), V)):
        T = tangent(Xd, Vd)
        assert T.dtype == Vd.dtype
        err = float((T.double() - exact).norm() / V.norm())
        assert err < 16 * 2.0**-24, (tangent.__name__, Xd.dtype, Vd.dtype, err)
