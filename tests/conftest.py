"""Shared test configuration.

Hypothesis runs a bounded number of examples without deadlines (timings on shared
2-core machines are noise, not signal).
"""

import os

import pytest
import torch
from hypothesis import settings

from polarlab.polar import registry

settings.register_profile("polarlab", deadline=None, max_examples=40, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "polarlab"))

# Test matrices are small: one thread avoids OpenMP start-up and contention costs that
# dominate at these sizes (a 4x4 Cholesky measured 28 ms with 2 threads, 0.008 ms with 1).
torch.set_num_threads(1)


@pytest.fixture
def validations(monkeypatch):
    """Names of the polar methods whose options were validated, one entry per validation.

    Wraps the one place polar options are validated
    (``PolarMethod.resolve_options``), so a test can check that a public call validates
    once and that an optimizer step never does.
    """
    calls = []
    original = registry.PolarMethod.resolve_options

    def counting(self, options):
        calls.append(self.name)
        return original(self, options)

    monkeypatch.setattr(registry.PolarMethod, "resolve_options", counting)
    return calls
