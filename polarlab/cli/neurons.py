"""``polarlab neurons``: neuron death, the expansion sweep and the end-to-end overhead."""

from __future__ import annotations

import argparse

from polarlab.cli._settings import (
    UsageError,
    add_common_flags,
    check_device,
    check_out,
    list_flag,
    placement,
    study_settings,
)

__all__ = ["add_parser", "neurons_size", "run"]


def add_parser(sub) -> None:
    """Add the subcommand to ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "neurons",
        help="neuron death, expansion sweep and end-to-end overhead (model-scale claims)",
        description="Trains a character-level SwiGLU transformer and a plain MLP on the "
        "Python standard library's source text with Muon, NorMuon, U-NorMuon, Aurora and "
        "AdamW, detects dead neurons (polarlab.diagnostics), times Aurora against Muon "
        "interleaved, and judges the model-scale claims from the recorded rows. --quick "
        "(default) takes about 15 s on one idle CPU thread; --full about 15 minutes.",
    )
    add_common_flags(parser, "polarlab-neurons")
    list_flag(parser, "--models", "models, comma-separated: transformer, mlp")
    list_flag(parser, "--optimizers", "muon, normuon, u_normuon, aurora, adamw (comma-separated)")
    list_flag(parser, "--expansions", "MLP expansion factors, e.g. 1,2,4,8")
    parser.add_argument("--seeds", type=int, default=argparse.SUPPRESS, help="seeds per setting")
    parser.add_argument(
        "--steps", type=int, default=argparse.SUPPRESS, help="training steps per run"
    )
    parser.add_argument(
        "--judge",
        metavar="DIR",
        help="recompute the claims, figures and neurons.md of a finished study in DIR from "
        "its CSV files alone (no training)",
    )


def _positive(value, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1 or str(number) != str(value).strip():
        raise UsageError(f"{name} must be positive integers, got {value!r}")
    return number


def neurons_size(s: dict) -> dict:
    """The study size from the settings: the preset, then the keys given (checked)."""
    from polarlab.studies.neurons_study import SIZES
    from polarlab.studies.neurons_train import OPTIMIZERS

    size = s["size"]
    if isinstance(size, dict):
        chosen = {**SIZES["quick"], **size}
    elif size in SIZES:
        chosen = dict(SIZES[size])
    else:
        raise UsageError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    for key, allowed in (("models", ("transformer", "mlp")), ("optimizers", tuple(OPTIMIZERS))):
        if key in s:
            unknown = [v for v in s[key] if v not in allowed]
            if unknown:
                raise UsageError(
                    f"unknown {key[:-1]} {unknown[0]!r} in --{key}; choose from: "
                    f"{', '.join(allowed)}"
                )
            chosen[key] = tuple(s[key])
    if "muon" not in chosen["optimizers"] or "aurora" not in chosen["optimizers"]:
        raise UsageError("--optimizers must include muon and aurora (the claims compare them)")
    chosen["sweep_optimizers"] = tuple(
        n for n in chosen["sweep_optimizers"] if n in chosen["optimizers"]
    )
    if "expansions" in s:
        values = s["expansions"]
        items = values.split(",") if isinstance(values, str) else values
        expansions = sorted({_positive(v, "--expansions") for v in items})
        chosen["expansions"] = tuple(expansions)
        if chosen["main_expansion"] not in expansions:
            chosen["main_expansion"] = expansions[-1]
    if "seeds" in s:
        chosen["seeds"] = _positive(s["seeds"], "--seeds")
    if "steps" in s:
        chosen["steps"] = s["steps"]
        chosen["warmup"] = max(1, s["steps"] // 10)
        if s["steps"] < chosen["checkpoints"]:
            raise UsageError(f"--steps must be at least {chosen['checkpoints']} (the checkpoints)")
    return chosen


def run(args: argparse.Namespace) -> int:
    """Run the subcommand on parsed ``args``; returns the exit code."""
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.neurons_study import judge_neurons, neurons
    from polarlab.studies.tables import format_table

    if args.judge:
        records = judge_neurons(check_out(args.judge), plots=args.plots)
        print(format_table(records, ["claim_id", "figure", "verdict"]))
        print(f"rewrote {args.judge}/neuron_claims.* and neurons.md from its CSV files")
        return 0

    for flag in ("dtype", "method_options"):
        if hasattr(args, flag):
            raise UsageError(f"--{flag.replace('_', '-')} does not apply to polarlab neurons")
    s = study_settings(args, "neurons")
    check_device(s.get("device", "cpu"), ())
    out = check_out(s["out"])
    size = neurons_size(s)
    with folder_lock(out):  # one run per directory, for the whole command
        records = neurons(
            size,
            out=out,
            plots=args.plots,
            resume=args.resume,
            show_progress=args.progress,
            **placement(s),
        )
    print(format_table(records, ["claim_id", "figure", "verdict"]))
    print(f"wrote {out / 'neurons.md'} (claims, raw rows, figures)")
    return 0
