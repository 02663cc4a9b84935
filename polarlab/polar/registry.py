"""Name -> polar method. One registry; an unknown name is a ``ValueError`` listing the names.

A method is a pair of plain functions on *tall* work tensors (``m >= n``; the
dispatcher transposes wide input so every method iterates on the short side):

``solve(X, **options) -> (U, info)``
    ``X`` is a torch tensor of shape ``(..., m, n)`` with ``m >= n``, never to be
    modified in place. ``U`` has the same shape, in whatever dtype the method
    computed in (the dispatcher casts it back). ``info`` is a dict of plain
    Python values describing the run (e.g. ``{"iterations": 5}``).

``iterates(X, steps, **options) -> Iterator[torch.Tensor]`` (optional)
    Yields the iterates ``X_1, ..., X_steps`` of one run (for precision-vs-
    iteration studies), in O(steps) work.

``check(options) -> options`` (optional)
    Validates option *values* once and returns them normalised (a schedule name
    becomes a :class:`~polarlab.schedules.Schedule`, a dtype name a torch dtype);
    :func:`polarlab.polar.resolve` calls it, so ``solve`` never re-validates.

Single options are checked by declaration, before ``check``: ``OPTION_CHECKS``
holds the checks of option names shared by several methods (``rank_tol``,
``digits``, ``max_size``), and a method may declare its own
(``option_checks={"name": check}``); each ``check(name, value)`` raises
``ValueError`` naming the option and what is allowed (booleans are not numbers,
strings are not parsed).

Methods register themselves with :func:`register` when their module is imported;
``polarlab.polar`` imports every built-in method module.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch

from polarlab._registry import Registry

__all__ = ["OPTION_CHECKS", "PolarMethod", "get", "names", "register"]

Solve = Callable[..., tuple[torch.Tensor, dict]]
Iterates = Callable[..., Iterator[torch.Tensor]]
Check = Callable[[dict], dict]
OptionCheck = Callable[[str, object], None]


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_rank_tol(name: str, value) -> None:
    # s_i <= rank_tol * s_1 is dropped: from 1 up every singular value would be
    if value is not None and not (_is_real(value) and 0 <= value < 1):
        raise ValueError(
            f"{name} must be >= 0 and below 1 (singular values s_i <= {name} * s_1 are "
            f"dropped), or None; got {value!r}"
        )


def _check_digits(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 16:
        raise ValueError(
            f"{name} must be an integer >= 16 (float64 carries about 16), got {value!r}"
        )


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


#: Checks of options by name, for every method that takes an option of that name.
OPTION_CHECKS: Mapping[str, OptionCheck] = MappingProxyType(
    {
        "rank_tol": _check_rank_tol,  # svd, mpmath: a relative threshold in [0, 1)
        "digits": _check_digits,  # mpmath working precision
        "max_size": _check_positive_int,  # mpmath: largest m * n accepted
    }
)


@dataclass(frozen=True)
class PolarMethod:
    """A registered polar-factor method.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"svd"``.
    solve : callable
        ``solve(X, **options) -> (U, info)`` on tall work tensors.
    summary : str
        One line for listings and error messages.
    iterates : callable or None
        ``iterates(X, steps, **options)`` yielding tall iterates, or ``None`` for
        direct (non-iterative) methods.
    exact : bool
        The method converges to working (float64) precision; otherwise its
        accuracy is set by a step count or schedule.
    defaults : mapping
        Option defaults declared on the method that override ``solve``'s own
        (e.g. ``"polar_express"`` is the Newton-Schulz engine with
        ``schedule="polar_express"``).
    check : callable or None
        ``check(options) -> options``: validates and normalises option values.
    option_checks : mapping
        ``name -> check(name, value)`` for single options, applied (with
        ``OPTION_CHECKS`` for the shared names) before :attr:`check`.
    solve_in_place : callable or None
        ``solve`` with the same options and the same result, free to use ``X`` as
        scratch (its values are lost), saving a full-size temporary; ``None``: the
        method has none (callers that own their input then use :attr:`solve`).

    Examples
    --------
    >>> get("svd").options
    ('rank_tol',)
    >>> get("svd").iterates is None
    True
    """

    name: str
    solve: Solve
    summary: str
    iterates: Iterates | None = None
    exact: bool = False
    defaults: Mapping = field(default_factory=dict, compare=False)  # the name identifies
    check: Check | None = None
    option_checks: Mapping[str, OptionCheck] = field(default_factory=dict, compare=False)
    solve_in_place: Solve | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "option_checks", MappingProxyType(dict(self.option_checks)))

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options ``solve`` accepts (from its signature)."""
        return tuple(self.option_defaults())

    def option_defaults(self) -> dict:
        """Every option with its default: ``solve``'s signature, then :attr:`defaults`.

        >>> get("polar_express").option_defaults()["schedule"]
        'polar_express'
        """
        params = list(inspect.signature(self.solve).parameters.values())[1:]
        found = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
        return {**found, **{k: v for k, v in self.defaults.items() if k in found}}

    def resolve_options(self, options: Mapping) -> dict:
        """Validate ``options`` once: names, then values; returns every option, normalised.

        This is the only place a polar method's options are validated;
        :func:`polarlab.polar.resolve` calls it.

        >>> sorted(get("svd").resolve_options({}))
        ['rank_tol']
        """
        self.check_options(dict(options))
        full = {**self.option_defaults(), **options}
        declared = {**OPTION_CHECKS, **self.option_checks}
        for name, value in full.items():
            if name in declared:
                declared[name](name, value)
        return dict(self.check(full)) if self.check is not None else full

    def check_options(self, options: dict, *, extra: tuple[str, ...] = ()) -> None:
        """Raise ``ValueError`` naming any option this method does not take."""
        allowed = set(self.options) | set(extra)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(
                f"method {self.name!r} takes no option(s) {', '.join(unknown)}; "
                f"its options are: {', '.join(sorted(allowed)) or '(none)'}"
            )


_REGISTRY: Registry[PolarMethod] = Registry("polar method", short="method")


def register(
    name: str,
    solve: Solve,
    summary: str,
    *,
    iterates: Iterates | None = None,
    exact: bool = False,
    defaults: Mapping | None = None,
    check: Check | None = None,
    option_checks: Mapping[str, OptionCheck] | None = None,
    solve_in_place: Solve | None = None,
) -> PolarMethod:
    """Register a polar method under ``name`` and return its record.

    See :class:`PolarMethod` for the fields.

    Registering an existing name raises ``ValueError``: methods are never
    silently replaced.

    Examples
    --------
    >>> register("svd", lambda X: (X, {}), "a second svd")
    Traceback (most recent call last):
    ...
    ValueError: polar method 'svd' is already registered
    """
    method = PolarMethod(
        name,
        solve,
        summary,
        iterates,
        exact,
        defaults or {},
        check,
        option_checks or {},
        solve_in_place,
    )
    return _REGISTRY.add(name, method)


def get(name: str) -> PolarMethod:
    """The method registered as ``name``; ``ValueError`` listing valid names otherwise.

    >>> get("svd").name
    'svd'
    """
    return _REGISTRY.get(name)


def names() -> list[str]:
    """Registered method names, sorted.

    >>> "svd" in names()
    True
    """
    return _REGISTRY.names()
