"""Shared fixture and helpers for the exact balanced-Stiefel suites (test_manifolds_exact*)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Small dense factorisations run on one thread: two OpenMP threads that cannot both
    get a core on a shared machine spin at barriers and run far slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def t(x):
    """A float64 tensor (the solvers' internal dtype)."""
    return torch.as_tensor(x, dtype=torch.float64)
