r"""Matrix optimizers across processes: DDP (replicated or split work) and FSDP2 shards.

The optimizers of :mod:`polarlab.optim` take the option ``distributed``:

``None`` (default)
    Every rank computes every direction from its own tensors (what a single
    process does; right under DDP, whose gradients are already averaged, and
    the only choice where ranks hold different models). Sharded DTensor
    parameters (FSDP2) still take the split path below: a polar factor needs
    the whole matrix.
``"replicate"``
    As ``None``, plus one all-reduce (MIN) per bucket of the per-matrix
    non-finite flags, so every rank skips the same matrices.
``"split"``
    Each matrix has one owner rank (:func:`assign_owners`); the owner alone
    computes its direction and sends it, with the direction's new state and a
    finiteness flag, to every rank that holds the matrix (or a shard of it):
    one ``all_to_all_single`` per bucket of same-shape matrices, so the
    number of collectives grows with the number of shapes, not of parameters.

Sharded parameters (``DTensor`` with ``Shard(0)``, or ``Shard(1)`` for 2-D
weights, on a 1-D device mesh, as ``torch.distributed.fsdp.fully_shard``
makes them): each rank updates the momentum of its shard elementwise; the
shards of a matrix's (Nesterov) momentum go to its owner (one
``all_to_all_single`` per bucket), which concatenates them, computes the
direction of the whole matrix and sends each rank its shard of the result.
``Replicate()`` DTensors are treated like plain tensors on the mesh's group.

State: the momentum buffer lives where the parameter does (a DTensor with the
parameter's placements for sharded parameters, so
``torch.distributed.checkpoint`` re-shards it); the direction's own state
(NorMuon's row second moment, ARO's rotation) is computed by the owner and
sent to every rank with the direction, so it is the same on every rank and a
checkpoint needs no owner map (any world size can load it). The non-finite
decision of a matrix is the AND over ranks of the local flags and of the
owner's direction flag, the same on every rank.

AdamW and Lion groups (:mod:`polarlab.optim.elementwise`) update every rank's
own tensors (a DTensor's local shard, empty where a vector is shorter than the
world size); their skip flags are agreed by :func:`agree_flags`, one
all-reduce per group and step: over the mesh for DTensor parameters (whatever
``distributed`` says), over the default group for plain ones when
``distributed`` is set, not at all for plain ones with ``None``.

Row telemetry (``row_telemetry=True``) of a sharded matrix: with ``Shard(1)``
every rank holds the whole ``(m,)`` vector of row norms (one all-reduce of the
squared partial norms per bucket); with ``Shard(0)`` a ``DTensor`` sharded
like the rows, each rank its own rows' exact norms, at no communication
(:meth:`BucketPlan.row_telemetry`).

The pattern follows microsoft/dion (matrices split over ranks, results
exchanged by all-to-all) and the DTensor dispatch of ``torch.optim.Muon``;
see ``docs/design/distributed.md`` for bytes moved per step.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from polarlab.optim import rule
from polarlab.optim.options import COMMON_KEYWORD

__all__ = [
    "BucketPlan",
    "agree",
    "agree_flags",
    "assign_owners",
    "cost",
    "local",
    "new_buffer",
    "plan_step",
]

#: The ``distributed`` option record (its check: None, "replicate" or "split").
MODE = next(o for o in COMMON_KEYWORD if o.name == "distributed")


def _dtensor_type() -> type | None:
    # No DTensor exists before torch.distributed.tensor is imported: no import cost here.
    module = sys.modules.get("torch.distributed.tensor")
    return None if module is None else module.DTensor


def local(t: torch.Tensor) -> torch.Tensor:
    """The local tensor of a DTensor (shares its storage: in-place writes reach it); else ``t``."""
    dtensor = _dtensor_type()
    return t.to_local() if dtensor is not None and isinstance(t, dtensor) else t


def layout(p: torch.Tensor) -> tuple | None:
    """``None`` for a plain tensor; ``(mesh, placements)`` for a DTensor (a bucket key)."""
    dtensor = _dtensor_type()
    if dtensor is None or not isinstance(p, dtensor):
        return None
    return (p.device_mesh, tuple(p.placements))


def _shard_dim(p: torch.Tensor, lay: tuple) -> int | None:
    """The matrix axis (0: rows, 1: columns) split across ranks, or ``None`` (replicated)."""
    mesh, placements = lay
    if mesh.ndim != 1:
        raise NotImplementedError(
            f"DTensor parameters on a {mesh.ndim}-D device mesh (HSDP, tensor parallel) are "
            "not supported; use a 1-D mesh (fully_shard over one process group)"
        )
    (placement,) = placements
    if placement.is_replicate():
        return None
    if placement.is_shard() and (placement.dim == 0 or (placement.dim == 1 and p.ndim == 2)):
        return placement.dim
    raise NotImplementedError(
        f"parameter of shape {tuple(p.shape)} with placement {placement}: matrix optimizers "
        "take Shard(0), Shard(1) of a 2-D weight, or Replicate()"
    )


def new_buffer(p: torch.Tensor, shape: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """A zero momentum buffer of matrix ``shape`` laid out like ``p`` (a DTensor if ``p`` is)."""
    lay = layout(p)
    if lay is None:
        return torch.zeros(shape, dtype=dtype, device=p.device)
    _shard_dim(p, lay)  # a clear error for an unsupported placement
    from torch.distributed.tensor import zeros

    return zeros(shape, dtype=dtype, device_mesh=lay[0], placements=lay[1])


def agree(flags: torch.Tensor, group) -> torch.Tensor:
    """The AND over the ranks of ``group`` of boolean ``flags``: one all-reduce (MIN).

    Sent as int32 (NCCL reduces no bool); asynchronous on a GPU, so the host does
    not wait for it.
    """
    import torch.distributed as dist

    values = flags.to(torch.int32)
    dist.all_reduce(values, op=dist.ReduceOp.MIN, group=group)
    return values.bool()


def agree_flags(params: Sequence[torch.Tensor], flags: list[torch.Tensor], mode) -> list:
    """The skip decisions of elementwise-updated ``params`` (AdamW, Lion), agreed across ranks.

    ``flags[i]`` (0-d bool) says whether this rank's piece of ``params[i]``'s
    gradient is finite. A DTensor parameter's flags are agreed over its device
    mesh whatever ``mode`` says: its pieces are one parameter, which a single
    process skips whole, and a parameter half-updated would hold a mixture no
    single process can reach. A plain tensor's flags are agreed over the default
    process group when ``mode`` (the optimizer's ``distributed`` option) is set,
    so that under DDP a non-finite value in one rank's copy makes every rank skip
    it; with ``mode=None`` they are returned as they are (no collective).

    The flags of one process group (one per dimension of an N-D mesh: the AND
    over each in turn is the AND over the mesh) are stacked and agreed by one
    all-reduce (:func:`agree`), whatever their number.
    """
    MODE.validate(mode)
    out = list(flags)
    groups: dict[tuple, tuple[Any, list[int]]] = {}
    for i, p in enumerate(params):
        lay = layout(p)
        if lay is None and mode is None:
            continue
        mesh = None if lay is None else lay[0]
        kinds = [_group(None, mode)] if mesh is None else map(mesh.get_group, range(mesh.ndim))
        for group in kinds:
            groups.setdefault((id(group), out[i].device), (group, []))[1].append(i)
    for group, members in groups.values():
        agreed = agree(torch.stack([out[i] for i in members]), group)
        for i, flag in zip(members, agreed.unbind()):
            out[i] = flag
    return out


def _span(size: int, world: int, rank: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``rank`` when ``size`` rows are chunked over ``world`` ranks
    (``torch.chunk``: ``ceil(size / world)`` each, trailing ranks short or empty)."""
    step = -(-size // world)
    lo = min(rank * step, size)
    return lo, min(lo + step, size)


def cost(m: int, n: int) -> int:
    """Work of one direction of an ``m x n`` matrix: ``m n min(m, n)`` (a polar iteration's
    products, up to a constant)."""
    return m * n * min(m, n)


def assign_owners(costs: Sequence[int], world: int) -> list[int]:
    """Owner rank of each matrix: greedy longest-processing-time balancing.

    Matrices are taken by decreasing cost (ties: the earlier one first) and each
    goes to the rank with the least work so far (ties: the lower rank). The
    result depends only on ``costs`` and ``world``, so every rank computes the
    same map without communicating. The heaviest rank carries at most 4/3 of the
    optimum (Graham 1969, "Bounds on multiprocessing timing anomalies").

    Examples
    --------
    >>> assign_owners([8, 1, 1, 8, 2], 2)
    [0, 1, 1, 1, 0]
    """
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    load, owners = [0] * world, [0] * len(costs)
    for i in order:
        rank = min(range(world), key=lambda r: (load[r], r))
        owners[i] = rank
        load[rank] += costs[i]
    return owners


@dataclass
class BucketPlan:
    """How one bucket of same-shape matrices is computed and exchanged.

    Attributes
    ----------
    group : torch.distributed.ProcessGroup
    rank, world : int
        This rank and the group's size.
    shape : (int, int)
        The global ``(m, n)`` of every matrix of the bucket.
    shard_dim : int or None
        The matrix axis split across ranks (``torch.chunk`` layout), or ``None``.
    owners : tuple of int, or None
        Owner rank of each matrix; ``None``: every rank computes every direction.
    mesh : DeviceMesh or None
        The parameters' device mesh (``None``: plain tensors).
    """

    group: Any
    rank: int
    world: int
    shape: tuple[int, int]
    shard_dim: int | None
    owners: tuple[int, ...] | None
    mesh: Any = None

    def piece_shape(self, rank: int) -> tuple[int, int]:
        """Shape of ``rank``'s piece of one matrix (the whole matrix if not sharded)."""
        if self.shard_dim is None:
            return self.shape
        lo, hi = _span(self.shape[self.shard_dim], self.world, rank)
        return (hi - lo, self.shape[1]) if self.shard_dim == 0 else (self.shape[0], hi - lo)

    @property
    def local_shape(self) -> tuple[int, int]:
        return self.piece_shape(self.rank)

    def _piece(self, U: torch.Tensor, rank: int) -> torch.Tensor:
        """``rank``'s piece of whole matrices ``U`` (..., m, n)."""
        if self.shard_dim is None:
            return U
        lo, hi = _span(self.shape[self.shard_dim], self.world, rank)
        return U[..., lo:hi, :] if self.shard_dim == 0 else U[..., lo:hi]

    def agree(self, flags: torch.Tensor) -> torch.Tensor:
        """The AND over the group's ranks of boolean ``flags`` (:func:`agree`)."""
        return agree(flags, self.group)

    def row_telemetry(self, states: Sequence[dict]) -> None:
        """Make ``row_update_norm`` (a rank's per-row norms of its piece of ``W_new - W``,
        ``(m_l,)``) describe the whole matrix, ``(m,)``, without a host synchronisation.

        ``Shard(1)`` (a rank holds every row, some columns): the partial norms are
        squared, summed over the ranks (one all-reduce of the bucket's stacked
        ``(b, m)`` values) and rooted, so every rank holds the whole vector.
        ``Shard(0)`` (a rank holds whole rows): its norms are already exact; they are
        wrapped, without communication, as a ``DTensor`` sharded like the rows
        (global shape ``(m,)``: ``.full_tensor()`` gathers it, a collective, where the
        whole vector is needed; ``.to_local()`` is this rank's rows; DCP re-shards it).
        Unsharded matrices hold whole rows already.
        """
        if self.shard_dim is None or not states:
            return
        if self.shard_dim == 1:
            import torch.distributed as dist

            squares = torch.stack([s["row_update_norm"] for s in states]).square_()
            dist.all_reduce(squares, group=self.group)  # SUM of the squared partial norms
            for s, norms in zip(states, squares.sqrt_().unbind()):
                s["row_update_norm"] = norms
            return
        from torch.distributed.tensor import DTensor, Shard

        for s in states:
            s["row_update_norm"] = DTensor.from_local(
                s["row_update_norm"],
                self.mesh,
                [Shard(0)],
                run_check=False,
                shape=torch.Size([self.shape[0]]),
                stride=(1,),
            )

    def _exchange(self, parts: list[list[torch.Tensor]], sizes: list[int], like: torch.Tensor):
        """``all_to_all_single``: ``parts[d]`` go to rank ``d``; ``sizes[r]`` come from ``r``."""
        import torch.distributed as dist

        send = [torch.cat([t.reshape(-1) for t in chunk]) for chunk in parts]
        out = torch.empty(sum(sizes), dtype=like.dtype, device=like.device)
        dist.all_to_all_single(
            out, torch.cat(send), sizes, [t.numel() for t in send], group=self.group
        )
        return out.split(sizes)

    def directions(self, direction, M: torch.Tensor, extra: dict, finite: torch.Tensor):
        """``(U, new_state, ok)`` for local momenta ``M`` (b, m_l, n_l), as the local step.

        ``U`` is this rank's piece of every direction, ``new_state`` the
        direction's whole new state of every matrix, ``ok`` the non-finite
        decision agreed by all ranks.
        """
        if self.owners is None:  # every rank computes everything; only the flags travel
            U, new_extra = direction(M, extra)
            U = U.to(M.dtype)
            return U, new_extra, self.agree(finite & rule.is_finite(U, dim=(-2, -1)))
        b, dtype, names = M.shape[0], M.dtype, direction.state_names
        mine = [i for i, o in enumerate(self.owners) if o == self.rank]
        whole = self._gather(M, mine) if self.shard_dim is not None else M[mine]
        U_own, new_own, u_ok = whole, {k: [] for k in names}, whole.new_zeros(0)
        if mine:
            U_own, new_own = direction(whole, {k: v[mine] for k, v in extra.items()})
            U_own = U_own.to(dtype)
            u_ok = rule.is_finite(U_own, dim=(-2, -1))
        del whole
        # to each rank: my local flags, then per owned matrix its piece, new state, flag
        parts = []
        for dest in range(self.world):
            chunk = [finite.to(dtype)]
            for j in range(len(mine)):
                chunk += [self._piece(U_own[j], dest), *(new_own[k][j].to(dtype) for k in names)]
                chunk.append(u_ok[j : j + 1].to(dtype))
            parts.append(chunk)
        per_state = [extra[k][0].numel() for k in names]
        piece = math.prod(self.local_shape)
        sizes = [b + self.owners.count(r) * (piece + sum(per_state) + 1) for r in range(self.world)]
        received = self._exchange(parts, sizes, M)
        U = torch.empty((b, *self.local_shape), dtype=dtype, device=M.device)
        new_extra = {k: torch.empty_like(v) for k, v in extra.items()}
        ok = finite.clone()
        for src, data in enumerate(received):
            ok &= data[:b].bool()
            at = b
            for i in (i for i, o in enumerate(self.owners) if o == src):
                U[i].view(-1).copy_(data[at : at + piece])
                at += piece
                for k, size in zip(names, per_state):
                    new_extra[k][i].view(-1).copy_(data[at : at + size])
                    at += size
                ok[i] &= data[at].bool()
                at += 1
        return U, new_extra, ok

    def _gather(self, M: torch.Tensor, mine: list[int]) -> torch.Tensor:
        """The whole momenta of the matrices this rank owns, from every rank's shard."""
        parts = [[M[[i for i, o in enumerate(self.owners) if o == d]]] for d in range(self.world)]
        shapes = [self.piece_shape(r) for r in range(self.world)]
        received = self._exchange(parts, [len(mine) * math.prod(s) for s in shapes], M)
        pieces = [data.view(len(mine), *s) for data, s in zip(received, shapes)]
        return torch.cat(pieces, dim=1 + self.shard_dim)


def plan_step(chunks: list[tuple[list[torch.Tensor], tuple[int, int]]], mode) -> list:
    """One :class:`BucketPlan` (or ``None``: purely local) per bucket of a group's step.

    ``chunks`` are the buckets in step order, each ``(params, (m, n))``. The
    owners of all split matrices of the step are assigned together
    (:func:`assign_owners`, cost :func:`cost`), per process group.
    """
    MODE.validate(mode)
    specs = []
    for params, _ in chunks:
        lay = layout(params[0])
        if lay is None and mode is None:
            specs.append(None)
            continue
        shard_dim = None if lay is None else _shard_dim(params[0], lay)
        specs.append((_group(lay, mode), shard_dim, None if lay is None else lay[0]))
    if all(spec is None for spec in specs):
        return specs
    import torch.distributed as dist

    owners: dict[int, list[int]] = {}
    for group in {id(s[0]): s[0] for s in specs if s is not None}.values():
        split = [
            i for i, s in enumerate(specs) if s is not None and s[0] is group and _split(s, mode)
        ]
        costs = [cost(*chunks[i][1]) for i in split for _ in chunks[i][0]]
        flat = iter(assign_owners(costs, dist.get_world_size(group)))
        owners.update({i: [next(flat) for _ in chunks[i][0]] for i in split})
    plans = []
    for i, spec in enumerate(specs):
        if spec is None:
            plans.append(None)
            continue
        group, shard_dim, mesh = spec
        own = tuple(owners[i]) if i in owners else None
        rank, world = dist.get_rank(group), dist.get_world_size(group)
        plan = BucketPlan(group, rank, world, chunks[i][1], shard_dim, own, mesh)
        _check_local_shape(chunks[i][0][0], plan)
        plans.append(plan)
    return plans


def _split(spec: tuple, mode) -> bool:
    return mode == "split" or spec[1] is not None  # a sharded matrix is always split


def _group(lay: tuple | None, mode):
    import torch.distributed as dist

    if lay is not None:
        return lay[0].get_group()
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            f"distributed={mode!r} needs an initialised process group "
            "(torch.distributed.init_process_group); use distributed=None in one process"
        )
    return dist.group.WORLD


def _check_local_shape(p: torch.Tensor, plan: BucketPlan) -> None:
    if plan.shard_dim is None:
        return
    rows = local(p).shape[0] if p.ndim > 2 else None
    got = (rows, math.prod(local(p).shape[1:])) if rows is not None else tuple(local(p).shape)
    if tuple(got) != plan.local_shape:
        raise NotImplementedError(
            f"the local shard {tuple(local(p).shape)} of a {tuple(p.shape)} parameter is not "
            f"the torch.chunk layout {plan.local_shape} (uneven sharding is not supported)"
        )
