"""The ``polarlab`` command: argument parsing and printing only; the work is in studies.

Subcommands (one module each in this package, listed in ``COMMANDS``)::

    polarlab precision   precision per iterate of polar methods (CSV/JSON, plots, summary)
    polarlab aurora      checks of the published claims about Aurora's projection
    polarlab neurons     neuron death, expansion sweep, end-to-end overhead (model scale)
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
import signal
import sys
import threading

from polarlab import __version__
from polarlab._deprecation import moved_names
from polarlab.cli import aurora, neurons, precision, report
from polarlab.cli._settings import UsageError

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

# The subcommands, in --help order: each module has add_parser(sub) and run(args).
COMMANDS = {"precision": precision, "aurora": aurora, "neurons": neurons, "report": report}

# format_table moved to the studies' one table renderer.
__getattr__ = moved_names(__name__, {"format_table": "polarlab.studies.tables"})


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

    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


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
        return COMMANDS[args.command].run(args)
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
