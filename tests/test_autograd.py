"""Autograd and meta tensors (issue 11, cause 2; the rules are in docs/design/autograd.md).

Routines computed with torch operations propagate gradients: checked with
``torch.autograd.gradcheck`` in float64 at small sizes (central finite differences are
the independent reference; gradcheck's default tolerances, atol 1e-5 / rtol 1e-3, sit far
above the O(eps^2 + u / eps) error of its differences for these well-conditioned inputs,
and far below the O(1) error of a detached or wrong gradient). The exact polar methods
are also checked against the closed-form derivative of the polar factor. Routines that
cannot propagate gradients raise, naming themselves and ``.detach()``. Meta tensors get
a meta result of the right shape and dtype, or a clear ``ValueError``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import polarlab
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
from polarlab.matrices import prescribed_spectrum
from polarlab.optim.normuon import normuon_normalize, u_normuon_normalize


def _input(m=5, n=3, seed=0, requires_grad=True) -> torch.Tensor:
    # singular values in [1, 2]: well conditioned, distinct (the SVD's derivative exists)
    s = torch.linspace(2.0, 1.0, min(m, n), dtype=torch.float64)
    return prescribed_spectrum(s, m, n, seed=seed).requires_grad_(requires_grad)


def _ns(method):
    return lambda X: polarlab.polar(X, method, dtype="float64")


DIFFERENTIABLE = {
    "polar_svd": lambda X: polarlab.polar(X, "svd"),
    "polar_qdwh": lambda X: polarlab.polar(X, "qdwh"),
    "polar_newton": lambda X: polarlab.polar(X, "newton"),
    "polar_newton_schulz": _ns("newton_schulz"),
    "polar_polar_express": _ns("polar_express"),
    "polar_gram_newton_schulz": _ns("gram_newton_schulz"),
    "newton_schulz_function": lambda X: polarlab.newton_schulz(X, dtype="float64"),
    "polar_iterates": lambda X: list(
        polarlab.polar_iterates(X, "polar_express", 3, dtype="float64")
    )[-1],
    "project_row_oblique": project_row_oblique,
    "project_stiefel": project_stiefel,
    "aurora_preconditioned": project_balanced_stiefel,
    "aurora_alternating": lambda X: project_balanced_stiefel(X, form="alternating"),
    "aurora_gram": lambda X: project_balanced_stiefel(
        X, method="polar_express", dtype="float64", engine="gram"
    ),
    "muoneq_r": muoneq_r,
    "riemannian_balanced_stiefel": riemannian_balanced_stiefel,
    "normuon_normalize": lambda X: normuon_normalize(X)[0],
    "u_normuon_normalize": lambda X: u_normuon_normalize(X)[0],
    "normuon_state": lambda X: normuon_normalize(X, X[:, 0] ** 2)[1],
}


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_gradcheck(name):
    f = DIFFERENTIABLE[name]
    A = _input(8, 3) if name == "aurora_gram" else _input()
    assert f(A).requires_grad, "the result must carry the input's graph"
    assert torch.autograd.gradcheck(f, (A,))


@pytest.mark.parametrize(
    "name,f",
    [
        ("stiefel", tangent_stiefel),
        ("oblique", tangent_row_oblique),
        ("balanced", tangent_balanced_stiefel),
    ],
)
def test_gradcheck_tangents(name, f):
    X, V = _input(seed=1), _input(seed=2)
    assert torch.autograd.gradcheck(f, (X, V))


def _closed_form_gradient(A: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Gradient of <C, polar(A)> for square nonsingular A = W diag(s) V^T.

    dU = W K V^T with K_ij = (F_ij - F_ji) / (s_i + s_j), F = W^T dA V (Higham,
    Functions of Matrices, 2008, sec. 8.1; Kenney and Laub 1991), so the adjoint is
    W [(Ch - Ch^T) / (s_i + s_j)] V^T with Ch = W^T C V.
    """
    W, s, Vh = torch.linalg.svd(A.detach())
    Ch = W.mT @ C @ Vh.mT
    return W @ ((Ch - Ch.mT) / (s[:, None] + s[None, :])) @ Vh


