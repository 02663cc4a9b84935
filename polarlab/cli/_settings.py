"""Settings of the ``polarlab`` subcommands: flags shared by all, config files, checks.

Settings are layered: the ``--quick`` (default) or ``--full`` preset, then a
``--config`` file, then the flags given on the command line, which always win
(see :mod:`polarlab.cli`). Every check raises :class:`UsageError` naming the flag or
config key at fault; :func:`polarlab.cli.main` prints it as one line (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

__all__ = [
    "UsageError",
    "add_common_flags",
    "check_device",
    "check_out",
    "list_flag",
    "method_options_of",
    "parse_shapes",
    "placement",
    "study_settings",
]

# What each study reads from the settings (command-line flags and config keys); the
# presets themselves come from the library (precision_study.SWEEPS, claims.SIZES).
STUDY_KEYS = {
    "precision": ("methods", "schedules", "arrangements", "dtype", "families", "shapes", "steps"),
    "aurora": ("method", "dtype", "size", "claims"),
    "neurons": ("size", "models", "optimizers", "expansions", "seeds", "steps"),
}
COMMON_KEYS = ("seed", "device", "out", "method_options")
LISTS = (
    "methods",
    "schedules",
    "arrangements",
    "dtype",
    "families",
    "shapes",
    "claims",
    "models",
    "optimizers",
)


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


def list_flag(parser, flag: str, help: str) -> None:
    """A comma-separated list option (a parser or an argument group's)."""
    parser.add_argument(flag, type=_csv_list, metavar="LIST", default=argparse.SUPPRESS, help=help)


def method_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip().replace("-", "_"), _option_value(value)


def add_common_flags(parser: argparse.ArgumentParser, default_out: str) -> None:
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
    list_flag(group, "--dtype", "compute dtype(s): float64,float32,float16,bfloat16")
    group.add_argument("--seed", type=int, default=unset, help="seed of every matrix (default 0)")
    group.add_argument(
        "--method-option",
        dest="method_options",
        type=method_option,
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
    unknown_tables = sorted(tables - set(STUDY_KEYS))
    if unknown_tables:
        raise UsageError(
            f"unknown table(s) {', '.join(unknown_tables)} in --config; allowed: "
            f"{', '.join(STUDY_KEYS)}, method_options"
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
    allowed = set(COMMON_KEYS).union(*STUDY_KEYS.values())
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


def study_settings(
    args: argparse.Namespace, study: str, flags: tuple[str, ...] | None = None
) -> dict:
    """Preset < config file < flags given on the command line (all of the study's
    settings, or only ``flags``).

    Flags default to ``argparse.SUPPRESS``, so ``args`` holds a flag only when it was
    given: ``--seed 0`` beats ``seed = 5`` in the config although 0 is the default.
    A key absent from the result takes the study's own default.
    """
    keys = (*STUDY_KEYS[study], *COMMON_KEYS)
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
    if key not in LISTS:
        return value
    items = _csv_list(value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise UsageError(f"{name} must be a list (or a comma-separated string), got {value!r}")
    if key == "shapes":
        parse_shapes(items, name)
    elif not all(isinstance(item, str) for item in items):
        raise UsageError(f"{name} must be a list of names, got {value!r}")
    from polarlab.studies._resume import distinct

    return list(distinct(name, items))  # not empty, no value twice


def parse_shapes(shapes, name: str = "--shapes") -> list[tuple[int, int]]:
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


def check_out(out: str) -> Path:
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


def check_device(device: str, dtypes) -> None:
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


def placement(s: dict) -> dict:
    """``seed`` and ``device`` where the settings give them (the study's defaults otherwise)."""
    placed = {"device": s["device"]} if "device" in s else {}
    return {**placed, "seed": s["seed"]} if "seed" in s else placed


def method_options_of(s: dict, swept: tuple[str, ...]) -> dict:
    """The method options, refusing those the study sets from its own flags."""
    options = s["method_options"]
    clash = [k for k in swept if k in options]
    if clash:
        plural = ("schedule", "arrangement")  # swept by a list flag named in the plural
        flags = ", ".join(f"--{k}s" if k in plural else f"--{k}" for k in clash)
        raise UsageError(f"set {', '.join(clash)} with {flags}, not --method-option")
    return options
