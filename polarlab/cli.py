"""The ``polarlab`` command: argument parsing and printing only; the work is in studies.

Subcommands::

    polarlab precision   precision per iterate of polar methods (CSV/JSON, plots, summary)
    polarlab aurora      checks of the published claims about Aurora's projection
    polarlab report      both studies at a small size, in one report directory

Settings are layered: the ``--quick`` (default) or ``--full`` preset (the library's
sweeps, :data:`polarlab.studies.precision_study.SWEEPS` and the Aurora sizes), then a
``--config`` file (JSON, or TOML on Python >= 3.11; keys are option names, flat
or in a ``[precision]`` / ``[aurora]`` table; a ``method_options`` table holds
options of the polar method), then the flags given on the command line, which
always win. ``--method-option KEY=VALUE`` (repeatable) sets any option of the polar
method; the method is resolved once (:func:`polarlab.polar.resolve`) and the
solver handed to the study. Errors are one line on stderr with exit code 2
(``--debug`` shows the traceback) naming the flag or config key at fault: a value of
the wrong type (``steps = 2.5``), an empty list or a repeated value is never coerced.
Ctrl-C or SIGTERM keeps the finished cases on disk (exit code 130) and ``--resume``
checks and skips them (``polarlab.studies._io.run_cases``). A second command into
a busy output directory fails at once (``polarlab.studies._lock``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from polarlab import __version__
from polarlab._deprecation import moved_names

__all__ = ["build_parser", "main"]

# What each study reads from the settings (command-line flags and config keys); the
# presets themselves come from the library (precision_study.SWEEPS, claims.SIZES).
_STUDY_KEYS = {
    "precision": ("methods", "schedules", "dtype", "families", "shapes", "steps"),
    "aurora": ("method", "dtype", "size", "claims"),
}
_COMMON_KEYS = ("seed", "device", "out", "method_options")
_LISTS = ("methods", "schedules", "dtype", "families", "shapes", "claims")


# format_table moved to the studies' one table renderer.
__getattr__ = moved_names(__name__, {"format_table": "polarlab.studies.tables"})


class UsageError(ValueError):
    """Bad command-line or config input (reported in one line, exit code 2)."""


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _option_value(text: str):
    """A method option's value from text: None, bool, int, float, a tuple ``a,b``, or str.

    >>> [_option_value(t) for t in ("none", "True", "3", "1e-3", "2,4", "schatten8")]
    [None, True, 3, 0.001, (2, 4), 'schatten8']
    """
    text = text.strip()
    if "," in text:
        return tuple(_option_value(item) for item in text.split(",") if item.strip())
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _list_flag(parser, flag: str, help: str) -> None:
    """A comma-separated list option (a parser or an argument group's)."""
    parser.add_argument(flag, type=_csv_list, metavar="LIST", default=argparse.SUPPRESS, help=help)


def _method_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip().replace("-", "_"), _option_value(value)


def _common(parser: argparse.ArgumentParser, default_out: str) -> None:
    # Settings that a config file may also give default to SUPPRESS: a flag is in the
    # parsed namespace only when given, so a given flag always beats the config file.
    unset = argparse.SUPPRESS
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--out", metavar="DIR", default=unset, help=f"output directory (default: {default_out})"
    )
    group.add_argument(
        "--device", default=unset, help="torch device, e.g. cpu or cuda:0 (default cpu)"
    )
    _list_flag(group, "--dtype", "compute dtype(s): float64,float32,float16,bfloat16")
    group.add_argument("--seed", type=int, default=unset, help="seed of every matrix (default 0)")
    group.add_argument(
        "--method-option",
        dest="method_options",
        type=_method_option,
        action="append",
        metavar="KEY=VALUE",
        default=unset,
        help="an option of the polar method, e.g. normalization=schatten8 or restarts=2,4 "
        "(repeatable; values read as int, float, true/false, none, a comma tuple or text)",
    )
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
    parser.set_defaults(preset="quick", default_out=default_out)


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
    parser.add_argument("--version", action="version", version=f"polarlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "precision",
        help="precision per iterate (CSV/JSON, plots, summary)",
        description="Every metric per iterate of polar methods, beside the "
        "exact-arithmetic scalar bound and the input-cast floor.",
    )
    _common(p, "polarlab-precision")
    _list_flag(p, "--methods", "polar methods, comma-separated (a wrong name lists the valid ones)")
    _list_flag(
        p,
        "--schedules",
        "coefficient schedules, comma-separated (a wrong name lists the valid ones)",
    )
    _list_flag(
        p, "--families", "matrix families, comma-separated (a wrong name lists the valid ones)"
    )
    _list_flag(p, "--shapes", "shapes, e.g. 64x256,128x128")
    p.add_argument("--steps", type=int, default=argparse.SUPPRESS, help="iterates per run")

    a = sub.add_parser(
        "aurora",
        help="check the published claims about Aurora's projection",
        description="Runs one experiment per checkable claim and prints claim, "
        "setting, measured figure and verdict.",
    )
    _common(a, "polarlab-aurora")
    a.add_argument(
        "--method",
        default=argparse.SUPPRESS,
        help="base polar method of the projections (default svd)",
    )
    _list_flag(a, "--claims", "claim ids to run (default all)")

    r = sub.add_parser(
        "report",
        help="both studies at a small size, one report directory",
        description="Runs the precision and Aurora studies and writes report.md "
        "and report.html with figures and raw data. --dtype and --method-option apply to the "
        "precision study; the Aurora claims use an exact (float64 SVD) base polar unless the "
        "[aurora] table of --config sets method, dtype or method_options.",
    )
    _common(r, "polarlab-report")
    r.add_argument(
        "--readme-figure",
        metavar="PATH",
        help="also copy the headline figure (precision error vs iteration) to PATH",
    )
    return parser


