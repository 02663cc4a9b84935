"""Hypothesis fuzzing of the catalogue: random shapes, dtypes, kinds, views and scales.

Each example draws an entry, a dtype it claims, numpy or torch, a view, a shape (batch
dimensions included, sizes from 1 to 6), a condition number up to 1e6 and a power-of-two
scale across the dtype's range, and holds the entry to the same contract as the
parametrized tests: inputs unchanged, the caller's kind and dtype back, and the float64
reference (times ``c^degree`` for a scaled input) within the tolerance rule.

Known failures (``contracts.reasons.KNOWN``) are kept out of the draw, not hidden: an
entry with a known ``scale`` failure is drawn at unit scale only, one with a known
``dtype``/``layout`` failure in float64 contiguous only, until the fix lands and its
xfail lines are removed; then the fuzzing covers it too.

Profiles (registered here; ``tests/conftest.py`` loads its own by default):

- ``contracts-ci``: derandomized, 25 examples, no deadline. Used by the default run.
- ``contracts-long``: 2,000 examples, random seed, no deadline. By hand:
  ``POLARLAB_FUZZ_LONG=1 python -m pytest tests/contracts/test_fuzz.py -m fuzz_long``.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .contract import call, check_kind, compute_of, error_of, expected, values
from .entries import ENTRIES
from .inputs import (
    LAYOUTS,
    LOW_PRECISION,
    NUMPY_DTYPES,
    as64,
    matrix,
    sval_bounds,
    to_kind,
    tol,
    view,
)
from .reasons import KNOWN

settings.register_profile(
    "contracts-ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "contracts-long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LONG = bool(os.environ.get("POLARLAB_FUZZ_LONG"))
PROFILE = settings.get_profile("contracts-long" if LONG else "contracts-ci")


def known(test: str, entry: str) -> bool:
    """Some case of ``test`` for ``entry`` is a known failure (kept out of the draw)."""
    return any(p.startswith(f"{test}::{entry}::") or p.startswith(f"{test}::*") for p, _ in KNOWN)


FUZZED = [e for e in ENTRIES if not e.slow]
RANGE = {"float64": (-990, 1000), "float32": (-110, 110), "bfloat16": (-110, 110)}


@st.composite
def examples(draw):
    entry = draw(st.sampled_from(FUZZED))
    plain = known("dtype", entry.name) or known("layout", entry.name)
    dtypes = [d for d in entry.dtypes if d != "float16"] if not plain else ["float64"]
    dtype = draw(st.sampled_from(dtypes))
    kinds = [k for k in entry.kinds if k == "torch" or dtype in NUMPY_DTYPES]
    kind = draw(st.sampled_from(kinds))
    layouts = ["contiguous"] if plain else list(LAYOUTS)
    layout = draw(st.sampled_from(layouts))
    top = 4 if dtype in LOW_PRECISION else 6
    m, n = draw(st.integers(1, top)), draw(st.integers(1, top))
    if kind == "torch" and layout in ("readonly", "negative"):
        layout = "contiguous"
    if layout == "negative" and m == 1 and known("neg1", entry.name):
        layout = "contiguous"
    if entry.tall_only and m < n:
        m, n = n, m
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=1 if dtype in LOW_PRECISION else 2)))
    kappa = 10.0 ** draw(st.floats(0.0, 6.0 if dtype == "float64" else 2.0))
    log2c = 0
    if entry.degree is not None and not known("scale", entry.name):
        log2c = draw(st.integers(*RANGE[dtype]))
    seed = draw(st.integers(0, 2**16))
    return entry, dtype, kind, layout, (*batch, m, n), kappa, log2c, seed


def _inputs(entry, shape, kappa, seed):
    if entry.build is not None:
        return list(entry.build(shape, seed))
    return [matrix(shape, kappa=kappa, seed=seed)]


def check(example):
    entry, dtype, kind, layout, shape, kappa, log2c, seed = example
    base = _inputs(entry, shape, kappa, seed)
    data = base[entry.data] / max(np.abs(base[entry.data]).max(), 1e-300)
    data = as64(to_kind(data, dtype, "torch"))
    c = 2.0**log2c
    arrays = [to_kind(a, dtype, kind) for a in base]
    arrays[entry.data] = to_kind(data * c, dtype, kind)
    if entry.data == 0:
        arrays[0] = view(data * c, dtype, kind, layout)
    unit = [to_kind(as64(a), "float64", kind) for a in arrays]
    unit[entry.data] = to_kind(data, "float64", kind)
    if entry.scale_call is not None and log2c:  # a state would have to scale too: fresh one
        result = entry.scale_call(arrays[entry.data])
        reference = values(entry.scale_call(unit[entry.data]))
    else:
        result = call(entry, arrays)
        reference = expected(entry, unit)
    check_kind(entry, result, arrays[0])
    degree = entry.degree or 0
    k = min(base[0].shape[-2:])
    smax, smin = sval_bounds(data)  # the condition number of what was built
    kappa = smax / max(smin, smax * 1e-16)
    if entry.sensitivity is not None:
        kappa *= entry.sensitivity(*[as64(a) for a in unit])
    bound = tol(k, dtype if entry.out == "matrix" else "float64", compute_of(entry, dtype), kappa)
    if entry.bound is not None:
        bound += entry.bound(data)
    if entry.polar_like and "inexact" in entry.tags and kappa > entry.max_kappa:
        bound = max(bound, 1.0)  # below the schedule's design interval: bounded, not converged
    err = error_of(entry, values(result) / c**degree, reference)
    assert err <= bound, f"{entry.name} {dtype} {kind} {layout} {shape} c=2^{log2c}: {err:.3g}"


@pytest.mark.skipif(LONG, reason="the long profile runs test_fuzz_long")
@settings(PROFILE)
@given(examples())
def test_fuzz_the_catalogue(example):
    check(example)


@pytest.mark.fuzz_long
@pytest.mark.skipif(not LONG, reason="set POLARLAB_FUZZ_LONG=1 (the long profile, by hand)")
@settings(PROFILE)
@given(examples())
def test_fuzz_long(example):
    check(example)


def test_the_power_of_two_range_is_finite():
    """The drawn scales keep ``max |cA|`` finite and normal in each dtype."""
    for dtype, (lo, hi) in RANGE.items():
        info = torch.finfo(getattr(torch, dtype))
        assert 2.0**lo > info.tiny * 1e3 and 2.0**hi < info.max / 1e3, dtype
        assert math.isfinite(2.0**hi)
