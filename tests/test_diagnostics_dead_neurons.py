"""The dead-neuron detector on synthetic histories with a planted set of dead rows."""

from __future__ import annotations

import numpy as np
import pytest

from polarlab.diagnostics import (
    TAUS,
    RowHistory,
    dead_fractions,
    dead_rows,
    effective_norms,
    leverage_dead_rows,
    low_fraction_by_checkpoint,
    relative_to_layer_mean,
    update_ratio_quantiles,
)

STEPS = np.arange(40)
CHECKPOINTS = [9, 19, 29, 39]
M = 20


def _history(grad_scale, update_scale, seed=0) -> RowHistory:
    """Per-step norms: every row ~1 (uniform in [0.9, 1.1]) times a per-row, per-step scale."""
    rng = np.random.default_rng(seed)
    noise = lambda: rng.uniform(0.9, 1.1, size=(STEPS.size, M))  # noqa: E731
    return RowHistory(STEPS, noise() * grad_scale, noise() * update_scale)


def _scale(rows, value, from_step=0):
    s = np.ones((STEPS.size, M))
    s[from_step:, rows] = value
    return s


def test_planted_dead_rows_are_found_exactly():
    # Rows 0-3 at 1% of the others in both gradient and update from step 0: the layer mean is
    # about (16 + 4 * 0.01) / 20 ~ 0.8, so their ratio is ~0.0125 and the live rows' ~1.25.
    dead = [0, 1, 2, 3]
    h = _history(_scale(dead, 0.01), _scale(dead, 0.01))
    found = dead_rows(h, checkpoints=CHECKPOINTS, reference_step=19, tau=0.05)
    assert np.flatnonzero(found).tolist() == dead
    assert dead_fractions(h, checkpoints=CHECKPOINTS, reference_step=19) == {
        t: len(dead) / M for t in TAUS
    }


def test_both_criteria_are_needed():
    # Low gradient but a normal update (e.g. normalised optimizers): not dead; and vice versa.
    rows = [5, 6]
    low_grad = _history(_scale(rows, 0.01), np.ones((STEPS.size, M)))
    low_update = _history(np.ones((STEPS.size, M)), _scale(rows, 0.01))
    for h in (low_grad, low_update):
        assert not dead_rows(h, checkpoints=CHECKPOINTS, reference_step=0, tau=0.25).any()


def test_persistence_after_the_reference_step():
    # Row 7 is low only until step 25 (revives), row 8 dies at step 12 and stays dead.
    g = _scale([7], 0.01) * 1.0
    g[25:, 7] = 1.0
    g[12:, 8] = 0.01
    h = _history(g, g)
    # From reference 19 (checkpoints 19, 29, 39): row 8's window (9, 19] has 3 live steps of 10:
    # effective ~(3 + 7 * 0.01)/10 ~ 0.3 x mean, low at tau 0.5 only; at 29 and 39 it is ~0.01.
    assert np.flatnonzero(dead_rows(h, checkpoints=CHECKPOINTS, reference_step=19, tau=0.5)) \
        .tolist() == [8]  # fmt: skip
    # Row 7 is low at checkpoints 9 and 19 but not at 29 (window (19, 29] mixes, ratio ~0.6) or
    # 39: it is never dead. From reference 29, row 8 is dead at every tau >= 0.05.
    assert dead_rows(h, checkpoints=CHECKPOINTS, reference_step=29, tau=0.05).tolist() == [
        i == 8 for i in range(M)
    ]
    # Before reference 9 row 8 was alive (window [0, 9] is all live): not dead from 9.
    assert not dead_rows(h, checkpoints=CHECKPOINTS, reference_step=9, tau=0.5)[8]
    low = low_fraction_by_checkpoint(h, checkpoints=CHECKPOINTS, tau=0.05)
    assert low.tolist() == [1 / M, 1 / M, 1 / M, 1 / M]  # row 7 at 9 and 19, row 8 at 29, 39


