"""RowTelemetry: the recorded norms are the gradient's and the applied change's row norms,
for any optimizer, with weight decay on and off, and a step makes no host synchronisation."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from polarlab.diagnostics import RowTelemetry
from polarlab.optim import Aurora, Muon, NorMuon, UNorMuon

OPTIMIZERS = {
    "muon": lambda ps, wd: Muon(ps, lr=0.05, weight_decay=wd),
    "normuon": lambda ps, wd: NorMuon(ps, lr=0.05, weight_decay=wd),
    "u_normuon": lambda ps, wd: UNorMuon(ps, lr=0.05, weight_decay=wd),
    "aurora": lambda ps, wd: Aurora(ps, lr=0.05, weight_decay=wd),
    "adamw": lambda ps, wd: torch.optim.AdamW(ps, lr=0.05, weight_decay=wd),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_telemetry_equals_applied_update(name, weight_decay):
    g = torch.Generator().manual_seed(0)
    tall = torch.nn.Parameter(torch.randn(24, 6, generator=g, dtype=torch.float64))
    wide = torch.nn.Parameter(torch.randn(6, 24, generator=g, dtype=torch.float64))
    opt = OPTIMIZERS[name]([tall, wide], weight_decay)
    telemetry = RowTelemetry(opt, {"tall": tall, "wide": wide}, capacity=3)
    expected = {"tall": ([], []), "wide": ([], [])}
    for _ in range(3):
        for W in (tall, wide):
            W.grad = torch.randn(W.shape, generator=g, dtype=torch.float64)
        before = {"tall": tall.detach().clone(), "wide": wide.detach().clone()}
        grads = {"tall": tall.grad.clone(), "wide": wide.grad.clone()}
        opt.step()
        for key, W in (("tall", tall), ("wide", wide)):
            # Independent reference: numpy row norms of the gradient and of W_after - W_before.
            expected[key][0].append(np.linalg.norm(grads[key].numpy(), axis=1))
            expected[key][1].append(np.linalg.norm((W.detach() - before[key]).numpy(), axis=1))
    history = telemetry.history()
    for key in ("tall", "wide"):
        h = history[key]
        assert h.steps.tolist() == [0, 1, 2]
        # float64 weights: the telemetry computes in float64; equal to rounding (1e-12 rel).
        np.testing.assert_allclose(h.grad_norm, np.array(expected[key][0]), rtol=1e-12)
        np.testing.assert_allclose(h.update_norm, np.array(expected[key][1]), rtol=1e-12)
        assert (h.update_norm > 0).all()


def test_weight_decay_is_part_of_the_applied_update():
    # SGD with decoupled-style decay written out: W <- W - lr (G + wd W); a zero gradient row
    # still moves by lr * wd * ||W_i||, which the telemetry must see.
    W = torch.nn.Parameter(torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=torch.float64))
    opt = torch.optim.SGD([W], lr=0.5, weight_decay=0.1)
    telemetry = RowTelemetry(opt, {"w": W}, capacity=1)
    W.grad = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    opt.step()
    h = telemetry.history()["w"]
    np.testing.assert_allclose(h.grad_norm[0], [0.0, 2.0])
    np.testing.assert_allclose(h.update_norm[0], [0.5 * 0.1 * 5.0, 0.5 * (2.0 + 0.1)], rtol=1e-12)


def test_every_and_capacity():
    W = torch.nn.Parameter(torch.zeros(3, 2))
    opt = torch.optim.SGD([W], lr=1.0)
    telemetry = RowTelemetry(opt, {"w": W}, capacity=2, every=2)
    for _ in range(7):
        W.grad = torch.ones(3, 2)
        opt.step()
    assert telemetry.history()["w"].steps.tolist() == [0, 2]  # capacity reached at step 2
    telemetry.remove()
    opt.step()
    assert telemetry.recorded == 2


def test_bad_input():
    W = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([W], lr=1.0)
    with pytest.raises(ValueError, match="must be a 2-D tensor"):
        RowTelemetry(opt, {"w": W}, capacity=2)
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        RowTelemetry(opt, {"w": torch.zeros(2, 2)}, capacity=0)


_SYNCING = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


@contextlib.contextmanager
def _no_host_sync(monkeypatch):
    """Every Tensor method that reads device data on the host raises inside the block."""

    def refuse(name):
        def method(self, *args, **kwargs):
            raise AssertionError(f"host synchronisation: Tensor.{name}")

        return method

    with monkeypatch.context() as patch:
        for name in _SYNCING:
            patch.setattr(torch.Tensor, name, refuse(name))
        yield


_NO_SYNC_OPTIMIZERS = {
    "muon": OPTIMIZERS["muon"],
    "aurora": OPTIMIZERS["aurora"],
    # torch.optim.AdamW itself reads its step count with .item() on CPU (non-capturable),
    # so the generic case is shown with SGD with momentum, which does not.
    "sgd": lambda ps, wd: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=wd),
}


@pytest.mark.parametrize("name", _NO_SYNC_OPTIMIZERS)
def test_step_with_telemetry_makes_no_host_sync(name, monkeypatch):
    g = torch.Generator().manual_seed(1)
    W = torch.nn.Parameter(torch.randn(16, 4, generator=g))
    opt = _NO_SYNC_OPTIMIZERS[name]([W], 0.01)
    W.grad = torch.randn(16, 4, generator=g)
    opt.step()  # lazy state created outside the check
    telemetry = RowTelemetry(opt, {"w": W}, capacity=4)
    with _no_host_sync(monkeypatch):
        opt.step()
        opt.step()
    with _no_host_sync(monkeypatch), pytest.raises(AssertionError, match="host sync"):
        W.sum().item()  # the check itself can fail
    assert telemetry.recorded == 2
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        Wc = torch.nn.Parameter(torch.randn(16, 4, device="cuda"))
        optc = _NO_SYNC_OPTIMIZERS[name]([Wc], 0.01)
        Wc.grad = torch.randn_like(Wc)
        optc.step()
        RowTelemetry(optc, {"w": Wc}, capacity=2)
        torch.cuda.set_sync_debug_mode("error")
        try:
            optc.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
