"""The contract every entry is held to, shared by the parametrized tests and the fuzzing.

``outcome(entry, arrays)`` calls an entry, checks that no input was modified and that the
result has the caller's kind and dtype, and returns it as float64. ``expected`` is the
float64 reference of the same (rounded) inputs; ``tolerance`` the rule of
:mod:`contracts.inputs` plus the method's own error bound; ``error_of`` the distance in the
norm the bound is stated in. ``raises_naming`` checks a documented error: the type and
that the message names the argument.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from .entries import Entry
from .inputs import as64, dtype_name, snapshot, sval_bounds, to_kind, tol, unchanged


def compute_of(entry: Entry, dtype: str) -> str:
    """The dtype ``entry`` computes in for input of ``dtype`` (the dtype policy's roles)."""
    if entry.compute == "scaling":  # the input's dtype, at least float32
        return dtype if dtype in ("float32", "float64") else "float32"
    return entry.compute


def call(entry: Entry, arrays, *, warn_ok: bool = True):
    """Call ``entry`` and check that no input was modified; return ``pick(result)``."""
    before = [snapshot(a) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if warn_ok else "error", RuntimeWarning)
        result = entry.pick(entry.call(*arrays))
    for name, a, b in zip(entry.arrays, arrays, before, strict=True):
        if not (isinstance(a, torch.Tensor) and a.is_meta):  # meta tensors hold no values
            assert unchanged(a, b), f"{entry.name} modified its argument {name}"
    return result


def check_kind(entry: Entry, result, first, *, dtype: str | None = None) -> None:
    """A matrix result has the caller's kind and dtype; a metric returns float64 values."""
    if entry.out in ("matrix",):
        assert isinstance(result, type(first)) or (
            isinstance(first, np.ndarray) and isinstance(result, np.ndarray)
        ), f"{entry.name} returned {type(result).__name__} for {type(first).__name__} input"
        assert dtype_name(result) == (dtype or dtype_name(first)), (
            f"{entry.name} returned {dtype_name(result)} for {dtype or dtype_name(first)} input"
        )
        assert tuple(result.shape) == tuple(first.shape)


def expected(entry: Entry, arrays) -> np.ndarray:
    """The float64 answer for the inputs exactly as stored."""
    exact = [as64(a) for a in arrays]
    if entry.reference is not None:
        return np.asarray(entry.reference(*exact), dtype=np.float64)
    kind = "torch" if isinstance(arrays[0], torch.Tensor) else "numpy"
    return values(call(entry, [to_kind(a, "float64", kind) for a in exact]))


def values(result) -> np.ndarray:
    """A result as float64; a pair ``(a, b)`` of metrics stacked on a last axis."""
    if isinstance(result, tuple):
        return np.stack([as64(r) for r in result], axis=-1)
    return as64(result)


def error_of(entry: Entry, result, reference: np.ndarray) -> float:
    """Distance of ``result`` from ``reference`` in the entry's norm (largest slice).

    Matrices: Frobenius norm, relative to ``||ref||_F / sqrt(k)`` (1 for a polar factor) or
    the spectral norm for a spectral bound; everything else: relative to ``max(|ref|, 1)``.
    """
    R = values(result)
    if R.shape != reference.shape:
        raise AssertionError(f"{entry.name}: shape {R.shape}, expected {reference.shape}")
    if not np.isfinite(R).all():
        return float("inf")
    if R.size == 0:
        return 0.0
    if entry.out == "matrix" and R.ndim >= 2:
        D = R - reference
        if entry.norm == "spectral":
            return float(np.linalg.norm(D.reshape(-1, *D.shape[-2:]), 2, axis=(-2, -1)).max())
        k = max(min(R.shape[-2:]), 1)
        scale = np.linalg.norm(reference.reshape(-1, *R.shape[-2:]), axis=(-2, -1)) / np.sqrt(k)
        diff = np.linalg.norm(D.reshape(-1, *R.shape[-2:]), axis=(-2, -1))
        return float((diff / np.maximum(scale, 1.0)).max())
    return float((np.abs(R - reference) / np.maximum(np.abs(reference), 1.0)).max())


def tolerance(entry: Entry, arrays, dtype: str, kappa: float = 2.0) -> float:
    """The suite's rule for ``entry`` on ``arrays`` stored in ``dtype`` (plus its bound)."""
    first = as64(arrays[0])
    k = min(first.shape[-2:]) if first.ndim >= 2 else 1
    out = dtype if entry.out == "matrix" else "float64"
    if entry.sensitivity is not None:
        kappa *= entry.sensitivity(*[as64(a) for a in arrays])
    extra = 0.0
    if entry.bound is not None and first.size:
        extra = entry.bound(first)
    return tol(k, out, compute_of(entry, dtype), kappa) + extra


def assert_correct(entry: Entry, arrays, dtype: str, kappa: float = 2.0):
    """Call, check kind and inputs, and compare with the float64 reference."""
    result = call(entry, arrays)
    check_kind(entry, result, arrays[0])
    reference = expected(entry, arrays)
    err, bound = error_of(entry, result, reference), tolerance(entry, arrays, dtype, kappa)
    assert err <= bound, f"{entry.name} ({dtype}): error {err:.3g} > tolerance {bound:.3g}"
    return result


def raises_naming(entry: Entry, arrays, names, error=(ValueError, TypeError), what=""):
    """The call raises ``error`` with a message naming (one of) the argument(s) ``names``."""
    names = (names,) if isinstance(names, str) else tuple(names)
    with pytest.raises(error) as info:
        call(entry, arrays)
    message = str(info.value)
    assert any(re.search(rf"\b{re.escape(n)}\b", message) for n in names), (
        f"{entry.name}: message does not name {' or '.join(names)}: {message}"
    )
    if what:
        assert re.search(what, message), f"{entry.name}: {message!r} lacks {what!r}"


def range_error(Q: np.ndarray, A: np.ndarray, rank_tol: float = 1e-10) -> float:
    """``||Q V_r - U_r||_2`` over the singular pairs of ``A`` above ``rank_tol sigma_1``.

    Every polar factor of a rank-deficient ``A`` (the partial isometry, or any completion
    of it) maps the right singular vectors of the nonzero singular values to the left
    ones; only the null space is free.
    """
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    keep = s > rank_tol * s[..., :1]
    V = np.swapaxes(Vt, -1, -2)[..., keep]
    return float(np.linalg.norm(Q @ V - U[..., keep], 2))


def singular_values_in_0_1(Q: np.ndarray) -> float:
    """Distance of the singular values of ``Q`` from ``{0, 1}`` (a partial isometry: 0)."""
    s = np.linalg.svd(Q, compute_uv=False)
    return float(np.minimum(np.abs(s), np.abs(s - 1)).max())


def stability_errors(Q: np.ndarray, A: np.ndarray) -> tuple[float, float]:
    """``||Q^T Q - I||_F`` and ``||A - Q H||_F / ||A||_F``, ``H = sym(Q^T A)``.

    Together the backward-stability criterion of a computed polar decomposition
    (Nakatsukasa & Higham, SIAM J. Matrix Anal. Appl. 33, 2012, Sec. 1): independent of
    the condition number for a backward-stable method.
    """
    tall = Q.shape[-2] >= Q.shape[-1]
    Qt = Q if tall else np.swapaxes(Q, -1, -2)
    At = A if tall else np.swapaxes(A, -1, -2)
    k = Qt.shape[-1]
    orth = np.linalg.norm(np.swapaxes(Qt, -1, -2) @ Qt - np.eye(k), axis=(-2, -1)).max()
    H = np.swapaxes(Qt, -1, -2) @ At
    H = (H + np.swapaxes(H, -1, -2)) / 2
    back = np.linalg.norm(At - Qt @ H, axis=(-2, -1)) / np.linalg.norm(At, axis=(-2, -1))
    return float(orth), float(back.max())


def spectral_ceiling(entry: Entry, A: np.ndarray) -> float:
    """Largest singular value an approximate polar factor may have: ``1 + bound``."""
    if entry.bound is None:
        return 1.0
    smax, _ = sval_bounds(A)
    return 1.0 + entry.bound(A / smax)
