"""The Newton-Schulz engine's step arrangement: fused ``X (aI + bA + cA^2)`` or published
``aX + X (bA + cA^2)`` (Amsel et al., arXiv 2505.16932, Algorithm 1).

Both are the same odd polynomial, so in float64 both follow the exact-arithmetic scalar
map ``sigma -> f_k(sigma / (c ||A||_F + eps))`` to rounding (numpy evaluation of the
schedule's rows, independent of the engine).
"""

import numpy as np
import pytest
import torch

import polarlab
from polarlab import schedules
from polarlab.polar import resolve
from polarlab.polar.polynomial import ARRANGEMENTS

U64 = 2.0**-53


def test_arrangement_is_a_validated_option_of_the_engine():
    assert ARRANGEMENTS == ("fused", "published")
    for method in ("newton_schulz", "polar_express"):
        assert resolve(method).options["arrangement"] == "fused"
        assert resolve(method, arrangement="published").options["arrangement"] == "published"
    with pytest.raises(ValueError, match="unknown arrangement 'paper'; choose one of: fused, "):
        resolve("polar_express", arrangement="paper")
    with pytest.raises(ValueError, match="takes no option"):
        resolve("qdwh", arrangement="published")


@pytest.mark.parametrize("shape", [(40, 12), (12, 40)])
@pytest.mark.parametrize("schedule", ["polar_express", "jordan"])
def test_both_arrangements_follow_the_scalar_map_in_float64(schedule, shape):
    A = polarlab.random_matrix("gaussian", *shape, seed=0, like="numpy")
    table = schedules.get(schedule)
    k = 5
    sigma = np.linalg.svd(A, compute_uv=False)
    predicted = table.apply_scalar(table.normalize_scalar(sigma, np.linalg.norm(A)), k)
    runs = {}
    for arrangement in ARRANGEMENTS:
        X = resolve(
            schedule=schedule,
            method="newton_schulz",
            steps=k,
            dtype="float64",
            arrangement=arrangement,
        )(A)
        runs[arrangement] = X
        # a few O(u) roundings per step, amplified by |p'| <= ~10 per later step on the
        # schedules' range: 1e3 u k bounds the singular-value error (as in the engine's tests)
        np.testing.assert_allclose(
            np.sort(np.linalg.svd(X, compute_uv=False)),
            np.sort(predicted),  # f_k is not monotone: compare as sets
            rtol=0,
            atol=1e3 * U64 * k,
        )
    # and the two iterates agree with each other to the same rounding level
    assert np.linalg.norm(runs["fused"] - runs["published"], 2) < 2e3 * U64 * k


def test_arrangements_round_differently_in_bfloat16():
    # Same polynomial, other rounding: the option reaches the engine.
    A = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    fused = resolve("polar_express", dtype="bfloat16")(A)
    published = resolve("polar_express", dtype="bfloat16", arrangement="published")(A)
    assert not torch.equal(fused, published)
