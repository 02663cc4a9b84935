r"""One training run of the neuron-death study: optimizer, warm-up, telemetry, checkpoints.

A run trains one model (:mod:`polarlab.studies.neurons_models`) with one optimizer at one
learning rate and seed for a fixed number of steps, and returns plain rows:

* the run's summary (final validation and test loss, dead fractions per ``tau`` from
  :mod:`polarlab.diagnostics`, leverage-dead fractions, low-update quantiles, time);
* per checkpoint: validation loss and the fraction of neurons meeting the gradient and
  update criteria at that checkpoint (``tau`` swept);
* per checkpoint: a histogram of normalised leverage ``l_i m / n`` of the momentum of the
  neuron matrices.

Optimizers (:data:`OPTIMIZERS`): Muon, NorMuon, U-NorMuon, Aurora (polarlab.optim) on
the hidden matrices with AdamW on embeddings, head and norm gains (the recipe of
KellerJordan/Muon; :func:`polarlab.optim.split_params`); ``"adamw"`` is
``torch.optim.AdamW`` on everything (the baseline). Learning rate: linear warm-up over
``warmup`` steps, then linear decay to 10% at the last step (a ``LambdaLR`` multiplier
on every group).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch.nn import functional as F

from polarlab.diagnostics import (
    TAUS,
    RowTelemetry,
    dead_fractions,
    leverage_dead_rows,
    low_fraction_by_checkpoint,
    update_ratio_quantiles,
)
from polarlab.metrics import leverage_scores
from polarlab.optim import Aurora, Muon, NorMuon, UNorMuon, split_params
from polarlab.studies.neurons_models import build_model, mlp_rows

__all__ = ["LEVERAGE_BINS", "OPTIMIZERS", "make_optimizer", "train_run"]

#: Optimizer name -> matrix optimizer class (None: torch.optim.AdamW on everything).
OPTIMIZERS = {
    "muon": Muon,
    "normuon": NorMuon,
    "u_normuon": UNorMuon,
    "aurora": Aurora,
    "adamw": None,
}
#: Bin edges of the normalised leverage l_i m / n (mean 1 for a full-rank tall matrix).
LEVERAGE_BINS = np.concatenate([[0.0], np.geomspace(0.01, 10.0, 16)])
_BETAS = (0.9, 0.95)


def make_optimizer(name: str, model: torch.nn.Module, lr: float, elementwise_lr: float):
    """The optimizer ``name`` for ``model``: matrix lr ``lr``, AdamW lr ``elementwise_lr``
    on embeddings, head and vectors (``"adamw"``: ``lr`` on everything)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    if OPTIMIZERS[name] is None:
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=_BETAS, weight_decay=0.0)
    embeddings = [n for n in ("tok_emb", "pos_emb", "proj") if hasattr(model, n)]
    groups = split_params(
        model, embeddings, ["head"], other_options={"lr": elementwise_lr, "betas": _BETAS}
    )
    return OPTIMIZERS[name](groups, lr=lr)


def _batch(tokens, batch, length, generator, device):
    starts = torch.randint(0, tokens.numel() - length - 1, (batch,), generator=generator)
    seq = torch.stack([tokens[s : s + length + 1] for s in starts.tolist()]).to(device)
    return seq[:, :-1], seq[:, 1:]


def _loss(model, x, y):
    logits = model(x)
    y = y[:, y.shape[1] - logits.shape[1] :]  # the MLP drops the first context - 1
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _evaluate(model, batches) -> float:
    with torch.no_grad():
        return float(torch.stack([_loss(model, x, y) for x, y in batches]).mean())


def _momentum(optimizer, p) -> torch.Tensor:
    state = optimizer.state[p]
    return state["momentum_buffer"] if "momentum_buffer" in state else state["exp_avg"]


