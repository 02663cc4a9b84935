"""Argument checks and small tensor helpers shared by the manifold modules."""

from __future__ import annotations

import math

import torch

from polarlab._arrays import as_work, compute_dtype


def row_sq(X: torch.Tensor) -> torch.Tensor:
    """Squared row norms ``||X_i||^2``, shape (..., m, 1)."""
    return (X * X).sum(dim=-1, keepdim=True)


def scaling_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """Dtype of row scalings and multipliers: the inputs' promoted to at least float32.

    The ``"scaling"`` role of :func:`polarlab._arrays.compute_dtype`.
    """
    dtype = tensors[0].dtype
    for X in tensors[1:]:
        dtype = torch.promote_types(dtype, X.dtype)
    return compute_dtype(None, tensors[0].device, role="scaling", input_dtype=dtype)


def check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_positive(value, name: str) -> None:
    """A finite number > 0."""
    if not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_beta(beta) -> None:
    if not isinstance(beta, (int, float)) or not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be a number in (0, 1], got {beta!r}")


def check_choice(value, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


def check_same_shape(X: torch.Tensor, V: torch.Tensor, names: str = "X and V") -> None:
    if X.shape != V.shape:
        raise ValueError(
            f"{names} must have the same shape; got {tuple(X.shape)} and {tuple(V.shape)}"
        )


def projection_input(G, routine: str, *, name: str = "G", check_finite: bool = True):
    """``as_work`` for a projection: gradients kept (every projection here is a torch
    expression), meta tensors accepted (the caller returns
    :func:`polarlab._arrays.meta_result`). Returns ``(work, kind)``."""
    return as_work(
        G, name=name, check_finite=check_finite, grad="keep", routine=routine, allow_meta=True
    )


def tangent_inputs(X, V, names: tuple[str, str] = ("X", "V"), routine: str | None = None):
    """The point and direction of a tangent map: validated, same shape, one compute dtype.

    Returns ``(Xw, Vw, kind)`` with both work tensors in :func:`scaling_dtype` of the two
    (mixed dtypes promote) and ``kind`` the caller's form of ``V`` (results come back in it).
    Gradients flow through both (the tangent maps are torch expressions); meta tensors
    pass (the caller returns :func:`polarlab._arrays.meta_result`).
    """
    opts = dict(grad="keep", routine=routine, allow_meta=True)
    Xw, _ = as_work(X, name=names[0], **opts)
    Vw, kind = as_work(V, name=names[1], **opts)
    check_same_shape(Xw, Vw, f"{names[0]} and {names[1]}")
    dtype = scaling_dtype(Xw, Vw)
    return Xw.to(dtype), Vw.to(dtype), kind
