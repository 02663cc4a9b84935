"""Full optimizer steps: time, matrix-product flops, state bytes per parameter byte, peak memory.

Every optimizer steps its own copy of the same float32 parameters with the same
(fixed) gradients. Settings:

- ``torch.optim.Muon``: its defaults (Keller Jordan's quintic ``(3.4445, -4.775,
  2.0315)``, 5 steps in bfloat16, ``eps=1e-7``, Nesterov EMA momentum 0.95,
  ``adjust_lr_fn=None``, i.e. ``lr * sqrt(max(1, m/n))``), with lr 0.02 and weight
  decay 0.1;
- ``Muon (jordan)``: polarlab at the same settings: ``method="newton_schulz",
  schedule="jordan", steps=5`` (normalisation ``X / (||X||_F + 1e-7)``), Nesterov
  EMA momentum 0.95, ``adjust_lr="aspect"``, lr 0.02, weight decay 0.1, iterations
  in the group's dtype (bfloat16: torch's setting);
- ``Muon``, ``Aurora``, ``NorMuon``: the 5-step Polar Express schedule (the
  library default) in the group's dtype, otherwise as above (Aurora: ``iters=2``,
  its default engine); ``ARO``: its defaults (Sinkhorn base, float32 or wider
  whatever the group's dtype), lr 0.02, weight decay 0.1.

Beside each time ratio stands the ratio of the two steps' matrix-product flops, as
``torch.utils.flop_counter`` counts them in one step (``mm``, ``addmm``, ``bmm``,
``baddbmm``, ...; factorizations such as ARO's Cholesky are not counted). It is what
the time ratio would be if every product ran at the same rate and nothing else took
time: where the two differ, the gap is the kernels' rates (small or strided products,
half precision on a CPU), not the arithmetic.
"""

from __future__ import annotations

import inspect
import statistics

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.suite.config import Config
from benchmarks.suite.memory import peak_extra_bytes, state_bytes, tensor_bytes
from benchmarks.suite.timing import interleaved, ratio
from polarlab.optim import ARO, Aurora, Muon, NorMuon

LR, WD = 0.02, 0.1
COMMON = {"lr": LR, "weight_decay": WD, "momentum": 0.95, "nesterov": True}
TORCH_MUON = {**COMMON, "ns_coefficients": (3.4445, -4.775, 2.0315), "eps": 1e-7, "ns_steps": 5}
PE = {"method": "polar_express", "steps": 5}


def _aurora_engines() -> tuple[str, ...]:
    """Aurora's engine values worth timing apart: the default, and "plain" if it has one."""
    return ("plain",) if "engine" in inspect.signature(Aurora).parameters else ()


def factories(dtype: str) -> dict:
    """name -> ``params -> optimizer`` for iterations in ``dtype``."""
    out = {
        "torch.optim.Muon": lambda ps: torch.optim.Muon(ps, adjust_lr_fn=None, **TORCH_MUON),
        "Muon (jordan)": lambda ps: Muon(
            ps,
            **COMMON,
            adjust_lr="aspect",
            method="newton_schulz",
            schedule="jordan",
            steps=5,
            dtype=dtype,
        ),
        "Muon": lambda ps: Muon(ps, **COMMON, **PE, dtype=dtype),
        "Aurora": lambda ps: Aurora(ps, **COMMON, **PE, dtype=dtype, iters=2),
        "NorMuon": lambda ps: NorMuon(ps, **COMMON, **PE, dtype=dtype),
        "ARO": lambda ps: ARO(ps, **COMMON),
    }
    for engine in _aurora_engines():
        out[f"Aurora ({engine})"] = lambda ps, e=engine: Aurora(
            ps, **COMMON, **PE, dtype=dtype, iters=2, engine=e
        )
    return out


#: ratio name -> (numerator, denominator)
RATIOS = {
    "muon_vs_torch_muon": ("Muon (jordan)", "torch.optim.Muon"),
    "aurora_vs_muon": ("Aurora", "Muon"),
    "aurora_plain_vs_muon": ("Aurora (plain)", "Muon"),
    "normuon_vs_muon": ("NorMuon", "Muon"),
    "aro_vs_muon": ("ARO", "Muon"),
}


def _params(shapes, device, gen_seed=0):
    gen = torch.Generator().manual_seed(gen_seed)
    return [torch.randn(*s, generator=gen).to(device) for s in shapes]


def step_flops(opt: torch.optim.Optimizer) -> int:
    """Matrix-product flops of one ``opt.step()`` (2 per multiply-add; the step is taken)."""
    with FlopCounterMode(display=False) as counter:
        opt.step()
    return counter.get_total_flops()


def set_record(name: str, shapes, dtype: str, cfg: Config, device: torch.device, only=None) -> dict:
    """One parameter set in one iteration dtype: the optimizers (``only``: some) interleaved."""
    weights = _params(shapes, device)
    grads = _params(shapes, device, gen_seed=1)
    opts = {}
    for label, make in factories(dtype).items():
        if only is not None and label not in only:
            continue
        params = [torch.nn.Parameter(w.clone()) for w in weights]
        for p, g in zip(params, grads):
            p.grad = g  # shared: optimizers only read gradients
        opts[label] = make(params)
        opts[label].step()  # state created outside the timed and measured steps
    times = interleaved({k: o.step for k, o in opts.items()}, device, cfg.rounds)
    param_bytes = tensor_bytes(weights)
    record = {
        "set": name,
        "dtype": dtype,
        "matrices": len(shapes),
        "parameters": sum(w.numel() for w in weights),
        "step_ms": {k: 1e3 * statistics.median(t) for k, t in times.items()},
        "ratios": {
            key: ratio(times, num, den)
            for key, (num, den) in RATIOS.items()
            if num in opts and den in opts
        },
        "state_bytes_per_param_byte": {k: state_bytes(o) / param_bytes for k, o in opts.items()},
    }
    flops = {k: step_flops(o) for k, o in opts.items()}
    record["step_gflop"] = {k: v / 1e9 for k, v in flops.items()}
    record["flop_ratios"] = {
        key: flops[num] / flops[den]
        for key, (num, den) in RATIOS.items()
        if num in opts and den in opts
    }
    peaks = {k: peak_extra_bytes(o.step, device) for k, o in opts.items()}
    record["peak_step_mib"] = {k: v / 2**20 for k, v in peaks.items()}
    if "Muon (jordan)" in peaks and "torch.optim.Muon" in peaks:
        record["peak_muon_vs_torch_muon"] = peaks["Muon (jordan)"] / peaks["torch.optim.Muon"]
    del opts
    return record


def optimizers_record(cfg: Config, device: torch.device) -> list[dict]:
    records = []
    for name, shapes in cfg.sets.items():
        records.append(set_record(name, shapes, "bfloat16", cfg, device))
        if name in cfg.float32_sets:
            records.append(set_record(name, shapes, "float32", cfg, device, cfg.float32_sets[name]))
    return records
