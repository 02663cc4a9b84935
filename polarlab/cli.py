"""The ``polarlab`` command: argument parsing and printing only; the work is in studies.

Subcommands::

    polarlab precision   precision per iterate of polar methods (CSV/JSON, plots, summary)
    polarlab aurora      checks of the published claims about Aurora's projection
    polarlab report      both studies at a small size, in one report directory

Settings are layered: the ``--quick`` (default) or ``--full`` preset, then a
``--config`` file (JSON, or TOML on Python >= 3.11; keys are option names, flat
or in a ``[precision]`` / ``[aurora]`` table), then the flags given. Errors are
one line on stderr with exit code 2 (``--debug`` shows the traceback); Ctrl-C
keeps the finished cases on disk (exit code 130) and ``--resume`` skips them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]

# Preset sweeps. "quick" keeps `polarlab report` near a minute on two CPU cores.
PRESETS: dict[str, dict[str, dict]] = {
    "quick": {
        "precision": dict(
            methods=["newton_schulz"],
            schedules=["polar_express", "simple_quintic", "jordan"],
            dtype=["float32", "bfloat16"],
            families=["gaussian", "logspaced", "low_rank_noise"],
            shapes=["64x256"],
            steps=10,
        ),
        "aurora": dict(method="svd", dtype=None, size="quick", claims=None),
    },
    "full": {
        "precision": dict(
            methods=["newton_schulz", "qdwh", "newton"],
            schedules=[
                "polar_express",
                "polar_express_modded",
                "simple_quintic",
                "jordan",
                "you_5",
                "cans_5",
                "pade_quintic",
                "newton_schulz_cubic",
            ],
            dtype=["float64", "float32", "float16", "bfloat16"],
            families=[
                "gaussian",
                "logspaced",
                "power_law",
                "spike_flat",
                "rank_deficient",
                "low_rank_noise",
                "row_lognormal",
                "heavy_tailed",
            ],
            shapes=["128x512", "256x256"],
            steps=16,
        ),
        "aurora": dict(method="svd", dtype=None, size="full", claims=None),
    },
}

_LISTS = ("methods", "schedules", "dtype", "families", "shapes", "claims")


class UsageError(ValueError):
    """Bad command-line or config input (reported in one line, exit code 2)."""


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _common(parser: argparse.ArgumentParser, default_out: str) -> None:
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--out",
        metavar="DIR",
        default=default_out,
        help=f"output directory (default: {default_out})",
    )
    group.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    group.add_argument(
        "--dtype",
        type=_csv_list,
        metavar="LIST",
        help="compute dtype(s): float64,float32,float16,bfloat16",
    )
    group.add_argument("--seed", type=int, default=0, help="seed of every matrix (default 0)")
    size = group.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", dest="preset", action="store_const", const="quick", help="small sweep (default)"
    )
    size.add_argument(
        "--full", dest="preset", action="store_const", const="full", help="the full sweep (slow)"
    )
    group.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="torch CPU threads (default 1: the study matrices are small and "
        "one thread per process does not oversubscribe shared cores)",
    )
    group.add_argument("--config", metavar="FILE", help="JSON or TOML file of option values")
    group.add_argument(
        "--resume", action="store_true", help="keep finished cases found in --out and skip them"
    )
    group.add_argument(
        "--no-plots", dest="plots", action="store_false", help="skip figures (no matplotlib needed)"
    )
    group.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )
    # SUPPRESS: the subcommand's flag must not reset a `polarlab --debug COMMAND`.
    group.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    parser.set_defaults(preset="quick")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy: ``polarlab --help`` needs no matplotlib).

    Examples
    --------
    >>> args = build_parser().parse_args(["precision", "--shapes", "64x256,8x8", "--full"])
    >>> args.shapes, args.preset
    (['64x256', '8x8'], 'full')
    """
    parser = argparse.ArgumentParser(
        prog="polarlab",
        description="Polar-factor precision studies and Aurora claim checks.",
        epilog="Run 'polarlab COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "precision",
        help="precision per iterate (CSV/JSON, plots, summary)",
        description="Every metric per iterate of polar methods, beside the "
        "exact-arithmetic scalar bound and the input-cast floor.",
    )
    _common(p, "polarlab-precision")
    p.add_argument(
        "--methods",
        type=_csv_list,
        metavar="LIST",
        help="polar methods, comma-separated (a wrong name lists the valid ones)",
    )
    p.add_argument(
        "--schedules",
        type=_csv_list,
        metavar="LIST",
        help="coefficient schedules, comma-separated (a wrong name lists the valid ones)",
    )
    p.add_argument(
        "--families",
        type=_csv_list,
        metavar="LIST",
        help="matrix families, comma-separated (a wrong name lists the valid ones)",
    )
    p.add_argument("--shapes", type=_csv_list, metavar="LIST", help="shapes, e.g. 64x256,128x128")
    p.add_argument("--steps", type=int, help="iterates per run")

    a = sub.add_parser(
        "aurora",
        help="check the published claims about Aurora's projection",
        description="Runs one experiment per checkable claim and prints claim, "
        "setting, measured figure and verdict.",
    )
    _common(a, "polarlab-aurora")
    a.add_argument("--method", help="base polar method of the projections (default svd)")
    a.add_argument(
        "--claims", type=_csv_list, metavar="LIST", help="claim ids to run (default all)"
    )

    r = sub.add_parser(
        "report",
        help="both studies at a small size, one report directory",
        description="Runs the precision and Aurora studies and writes report.md "
        "and report.html with figures and raw data. --dtype applies to the precision study; "
        "the Aurora claims use an exact (float64 SVD) base polar.",
    )
    _common(r, "polarlab-report")
    r.add_argument(
        "--readme-figure",
        metavar="PATH",
        help="also copy the headline figure (precision error vs iteration) to PATH",
    )
    return parser


