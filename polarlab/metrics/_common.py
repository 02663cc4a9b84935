"""Shared helpers of the metrics: float64 work tensors, host results, the reference factor.

Every metric casts its inputs *up* to float64 through the one array adapter
(``polarlab._arrays``) and hands its result back as a Python float or a numpy
float64 array (the return rule of :mod:`polarlab.metrics`). The exact reference
``Q = polar(A)`` is the float64 SVD polar factor unless the caller passes one.
"""

from __future__ import annotations

import torch

from polarlab._arrays import ArrayKind, as_work, to_caller
from polarlab.polar import polar

# Results leave as numpy float64 on the host, whatever came in (see polarlab.metrics).
_HOST_FLOAT64 = ArrayKind(is_numpy=True, dtype=torch.float64, device=torch.device("cpu"))


def _work64(A, name: str, *, empty_ok: bool = False) -> torch.Tensor:
    """``A`` validated and cast up to float64 (a new tensor unless already float64).

    A matrix with an empty dimension (``0 x n`` or ``m x 0``) has no singular values,
    no rows to compare and no polar factor to measure against: every scalar metric
    is undefined there and raises ``ValueError`` (the degenerate-input rule of
    :mod:`polarlab.metrics`). Per-row quantities pass ``empty_ok=True``. An empty
    *batch* of non-empty matrices is fine everywhere (an empty result).
    """
    work, _ = as_work(A, name=name)
    if not empty_ok and 0 in work.shape[-2:]:
        raise ValueError(
            f"{name} has shape {tuple(work.shape)}: a matrix with an empty dimension has no "
            "singular values or rows to measure, so this metric is undefined for it "
            "(row_norms and leverage_scores accept it)"
        )
    return work.to(torch.float64)  # never written to


def _scalar(values: torch.Tensor):
    """Python float for an unbatched metric, numpy float64 array of the batch shape otherwise."""
    out = to_caller(values, _HOST_FLOAT64)
    return float(out) if out.ndim == 0 else out


def _vector(values: torch.Tensor):
    return to_caller(values, _HOST_FLOAT64)


def _pair(X, A, x_name: str, a_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Both inputs in float64 on X's device; equal (m, n), broadcastable batch dims."""
    X64, A64 = _work64(X, x_name), _work64(A, a_name)
    if X64.shape[-2:] != A64.shape[-2:]:
        raise ValueError(
            f"{x_name} and {a_name} must have the same matrix shape (m, n); got "
            f"{tuple(X64.shape)} and {tuple(A64.shape)}"
        )
    try:
        torch.broadcast_shapes(X64.shape[:-2], A64.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch dimensions of {x_name} {tuple(X64.shape[:-2])} and {a_name} "
            f"{tuple(A64.shape[:-2])} do not broadcast"
        ) from None
    return X64, A64.to(X64.device)


def _reference(A64: torch.Tensor, reference) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q, r)``: the float64 polar factor of ``A`` and its rank per slice.

    For a partial isometry ``||Q||_F^2 = r`` exactly, so the rank is read off the
    reference itself; that also holds for a reference the caller computed elsewhere.
    """
    if reference is None:
        # A64 was validated finite already; rank-0 slices are reported by the metrics.
        Q = polar(A64, method="svd", check_finite=False)
    else:
        Q = _work64(reference, "reference").to(A64.device)
        if Q.shape[-2:] != A64.shape[-2:]:
            raise ValueError(
                f"reference must have the matrix shape of A {tuple(A64.shape[-2:])}; got "
                f"{tuple(Q.shape)}"
            )
    r = torch.round(Q.square().sum(dim=(-2, -1)))
    return Q, r


def _require_positive(values: torch.Tensor, what: str, metric: str) -> None:
    bad = values <= 0
    if bool(bad.any()):
        raise ValueError(
            f"{metric} is undefined for {int(bad.sum())} of {bad.numel()} slice(s) with "
            f"{what} = 0; pass matrices of rank >= 1"
        )