def _read_config(path: str) -> dict:
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
    return data


def _plain_keys(table: dict) -> dict:
    return {k.replace("-", "_"): v for k, v in table.items()}


def _load_config(path: str | None, study: str) -> dict:
    """The config file's settings for ``study``: flat keys, then the study's table.

    A ``method_options`` table (flat or in the study's table) is merged key by key.
    """
    if path is None:
        return {}
    data = _plain_keys(_read_config(path))
    tables = {k for k, v in data.items() if isinstance(v, dict) and k != "method_options"}
    unknown_tables = sorted(tables - set(_STUDY_KEYS))
    if unknown_tables:
        raise UsageError(
            f"unknown table(s) {', '.join(unknown_tables)} in --config; allowed: "
            f"{', '.join(_STUDY_KEYS)}, method_options"
        )
    section = _plain_keys(data[study]) if study in tables else {}
    flat = {k: v for k, v in data.items() if k not in tables}
    merged = {**flat, **section}
    option_tables = [t.get("method_options", {}) for t in (flat, section)]
    if not all(isinstance(t, dict) for t in option_tables):
        raise UsageError("method_options in --config must be a table of option values")
    options = {**option_tables[0], **option_tables[1]}
    if options:
        merged["method_options"] = _plain_keys(options)
    allowed = set(_COMMON_KEYS).union(*_STUDY_KEYS.values())
    unknown = sorted(set(merged) - allowed)
    if unknown:
        raise UsageError(
            f"unknown option(s) {', '.join(unknown)} in --config; allowed: "
            f"{', '.join(sorted(allowed))}"
        )
    return merged


def _preset(study: str, preset: str) -> dict:
    """The preset's settings for ``study``, taken from the library (not restated here)."""
    if study == "precision":
        from polarlab.studies.precision_study import SWEEPS

        sweep = dict(SWEEPS[preset])
        sweep["dtype"] = sweep.pop("dtypes")  # the command line's --dtype
        return sweep
    return {"size": preset}  # the Aurora sizes are named after the presets


