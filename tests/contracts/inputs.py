"""Seeded test matrices, array kinds and views, and the tolerance rule of the contract suite.

Matrices are built here with numpy alone (``U diag(s) V^T`` with Haar ``U``, ``V``), not
with ``polarlab.matrices``, so the suite tests polarlab against numpy and the theory.

Tolerance rule (one place). A result computed in a dtype with unit roundoff ``u_c`` from
an input of condition number ``kappa`` and returned in a dtype with unit roundoff
``u_out`` is within

    tol = C_OUT * sqrt(k) * u_out + C_WORK * k * u_c * kappa

of the exact answer (``k = min(m, n)``): the first term is the final rounding of a
``k``-column result, the second the backward-stable computation amplified by the
condition number (Higham, *Accuracy and Stability of Numerical Algorithms*, 2002, Ch. 19
for orthogonal factorizations; *Functions of Matrices*, 2008, Ch. 8 for the polar factor).
``C_OUT = 4`` and ``C_WORK = 64`` are the constants; a wrong answer (a factor of zeros, a
NaN, an unnormalised row) is O(1) away and fails by orders of magnitude.
"""

from __future__ import annotations

import math

import numpy as np
import torch

C_OUT = 4.0
C_WORK = 64.0

#: Unit roundoff of each dtype by name (half the machine epsilon).
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "bfloat16": 2.0**-8, "float16": 2.0**-11}
TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
#: bfloat16 and float16 matmuls are slow on CPU: low precision is tested on small shapes only.
LOW_PRECISION = frozenset({"bfloat16", "float16"})
NUMPY_DTYPES = frozenset({"float64", "float32", "float16"})  # numpy has no bfloat16


def tol(k: int, out_dtype: str, compute_dtype: str = "float64", kappa: float = 1.0) -> float:
    """The suite's tolerance rule (module docstring) for a ``k``-column result."""
    k = max(k, 1)
    return C_OUT * math.sqrt(k) * UNIT_ROUNDOFF[out_dtype] + (
        C_WORK * k * UNIT_ROUNDOFF[compute_dtype] * kappa
    )


def haar(rng: np.random.Generator, n: int) -> np.ndarray:
    """Haar orthogonal ``n x n`` (QR of a Gaussian, signs from ``diag(R)``)."""
    if n == 0:
        return np.zeros((0, 0))
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def spectrum(k: int, kappa: float, rank: int | None = None) -> np.ndarray:
    """``k`` singular values log-spaced from 1 to ``1 / kappa``; zeros past ``rank``."""
    s = np.logspace(0.0, -math.log10(kappa), k) if k else np.zeros(0)
    if rank is not None:
        s[rank:] = 0.0
    return s


def matrix(shape, *, kappa: float = 2.0, rank: int | None = None, seed: int = 0) -> np.ndarray:
    """Float64 ``(..., m, n)`` with every slice ``U diag(s) V^T``, ``s = spectrum(...)``."""
    *batch, m, n = shape
    rng = np.random.default_rng(seed)
    out = np.zeros((*batch, m, n))
    k = min(m, n)
    for index in np.ndindex(*batch):
        U = haar(rng, m)[:, :k]
        V = haar(rng, n)[:, :k]
        out[index] = (U * spectrum(k, kappa, rank)) @ V.T
    return out


def gaussian(shape, *, seed: int = 0) -> np.ndarray:
    """Float64 standard normal entries."""
    return np.random.default_rng(seed).standard_normal(shape)


def to_kind(A64: np.ndarray, dtype: str, kind: str):
    """``A64`` rounded to ``dtype`` as a numpy array (``kind="numpy"``) or torch tensor."""
    if kind == "numpy":
        assert dtype in NUMPY_DTYPES, dtype
        return np.ascontiguousarray(A64).astype(dtype)
    return torch.from_numpy(np.ascontiguousarray(A64)).to(TORCH_DTYPES[dtype])


def view(A64: np.ndarray, dtype: str, kind: str, layout: str):
    """``A64`` in ``dtype`` and ``kind``, as a view of the given layout.

    ``"contiguous"``; ``"transposed"`` (the transpose of a contiguous ``n x m`` array);
    ``"sliced"`` (every other column of a wider array); ``"readonly"`` (numpy:
    ``writeable=False``; torch has no read-only tensors, so a plain tensor);
    ``"negative"`` (numpy: rows read with a negative stride, the array is then ``A64``
    with its rows reversed, reversed once more so the values equal ``A64``).
    """
    if layout == "contiguous":
        return to_kind(A64, dtype, kind)
    if layout == "transposed":
        T = to_kind(np.swapaxes(A64, -1, -2), dtype, kind)
        return np.swapaxes(T, -1, -2) if kind == "numpy" else T.mT
    if layout == "sliced":
        wide = np.repeat(A64, 2, axis=-1)
        wide[..., 1::2] = 7.0  # the skipped columns would be visible in a wrong answer
        W = to_kind(wide, dtype, kind)
        return W[..., ::2]
    if layout == "readonly":
        A = to_kind(A64, dtype, kind)
        if kind == "numpy":
            A.setflags(write=False)
        return A
    if layout == "negative":
        R = to_kind(A64[..., ::-1, :], dtype, kind)
        return R[..., ::-1, :] if kind == "numpy" else R.flip(-2)
    raise ValueError(layout)


LAYOUTS = ("contiguous", "transposed", "sliced", "readonly", "negative")


def as64(X) -> np.ndarray:
    """Any result (numpy, torch, float) as a float64 numpy array."""
    if isinstance(X, torch.Tensor):
        return X.detach().to(torch.float64).cpu().numpy()
    return np.asarray(X, dtype=np.float64)


def dtype_name(X) -> str:
    """The dtype of a numpy array or torch tensor, by name."""
    if isinstance(X, torch.Tensor):
        return str(X.dtype).removeprefix("torch.")
    return str(X.dtype)


def snapshot(X):
    """A copy to compare against after a call (inputs are never modified)."""
    if isinstance(X, torch.Tensor):
        return X.detach().clone()
    return np.array(X, copy=True)


def unchanged(X, before) -> bool:
    """``X`` holds exactly the values of ``before`` (NaN equal to NaN)."""
    if isinstance(X, torch.Tensor):
        return bool(torch.equal(torch.nan_to_num(X.detach()), torch.nan_to_num(before)))
    return bool(np.array_equal(X, before, equal_nan=True))


def polar64(A: np.ndarray) -> np.ndarray:
    """Float64 polar factor ``U V^T`` from numpy's SVD (the reference), any batch."""
    U, _, Vt = np.linalg.svd(A, full_matrices=False)
    return U @ Vt


def sval_bounds(A: np.ndarray) -> tuple[float, float]:
    """Largest and smallest singular value over all slices of ``A``."""
    s = np.linalg.svd(A, compute_uv=False)
    return float(s.max()), float(s.min())
