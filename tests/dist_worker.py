"""One rank of the multi-process optimizer tests (tests/test_distributed.py), and the model.

Run as ``python dist_worker.py RANK WORLD FOLDER``: joins a gloo process group
through a file store in ``FOLDER`` (no TCP port to choose; gloo binds the
loopback interface), runs every scenario, and writes its results to
``FOLDER/rank{RANK}.pt`` for the parent test to assert on. Imported by the
test, it provides the same model, data and training loop for the
single-process reference.
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn

from polarlab.optim import ARO, Aurora, Muon, NorMuon, UNorMuon, distributed, elementwise
from polarlab.optim.aro import ARODirection
from polarlab.optim.aurora import AuroraDirection
from polarlab.optim.muon import MuonDirection
from polarlab.optim.normuon import NorMuonDirection

OPTIMIZERS = {"muon": Muon, "normuon": NorMuon, "unormuon": UNorMuon, "aurora": Aurora, "aro": ARO}
MODES = ("ddp", "ddp_split", "fsdp")
STEPS = 10
BATCH = 12  # divisible by every world size tested (2, 3)


#: Fixed weights of the three features of each LayerNorm(3) group in the output (not all
#: equal: a uniform read-out of a normalised vector would pass no gradient back).
READOUT = (1.0, -0.5, 0.25)
#: The AdamW vector whose gradient a NaN reaches on one rank (with wide.weight's).
NAN_VECTOR = "norm.weight"


class Net(nn.Module):
    """Every kind of parameter: a conv weight (6 x 2x3x3, optimized as 6 x 18, wide), a tall
    24 x 6, a wide 10 x 24, a batch of three 10 x 10, a tall 12 x 10, a square 12 x 12; biases,
    LayerNorms and the 6 x 12 head on AdamW, among them vectors shorter than the world size
    under FSDP2: ``head_norm`` (LayerNorm(3): shards of 2 and 1 entries on 2 ranks) and
    ``offset`` (a size-1 output bias: empty shards on every rank but the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3)
        self.tall = nn.Linear(6, 24)
        self.wide = nn.Linear(24, 10)
        self.blocks = nn.ModuleList(nn.Linear(10, 10, bias=False) for _ in range(3))
        self.up = nn.Linear(10, 12)
        self.square = nn.Linear(12, 12)
        self.norm = nn.LayerNorm(12)
        self.head = nn.Linear(12, 6)
        self.head_norm = nn.LayerNorm(3)
        self.offset = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(x)).mean(dim=(-2, -1))
        h = torch.tanh(self.wide(torch.tanh(self.tall(h))))
        for block in self.blocks:
            h = h + torch.tanh(block(h))
        h = self.norm(torch.tanh(self.square(torch.tanh(self.up(h)))))
        h = self.head_norm(self.head(h).unflatten(-1, (2, 3)))  # two groups of 3 features
        return (h * h.new_tensor(READOUT)).sum(dim=-1).mean(dim=-1) + self.offset


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(BATCH, 2, 5, 5, generator=g), torch.randn(BATCH, generator=g)


def group_names(model: nn.Module) -> tuple[list[str], list[str]]:
    """Names of the matrices (the optimizer's own group) and of the AdamW parameters."""
    named = model_params(model).items()
    matrices = [n for n, p in named if p.ndim >= 2 and not n.startswith("head")]
    others = [n for n, p in named if p.ndim < 2 or n.startswith("head")]
    return matrices, others


def groups(model: nn.Module) -> list[dict]:
    params = model_params(model)
    matrices, others = ([params[n] for n in names] for names in group_names(model))
    return [{"params": matrices}, {"params": others, "algorithm": "adamw", "lr": 1e-3}]


def make(name: str, mode: str | None = None):
    """The model (seed 0) and its optimizer; ``mode`` None: one process."""
    torch.manual_seed(0)
    model = Net()
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        fully_shard(model)
    elif mode in ("ddp", "ddp_split"):
        model = nn.parallel.DistributedDataParallel(model)
    setting = "split" if mode == "ddp_split" else ("replicate" if mode == "ddp" else None)
    opt = OPTIMIZERS[name](groups(model), flatten=True, distributed=setting)  # default lr
    return model, opt