def _schedule(step: int, steps: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 1.0 - 0.9 * (step - warmup) / max(1, steps - 1 - warmup)


def train_run(
    corpus,
    *,
    model: str,
    optimizer: str,
    lr: float,
    elementwise_lr: float,
    seed: int,
    size: dict,
    expansion: int,
    device: str = "cpu",
    taus=TAUS,
) -> dict:
    """Train once; returns ``{"summary": dict, "curve": [dict], "leverage": [dict]}``.

    ``size`` holds ``d, layers, heads, context`` (sequence length), ``mlp_context`` (the
    MLP's window), ``batch, steps, warmup, checkpoints`` (the
    number of evenly spaced checkpoints), ``reference`` (the reference step as a fraction
    of ``steps``) and ``eval_batches``.
    """
    steps, warmup = size["steps"], size["warmup"]
    torch.manual_seed(seed)
    net = build_model(
        model,
        d=size["d"],
        layers=size["layers"],
        heads=size["heads"],
        context=size["mlp_context"] if model == "mlp" else size["context"],
        expansion=expansion,
    ).to(device)
    opt = make_optimizer(optimizer, net, lr, elementwise_lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _schedule(s, steps, warmup))
    params = dict(net.named_parameters())
    pairs = mlp_rows(net)
    watched = {n: params[n] for pair in pairs for n in pair if n is not None}
    telemetry = RowTelemetry(opt, watched, capacity=steps)
    data = torch.Generator().manual_seed(seed)
    held_out = torch.Generator().manual_seed(10_000)  # the same batches for every run
    evals = {
        split: [
            _batch(getattr(corpus, split), size["batch"], size["context"], held_out, device)
            for _ in range(size["eval_batches"])
        ]
        for split in ("val", "test")
    }
    checkpoints = sorted(
        {round(steps * (k + 1) / size["checkpoints"]) - 1 for k in range(size["checkpoints"])}
    )
    reference = round(size["reference"] * steps)
    curve, leverage, lev_by_matrix = [], [], {n: [] for n in watched}
    started = time.perf_counter()
    net.train()
    for step in range(steps):
        x, y = _batch(corpus.train, size["batch"], size["context"], data, device)
        loss = _loss(net, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        scheduler.step()
        if step in checkpoints:
            val = _evaluate(net, evals["val"])
            row = {"step": step, "train_loss": float(loss.detach()), "val_loss": val}
            curve.append(row)
            for name, W in watched.items():
                m, n = W.shape
                lev = leverage_scores(_momentum(opt, W).detach().float().cpu())
                lev_by_matrix[name].append(lev)
                counts, _ = np.histogram(lev * m / n, bins=LEVERAGE_BINS)
                leverage.extend(
                    {"step": step, "matrix": name, "bin_lo": float(lo), "count": int(c)}
                    for lo, c in zip(LEVERAGE_BINS[:-1], counts)
                )
    seconds = time.perf_counter() - started
    telemetry.remove()
    history = telemetry.history()
    summary = {
        "val_loss": curve[-1]["val_loss"],
        "test_loss": _evaluate(net, evals["test"]),
        "seconds": seconds,
        "neurons": 0,
    }
    dead = {tau: 0.0 for tau in taus}
    lev_dead = {tau: 0.0 for tau in taus}
    low = np.zeros((len(taus), len(checkpoints)))
    q01, q05 = [], []
    for first, second in pairs:
        h, h2 = history[first], (history[second] if second else None)
        m = h.grad_norm.shape[1]
        summary["neurons"] += m
        for tau, frac in dead_fractions(
            h, checkpoints=checkpoints, reference_step=reference, taus=taus, pair_with=h2
        ).items():
            dead[tau] += frac * m
        for k, tau in enumerate(taus):
            low[k] += m * low_fraction_by_checkpoint(
                h, checkpoints=checkpoints, tau=tau, pair_with=h2
            )
            n = watched[first].shape[1]
            rows_dead = [
                leverage_dead_rows(
                    np.stack(lev_by_matrix[name]),
                    checkpoints=checkpoints,
                    reference_step=reference,
                    tau=tau,
                    n=n,
                )
                for name in (first, second)
                if name
            ]
            lev_dead[tau] += float(np.logical_and.reduce(rows_dead).sum())
        quantiles = update_ratio_quantiles(h, checkpoints=checkpoints, quantiles=(0.01, 0.05))
        q01.append(quantiles[0.01])
        q05.append(quantiles[0.05])
    total = summary["neurons"]
    for tau in taus:
        summary[f"dead_{tau:g}"] = float(dead[tau] / total)
        summary[f"lev_dead_{tau:g}"] = float(lev_dead[tau] / total)
    summary["update_ratio_q01"] = float(np.mean(q01))
    summary["update_ratio_q05"] = float(np.mean(q05))
    summary["diverged"] = not math.isfinite(summary["val_loss"])
    for k, row in enumerate(curve):
        for i, tau in enumerate(taus):
            row[f"low_{tau:g}"] = float(low[i, k] / total)
    return {"summary": summary, "curve": curve, "leverage": leverage}
