"""Shared helpers for the exact balanced-Stiefel suites (test_manifolds_exact*)."""

from __future__ import annotations

import torch


def t(x):
    """A float64 tensor (the solvers' internal dtype)."""
    return torch.as_tensor(x, dtype=torch.float64)
