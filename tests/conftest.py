"""Shared test configuration.

Hypothesis runs a bounded number of examples without deadlines (timings on shared
2-core machines are noise, not signal).
"""

import os

import torch
from hypothesis import settings

settings.register_profile("polarlab", deadline=None, max_examples=40, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "polarlab"))

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
