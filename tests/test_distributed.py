"""Every optimizer under DDP, DDP split mode and FSDP2, in 2 and 3 CPU processes (gloo).

Two launches (one per world size) run every optimizer and mode in
``tests/dist_worker.py``; the tests here assert on what the ranks wrote.
Processes join through a file store (no port to pick), gloo binds the
loopback interface, each rank runs one thread, and every launch has a
deadline after which its processes are killed and the test fails.

What "the same as one process" means: given the same (reduced) gradients the
distributed optimizer must give the same bits as the single-process one
(``test_same_bits_as_one_process_on_the_same_gradients``: the direction of a
matrix is computed from the same bits, by the same kernels, and batched
products compute each matrix on its own). Trained end to end, the gradients
themselves differ from the single-process full-batch gradient in their last
bits (the all-reduce sums in another order), so there the bound is the
optimizer's own sensitivity to such a change (``_sensitivity``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

import dist_worker as w
import pytest
import torch

from polarlab.optim import distributed

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")
RESHARDED = ("normuon", "aro")  # direction state: a row second moment, a rotation
DEADLINE_S = 240  # per launch; a hung collective fails the test instead of the run


def _launch(world: int, folder: str) -> list[dict]:
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    logs = [open(os.path.join(folder, f"log{r}.txt"), "w") for r in range(world)]
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, str(r), str(world), folder],
            env=env,
            stdout=logs[r],
            stderr=subprocess.STDOUT,
        )
        for r in range(world)
    ]
    end = time.monotonic() + DEADLINE_S
    try:
        for p in procs:
            p.wait(timeout=max(1.0, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    failed = [r for r, p in enumerate(procs) if p.returncode != 0]
    if failed:
        with open(os.path.join(folder, f"log{failed[0]}.txt")) as f:
            tail = f.read()[-3000:]
        pytest.fail(f"rank {failed[0]} of {world} failed or timed out:\n{tail}")
    return [torch.load(os.path.join(folder, f"rank{r}.pt")) for r in range(world)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, list[dict]]:
    two = tmp_path_factory.mktemp("world2")
    three = tmp_path_factory.mktemp("world3")
    out = {2: _launch(2, str(two))}
    for name in RESHARDED:  # the 3-process run also loads these 2-process checkpoints
        os.symlink(two / f"ckpt_{name}", three / f"load_{name}")
    out[3] = _launch(3, str(three))
    return out


def _one_process(name: str, grads=None, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """The single-process run: full batches, or the given gradients (times ``scale``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the ranks' thread count: the same kernels, the same bits
    try:
        model, opt = w.make(name)
        for step in range(w.STEPS):
            if grads is None:
                x, y = w.batch(step)
                opt.zero_grad()
                ((model(x) - y) ** 2).mean().backward()
                for p in model.parameters():
                    p.grad.mul_(scale)
            else:
                for k, p in w.model_params(model).items():
                    p.grad = grads[step][k].clone()
            opt.step()
        return w.full(model)
    finally:
        torch.set_num_threads(threads)


def _gap(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@functools.cache
def _sensitivity(name: str) -> float:
    """How far one process moves when every gradient changes by 4 float32 ulps.

    The all-reduce changes each gradient entry by a few ulps (sums in another
    order), so a correct distributed run lies within a few times this spread.
    """
    eps = torch.finfo(torch.float32).eps
    return _gap(_reference(name), _one_process(name, scale=1 + 4 * eps))


@functools.cache
def _reference(name: str) -> dict[str, torch.Tensor]:
    return _one_process(name)


CASES = [(world, name, mode) for world in (2, 3) for name in w.OPTIMIZERS for mode in w.MODES]


@pytest.mark.parametrize(("world", "name", "mode"), CASES)
def test_same_bits_as_one_process_on_the_same_gradients(runs, world, name, mode):
    result = runs[world][0]
    replay = _one_process(name, grads=result["grads"][name, mode])
    for k, value in result["params"][name, mode].items():
        assert torch.equal(value, replay[k]), k
    for other in runs[world][1:]:  # every rank holds the same parameters
        for k, value in other["params"][name, mode].items():
            assert torch.equal(value, result["params"][name, mode][k]), k


@pytest.mark.parametrize("name", list(w.OPTIMIZERS))
def test_trained_end_to_end_matches_one_process_to_rounding(runs, name):
    reference, bound = _reference(name), 8 * _sensitivity(name) + 1e-6
    for world in (2, 3):
        for mode in w.MODES:
            assert _gap(runs[world][0]["params"][name, mode], reference) <= bound, (world, mode)


@functools.cache
def _mixed(name: str, steps: int = 3) -> list[torch.Tensor]:
    """The parameters of the single-process run of ``w.mixed`` after ``steps`` steps."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return w.mixed(name, steps=steps)[0]
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("world", [2, 3])
def test_shard_0_shard_1_replicate_and_plain_mixed_in_one_optimizer(runs, world):
    for name in w.OPTIMIZERS:
        for rank in runs[world]:
            for got, expected in zip(rank["mixed"][name][0], _mixed(name)):
                assert torch.equal(got, expected), name


@pytest.mark.parametrize("world", [2, 3])
def test_row_telemetry_of_sharded_matrices_is_the_norm_of_whole_rows(runs, world):
    """``row_update_norm`` after the last of 3 steps against the per-row norms of
    ``W_after - W_before`` of one process (those weights are the same bits, tested above).

    Only the norm's arithmetic differs: under ``Shard(1)`` the partial norms of
    ``n_r`` columns are squared, summed over ``world`` ranks and rooted; each
    step's relative error is at most ``n_r u`` (sums), ``2 u`` (sqrt, square),
    ``world u`` and ``u`` (float32, ``u = eps / 2``), the reference's ``(n / 2 + 1) u``:
    below ``(n + 8) eps`` for ``n`` columns and up to 3 ranks.
    """
    eps = torch.finfo(torch.float32).eps
    rows = [tuple(c.shape) for c in torch.arange(w.MIXED[0][0]).chunk(world)]  # the layout
    for name in w.OPTIMIZERS:
        for rank, run in enumerate(runs[world]):
            norms = run["mixed"][name][1]
            for (got, _), after, before in zip(norms, _mixed(name), _mixed(name, steps=2)):
                expected = (after - before).norm(dim=-1)
                tol = (after.shape[1] + 8) * eps
                torch.testing.assert_close(got, expected, rtol=tol, atol=0, msg=name)
            # Shard(0): each rank holds its own rows; Shard(1): every rank the whole vector
            assert norms[0][1] == rows[rank]
            assert norms[1][1] == (w.MIXED[1][0],)


@pytest.mark.parametrize("world", [2, 3])
def test_split_mode_divides_the_direction_work(runs, world):
    for name in w.OPTIMIZERS:
        work = [r["work"][name, "ddp_split"][1] for r in runs[world]]
        total = runs[world][0]["work"][name, "ddp"][1]  # every rank computes everything
        assert sum(work) == total
        assert max(work) <= 1.5 * total / world, (name, work)
        fsdp = [r["work"][name, "fsdp"][1] for r in runs[world]]
        assert sum(fsdp) == total and max(fsdp) <= 1.5 * total / world


@pytest.mark.parametrize("world", [2, 3])
def test_nan_on_one_rank_is_skipped_by_every_rank(runs, world):
    """Rank 0 alone sees a NaN in a matrix's gradient and in an AdamW vector's (under FSDP2,
    in its shard): every rank skips both, once, and replicas stay the same bits."""
    names = w.group_names(w.Net())
    bad = ("wide.weight", w.NAN_VECTOR)
    expected = [[int(k == b) for k in group] for group, b in zip(names, bad)]
    for (name, mode), (skips, _) in runs[world][0]["nan"].items():
        assert skips == expected, (name, mode)
        for other in runs[world][1:]:
            other_skips, params = other["nan"][name, mode]
            assert other_skips == skips
            if mode != "fsdp":  # replicated parameters: the same bits on every rank
                for k, value in params.items():
                    assert torch.equal(value, runs[world][0]["nan"][name, mode][1][k]), k


@pytest.mark.parametrize("world", [2, 3])
def test_fsdp_shards_of_short_vectors_are_empty_or_uneven(runs, world):
    """The FSDP2 runs (the same bits as one process, tested above) hold a size-1 bias with
    empty shards and a size-3 LayerNorm sharded unevenly on 2 ranks (``torch.chunk``)."""
    shards = [run["shards"] for run in runs[world]]
    assert [s["offset"] for s in shards] == [(1,)] + [(0,)] * (world - 1)
    assert [s["head_norm.weight"] for s in shards] == ([(2,), (1,)] if world == 2 else [(1,)] * 3)


@pytest.mark.parametrize("world", [2, 3])
def test_elementwise_flags_take_one_all_reduce_per_step_and_none_without_the_option(runs, world):
    """The AdamW group's skip flags are agreed by one all-reduce per step, however many
    vectors it holds (DDP with the option set; FSDP2 always); plain tensors with
    ``distributed=None`` take none."""
    for run in runs[world]:
        for key, calls in run["collectives"].items():
            assert calls == [1] * w.STEPS, key
        assert run["quiet"] == [0, 0, 0]


@pytest.mark.parametrize("name", list(w.OPTIMIZERS))
def test_dcp_round_trip_under_fsdp_continues_bit_identically(runs, name):
    result = runs[2][0]["dcp"][name]
    for k, value in result["continued"].items():
        assert torch.equal(value, result["reloaded"][k]), k


@pytest.mark.parametrize("name", RESHARDED)
def test_checkpoint_of_two_processes_loads_in_three(runs, name):
    """DCP re-shards the momentum (a DTensor); the direction state is replicated."""
    two, three = runs[2][0]["dcp"][name], runs[3][0]["dcp"][name]
    bound = 8 * _sensitivity(name) + 1e-6  # 3 ranks reduce gradients in another order
    assert _gap(three["other_world"], two["continued"]) <= bound


def test_ownership_is_balanced_and_deterministic():
    costs = [distributed.cost(m, n) for m, n in [(24, 6), (10, 24), (12, 12), (6, 18)]]
    owners = distributed.assign_owners(costs, 2)
    assert owners == distributed.assign_owners(costs, 2)
    load = [sum(c for c, o in zip(costs, owners) if o == r) for r in range(2)]
    assert max(load) <= 4 / 3 * max(sum(costs) / 2, max(costs))  # Graham's LPT bound


def test_unknown_mode_and_missing_process_group_raise():
    W = torch.nn.Parameter(torch.randn(4, 3))
    with pytest.raises(ValueError, match="unknown distributed mode 'ring'"):
        w.Muon([W], distributed="ring")
    opt = w.Muon([W], distributed="split")
    W.grad = torch.randn(4, 3)
    with pytest.raises(RuntimeError, match="needs an initialised process group"):
        opt.step()


def test_elementwise_groups_check_the_mode_and_need_a_process_group_when_it_is_set():
    v = torch.nn.Parameter(torch.randn(3))
    with pytest.raises(ValueError, match="unknown distributed mode 'ring'"):
        w.Muon([{"params": [v], "algorithm": "adamw", "distributed": "ring"}])
    opt = w.Muon([{"params": [v], "algorithm": "lion"}], distributed="replicate")
    v.grad = torch.randn(3)
    with pytest.raises(RuntimeError, match="needs an initialised process group"):
        opt.step()
