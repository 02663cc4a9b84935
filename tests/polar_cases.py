"""Shared cases for the polar-method test suites: which methods are exact, and test matrices.

Matrices are generated here (seeded, float64) rather than with ``polarlab.matrices`` so
that these suites test the polar methods against nothing but numpy and the theory.
"""

from __future__ import annotations

import numpy as np

import polarlab

#: Methods that return the polar factor to float64 working accuracy (u * kappa).
EXACT = frozenset({"svd", "qdwh", "newton", "mpmath"})

#: Registered methods that are deliberately approximate (fixed-step polynomial
#: iterations, usually in low precision). Every other registered method is held to
#: the exact-method tests, so a new method is tested by default.
INEXACT = frozenset({"newton_schulz", "polar_express", "gram_newton_schulz"})

#: Pure-Python oracle: only small matrices.
SMALL_ONLY = frozenset({"mpmath"})


def exact_methods() -> list[str]:
    """Registered methods held to float64 accuracy: all but the known inexact ones."""
    return [name for name in polarlab.polar_methods() if name not in INEXACT]


def haar(rng: np.random.Generator, n: int) -> np.ndarray:
    """Haar-distributed orthogonal n x n matrix (QR of a Gaussian, signs from diag(R))."""
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def with_spectrum(rng: np.random.Generator, m: int, n: int, s: np.ndarray) -> np.ndarray:
    """``U diag(s) V^T`` (m x n) with Haar ``U``, ``V`` and ``len(s) = min(m, n)``."""
    k = min(m, n)
    U = haar(rng, m)[:, :k]
    V = haar(rng, n)[:, :k]
    return (U * s) @ V.T


def log_spectrum(k: int, kappa: float) -> np.ndarray:
    """``k`` singular values log-spaced from 1 down to ``1 / kappa``."""
    return np.logspace(0.0, -np.log10(kappa), k)


def sensitivity(s: np.ndarray, m: int, n: int) -> float:
    """Condition number of the polar factor for a matrix with singular values ``s``.

    A perturbation ``dA`` moves ``polar(A)`` by at most about ``g * ||dA||_F`` with
    ``g = 2 / (s_k + s_{k-1})`` for square ``A`` (the smallest pair of singular values
    couples through the skew part), plus ``1 / s_k`` when ``A`` is rectangular (the
    component leaving the range); see the perturbation theory in Higham, *Functions of
    Matrices*, 2008, Ch. 8.
    """
    s = np.sort(np.asarray(s, dtype=float))
    pair = s[0] + s[1] if len(s) > 1 else 2 * s[0]
    return 2.0 / pair + (1.0 / s[0] if m != n else 0.0)
