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
# # Aurora's row uniformity on synthetic and real gradients
#
# For a tall gradient $G$ ($m > n$) the rows of the polar factor have squared norms
# $\ell_i$ (leverage scores) that average $n/m$ but can be very unequal. Aurora
# (Dewulf et al., arXiv 2606.27715) replaces $\mathrm{polar}(G)$ by $\mathrm{polar}(DG)$ with a
# positive diagonal $D$ chosen so that every row has squared norm $n/m$, keeping the result
# semi-orthogonal. This notebook measures
#
# 1. how non-uniform the rows of $\mathrm{polar}(G)$ are as the aspect ratio and the row
#    heterogeneity of $G$ grow, and how uniform Aurora makes them;
# 2. how fast the uniformity improves with Aurora's iteration count;
# 3. the same on real gradients: the first-layer weight gradients of a small network trained
#    here on scikit-learn's bundled digits data (nothing is downloaded).
#
# The figure of merit is the row-norm ratio $\rho(U) = \max_i\|U_i\| / \min_i\|U_i\|$
# (1 is perfectly uniform).

# %%
import itertools
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

import polarlab

# The matrices here are small: one thread is faster than several and avoids contention
# on shared CI machines.
torch.set_num_threads(1)
SIZE = os.environ.get("POLARLAB_NOTEBOOK_SIZE", "small")
if SIZE not in ("small", "full"):
    raise ValueError(f"POLARLAB_NOTEBOOK_SIZE must be 'small' or 'full', got {SIZE!r}")
N_COLS, HIDDEN, EPOCHS = (16, 256, 3) if SIZE == "small" else (64, 1024, 20)
torch.manual_seed(0)

# %% [markdown]
# ## 1. Anisotropy of polar rows, and Aurora's fix
#
# $G = \mathrm{diag}(d)Z$ with Gaussian $Z$ and lognormal row scales $d_i = e^{s g_i}$; $s = 0$
# is an isotropic Gaussian. Aurora runs with its released defaults (two iterations,
# damping $\beta = 1/2$) on the exact polar factor.

