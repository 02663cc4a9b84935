"""Optimizer options as records: each option is defined once, with its default, type, doc and check.

The constructors of the optimizers, the direction classes and the per-tensor
functions are not written out by hand: their signatures (``__signature__``) and
the *Parameters* sections of their docstrings are generated from these records,
so ``help(Muon)``, ``inspect.signature(Muon)`` and the API reference list every
option with its default, and an unknown keyword raises ``TypeError`` like any
Python signature. Nothing here reads a docstring: under ``python -OO`` the
docstrings are ``None`` and only the signatures are generated.

:data:`COMMON_HEAD` and :data:`COMMON_TAIL` are the options every matrix
optimizer owns (momentum, decay, lr scaling, flattening, the non-finite guard,
telemetry); each direction class declares its own (see
:class:`polarlab.optim.direction.Direction`).
"""

from __future__ import annotations

import inspect
import math
import numbers
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from inspect import Parameter
from typing import Any

import torch

from polarlab.optim.rule import ADJUST_LR, MOMENTUM_FORMS

__all__ = [
    "COMMON_HEAD",
    "COMMON_KEYWORD",
    "COMMON_OPTIONS",
    "COMMON_TAIL",
    "NONFINITE_POLICIES",
    "Option",
    "at_least",
    "boolean",
    "check_lr",
    "choice",
    "finite_positive",
    "interval",
    "naming",
    "positive_int",
]

#: What a matrix optimizer does with a non-finite gradient or update.
NONFINITE_POLICIES = ("skip", "raise")

Check = Callable[[str, Any], None]


@dataclass(frozen=True)
class Option:
    """One option: name, default, type and meaning (for the docs), and a value check.

    Attributes
    ----------
    name : str
    default : Any
        Plain data (a number, string, bool, tuple or ``None``).
    type : str
        How the docs describe the accepted values, e.g. ``"float in [0, 1)"``.
    doc : str
        One or more sentences for the *Parameters* section.
    check : callable or None
        ``check(name, value)`` raises ``ValueError`` saying what is allowed.
    position : {"early", "late", "keyword"}
        Where a direction option stands in an optimizer's signature: before the
        common tail options (``flatten, nonfinite, row_telemetry``), after them,
        or keyword-only. Keeps the positional order of polarlab 0.1.

    Examples
    --------
    >>> opt = Option("beta2", 0.95, "float in [0, 1)", "EMA factor.", interval(0, 1))
    >>> opt.validate(0.5)
    >>> opt.validate(1.0)
    Traceback (most recent call last):
    ...
    ValueError: beta2 must lie in [0, 1), got 1.0
    """

    name: str
    default: Any
    type: str
    doc: str
    check: Check | None = None
    position: str = "early"

    def validate(self, value: Any) -> None:
        """Raise ``ValueError`` if ``value`` is not allowed."""
        if self.check is not None:
            self.check(self.name, value)

    def parameter(self, kind=Parameter.POSITIONAL_OR_KEYWORD):
        """The option as an ``inspect.Parameter`` of ``kind``, with its default."""
        return Parameter(self.name, kind, default=self.default)

    def describe(self) -> str:
        """Its numpydoc entry: ``name : type, default value`` and the indented doc."""
        body = textwrap.fill(
            self.doc, 88, initial_indent="    ", subsequent_indent="    ", break_on_hyphens=False
        )
        optional = self.default is None and self.type.endswith("optional")
        head = self.type if optional else f"{self.type}, default {self.default!r}"
        return f"{self.name} : {head}\n{body}"


# --- checks: each raises ValueError naming the option and what is allowed -----------------------


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def choice(choices: Iterable, what: str | None = None) -> Check:
    """Check that a value is one of ``choices`` (error: ``unknown <what> ...; choose one of``)."""
    choices = tuple(choices)
    listing = ", ".join(c if isinstance(c, str) else repr(c) for c in choices)

    def check(name: str, value) -> None:
        if value not in choices:
            raise ValueError(f"unknown {what or name} {value!r}; choose one of: {listing}")

    return check


def interval(low: float, high: float, *, closed: str = "left") -> Check:
    """Check ``low <= x < high`` (``closed="left"``) or ``low < x <= high`` (``"right"``)."""
    text = f"[{low}, {high})" if closed == "left" else f"({low}, {high}]"

    def check(name: str, value) -> None:
        inside = _is_number(value) and (
            low <= value < high if closed == "left" else low < value <= high
        )
        if not inside:
            raise ValueError(f"{name} must lie in {text}, got {value!r}")

    return check