def test_tau_sweep_is_monotone_and_separates_levels():
    # Rows at 0.03, 0.08, 0.2 and 0.4 of a live row: tau 0.05 finds 1, 0.1 finds 2, 0.25 finds 3,
    # 0.5 finds 4 (the layer mean is ~(16 + 0.71)/20 = 0.84, so the ratios are the levels / 0.84,
    # each still below its tau: 0.036, 0.095, 0.24, 0.48). Noise +-10% is kept out of the margins
    # by using the same scale in both criteria and no noise here.
    levels = {0: 0.03, 1: 0.08, 2: 0.2, 3: 0.4}
    s = np.ones((STEPS.size, M))
    for row, level in levels.items():
        s[:, row] = level
    h = RowHistory(STEPS, s, s)
    fractions = dead_fractions(h, checkpoints=CHECKPOINTS, reference_step=0, taus=TAUS)
    assert [round(f * M) for f in fractions.values()] == [1, 2, 3, 4]


def test_gate_up_pairing():
    # Gate rows 0-5 dead, up rows 3-8 dead: the dead pairs are rows 3-5 only.
    gate = _history(_scale(range(6), 0.01), _scale(range(6), 0.01), seed=1)
    up = _history(_scale(range(3, 9), 0.01), _scale(range(3, 9), 0.01), seed=2)
    pairs = dead_rows(gate, checkpoints=CHECKPOINTS, reference_step=0, tau=0.1, pair_with=up)
    assert np.flatnonzero(pairs).tolist() == [3, 4, 5]
    alone = dead_rows(gate, checkpoints=CHECKPOINTS, reference_step=0, tau=0.1)
    assert np.flatnonzero(alone).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="same shape"):
        short = RowHistory(STEPS, np.ones((40, 3)), np.ones((40, 3)))
        dead_rows(gate, checkpoints=CHECKPOINTS, reference_step=0, tau=0.1, pair_with=short)


def test_effective_norms_are_window_means():
    norms = np.arange(40, dtype=float)[:, None] * np.ones((1, 2))
    eff = effective_norms(STEPS, norms, CHECKPOINTS)
    np.testing.assert_array_equal(eff[:, 0], [4.5, 14.5, 24.5, 34.5])  # means of 0..9, 10..19
    with pytest.raises(ValueError, match="increasing"):
        effective_norms(STEPS, norms, [19, 9])
    with pytest.raises(ValueError, match="outside the recorded steps"):
        effective_norms(STEPS, norms, [9, 49])


def test_relative_to_layer_mean_and_zero_layer():
    np.testing.assert_array_equal(relative_to_layer_mean([[2.0, 6.0]]), [[0.5, 1.5]])
    h = RowHistory(STEPS, np.zeros((40, M)), np.zeros((40, M)))  # a layer that never moved
    assert dead_rows(h, checkpoints=CHECKPOINTS, reference_step=0, tau=0.05).all()


def test_reference_after_the_last_checkpoint_is_an_error():
    h = _history(np.ones((40, M)), np.ones((40, M)))
    with pytest.raises(ValueError, match="no checkpoint at or after the reference step 50"):
        dead_rows(h, checkpoints=CHECKPOINTS, reference_step=50, tau=0.1)


def test_leverage_version():
    # m = 8 rows, n = 2: mean leverage n/m = 0.25; rows 0 and 1 at 0.01 at both checkpoints
    # after the reference, row 2 low only at the last one.
    n, m = 2, 8
    lev = np.full((3, m), n / m)
    lev[1:, :2] = 0.01
    lev[2, 2] = 0.01
    dead = leverage_dead_rows(lev, checkpoints=[10, 20, 30], reference_step=20, tau=0.1, n=n)
    assert np.flatnonzero(dead).tolist() == [0, 1]
    dead_all = leverage_dead_rows(lev, checkpoints=[10, 20, 30], reference_step=30, tau=0.1, n=n)
    assert np.flatnonzero(dead_all).tolist() == [0, 1, 2]


def test_update_ratio_quantiles():
    s = np.ones((STEPS.size, M))
    s[:, 0] = 0.0  # one row in twenty never moves; the others sit at 20/19 of the layer mean
    h = RowHistory(STEPS, s, s)
    q = update_ratio_quantiles(h, checkpoints=CHECKPOINTS, quantiles=(0.01, 0.5))
    # np.quantile interpolates linearly between the zero row and the next (20/19) at 0.19
    assert q[0.01] == pytest.approx(0.19 * 20 / 19, abs=1e-12)
    assert q[0.5] == pytest.approx(20 / 19)
