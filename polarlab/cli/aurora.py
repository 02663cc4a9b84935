"""``polarlab aurora``: the checks of the published claims about Aurora's projection."""

from __future__ import annotations

import argparse

from polarlab.cli._settings import (
    UsageError,
    add_common_flags,
    check_device,
    check_out,
    list_flag,
    method_options_of,
    placement,
    study_settings,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    """Add the subcommand to ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "aurora",
        help="check the published claims about Aurora's projection",
        description="Runs one experiment per checkable claim and prints claim, "
        "setting, measured figure and verdict.",
    )
    add_common_flags(parser, "polarlab-aurora")
    parser.add_argument(
        "--method",
        default=argparse.SUPPRESS,
        help="base polar method of the projections (default svd)",
    )
    list_flag(parser, "--claims", "claim ids to run (default all)")


def aurora_dtypes(s: dict) -> list[str]:
    """The one compute dtype of the base polar method, as a list (empty: its default)."""
    dtypes = s.get("dtype") or []
    dtypes = [dtypes] if isinstance(dtypes, str) else list(dtypes)
    if len(dtypes) > 1:
        raise UsageError("aurora takes one --dtype (the base polar method's compute dtype)")
    return dtypes


def aurora_setup(s: dict) -> dict:
    """The keywords of :func:`polarlab.studies.aurora_claims`: the base polar resolved once."""
    from polarlab.studies.aurora import base_solver

    dtypes = aurora_dtypes(s)
    method = {"method": s["method"]} if "method" in s else {}
    options = method_options_of(s, ("dtype",))
    solver = base_solver(**method, dtype=dtypes[0] if dtypes else None, **options)
    return dict(method=solver, size=s["size"])


def run(args: argparse.Namespace) -> int:
    """Run the subcommand on parsed ``args``; returns the exit code."""
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.aurora import aurora_claims, aurora_rows, write_claims
    from polarlab.studies.aurora_figures import plot_aurora_rows
    from polarlab.studies.tables import format_table

    s = study_settings(args, "aurora")
    check_device(s.get("device", "cpu"), aurora_dtypes(s))
    out = check_out(s["out"])
    setup = dict(
        **aurora_setup(s),
        **placement(s),
        out=out,
        resume=args.resume,
        show_progress=args.progress,
    )
    with folder_lock(out):  # one run per directory, for the whole command
        records = aurora_claims(**setup, claims=s.get("claims"))
        print(format_table(records, ["claim_id", "setting", "measured", "verdict"]))
        write_claims(records, out)
        if args.plots:
            for path in plot_aurora_rows(aurora_rows(**setup), out):
                print(f"wrote {path}")
    print(f"wrote {out / 'aurora_claims.md'} and {out / 'aurora_claims.json'}")
    return 0
