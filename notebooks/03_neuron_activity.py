# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Do neurons die under Muon? Update norms per neuron, with Adam, Muon and Aurora
#
# Aurora's authors report that under Muon a large share of MLP neurons in tall up-projections
# become "effectively dead" early in training, permanently (Dewulf et al., arXiv 2606.27715),
# and explain it by a feedback loop: a row with a small momentum norm gets a small leverage
# score, hence a small update. Whether a neuron is *dead* in that sense is a statement about
# its **updates**, not about its ReLU activations: a unit can be active and still never move,
# or inactive on one batch and trained on the next.
#
# This notebook trains the kind of network the PyTorch quick-start tutorial uses, a
# two-hidden-layer ReLU MLP, on scikit-learn's bundled 8x8 digits (nothing is downloaded), with
# Adam, Muon and Aurora, and follows for every hidden neuron (row $i$ of each hidden weight
# matrix) two ratios to the layer mean at checkpoints after a reference step:
#
# - gradient: $\|\nabla W_i\| / \mathrm{mean}_j \|\nabla W_j\|$,
# - update: $\|\Delta W_i\| / \mathrm{mean}_j \|\Delta W_j\|$, with $\Delta W$ the change the
#   optimizer actually applied.
#
# A row is **dead at $\tau$** when both ratios are below $\tau$ at *every* checkpoint after the
# reference step. The threshold is swept, $\tau \in \{0.05, 0.1, 0.25, 0.5\}$, rather than fixed
# (the definition follows the third-party replication "Muon: Steepest Descent on Matrices, and
# Does It Kill Neurons?").

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from polarlab import optim

# The matrices here are small: one thread is faster than several and avoids contention
# on shared CI machines.
torch.set_num_threads(1)
SIZE = os.environ.get("POLARLAB_NOTEBOOK_SIZE", "small")
if SIZE not in ("small", "full"):
    raise ValueError(f"POLARLAB_NOTEBOOK_SIZE must be 'small' or 'full', got {SIZE!r}")
HIDDEN, STEPS, SEEDS = (256, 150, [0]) if SIZE == "small" else (512, 1500, [0, 1, 2])
WARMUP = STEPS // 10
REFERENCE = STEPS // 3
CHECKPOINTS = np.linspace(REFERENCE, STEPS - 1, 5).astype(int).tolist()
TAUS = [0.05, 0.10, 0.25, 0.5]
print(
    f"size={SIZE}: hidden width {HIDDEN}, {STEPS} steps (warm-up {WARMUP}), "
    f"reference step {REFERENCE}, checkpoints {CHECKPOINTS}"
)

digits = load_digits()
X_all = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y_all = torch.tensor(digits.target)
split = torch.randperm(len(X_all), generator=torch.Generator().manual_seed(123))
train, test = split[:1400], split[1400:]

# %% [markdown]
# ## The model and the three optimizers
#
# `Linear(64, H)` is tall (an up-projection with expansion $H/64$), `Linear(H, H)` square,
# and the output head `Linear(H, 10)` is trained with AdamW in every run, as are the biases
# (the usual recipe for matrix optimizers). Muon and Aurora use polarlab's optimizers with
# their default polar step (Polar Express in float32 on the CPU); Aurora balances the rows of
# the tall layer and equals Muon on the square one.


# %%
def make_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, 10),
    )


def make_optimizer(name, model):
    hidden = [model[0].weight, model[2].weight]
    others = [p for p in model.parameters() if all(p is not q for q in hidden)]
    adamw = {"params": others, "algorithm": "adamw", "lr": 1e-3, "weight_decay": 0.0}
    if name == "Adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3)
    if name == "Muon":
        return optim.Muon([{"params": hidden}, adamw], lr=0.02)
    if name == "Aurora":
        return optim.Aurora([{"params": hidden}, adamw], lr=0.02)
    raise ValueError(f"unknown optimizer {name!r}; choose one of: Adam, Muon, Aurora")


# %% [markdown]
# ## Training, with per-row gradient and update norms at the checkpoints