def at_least(low: float, *, strict: bool = False) -> Check:
    """Check for a finite ``x >= low`` (``x > low`` when ``strict``)."""

    def check(name: str, value) -> None:
        above = _is_number(value) and (value > low if strict else value >= low)
        if not (above and value < math.inf):
            raise ValueError(
                f"{name} must be {'>' if strict else '>='} {low} and finite, got {value!r}"
            )

    return check


def finite_positive(name: str, value) -> None:
    """Check for a finite number ``> 0``."""
    if not (_is_number(value) and 0 < value < math.inf):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def positive_int(name: str, value) -> None:
    """Check for an integer ``>= 1`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def boolean(name: str, value) -> None:
    """Check for a ``bool`` (not a number or a string such as ``"no"``)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_lr(name: str, lr) -> None:
    """Check a learning rate: a finite number ``>= 0``, or a one-element real tensor.

    A tensor's value is read only on the CPU: the check runs again at a step
    whenever the group changes, and reading a device tensor would synchronise
    with the host (a device lr's value is the caller's responsibility).
    """
    if isinstance(lr, torch.Tensor):
        if lr.numel() != 1 or not lr.dtype.is_floating_point:
            raise ValueError(
                f"{name} must be a number or a one-element floating tensor, got a tensor "
                f"of shape {tuple(lr.shape)} and dtype {lr.dtype}"
            )
        if lr.device.type != "cpu" or lr.requires_grad:  # no host sync, no autograd
            return
        value = float(lr)
    elif _is_number(lr):
        value = lr
    else:
        raise ValueError(f"{name} must be a number or a one-element tensor, got {lr!r}")
    if not 0 <= value < math.inf:
        raise ValueError(f"{name} must be >= 0 and finite, got {lr!r}")


# --- the options every matrix optimizer owns ----------------------------------------------------

#: Common options listed before a direction's own (in signature order).
COMMON_HEAD: tuple[Option, ...] = (
    Option("lr", 0.02, "float or 0-d tensor", "Learning rate (KellerJordan/Muon).", check_lr),
    Option(
        "momentum",
        0.95,
        "float in [0, 1)",
        "Momentum factor ``mu``.",
        interval(0, 1),
    ),
    Option(
        "nesterov",
        True,
        "bool",
        "Nesterov momentum: the direction map sees ``lerp(G, B, mu)`` (EMA) or "
        "``G + mu B`` (sum) instead of the buffer ``B``.",
        boolean,
    ),
    Option(
        "momentum_form",
        "ema",
        '{"ema", "sum"}',
        '``"ema"``: ``B <- lerp(B, G, 1 - mu)`` (KellerJordan/Muon, torch.optim.Muon); '
        '``"sum"``: ``B <- mu B + G`` (microsoft/dion).',
        choice(MOMENTUM_FORMS, "momentum_form"),
    ),
    Option(
        "weight_decay",
        0.0,
        "float >= 0",
        "Decoupled weight decay ``W <- W (1 - lr wd)``, with the unadjusted lr.",
        at_least(0),
    ),
    Option(
        "cautious_wd",
        False,
        "bool",
        "Decay only the entries where ``W * U >= 0`` (arXiv 2510.12402).",
        boolean,
    ),
    Option(
        "adjust_lr",
        "aspect",
        '{"aspect", "spectral_norm", "rms_norm", None}',
        "lr multiplier by the (fan_out, fan_in) = (m, n) shape: ``sqrt(max(1, m/n))``, "
        "``sqrt(m/n)``, ``0.2 sqrt(max(m, n))`` or 1 (see ``polarlab.optim.rule.lr_scale``).",
        choice(ADJUST_LR, "adjust_lr"),
    ),
)

#: Common options listed after a direction's early options (in signature order).
COMMON_TAIL: tuple[Option, ...] = (
    Option(
        "flatten",
        False,
        "bool",
        "Optimize N-D (e.g. conv) weights as ``shape[0] x prod(shape[1:])`` matrices.",
        boolean,
    ),
    Option(
        "nonfinite",
        "skip",
        '{"skip", "raise"}',
        '``"skip"``: a matrix whose gradient or update is not finite keeps its weights '
        "and state for the step (chosen by ``torch.where``: no host synchronisation); "
        '``"raise"``: raise ``FloatingPointError`` (a host synchronisation; for debugging).',
        choice(NONFINITE_POLICIES, "nonfinite policy"),
    ),
    Option(
        "row_telemetry",
        False,
        "bool",
        'Keep ``state["row_update_norm"]``, the per-row norms of the applied change '
        "``W_new - W`` (one value per output neuron).",
        boolean,
    ),
)

