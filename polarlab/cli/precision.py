"""``polarlab precision``: every metric per iterate of polar methods."""

from __future__ import annotations

import argparse

from polarlab.cli._settings import (
    add_common_flags,
    check_device,
    check_out,
    list_flag,
    method_options_of,
    parse_shapes,
    placement,
    study_settings,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    """Add the subcommand to ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "precision",
        help="precision per iterate (CSV/JSON, plots, summary)",
        description="Every metric per iterate of polar methods, beside the exact-arithmetic "
        "prediction for each matrix, the schedule's worst-case bound and the input-cast floor "
        "(all in the spectral norm).",
    )
    add_common_flags(parser, "polarlab-precision")
    list_flag(
        parser, "--methods", "polar methods, comma-separated (a wrong name lists the valid ones)"
    )
    list_flag(
        parser,
        "--schedules",
        "coefficient schedules, comma-separated (a wrong name lists the valid ones)",
    )
    list_flag(
        parser, "--families", "matrix families, comma-separated (a wrong name lists the valid ones)"
    )
    list_flag(
        parser,
        "--arrangements",
        "step arrangements of the Newton-Schulz engine, comma-separated: fused "
        "(X(aI + bA + cA^2), the default) and published (aX + X(bA + cA^2), the Polar Express "
        "listing); default: the method's own",
    )
    list_flag(parser, "--shapes", "shapes, e.g. 64x256,128x128")
    parser.add_argument("--steps", type=int, default=argparse.SUPPRESS, help="iterates per run")


def precision_sweep(s: dict) -> dict:
    """The keywords of :func:`polarlab.studies.precision`: each method resolved once."""
    from polarlab.polar import resolve

    options = method_options_of(s, ("schedule", "arrangement", "dtype"))
    return dict(
        methods=[resolve(method, **options) for method in s["methods"]],
        schedules=s["schedules"],
        arrangements=s.get("arrangements"),
        dtypes=s["dtype"],
        families=s["families"],
        shapes=parse_shapes(s["shapes"]),
        steps=s["steps"],
    )


def run(args: argparse.Namespace) -> int:
    """Run the subcommand on parsed ``args``; returns the exit code."""
    from polarlab.studies import precision
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.precision_figures import plot_precision
    from polarlab.studies.precision_study import precision_summary
    from polarlab.studies.tables import format_table

    s = study_settings(args, "precision")
    check_device(s.get("device", "cpu"), s["dtype"])
    out = check_out(s["out"])
    with folder_lock(out):  # one run per directory, for the whole command
        rows = precision(
            **precision_sweep(s),
            **placement(s),
            out=out,
            resume=args.resume,
            show_progress=args.progress,
        )
        print(format_table(precision_summary(rows)))
        if args.plots:
            for path in plot_precision(rows, out):
                print(f"wrote {path}")
    print(f"wrote {out / 'precision.csv'} and {out / 'precision.json'} ({len(rows)} rows)")
    return 0