# %%
def train_run(name, seed):
    model = make_model(seed)
    opt = make_optimizer(name, model)
    warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / WARMUP))
    layers = {"up (H x 64)": model[0].weight, "hidden (H x H)": model[2].weight}
    trace = {layer: {"grad": [], "update": []} for layer in layers}
    generator = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(STEPS):
        batch = train[torch.randint(len(train), (128,), generator=generator)]
        opt.zero_grad()
        loss = loss_fn(model(X_all[batch]), y_all[batch])
        loss.backward()
        before = {layer: W.detach().clone() for layer, W in layers.items()}
        opt.step()
        warmup.step()
        if step in CHECKPOINTS:
            for layer, W in layers.items():
                g = W.grad.norm(dim=1)
                u = (W.detach() - before[layer]).norm(dim=1)
                trace[layer]["grad"].append((g / g.mean()).numpy())
                trace[layer]["update"].append((u / u.mean()).numpy())
    with torch.no_grad():
        accuracy = (model(X_all[test]).argmax(1) == y_all[test]).float().mean().item()
        hidden = torch.relu(model[0](X_all[test]))
        never_active = (hidden.amax(0) == 0).float().mean().item()
    return dict(trace=trace, accuracy=accuracy, loss=loss.item(), never_active=never_active)


OPTIMIZERS = ["Adam", "Muon", "Aurora"]
runs = {(name, seed): train_run(name, seed) for name in OPTIMIZERS for seed in SEEDS}
for (name, seed), run in runs.items():
    print(
        f"{name:7} seed {seed}: final batch loss {run['loss']:.3f}, "
        f"test accuracy {run['accuracy']:.3f}, "
        f"up-layer units never active on the test set {run['never_active']:.1%}"
    )

# %% [markdown]
# ## Dead rows at each threshold
#
# Fraction of rows that are below $\tau$ times the layer mean in **both** gradient and update
# norm at **every** checkpoint after the reference step (mean over seeds).


# %%
def dead_fraction(trace, tau):
    grad = np.stack(trace["grad"])  # (checkpoints, rows)
    update = np.stack(trace["update"])
    return float(((grad < tau) & (update < tau)).all(axis=0).mean())


header = "optimizer  layer            " + "  ".join(f"tau={t:<5}" for t in TAUS)
print(header)
for name in OPTIMIZERS:
    for layer in runs[name, SEEDS[0]]["trace"]:
        cells = [
            np.mean([dead_fraction(runs[name, s]["trace"][layer], t) for s in SEEDS]) for t in TAUS
        ]
        print(f"{name:9}  {layer:15}  " + "  ".join(f"{c:9.2%}" for c in cells))

# %% [markdown]
# ## The distribution of update norms
#
# The last checkpoint's per-row update-norm ratio in the tall layer. A heavy low tail is what
# "dying" would look like; Aurora's construction makes every update row of the tall layer
# (nearly) the same norm, so its distribution is concentrated at 1.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for ax, layer in zip(axes, runs[OPTIMIZERS[0], SEEDS[0]]["trace"]):
    bins = np.linspace(0, 3, 61)
    for name in OPTIMIZERS:
        ratios = np.concatenate([runs[name, s]["trace"][layer]["update"][-1] for s in SEEDS])
        ax.hist(ratios, bins=bins, histtype="step", lw=1.5, label=name)
    ax.set_title(f"{layer}: update norm / layer mean")
    ax.set_xlabel("ratio")
axes[0].set_ylabel("rows")
axes[0].legend()
fig.tight_layout()
plt.show()

aurora_up = runs["Aurora", SEEDS[0]]["trace"]["up (H x 64)"]["update"][-1]
muon_up = runs["Muon", SEEDS[0]]["trace"]["up (H x 64)"]["update"][-1]
print(
    f"spread (std) of the tall layer's update-norm ratios: Muon {muon_up.std():.3f}, "
    f"Aurora {aurora_up.std():.3f}"
)

# %% [markdown]
# **What this does and does not show.** At this scale (a few hundred steps on a small MLP) the
# question is whether the mechanism exists: whether Muon's per-row updates in the tall layer
# have a low tail and whether Aurora removes it. The published claim (more than a quarter of MLP
# neurons dead by step 500 in a 340M-parameter model) is about a much larger transformer, and a
# 4M-parameter replication found almost no dead neurons; a small experiment that finds none is
# consistent with both. Rows with exactly zero gradient (ReLU units inactive on the whole batch)
# get zero updates from every optimizer, which is why the ReLU activation count and the update
# count are reported separately.
