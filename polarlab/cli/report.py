"""``polarlab report``: every study at a small size, in one report directory."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from polarlab.cli._settings import (
    UsageError,
    add_common_flags,
    check_device,
    check_out,
    placement,
    study_settings,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    """Add the subcommand to ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "report",
        help="both studies at a small size, one report directory",
        description="Runs the precision and Aurora studies and the neuron study (model-scale "
        "claims; its [neurons] config table sets its size) and writes report.md "
        "and report.html with figures and raw data. --dtype and --method-option apply to the "
        "precision study; the Aurora claims use an exact (float64 SVD) base polar unless the "
        "[aurora] table of --config sets method, dtype or method_options.",
    )
    add_common_flags(parser, "polarlab-report")
    parser.add_argument(
        "--readme-figure",
        metavar="PATH",
        help="also copy the headline figure (precision error vs iteration) to PATH",
    )


def run(args: argparse.Namespace) -> int:
    """Run the subcommand on parsed ``args``; returns the exit code."""
    from polarlab.cli.aurora import aurora_setup
    from polarlab.cli.neurons import neurons_size
    from polarlab.cli.precision import precision_sweep
    from polarlab.studies._io import read_csv
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.report import report
    from polarlab.studies.tables import format_table

    precision_settings = study_settings(args, "precision")
    # The command line's --dtype and --method-option are the precision study's.
    aurora_settings = study_settings(args, "aurora", flags=("seed", "device", "out"))
    check_device(precision_settings.get("device", "cpu"), precision_settings["dtype"])
    out = check_out(precision_settings["out"])
    if args.readme_figure and not args.plots:
        raise UsageError("--readme-figure needs figures; drop --no-plots")
    precision_options = precision_sweep(precision_settings)
    aurora_options = dict(**aurora_setup(aurora_settings), claims=aurora_settings.get("claims"))
    # The neuron study (model-scale claims) at the preset's size, or the [neurons] config table.
    neurons_settings = study_settings(args, "neurons", flags=("seed", "device", "out"))
    neurons_options = {"size": neurons_size(neurons_settings)}
    with folder_lock(out):  # one run per directory, for the whole command
        path = report(
            out,
            precision_options=precision_options,
            aurora_options=aurora_options,
            neurons_options=neurons_options,
            plots=args.plots,
            resume=args.resume,
            show_progress=args.progress,
            **placement(precision_settings),
        )
    claims = read_csv(out / "aurora_claims.csv") + read_csv(out / "neuron_claims.csv")
    print(format_table(claims, ["claim_id", "figure", "verdict"]))
    print(f"wrote {path} (and report.html, raw data, figures/)")
    if args.readme_figure:
        target = Path(args.readme_figure)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / "figures" / "precision_error.png", target)
        except OSError as exc:
            raise UsageError(
                f"cannot write --readme-figure {target}: {exc.strerror or exc}"
            ) from None
        print(f"wrote {target}")
    return 0