def train(model, opt, steps: range, rank: int = 0, world: int = 1, nan_at=None, record=None):
    """Mean squared error on this rank's slice of each step's batch; the reduced gradients
    (whole tensors) are appended to ``record`` if given."""
    share = BATCH // world
    for step in steps:
        x, y = batch(step)
        x, y = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        if step == nan_at and rank == 0:  # one rank only, after the gradient reduction
            distributed.local(model_params(model)["wide.weight"].grad)[0, 0] = float("nan")
            distributed.local(model_params(model)[NAN_VECTOR].grad)[0] = float("nan")
        if record is not None:
            record.append(full(model, grad=True))
        opt.step()


def model_params(model) -> dict[str, torch.Tensor]:
    return {k.removeprefix("module."): p for k, p in model.named_parameters()}


def full(model, grad: bool = False) -> dict[str, torch.Tensor]:
    """Every parameter (or gradient) as a whole tensor (a collective for DTensors)."""
    out = {}
    for k, p in model_params(model).items():
        out[k] = _whole(p.grad if grad else p).detach()
    return out


MIXED = ((7, 5), (10, 7), (6, 6), (9, 4))  # Shard(0) uneven, Shard(1), Replicate(), plain


def mixed(name: str, mode: str | None = None, steps: int = 3) -> tuple[list, list]:
    """Hand-made DTensors (``Shard(0)``, ``Shard(1)``, ``Replicate()``) and a plain tensor in
    one optimizer with row telemetry, fixed gradients: the whole parameters after ``steps``
    steps, and per parameter the last step's ``row_update_norm`` as
    ``(whole vector, this rank's local shape)``. ``mode`` None: one process, plain tensors."""
    gen = torch.Generator().manual_seed(7)
    full_w = [torch.randn(s, generator=gen) for s in MIXED]
    full_g = [[torch.randn(s, generator=gen) for s in MIXED] for _ in range(steps)]
    params = [nn.Parameter(w.clone()) for w in full_w]
    if mode is not None:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.tensor import Replicate, Shard, distribute_tensor

        mesh = init_device_mesh("cpu", (torch.distributed.get_world_size(),))
        places = ([Shard(0)], [Shard(1)], [Replicate()])
        params = [nn.Parameter(distribute_tensor(w, mesh, pl)) for w, pl in zip(full_w, places)]
        params.append(nn.Parameter(full_w[-1].clone()))
    opt = OPTIMIZERS[name](params, distributed=mode, row_telemetry=True)
    for grads in full_g:
        for p, g in zip(params, grads):
            p.grad = g.clone() if not hasattr(p, "placements") else _like(g, p)
        opt.step()
    norms = [opt.state[p]["row_update_norm"] for p in params]
    norms = [(_whole(v), tuple(distributed.local(v).shape)) for v in norms]
    return [_whole(p).detach() for p in params], norms


