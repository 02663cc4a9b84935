r"""Dead-neuron detection from per-row gradient and update histories.

Definition (the third-party replication "Muon: Steepest Descent on Matrices, and Does
It Kill Neurons?", which gives the structure the Aurora blog's death claim is tested
with). Row ``i`` of a tall up or gate projection ``W`` (shape ``(m, n)``, ``m = e n``)
is **dead at tau** when, at **every** checkpoint ``c >= reference_step`` (persistence),

1. low effective gradient: ``g_i(c) / mean_j g_j(c) < tau``, and
2. low effective update: ``u_i(c) / mean_j u_j(c) < tau``,

where ``g_i(c)`` and ``u_i(c)`` are the *effective* norms at checkpoint ``c``: the mean
of the per-step row norms ``||G_i||`` and ``||W_i(t+1) - W_i(t)||`` (the applied
change) over the recorded steps in the window ``(previous checkpoint, c]`` (the first
window starts at step 0). Averaging over the window keeps one noisy step from making a
row look alive or dead. For SwiGLU (``W_down (silu(W_gate x) * W_up x)``) neuron ``i``
is a *dead pair* when row ``i`` of ``W_gate`` **and** row ``i`` of ``W_up`` are both
dead (``pair_with=``).

The threshold is swept (:data:`TAUS`, multiples of the layer mean), never fixed. The
**leverage version** calls row ``i`` dead at tau when ``l_i(M_c) < tau n/m`` at every
checkpoint after the reference step, ``l_i = ||polar(M)_i||^2`` the leverage of the
momentum (mean ``n/m`` for a full-rank tall ``M``).

A ratio to a layer mean of zero (every row exactly zero) counts as 0 (low).
All functions are pure, on numpy float64 arrays; histories come from
:class:`polarlab.diagnostics.RowTelemetry`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polarlab.diagnostics.telemetry import RowHistory

__all__ = [
    "TAUS",
    "dead_fractions",
    "dead_rows",
    "effective_norms",
    "leverage_dead_rows",
    "low_fraction_by_checkpoint",
    "relative_to_layer_mean",
    "update_ratio_quantiles",
]

#: The threshold sweep, as multiples of the layer mean (the replication's values).
TAUS: tuple[float, ...] = (0.05, 0.10, 0.25, 0.5)


def _checkpoints(steps: np.ndarray, checkpoints: Sequence[int]) -> np.ndarray:
    c = np.asarray(checkpoints, dtype=np.int64)
    if c.ndim != 1 or c.size == 0 or np.any(np.diff(c) <= 0):
        raise ValueError(f"checkpoints must be a non-empty increasing list, got {list(c)}")
    if steps.size == 0 or c[0] < steps[0] or c[-1] > steps[-1]:
        span = f"{steps[0]}..{steps[-1]}" if steps.size else "none"
        raise ValueError(f"checkpoints {list(c)} outside the recorded steps ({span})")
    return c


def effective_norms(steps, norms, checkpoints) -> np.ndarray:
    """Window means of per-step row norms: ``(C, m)`` from ``norms`` ``(T, m)``.

    Row ``k`` of the result is the mean of ``norms[t]`` over the recorded ``steps[t]`` in
    ``(checkpoints[k-1], checkpoints[k]]`` (``[steps[0], checkpoints[0]]`` for ``k = 0``).

    >>> effective_norms([0, 1, 2, 3], [[1.0], [3.0], [5.0], [7.0]], [1, 3]).tolist()
    [[2.0], [6.0]]
    """
    steps = np.asarray(steps, dtype=np.int64)
    norms = np.asarray(norms, dtype=np.float64)
    c = _checkpoints(steps, checkpoints)
    lower = np.concatenate([[steps[0] - 1], c[:-1]])
    out = np.empty((c.size, norms.shape[1]))
    for k, (lo, hi) in enumerate(zip(lower, c)):
        window = (steps > lo) & (steps <= hi)
        if not window.any():
            raise ValueError(f"no recorded step in the window ({lo}, {hi}]")
        out[k] = norms[window].mean(axis=0)
    return out


def relative_to_layer_mean(norms) -> np.ndarray:
    """``norms / mean over rows`` per checkpoint (rows on the last axis); 0 where the mean is 0.

    >>> relative_to_layer_mean([[1.0, 3.0], [0.0, 0.0]]).tolist()
    [[0.5, 1.5], [0.0, 0.0]]
    """
    norms = np.asarray(norms, dtype=np.float64)
    mean = norms.mean(axis=-1, keepdims=True)
    return np.divide(norms, mean, out=np.zeros_like(norms), where=mean > 0)


def _low(history: RowHistory, checkpoints, tau: float) -> np.ndarray:
    """Criteria 1 and 2 at each checkpoint: bool ``(C, m)``."""
    grad = effective_norms(history.steps, history.grad_norm, checkpoints)
    update = effective_norms(history.steps, history.update_norm, checkpoints)
    return (relative_to_layer_mean(grad) < tau) & (relative_to_layer_mean(update) < tau)


def _check_pair(history: RowHistory, pair_with: RowHistory | None) -> None:
    if pair_with is not None and pair_with.grad_norm.shape != history.grad_norm.shape:
        raise ValueError(
            "gate and up histories must have the same shape (steps, rows), got "
            f"{history.grad_norm.shape} and {pair_with.grad_norm.shape}"
        )


def _after(checkpoints, reference_step: int) -> np.ndarray:
    c = np.asarray(checkpoints, dtype=np.int64)
    keep = c >= reference_step
    if not keep.any():
        raise ValueError(f"no checkpoint at or after the reference step {reference_step}")
    return keep


def dead_rows(
    history: RowHistory,
    *,
    checkpoints: Sequence[int],
    reference_step: int,
    tau: float,
    pair_with: RowHistory | None = None,
) -> np.ndarray:
    """Dead rows at ``tau``: bool ``(m,)``, criteria 1 and 2 at every checkpoint >= reference.

    ``pair_with`` (the up projection's history when ``history`` is the gate's) makes row
    ``i`` dead only if both rows ``i`` are: the SwiGLU dead pair.
    """
    _check_pair(history, pair_with)
    keep = _after(checkpoints, reference_step)
    low = _low(history, checkpoints, tau)
    if pair_with is not None:
        low &= _low(pair_with, checkpoints, tau)
    return low[keep].all(axis=0)


def dead_fractions(
    history: RowHistory,
    *,
    checkpoints: Sequence[int],
    reference_step: int,
    taus: Sequence[float] = TAUS,
    pair_with: RowHistory | None = None,
) -> dict[float, float]:
    """``{tau: fraction of dead rows (or pairs)}`` over the threshold sweep."""
    return {
        float(tau): float(
            dead_rows(
                history,
                checkpoints=checkpoints,
                reference_step=reference_step,
                tau=tau,
                pair_with=pair_with,
            ).mean()
        )
        for tau in taus
    }


def low_fraction_by_checkpoint(
    history: RowHistory,
    *,
    checkpoints: Sequence[int],
    tau: float,
    pair_with: RowHistory | None = None,
) -> np.ndarray:
    """Fraction of rows (pairs) meeting criteria 1 and 2 at each checkpoint, ``(C,)``,
    without persistence: the dead fraction against the step."""
    _check_pair(history, pair_with)
    low = _low(history, checkpoints, tau)
    if pair_with is not None:
        low &= _low(pair_with, checkpoints, tau)
    return low.mean(axis=1)


def leverage_dead_rows(
    leverages, *, checkpoints: Sequence[int], reference_step: int, tau: float, n: int
) -> np.ndarray:
    """Rows with ``l_i < tau n/m`` at every checkpoint >= reference: bool ``(m,)``.

    ``leverages`` is ``(C, m)``, one row per checkpoint (e.g.
    :func:`polarlab.metrics.leverage_scores` of the momentum), ``n`` the input width.

    >>> leverage_dead_rows([[0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.0, 1.0]],
    ...                    checkpoints=[10, 20], reference_step=10, tau=0.25, n=2).tolist()
    [True, False, False, False]
    """
    lev = np.asarray(leverages, dtype=np.float64)
    keep = _after(checkpoints, reference_step)
    if lev.ndim != 2 or lev.shape[0] != keep.size:
        raise ValueError(f"leverages must be (checkpoints, rows), got shape {lev.shape}")
    m = lev.shape[1]
    return (lev[keep] < tau * n / m).all(axis=0)


def update_ratio_quantiles(
    history: RowHistory, *, checkpoints: Sequence[int], quantiles=(0.01, 0.05, 0.25, 0.5)
) -> dict[float, float]:
    """Quantiles of ``u_i / mean_j u_j`` at the last checkpoint (the low-update tail)."""
    update = effective_norms(history.steps, history.update_norm, checkpoints)
    ratio = relative_to_layer_mean(update[-1])
    return {float(q): float(np.quantile(ratio, q)) for q in quantiles}