def _load_config(path: str | None, study: str) -> dict:
    if path is None:
        return {}
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --config {path}: {exc.strerror or exc}") from None
    try:
        if file.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # pragma: no cover - Python 3.10
                raise UsageError("TOML configs need Python >= 3.11; use a .json file") from None
            data = tomllib.loads(text.decode())
        else:
            data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot parse --config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path} must hold a table/object of option values")
    unknown_tables = sorted(
        k for k, v in data.items() if isinstance(v, dict) and k not in PRESETS["quick"]
    )
    if unknown_tables:
        raise UsageError(
            f"unknown table(s) {', '.join(unknown_tables)} in --config; allowed: "
            f"{', '.join(PRESETS['quick'])}"
        )
    section = data.get(study, {})
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    merged = {**flat, **section}
    return {k.replace("-", "_"): v for k, v in merged.items()}


def _settings(args: argparse.Namespace, study: str, parser_defaults: dict) -> dict:
    """Preset < config file < flags given on the command line."""
    settings = dict(PRESETS[args.preset][study])
    config = _load_config(args.config, study)
    allowed = {"seed", "device", "out"}.union(*PRESETS[args.preset].values())
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise UsageError(
            f"unknown option(s) {', '.join(unknown)} in --config; allowed: "
            f"{', '.join(sorted(allowed))}"
        )
    config = {k: v for k, v in config.items() if k in settings or k in ("seed", "device", "out")}
    settings.update(
        {k: (_csv_list(v) if k in _LISTS and isinstance(v, str) else v) for k, v in config.items()}
    )
    for key in (*settings, "seed", "device", "out"):
        value = getattr(args, key, None)
        if value is not None and (key not in parser_defaults or value != parser_defaults[key]):
            settings[key] = value
        settings.setdefault(key, value)
    return settings


def _parse_shapes(shapes) -> list[tuple[int, int]]:
    parsed = []
    for shape in shapes:
        if isinstance(shape, (list, tuple)):
            parsed.append(tuple(shape))
            continue
        parts = str(shape).lower().split("x")
        try:
            m, n = (int(p) for p in parts)
        except ValueError:
            raise UsageError(f"bad shape {shape!r}; write it as MxN, e.g. 64x256") from None
        parsed.append((m, n))
    return parsed


def _check_out(out: str) -> Path:
    """Fail early, with one line, if ``out`` cannot become a writable directory.

    Creates nothing: the studies create the directory once their input is valid.
    """
    path = Path(out)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot write to --out {out}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to --out {out}: {existing} is not writable")
    return path


def _check_device(device: str, dtypes) -> None:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown --device {device!r}; e.g. cpu, cuda, cuda:0, mps") from None
    available = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"device {device!r} is not available here; available: {', '.join(available)}"
        )
    from polarlab._arrays import resolve_dtype

    for name in dtypes or ():
        dtype = resolve_dtype(name)  # ValueError listing the dtypes
        try:
            x = torch.ones(2, 2, dtype=dtype, device=dev)
            torch.linalg.matrix_norm(x @ x)
        except (RuntimeError, TypeError) as exc:
            raise UsageError(f"dtype {name} is not supported on device {device!r}: {exc}") from None


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def format_table(records, columns) -> str:
    """A plain-text table of ``records`` (dicts) restricted to ``columns``.

    Examples
    --------
    >>> print(format_table([{"claim": "C-3", "figure": 0.0123456}], ["claim", "figure"]))
    claim  figure
    -----  ------
    C-3    0.0123
    """
    cells = [[_fmt(r.get(c)) for c in columns] for r in records]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _precision_sweep(s: dict) -> dict:
    """The sweep keywords of :func:`polarlab.studies.precision` from resolved settings."""
    return dict(
        methods=s["methods"],
        schedules=s["schedules"],
        dtypes=s["dtype"],
        families=s["families"],
        shapes=_parse_shapes(s["shapes"]),
        steps=int(s["steps"]),
    )


