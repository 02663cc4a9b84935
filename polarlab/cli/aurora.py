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
        description="Measures every checkable claim over its pre-registered population "
        "(seeds, sigma, aspect ratio, K) and judges it by its declared rule: holds, does not "
        "hold, mixed (the part named) or not testable here (the reason). No verdict comes "
        "from wall-clock time. Writes aurora_points.csv (the measurements), aurora_claims."
        "{csv,json,md} and one figure per claim. --judge FOLDER recomputes the verdicts of a "
        "finished run from its aurora_points.csv without measuring.",
    )
    add_common_flags(parser, "polarlab-aurora")
    parser.add_argument(
        "--method",
        default=argparse.SUPPRESS,
        help="base polar method of the projections (default svd)",
    )
    list_flag(parser, "--claims", "claim ids to run, and whose figures to draw (default all)")
    parser.add_argument(
        "--judge",
        metavar="FOLDER",
        help="recompute the verdicts from FOLDER/aurora_points.csv (e.g. docs/results/aurora) and "
        "compare them with FOLDER/aurora_claims.csv; exit 1 if any differs",
    )


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
    if args.judge:
        return _judge(args.judge)
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.aurora import aurora_claims, aurora_rows, plot_claims, write_claims
    from polarlab.studies.aurora_experiments import FIGURE_CLAIMS
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
    claims = s.get("claims")
    with folder_lock(out):  # one run per directory, for the whole command
        records, points = aurora_claims(**setup, claims=claims, return_points=True)
        print(format_table(records, ["claim_id", "population", "verdict"]))
        write_claims(records, out)
        if args.plots:
            chosen = {r["claim_id"] for r in records}
            figures = [name for name, ids in FIGURE_CLAIMS.items() if chosen & set(ids)]
            paths = plot_claims(records, points, out)
            if figures:
                rows = aurora_rows(**setup, claims=claims)
                paths += plot_aurora_rows(rows, out, figures)
            for path in paths:
                print(f"wrote {path}")
    print(f"wrote {out / 'aurora_claims.md'} and {out / 'aurora_claims.json'}")
    return 0


def _judge(folder: str) -> int:
    """``--judge FOLDER``: the verdicts recomputed from the stored points, compared."""
    from polarlab.studies.aurora import judge_points
    from polarlab.studies.tables import format_table

    try:
        records = judge_points(folder)
    except FileNotFoundError as exc:
        raise UsageError(f"--judge {folder}: {exc.strerror}: {exc.filename}") from None
    from pathlib import Path

    from polarlab.studies._io import read_csv

    stored = {r["claim_id"]: r for r in read_csv(Path(folder) / "aurora_claims.csv")}
    for r in records:
        r["stored verdict"] = stored[r["claim_id"]]["verdict"]
    print(format_table(records, ["claim_id", "verdict", "stored verdict"]))
    differ = [
        r["claim_id"]
        for r in records
        if any(r[k] != stored[r["claim_id"]][k] for k in ("verdict", "part", "measured"))
    ]
    if differ:
        print(f"recomputed verdicts differ from the stored ones for: {', '.join(differ)}")
        return 1
    print(f"every verdict in {folder} follows from its points (recomputed: identical)")
    return 0