def _whole(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if hasattr(t, "full_tensor") else t.clone()


def _like(g: torch.Tensor, p) -> torch.Tensor:
    from torch.distributed.tensor import distribute_tensor

    return distribute_tensor(g, p.device_mesh, p.placements)


WORK: list[float] = [0.0, 0.0]  # direction calls (matrices) and work m n min(m, n) this rank


def _counted(call):
    def counting(self, M, state):
        WORK[0] += M.shape[0]
        WORK[1] += M.shape[0] * distributed.cost(*M.shape[-2:])
        return call(self, M, state)

    return counting


COLLECTIVES: list[int] = []  # all-reduces made by each AdamW group step, in order


def _counting_collectives(step):
    def counted(group, state):
        import torch.distributed as dist

        real, calls = dist.all_reduce, [0]

        def all_reduce(*args, **kwargs):
            calls[0] += 1
            return real(*args, **kwargs)

        dist.all_reduce = all_reduce
        try:
            step(group, state)
        finally:
            dist.all_reduce = real
        COLLECTIVES.append(calls[0])

    return counted


def quiet(steps: int = 3) -> list[int]:
    """AdamW on plain vectors (sizes 1, 3, 5) with ``distributed=None`` in an initialised
    process group: the all-reduces of each step (none: nothing changes without the option)."""
    params = [nn.Parameter(torch.ones(n)) for n in (1, 3, 5)]
    opt = Muon([{"params": params, "algorithm": "adamw", "lr": 1e-3}])
    COLLECTIVES.clear()
    for _ in range(steps):
        for p in params:
            p.grad = torch.ones_like(p)
        opt.step()
    return list(COLLECTIVES)


def main(rank: int, world: int, folder: str) -> None:
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world
    )
    for cls in (MuonDirection, NorMuonDirection, AuroraDirection, ARODirection):
        cls.__call__ = _counted(cls.__call__)
    elementwise.STEPS["adamw"] = _counting_collectives(elementwise.STEPS["adamw"])
    results: dict = {"params": {}, "grads": {}, "work": {}, "nan": {}, "dcp": {}, "mixed": {}}
    results.update(collectives={}, quiet=quiet(), shards={})
    for name in OPTIMIZERS:
        for mode in MODES:
            WORK[:] = [0.0, 0.0]
            COLLECTIVES.clear()
            model, opt = make(name, mode)
            grads = []
            train(model, opt, range(STEPS), rank, world, record=grads)
            results["params"][name, mode] = full(model)
            results["grads"][name, mode] = grads if rank == 0 else None
            results["work"][name, mode] = tuple(WORK)
            results["collectives"][name, mode] = list(COLLECTIVES)
            if mode == "fsdp":  # the local sizes of the sharded parameters (some empty)
                shards = {k: tuple(p.to_local().shape) for k, p in model_params(model).items()}
                results["shards"] = shards
        for mode in MODES:  # a NaN in one rank's gradient of wide.weight and NAN_VECTOR
            model, opt = make(name, mode)
            train(model, opt, range(4), rank, world, nan_at=2)
            skips = [
                [int(opt.state[p]["nonfinite_skips"]) for p in group["params"]]
                for group in opt.param_groups
            ]  # matrices, then the AdamW group
            local = {
                k: distributed.local(p).detach().clone() for k, p in model_params(model).items()
            }
            results["nan"][name, mode] = (skips, local)
        results["mixed"][name] = mixed(name, mode="split")
        if world == 2 or os.path.isdir(os.path.join(folder, f"load_{name}")):
            results["dcp"][name] = _checkpoint(name, rank, world, folder, dcp, get_state_dict,
                                               set_state_dict)  # fmt: skip
    torch.save(results, os.path.join(folder, f"rank{rank}.pt"))
    dist.destroy_process_group()


def _checkpoint(name, rank, world, folder, dcp, get_state_dict, set_state_dict) -> dict:
    """FSDP2: 5 steps, DCP save, 5 more; a fresh model and optimizer load and take the same 5.

    With ``folder/load_{name}`` present (written by a run at another world size) that
    checkpoint is loaded too, and continued the same way.
    """
    model, opt = make(name, "fsdp")
    train(model, opt, range(5), rank, world)
    own = os.path.join(folder, f"ckpt_{name}")
    model_sd, optim_sd = get_state_dict(model, opt)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=own)
    train(model, opt, range(5, 10), rank, world)
    out = {"continued": full(model)}
    source = os.path.join(folder, f"load_{name}")
    for key, path in (("reloaded", own if world == 2 else ""), ("other_world", source)):
        if not os.path.isdir(path):
            continue
        model, opt = make(name, "fsdp")
        model_sd, optim_sd = get_state_dict(model, opt)
        state = {"model": model_sd, "optim": optim_sd}
        dcp.load(state, checkpoint_id=path)
        set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])
        train(model, opt, range(5, 10), rank, world)
        out[key] = full(model)
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