# %%
aspects = [1, 2, 4, 8]
spreads = [0.0, 0.5, 1.0, 2.0]
ratio_polar = np.zeros((len(spreads), len(aspects)))
ratio_aurora = np.zeros_like(ratio_polar)
for i, s in enumerate(spreads):
    for j, e in enumerate(aspects):
        G = polarlab.random_matrix("row_lognormal", e * N_COLS, N_COLS, seed=1, sigma=s)
        ratio_polar[i, j] = polarlab.row_norm_ratio(polarlab.project_stiefel(G))
        ratio_aurora[i, j] = polarlab.row_norm_ratio(polarlab.project_balanced_stiefel(G))

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for ax, ratios, title in zip(axes, (ratio_polar, ratio_aurora), ("polar(G)", "Aurora, K = 2")):
    for i, s in enumerate(spreads):
        ax.semilogy(aspects, ratios[i], "o-", label=f"row spread s = {s}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("aspect ratio m / n")
    ax.set_title(title)
axes[0].set_ylabel("row-norm ratio max/min")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# On square matrices ($m/n = 1$) every row of a polar factor has norm 1, and Aurora returns
# exactly the polar factor. For tall matrices the polar factor's row-norm ratio grows with the
# aspect ratio and with the spread of the gradient's rows, while Aurora's stays near 1.
# The checks below make the notebook fail if that stops being true.

# %%
assert np.allclose(ratio_polar[:, 0], 1.0) and np.allclose(ratio_aurora[:, 0], 1.0)
assert np.all(ratio_aurora[:, 1:] < ratio_polar[:, 1:])
assert np.all(np.diff(ratio_polar[:, -1]) > 0)  # more row spread -> less uniform polar rows
print("max Aurora ratio over the tall cases:", ratio_aurora[:, 1:].max().round(4))

# %% [markdown]
# ## 2. Uniformity against the number of Aurora iterations
#
# Each iteration costs one polar factor. The deviation $\max_i |\,\|U_i\|^2/(n/m) - 1|$
# shrinks by a roughly constant factor per iteration, and the output stays semi-orthogonal to
# the accuracy of the polar method (here the float64 SVD).

# %%
G = polarlab.random_matrix("row_lognormal", 8 * N_COLS, N_COLS, seed=2, sigma=1.0)
iters = list(range(1, 7))
deviation, defect = [], []
for K in iters:
    U = polarlab.project_balanced_stiefel(G, iters=K)
    deviation.append(polarlab.row_norm_deviation(U))
    defect.append(polarlab.orthogonality_defect(U))
print("K   row deviation   orthogonality defect")
for K, dv, df in zip(iters, deviation, defect):
    print(f"{K}   {dv:13.3e}   {df:20.3e}")
assert max(defect) < 1e-12
assert all(b < a for a, b in itertools.pairwise(deviation))

fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.semilogy(iters, deviation, "o-")
ax.set_xlabel("Aurora iterations K")
ax.set_ylabel("max row deviation")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Real gradients: a small network on the digits data
#
# A one-hidden-layer ReLU network $64 \to$ `HIDDEN` $\to 10$ trained with Adam on
# scikit-learn's bundled 8x8 digits. Its first weight matrix is `(HIDDEN, 64)`: tall, like
# an MLP up-projection. We keep its gradient at a few points during training.

# %%
digits = load_digits()
X_all = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y_all = torch.tensor(digits.target)
model = torch.nn.Sequential(
    torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
generator = torch.Generator().manual_seed(0)
batches_per_epoch = -(-len(X_all) // 128)
total = EPOCHS * batches_per_epoch
keep = {0, total // 2, total - 1}
gradients = {}
step = 0
for _epoch in range(EPOCHS):
    for batch in torch.randperm(len(X_all), generator=generator).split(128):
        opt.zero_grad()
        loss = loss_fn(model(X_all[batch]), y_all[batch])
        loss.backward()
        if step in keep:
            gradients[step] = model[0].weight.grad.detach().double().clone()
        opt.step()
        step += 1
print(
    f"{step} steps, final batch loss {loss.item():.3f}; kept gradients at steps", sorted(gradients)
)

# %% [markdown]
# Two features of real gradients matter here. Some pixels of the digits are zero in every
# image, so the gradient has zero columns and rank $r < 64$; and ReLU units inactive on a whole
# batch have exactly zero gradient rows. The squared row norms of a rank-$r$ polar factor sum to
# $r$, so on the $m'$ live rows the uniform target is $r/m'$ rather than $n/m$; zero rows stay
# zero under every diagonal preconditioner (Aurora cannot revive a row whose gradient is
# identically zero). The statistics below are over the live rows, relative to $r/m'$.


# %%
def live_row_stats(G, U):
    """(ratio max/min, squared norms / target) over the rows where G is non-zero."""
    live = polarlab.row_norms(G) > 0
    rank = int(np.linalg.matrix_rank(G.numpy()))
    sq = polarlab.row_norms(U)[live] ** 2 / (rank / int(live.sum()))
    return float(np.sqrt(sq.max() / sq.min())), sq, rank, int(live.sum())


print("step  rank  live rows   rho(polar)  rho(Aurora K=2)  rho(Aurora K=5)  align(Aurora K=2)")
for s, Gr in sorted(gradients.items()):
    rho_p, sq_polar, rank, live = live_row_stats(Gr, polarlab.project_stiefel(Gr))
    U2 = polarlab.project_balanced_stiefel(Gr, iters=2)
    rho_2, sq_aurora, _, _ = live_row_stats(Gr, U2)
    rho_5, _, _, _ = live_row_stats(Gr, polarlab.project_balanced_stiefel(Gr, iters=5))
    print(
        f"{s:4d}  {rank:4d}  {live:9d}   {rho_p:10.3f}  {rho_2:15.3f}  {rho_5:15.3f}"
        f"  {polarlab.alignment(Gr, U2):17.4f}"
    )
    assert rho_5 <= rho_2 < rho_p

fig, ax = plt.subplots(figsize=(5.5, 3.2))
bins = np.linspace(0, max(2.5, float(sq_polar.max())), 40)
ax.hist(sq_polar, bins=bins, alpha=0.6, label="polar(G)")
ax.hist(sq_aurora, bins=bins, alpha=0.6, label="Aurora, K = 2")
ax.set_xlabel("squared row norm / (r / live rows)")
ax.set_ylabel("rows")
ax.set_title(f"first-layer gradient at step {max(gradients)}")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# On these gradients, as on the synthetic ones, the polar factor's live rows are far from
# uniform and Aurora brings them close to the target, more so with more iterations. The
# alignment $\langle G, U\rangle / (\|G\|_*\|U\|_2)$ is 1 for the polar factor by definition;
# Aurora's shows what the row constraint costs on these gradients.