def _settings(args: argparse.Namespace, study: str, flags: tuple[str, ...] | None = None) -> dict:
    """Preset < config file < flags given on the command line (all of the study's
    settings, or only ``flags``).

    Flags default to ``argparse.SUPPRESS``, so ``args`` holds a flag only when it was
    given: ``--seed 0`` beats ``seed = 5`` in the config although 0 is the default.
    A key absent from the result takes the study's own default.
    """
    keys = (*_STUDY_KEYS[study], *_COMMON_KEYS)
    config = {k: v for k, v in _load_config(args.config, study).items() if k in keys}
    given = {k: getattr(args, k) for k in (keys if flags is None else flags) if hasattr(args, k)}
    config = {k: _check_setting(k, v, f"{k} in --config {args.config}") for k, v in config.items()}
    given = {k: _check_setting(k, v, "--" + k) for k, v in given.items()}  # the flag
    options = {**config.get("method_options", {}), **dict(given.get("method_options", ()))}
    settings = {"out": args.default_out, **_preset(study, args.preset), **config, **given}
    settings["method_options"] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in options.items()
    }
    args.out = settings["out"]  # named by the interrupt message
    return settings


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_setting(key: str, value, name: str):
    """``value`` of setting ``key`` checked (lists split at commas), or a
    :class:`UsageError` naming it as ``name`` (the flag, or the key in the config)."""
    if key == "steps" and not (_is_int(value) and value >= 1):
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if key == "seed" and not (_is_int(value) and value >= 0):
        raise UsageError(f"{name} must be a non-negative integer, got {value!r}")
    if key in ("out", "device", "method") and not (isinstance(value, str) and value):
        raise UsageError(f"{name} must be a non-empty string, got {value!r}")
    if key == "size" and not isinstance(value, (str, dict)):
        raise UsageError(f"{name} must be quick, full or a table of sizes, got {value!r}")
    if key not in _LISTS:
        return value
    items = _csv_list(value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise UsageError(f"{name} must be a list (or a comma-separated string), got {value!r}")
    if key == "shapes":
        _parse_shapes(items, name)
    elif not all(isinstance(item, str) for item in items):
        raise UsageError(f"{name} must be a list of names, got {value!r}")
    from polarlab.studies._resume import distinct

    return list(distinct(name, items))  # not empty, no value twice


def _parse_shapes(shapes, name: str = "--shapes") -> list[tuple[int, int]]:
    parsed = []
    for shape in shapes:
        if isinstance(shape, (list, tuple)) and len(shape) == 2 and all(map(_is_int, shape)):
            parsed.append(tuple(shape))
            continue
        parts = str(shape).lower().split("x") if isinstance(shape, str) else ()
        try:
            m, n = (int(p) for p in parts)
        except ValueError:
            raise UsageError(f"{name}: bad shape {shape!r}; write it as MxN, e.g. 64x256") from None
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


def _placement(s: dict) -> dict:
    """``seed`` and ``device`` where the settings give them (the study's defaults otherwise)."""
    placed = {"device": s["device"]} if "device" in s else {}
    return {**placed, "seed": s["seed"]} if "seed" in s else placed


def _method_options(s: dict, swept: tuple[str, ...]) -> dict:
    """The method options, refusing those the study sets from its own flags."""
    options = s["method_options"]
    clash = [k for k in swept if k in options]
    if clash:
        flags = ", ".join(f"--{k}s" if k == "schedule" else f"--{k}" for k in clash)
        raise UsageError(f"set {', '.join(clash)} with {flags}, not --method-option")
    return options


def _precision_sweep(s: dict) -> dict:
    """The keywords of :func:`polarlab.studies.precision`: each method resolved once."""
    from polarlab.polar import resolve

    options = _method_options(s, ("schedule", "dtype"))
    return dict(
        methods=[resolve(method, **options) for method in s["methods"]],
        schedules=s["schedules"],
        dtypes=s["dtype"],
        families=s["families"],
        shapes=_parse_shapes(s["shapes"]),
        steps=s["steps"],
    )


def _aurora_dtypes(s: dict) -> list[str]:
    dtypes = s.get("dtype") or []
    dtypes = [dtypes] if isinstance(dtypes, str) else list(dtypes)
    if len(dtypes) > 1:
        raise UsageError("aurora takes one --dtype (the base polar method's compute dtype)")
    return dtypes


def _aurora_setup(s: dict) -> dict:
    """The keywords of :func:`polarlab.studies.aurora_claims`: the base polar resolved once."""
    from polarlab.studies.aurora import base_solver

    dtypes = _aurora_dtypes(s)
    method = {"method": s["method"]} if "method" in s else {}
    options = _method_options(s, ("dtype",))
    solver = base_solver(**method, dtype=dtypes[0] if dtypes else None, **options)
    return dict(method=solver, size=s["size"])


def _run_precision(args) -> int:
    from polarlab.studies import precision
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.precision_study import plot_precision, precision_summary
    from polarlab.studies.tables import format_table

    s = _settings(args, "precision")
    _check_device(s.get("device", "cpu"), s["dtype"])
    out = _check_out(s["out"])
    with folder_lock(out):  # one run per directory, for the whole command
        rows = precision(
            **_precision_sweep(s),
            **_placement(s),
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


def _run_aurora(args) -> int:
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.aurora import aurora_claims, aurora_rows, write_claims
    from polarlab.studies.aurora_figures import plot_aurora_rows
    from polarlab.studies.tables import format_table

    s = _settings(args, "aurora")
    _check_device(s.get("device", "cpu"), _aurora_dtypes(s))
    out = _check_out(s["out"])
    setup = dict(
        **_aurora_setup(s),
        **_placement(s),
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


def _run_report(args) -> int:
    from polarlab.studies._io import read_csv
    from polarlab.studies._lock import folder_lock
    from polarlab.studies.report import report
    from polarlab.studies.tables import format_table

    precision_settings = _settings(args, "precision")
    # The command line's --dtype and --method-option are the precision study's.
    aurora_settings = _settings(args, "aurora", flags=("seed", "device", "out"))
    _check_device(precision_settings.get("device", "cpu"), precision_settings["dtype"])
    out = _check_out(precision_settings["out"])
    if args.readme_figure and not args.plots:
        raise UsageError("--readme-figure needs figures; drop --no-plots")
    precision_options = _precision_sweep(precision_settings)
    aurora_options = dict(**_aurora_setup(aurora_settings), claims=aurora_settings.get("claims"))
    with folder_lock(out):  # one run per directory, for the whole command
        path = report(
            out,
            precision_options=precision_options,
            aurora_options=aurora_options,
            plots=args.plots,
            resume=args.resume,
            show_progress=args.progress,
            **_placement(precision_settings),
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


def _interrupt(signum, frame):
    raise KeyboardInterrupt


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
    # SIGTERM (kill, a batch system's time limit) unwinds like Ctrl-C: the finished cases
    # stay on disk and the output directory's lock is removed (main thread only).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        if args.threads < 1:
            raise UsageError(f"--threads must be a positive integer, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
        return _COMMANDS[args.command](args)
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
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