def _run_precision(args, defaults) -> int:
    from polarlab.studies import precision
    from polarlab.studies.precision_study import plot_precision, precision_summary

    s = _settings(args, "precision", defaults)
    _check_device(s["device"], s["dtype"])
    out = _check_out(s["out"])
    rows = precision(
        **_precision_sweep(s),
        seed=int(s["seed"]),
        device=s["device"],
        out=out,
        resume=args.resume,
        show_progress=args.progress,
    )
    summary = precision_summary(rows)
    print(format_table(summary, list(summary[0]) if summary else []))
    if args.plots:
        for path in plot_precision(rows, out):
            print(f"wrote {path}")
    print(f"wrote {out / 'precision.csv'} and {out / 'precision.json'} ({len(rows)} rows)")
    return 0


def _run_aurora(args, defaults) -> int:
    from polarlab.studies.aurora import aurora_claims, plot_aurora, write_claims

    s = _settings(args, "aurora", defaults)
    dtypes = s["dtype"] if isinstance(s["dtype"], list) else ([s["dtype"]] if s["dtype"] else [])
    if len(dtypes) > 1:
        raise UsageError("aurora takes one --dtype (the base polar method's compute dtype)")
    _check_device(s["device"], dtypes)
    out = _check_out(s["out"])
    records = aurora_claims(
        method=s["method"],
        dtype=dtypes[0] if dtypes else None,
        seed=int(s["seed"]),
        device=s["device"],
        size=s["size"],
        claims=s.get("claims"),
        out=out,
        resume=args.resume,
        show_progress=args.progress,
    )
    print(format_table(records, ["claim_id", "setting", "measured", "verdict"]))
    write_claims(records, out)
    if args.plots:
        for path in plot_aurora(out, method=s["method"], seed=int(s["seed"])):
            print(f"wrote {path}")
    print(f"wrote {out / 'aurora_claims.md'} and {out / 'aurora_claims.json'}")
    return 0


def _run_report(args, defaults) -> int:
    from polarlab.studies._io import read_csv
    from polarlab.studies.report import report

    precision_settings = _settings(args, "precision", defaults)
    aurora_settings = _settings(args, "aurora", defaults)
    _check_device(precision_settings["device"], precision_settings["dtype"])
    out = _check_out(precision_settings["out"])
    if args.readme_figure and not args.plots:
        raise UsageError("--readme-figure needs figures; drop --no-plots")
    path = report(
        out,
        precision_options=_precision_sweep(precision_settings),
        aurora_options=dict(
            method=aurora_settings["method"],
            size=aurora_settings["size"],
            claims=aurora_settings.get("claims"),
        ),
        seed=int(precision_settings["seed"]),
        device=precision_settings["device"],
        plots=args.plots,
        resume=args.resume,
        show_progress=args.progress,
    )
    claims = read_csv(out / "aurora_claims.csv")
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


_COMMANDS = {"precision": _run_precision, "aurora": _run_aurora, "report": _run_report}


def main(argv: list[str] | None = None) -> int:
    """Run the ``polarlab`` command; returns the exit code (0 ok, 2 error, 130 interrupted).

    ``argv`` defaults to ``sys.argv[1:]``. Errors in the input (unknown names,
    impossible shapes, an unwritable ``--out``, a device or dtype the machine
    lacks) print one line on stderr and return 2; ``--debug`` raises instead.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = main(["precision", "--methods", "nope", "--no-progress"])
    >>> code, err.getvalue().split(": ")[1]
    (2, 'error')
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    sub = parser._subparsers._group_actions[0].choices[args.command]
    defaults = {a.dest: a.default for a in sub._actions}
    try:
        if args.threads < 1:
            raise UsageError(f"--threads must be a positive integer, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
        return _COMMANDS[args.command](args, defaults)
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        print(
            f"polarlab: interrupted; finished cases are kept in {out} "
            "(rerun with --resume to skip them)",
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        if args.debug:
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"polarlab {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