#: Common keyword-only options (after every positional one).
COMMON_KEYWORD: tuple[Option, ...] = (
    Option(
        "distributed",
        None,
        '{None, "replicate", "split"}',
        "Under ``torch.distributed``: ``None``, every rank computes every direction "
        '(sharded DTensor matrices are still gathered to one owner); ``"replicate"``, the '
        'same with the non-finite skip agreed across ranks; ``"split"``, each rank computes '
        "the directions of its share of the matrices and sends them to the others "
        "(``polarlab.optim.distributed``).",
        choice((None, "replicate", "split"), "distributed mode"),
        position="keyword",
    ),
)

#: Every common option, in signature order.
COMMON_OPTIONS: tuple[Option, ...] = COMMON_HEAD + COMMON_TAIL + COMMON_KEYWORD


# --- signatures, docs and plain group data ------------------------------------------------------


def with_defaults(options: Iterable[Option], defaults: Mapping[str, Any]) -> tuple[Option, ...]:
    """The options with some defaults replaced (e.g. ARO's ``lr`` and ``adjust_lr``)."""
    return tuple(replace(o, default=defaults[o.name]) if o.name in defaults else o for o in options)


def make_signature(
    positional: Iterable[Option],
    keyword: Iterable[Option] = (),
    *,
    leading: Iterable[inspect.Parameter] = (),
) -> inspect.Signature:
    """``(*leading, *positional, *, *keyword)`` with every option's default."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [*leading, *(o.parameter() for o in positional), *(o.parameter(kw) for o in keyword)]
    return inspect.Signature(params)


def parameters_section(options: Iterable[Option], preamble: Iterable[str] = ()) -> str:
    """A numpydoc *Parameters* section: ``preamble`` entries, then one entry per option."""
    entries = [*preamble, *(o.describe() for o in options)]
    return "Parameters\n----------\n" + "\n".join(entries)


def with_section(doc: str | None, section: str) -> str | None:
    """``doc`` with ``section`` inserted before its first numpydoc section (or appended).

    ``None`` (docstrings stripped by ``python -OO``) stays ``None``.

    >>> doc = "Summary.\\n\\nNotes\\n-----\\nMore."
    >>> print(with_section(doc, "Parameters\\n----------\\nx : int"))
    Summary.
    <BLANKLINE>
    Parameters
    ----------
    x : int
    <BLANKLINE>
    Notes
    -----
    More.
    """
    if doc is None:
        return None
    lines = inspect.cleandoc(doc).splitlines()
    for i in range(1, len(lines)):
        header, rule = lines[i - 1].strip(), lines[i].strip()
        if header and rule and set(rule) == {"-"} and len(rule) == len(header):
            return "\n".join([*lines[: i - 1], *section.splitlines(), "", *lines[i - 1 :]])
    return "\n".join([*lines, "", *section.splitlines()])


def plain(value: Any) -> Any:
    """Group-storable form of an option value: a torch dtype by name, a registered schedule
    by name, a dict by its plain items; anything else as it is."""
    from polarlab import schedules

    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, schedules.Schedule) and value.name in schedules.names():
        if schedules.get(value.name) == value:
            return value.name
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@contextmanager
def naming(where: str) -> Iterator[None]:
    """Prefix the message of a ``ValueError`` raised inside with ``where``.

    >>> with naming("param_groups[1]"):
    ...     finite_positive("eps", 0.0)
    Traceback (most recent call last):
    ...
    ValueError: param_groups[1]: eps must be a finite number > 0, got 0.0
    """
    try:
        yield
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from error


def group_key(group: Mapping[str, Any]) -> tuple:
    """A comparable snapshot of a group's settings (every entry but ``params``).

    Equal keys mean unchanged settings: containers are copied into tuples, so an
    in-place change of a list or dict is seen. A tensor (e.g. a tensor lr) is held
    with its ``id`` and compared by identity, never with ``==``; a one-element CPU
    tensor also by its value (e.g. an lr changed in place by ``fill_``), read
    without a device synchronisation. A device tensor's value is not read.
    """

    def snap(value):
        if isinstance(value, torch.Tensor):  # equal ids: the same live object
            on_host = value.device.type == "cpu" and value.numel() == 1
            return ("tensor", id(value), value, value.item() if on_host else None)
        if isinstance(value, dict):
            return ("dict", tuple((k, snap(v)) for k, v in value.items()))
        if isinstance(value, (list, tuple)):
            return (type(value).__name__, tuple(snap(v) for v in value))
        return (type(value).__name__, value)

    return tuple((k, snap(v)) for k, v in group.items() if k != "params")


def freeze(value: Any) -> Any:
    """A hashable, comparable form of a group value (dicts and lists become tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value