@pytest.mark.parametrize("method", ["svd", "qdwh", "newton"])
def test_exact_methods_have_the_polar_derivative(method):
    A = _input(4, 4)
    C = torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    (grad,) = torch.autograd.grad((polarlab.polar(A, method) * C).sum(), A)
    # float64 round-off through a kappa = 2 problem: 1e-12 leaves a margin of 1e3 u
    assert torch.allclose(grad, _closed_form_gradient(A, C), rtol=0, atol=1e-12)


REFUSED = {
    "polar(method='mpmath')": lambda X: polarlab.polar(X, "mpmath"),
    "balanced_stiefel_exact": balanced_stiefel_exact,
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_non_differentiable_routines_refuse_with_a_clear_error(name):
    A = _input()
    with pytest.raises(ValueError, match=rf"{name.replace('(', '.').replace(')', '.')}.*detach"):
        REFUSED[name](A)
    with torch.no_grad():  # no graph asked for: the values are used
        REFUSED[name](A)
    REFUSED[name](A.detach())


def test_metrics_measure_values_of_tensors_that_require_grad():
    # a metric returns a Python float (as Tensor.item() does): no graph to attach
    A = _input()
    value = polarlab.metrics.orthogonality_defect(A)
    assert isinstance(value, float)
    assert value == polarlab.metrics.orthogonality_defect(A.detach())


def test_results_without_grad_stay_without_grad():
    A = _input(requires_grad=False)
    assert not polarlab.polar(A, "polar_express").requires_grad
    assert isinstance(polarlab.polar(A.numpy(), "svd"), np.ndarray)


# ------------------------------------------------------------------------- meta tensors

META_SHAPE = (2, 6, 4)
METHODS = [
    "svd",
    "qdwh",
    "newton",
    "mpmath",
    "newton_schulz",
    "polar_express",
    "gram_newton_schulz",
]
SHAPE_PRESERVING = {
    **{f"polar_{m}": functools.partial(polarlab.polar, method=m) for m in METHODS},
    "polar_iterates": lambda X: list(polarlab.polar_iterates(X, "qdwh", 2))[-1],
    "project_row_oblique": project_row_oblique,
    "project_stiefel": project_stiefel,
    "project_balanced_stiefel": project_balanced_stiefel,
    "muoneq_r": muoneq_r,
    "riemannian_balanced_stiefel": riemannian_balanced_stiefel,
    "tangent_stiefel": lambda X: tangent_stiefel(X, X),
    "tangent_row_oblique": lambda X: tangent_row_oblique(X, X),
    "tangent_balanced_stiefel": lambda X: tangent_balanced_stiefel(X, X),
    "normuon_normalize": lambda X: normuon_normalize(X)[0],
    "u_normuon_normalize": lambda X: u_normuon_normalize(X)[0],
}


@pytest.mark.parametrize("name", list(SHAPE_PRESERVING))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_meta_tensors_propagate_shapes(name, dtype):
    X = torch.empty(META_SHAPE, dtype=dtype, device="meta")
    out = SHAPE_PRESERVING[name](X)
    assert out.is_meta and out.shape == META_SHAPE and out.dtype == dtype


def test_meta_normuon_state_shape():
    _, v = normuon_normalize(torch.empty(META_SHAPE, device="meta"))
    assert v.is_meta and v.shape == META_SHAPE[:-1] and v.dtype == torch.float32


@pytest.mark.parametrize(
    "f",
    [balanced_stiefel_exact, polarlab.metrics.orthogonality_defect, polarlab.metrics.row_norms],
    ids=["balanced_stiefel_exact", "orthogonality_defect", "row_norms"],
)
def test_meta_tensors_elsewhere_raise_a_clear_error(f):
    with pytest.raises(ValueError, match="meta tensor"):
        f(torch.empty(6, 4, device="meta"))
