"""Shared test configuration.

Hypothesis runs a bounded number of examples without deadlines (timings on shared
2-core machines are noise, not signal).
"""

import os

import torch
from hypothesis import settings

settings.register_profile("polarlab", deadline=None, max_examples=40, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "polarlab"))

# Test matrices are small: one thread avoids OpenMP start-up and contention costs that
# dominate at these sizes (a 4x4 Cholesky measured 28 ms with 2 threads, 0.008 ms with 1).
torch.set_num_threads(1)
