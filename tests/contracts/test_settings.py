"""The contract of the public routines without array arguments (``SETTINGS_ONLY``).

A setting that merely passes a naive check (a boolean as a number, a number as text, a
non-finite or out-of-range number, an unknown name) raises ``ValueError`` or
``TypeError`` naming the setting; valid settings give valid values (generated matrices
finite in the requested dtype, schedules whose oracle maps 1 near 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import polarlab
from polarlab import schedules

from .reasons import param

# name -> (call with one bad setting, the setting's name as the message must give it)
BAD = {
    "random_matrix": [
        (lambda: polarlab.random_matrix("gaussian", 4, 3, seed=0, batch=2.0), "batch"),
        (lambda: polarlab.random_matrix("gaussian", 4, 3, seed=0, batch=True), "batch"),
        (lambda: polarlab.random_matrix("gaussian", 4, 3, seed="x"), "seed"),
        (lambda: polarlab.random_matrix("gaussian", 4.0, 3, seed=0), "m"),
        (lambda: polarlab.random_matrix("gaussian", True, 3, seed=0), "m"),
        (lambda: polarlab.random_matrix("gaussian", 4, -3, seed=0), "n"),
        (lambda: polarlab.random_matrix("nope", 4, 3, seed=0), "family"),
        (lambda: polarlab.random_matrix("gaussian", 4, 3, seed=0, dtype="int32"), "dtype"),
        (lambda: polarlab.random_matrix("gaussian", 4, 3, seed=0, like="jax"), "like"),
        (lambda: polarlab.random_matrix("logspaced", 4, 3, seed=0, cond=float("nan")), "cond"),
    ],
    "haar_orthogonal": [
        (lambda: polarlab.haar_orthogonal(True, seed=0), "n"),
        (lambda: polarlab.haar_orthogonal(3.0, seed=0), "n"),
        (lambda: polarlab.haar_orthogonal(3, seed=1.5), "seed"),
    ],
    "prescribed_spectrum": [
        (lambda: polarlab.prescribed_spectrum([1.0, float("nan")], 3, 2, seed=0), "s"),
        (lambda: polarlab.prescribed_spectrum([1.0, -1.0], 3, 2, seed=0), "s"),
        (lambda: polarlab.prescribed_spectrum([1.0, 0.5, 0.2], 3, 2, seed=0), "s"),
    ],
    "Schedule": [
        (lambda: polarlab.Schedule("x", ((1.5, -0.5, 0.0),), input_factor=np.inf), "input_factor"),
        (lambda: polarlab.Schedule("x", ((1.5, -0.5, 0.0),), input_factor=True), "input_factor"),
        (lambda: polarlab.Schedule("x", ((1.5, -0.5, 0.0),), eps=-1.0), "eps"),
        (lambda: polarlab.Schedule("x", ((1.5, -0.5, 0.0),), default_steps=True), "default_steps"),
        (lambda: polarlab.Schedule("x", ((1.5, -0.5, np.nan),)), "coefficients"),
        (lambda: polarlab.Schedule("x", ((1.5, -0.5, 0.0),), beyond="loop"), "beyond"),
    ],
    "optimal_cubic": [
        (lambda: polarlab.optimal_cubic(0.0), "lower"),
        (lambda: polarlab.optimal_cubic(float("nan")), "lower"),
        (lambda: polarlab.optimal_cubic(True), "lower"),
        (lambda: polarlab.optimal_cubic("0.1"), "lower"),
        (lambda: polarlab.optimal_cubic(0.5, upper=0.1), "upper"),
    ],
    "optimal_quintic": [
        (lambda: polarlab.optimal_quintic(-1.0), "lower"),
        (lambda: polarlab.optimal_quintic(0.1, upper=float("inf")), "upper"),
    ],
    "optimal_composition": [
        (lambda: polarlab.optimal_composition(1e-3, 2.5), "steps"),
        (lambda: polarlab.optimal_composition(1e-3, True), "steps"),
        (lambda: polarlab.optimal_composition(1e-3, 3, degree=4), "degree"),
        (lambda: polarlab.optimal_composition(1e-3, 3, safety=float("nan")), "safety"),
    ],
    "resolve": [
        (lambda: polarlab.resolve("nope"), "method"),
        (lambda: polarlab.resolve("svd", rank_tol="x"), "rank_tol"),
        (lambda: polarlab.resolve("svd", rank_tol=True), "rank_tol"),
        (lambda: polarlab.resolve("qdwh", lower=True), "lower"),
        (lambda: polarlab.resolve("newton_schulz", steps=2.5), "steps"),
        (lambda: polarlab.resolve("newton_schulz", schedule="nope"), "schedule"),
        (lambda: polarlab.resolve("newton_schulz", dtype="int8"), "dtype"),
        (lambda: polarlab.resolve("newton_schulz", normalization="l3"), "normalization"),
        (lambda: polarlab.resolve("polar_express", bogus=1), "bogus"),
        (lambda: polarlab.resolve("mpmath", digits=True), "digits"),
    ],
    "schedules.get": [(lambda: schedules.get("nope"), "schedule")],
}


def _bad_cases():
    for name, calls in BAD.items():
        for i, (fn, key) in enumerate(calls):
            yield param("setting", name, f"{i}-{key}", fn, key)


@pytest.mark.parametrize(("fn", "key"), list(_bad_cases()))
def test_a_bad_setting_is_an_error_naming_it(fn, key):
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    assert key in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("family", "dtype"),
    [
        param("generated", "random_matrix", f"{f}-{d}", f, d)
        for f in polarlab.families()
        for d in ("float64", "float32", "bfloat16", "float16")
    ],
)
def test_generated_matrices_are_finite_in_the_requested_dtype(family, dtype):
    """Every family draws a finite matrix in every dtype, or refuses naming the dtype."""
    try:
        A = polarlab.random_matrix(family, 6, 4, seed=0, batch=2, dtype=dtype)
    except ValueError as error:
        assert dtype in str(error), str(error)
        return
    assert A.shape == (2, 6, 4) and A.dtype == getattr(torch, dtype)
    assert torch.isfinite(A).all()


def test_names_list_what_the_registries_hold():
    assert polarlab.polar_methods() == sorted(polarlab.polar_methods())
    assert set(schedules.names()) >= {"polar_express", "jordan"}
    assert set(polarlab.families()) >= {"gaussian", "logspaced"}
    for name in schedules.names():  # every preset's oracle is finite on its own interval
        s = schedules.get(name)
        assert np.isfinite(s.apply_scalar(np.linspace(1e-3, 1.0, 11))).all(), name
