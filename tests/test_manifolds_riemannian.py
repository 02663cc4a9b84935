"""Tests for polarlab.manifolds.riemannian: Riemannian Aurora's scale invariance,
its limit against the exact solver, and that a resolved method's options reach it."""

from __future__ import annotations

import numpy as np
import torch
from manifold_cases import (
    U64,
    alignment,
    gaussian,
    heterogeneous,
    register_for_test,
    row_deviation,
)

from polarlab.manifolds import (
    balanced_stiefel_exact,
    project_balanced_stiefel,
    riemannian_balanced_stiefel,
)
from polarlab.polar import resolve


def test_riemannian_scale_invariant_and_better_than_code_form():
    """Riemannian form (heterogeneous 48x8): with step 0.3, 150 steps, 30 retraction
    rounds and CG to 1e-12, it is feasible to 1e-12 and its alignment is within
    ~3e-5 of the exact solver's, ~9e-3 above the code form's fixed point."""
    G = heterogeneous()
    # Scale invariance: G and 1000 G agree to round-off (default settings).
    np.testing.assert_allclose(
        riemannian_balanced_stiefel(G), riemannian_balanced_stiefel(1000 * G), atol=1e3 * U64
    )
    opts = dict(steps=150, step_size=0.3, retraction_steps=30, cg_steps=60, cg_tol=1e-12)
    R, residual = riemannian_balanced_stiefel(G, return_residual=True, **opts)
    P = project_balanced_stiefel(G, iters=60)
    _, cert = balanced_stiefel_exact(G)
    feas = 1e-10  # both forms are driven to their fixed points: feasible to 1e-10
    for U in (R, P):
        assert row_deviation(U) < feas
        assert np.linalg.norm(U.T @ U - np.eye(8)) < feas
    assert residual < 1e-8
    assert alignment(G, R) > alignment(G, P) + 1e-3
    assert alignment(G, R) <= cert.alignment + 1e-12


def test_polar_steps_reach_the_method_through_a_resolved_solver(monkeypatch):
    """``steps`` is Riemannian Aurora's own (outer ascent steps); a Newton-Schulz
    step count goes in through ``resolve`` and must reach every polar call."""
    seen = []

    def spy(X, *, steps: int = 8):
        seen.append(steps)
        X = X / torch.linalg.matrix_norm(X, keepdim=True)
        for _ in range(steps):  # cubic Newton-Schulz
            X = 1.5 * X - 0.5 * X @ (X.mT @ X)
        return X, {}

    name = register_for_test(monkeypatch, "test_spy_steps", spy)
    G = gaussian(24, 4, seed=16)
    riemannian_balanced_stiefel(G, steps=2, retraction_steps=3, method=resolve(name, steps=5))
    assert seen == [5] * (1 + 2 * 3)  # the first polar call, then 3 per retraction

    # ... and with the real engine the step count changes the result
    few = riemannian_balanced_stiefel(G, steps=3, method=resolve("newton_schulz", steps=1))
    many = riemannian_balanced_stiefel(G, steps=3, method=resolve("newton_schulz", steps=8))
    assert float(np.abs(few - many).max()) > 1e-3
