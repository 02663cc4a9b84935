"""Shared inputs and numpy references for the manifold test suites.

Expected values come from closed forms, numpy SVDs written here, or the exact
solver's own certificate checked independently. Tolerances are built from the
float64 unit round-off ``u = 2**-53`` and the problem size.
"""

from __future__ import annotations

import inspect

import numpy as np

from polarlab.polar import registry

U64 = 2.0**-53


def gaussian(m=48, n=8, seed=1):
    return np.random.default_rng(seed).standard_normal((m, n))


def heterogeneous(m=48, n=8, spread=1.0, seed=2):
    """diag(s) Z with lognormal s: rows of very different norms (Aurora's target case)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)) * np.exp(spread * rng.standard_normal((m, 1)))


def np_polar(A):
    W, _, Vh = np.linalg.svd(A, full_matrices=False)
    return W @ Vh


def row_deviation(U):
    """max_i | ||U_i||^2 / (n/m) - 1 |."""
    m, n = U.shape[-2:]
    return float(np.abs((U**2).sum(-1) / (n / m) - 1).max())


def alignment(G, U):
    return float(np.vdot(G, U) / np.linalg.norm(G, "nuc"))


def needs_options(method: str) -> bool:
    """The registered method has a keyword option without a default."""
    params = list(inspect.signature(registry.get(method).solve).parameters.values())[1:]
    return any(p.default is p.empty and p.kind is p.KEYWORD_ONLY for p in params)


def register_for_test(monkeypatch, name: str, solve) -> str:
    """Register ``solve`` as the polar method ``name`` for one test (undone after it)."""
    monkeypatch.setitem(registry._REGISTRY._values, name, registry.PolarMethod(name, solve, "test"))
    return name
