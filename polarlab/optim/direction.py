"""Direction objects: the one thing each matrix optimizer contributes.

A direction is a small value holding its own validated options, the shape of
its per-matrix state, and the map ``(M, state) -> (U, new_state)`` from
(stacked) momenta ``M`` of shape ``(b, m, n)`` to update directions. The map is
pure: no in-place writes, no host synchronisation, no reads of optimizer state,
so :class:`~polarlab.optim.PolarOptimizer` can batch it, guard its output with
``torch.where`` and compile it, and :func:`polarlab.optim.functional.update`
can apply it to one weight with explicit state.

Options are validated once, when the direction is built; a polar method is
resolved then (:func:`polarlab.polar.resolve`) into a
:class:`~polarlab.polar.PolarSolver` in the ``"optimizer"`` dtype role
(``polarlab._arrays.compute_dtype``: bfloat16 on CUDA, float32 elsewhere,
unless a ``dtype`` is given), and a step only calls ``solver.apply``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from polarlab.optim.options import (
    Option,
    freeze,
    make_signature,
    parameters_section,
    plain,
    with_section,
)
from polarlab.polar import PolarSolver, resolve

__all__ = ["POLAR_OPTIONS", "Direction", "PolarDirection", "polar_solver"]


class Direction:
    """Base class of direction maps ``M -> U`` with options and per-matrix state.

    A subclass declares :attr:`options` (one :class:`~polarlab.optim.options.Option`
    each; its constructor signature and the *Parameters* section of its
    docstring are generated from them), may add cross-option checks or derived
    values in :meth:`setup`, declares its state in :attr:`state_names` and
    :meth:`init_state`, and implements ``__call__``.

    Examples
    --------
    >>> class SignDirection(Direction):
    ...     '''The entrywise sign of the momentum.'''
    ...     def __call__(self, M, state):
    ...         return torch.sign(M), {}
    >>> U, _ = SignDirection()(torch.tensor([[2.0, -0.5]]), {})
    >>> U.tolist()
    [[1.0, -1.0]]
    """

    #: The direction's own options (validated when it is built).
    options: ClassVar[tuple[Option, ...]] = ()
    #: Keys of its per-matrix state (besides the optimizer's momentum buffer).
    state_names: ClassVar[tuple[str, ...]] = ()
    #: Defaults of common optimizer options that differ for this direction.
    common_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._signature = make_signature((), cls.options)  # keyword-only
        if cls.__init__ is Direction.__init__:  # a subclass's own __init__ keeps its own
            cls.__signature__ = cls._signature
            cls.__doc__ = with_section(cls.__doc__, parameters_section(cls.options))
        else:
            cls.__signature__ = None

    def __init__(self, **values: Any) -> None:
        bound = type(self)._signature.bind(**values)  # TypeError on an unknown name
        bound.apply_defaults()
        for option in self.options:
            value = bound.arguments[option.name]
            option.validate(value)
            setattr(self, option.name, value)
        self.setup()

    def setup(self) -> None:
        """Cross-option checks and derived values (after each option's own check)."""

    # --- group data -----------------------------------------------------------------------------
    @classmethod
    def from_group(cls, group: Mapping[str, Any]) -> Direction:
        """The direction a parameter group's options describe (validated)."""
        missing = [o.name for o in cls.options if o.name not in group]
        if missing:
            raise ValueError(f"the group has no {', '.join(map(repr, missing))}")
        return cls(**{o.name: group[o.name] for o in cls.options})

    @classmethod
    def key(cls, group: Mapping[str, Any]) -> tuple:
        """A comparable summary of the group's direction options (to detect changes)."""
        return tuple(freeze(group.get(o.name)) for o in cls.options)

    def group_values(self) -> dict[str, Any]:
        """The options as plain group data (dtypes and registered schedules by name)."""
        return {o.name: plain(getattr(self, o.name)) for o in self.options}

    # --- the map --------------------------------------------------------------------------------
    def init_state(
        self, m: int, n: int, device: torch.device, dtype: torch.dtype
    ) -> dict[str, torch.Tensor]:
        """Fresh per-matrix state of an ``m x n`` matrix (keys :attr:`state_names`)."""
        return {}

    def __call__(
        self, M: torch.Tensor, state: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Map momenta ``M`` (..., m, n) and state to directions ``U`` and new state."""
        raise NotImplementedError

    def consume(
        self, M: torch.Tensor, state: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The same map, free to use ``M`` as scratch (its values are lost).

        The optimizer's step calls this on the momentum batch it owns, so that a
        direction can save a full-size temporary; the default is ``self(M, state)``.
        """
        return self(M, state)

    def __repr__(self) -> str:
        values = ", ".join(f"{o.name}={getattr(self, o.name)!r}" for o in self.options)
        return f"{type(self).__name__}({values})"


Direction._signature = Direction.__signature__ = make_signature((), ())


def polar_solver(
    method: str | PolarSolver = "polar_express",
    *,
    schedule=None,
    steps: int | None = None,
    dtype=None,
    polar_options: Mapping[str, Any] | None = None,
) -> PolarSolver:
    """Resolve an optimizer's polar options once into a solver in the ``"optimizer"`` role.

    ``schedule``, ``steps`` and ``dtype`` (when not ``None``) and the entries of
    ``polar_options`` are the method's options; naming one in both places is an
    error. A :class:`~polarlab.polar.PolarSolver` as ``method`` is used as it is,
    with the given options replacing its own.

    Examples
    --------
    >>> s = polar_solver("polar_express", schedule="jordan", polar_options={"steps": 3})
    >>> s.schedule.name, s.options["steps"], s.role
    ('jordan', 3, 'optimizer')
    >>> polar_solver("svd", steps=3)
    Traceback (most recent call last):
    ...
    ValueError: method 'svd' takes no option(s) steps; its options are: rank_tol
    """
    if polar_options is not None and not isinstance(polar_options, Mapping):
        raise ValueError(f"polar_options must be a dict or None, got {polar_options!r}")
    given = dict(polar_options or {})
    for name, value in (("schedule", schedule), ("steps", steps), ("dtype", dtype)):
        if value is None:
            continue
        if name in given:
            raise ValueError(f"{name} is given twice: as a keyword and in polar_options")
        given[name] = value
    return resolve(method, **given).in_role("optimizer")


def _solver_values(solver: PolarSolver) -> dict[str, Any]:
    """A solver as plain group data: its name and the options that differ from the defaults."""
    defaults = solver.method.option_defaults()
    changed = {
        name: plain(value)
        for name, value in solver.items
        if plain(value) != plain(defaults.get(name, inspect.Parameter.empty))
    }
    values = {k: changed.pop(k, None) for k in ("schedule", "steps", "dtype")}
    return {"method": solver.name, **values, "polar_options": changed or None}


#: The options of every direction built on a polar method.
POLAR_OPTIONS: tuple[Option, ...] = (
    Option(
        "method",
        "polar_express",
        "str or PolarSolver",
        "Registered polar method (``polarlab.polar.names()``), or a solver from "
        "``polarlab.polar.resolve`` (its options are kept; the ones given here replace them).",
    ),
    Option(
        "schedule",
        None,
        "str, optional",
        "Coefficient schedule of a polynomial method (``polarlab.schedules.names()``); "
        "``None``: the method's own.",
    ),
    Option(
        "steps",
        None,
        "int, optional",
        "Iterations of a polynomial method; ``None``: the schedule's own count.",
    ),
    Option(
        "dtype",
        None,
        "str or torch.dtype, optional",
        'Compute dtype of the polar iterations; ``None``: the "optimizer" role of '
        "``polarlab._arrays.compute_dtype`` (bfloat16 on CUDA, float32 elsewhere).",
    ),
    Option(
        "polar_options",
        None,
        "dict, optional",
        'Any other option of the method, e.g. ``{"normalization": "schatten8"}`` or '
        '``{"restarts": (1, 3)}`` (see the method\'s documentation).',
        position="keyword",
    ),
)


class PolarDirection(Direction):
    """A direction built on a polar method: holds the resolved :attr:`solver`.

    Attributes
    ----------
    solver : PolarSolver
        The method and its options, validated once, in the ``"optimizer"`` role.
    """

    options = POLAR_OPTIONS

    def setup(self) -> None:
        self.solver = polar_solver(
            self.method,
            schedule=self.schedule,
            steps=self.steps,
            dtype=self.dtype,
            polar_options=self.polar_options,
        )

    def group_values(self) -> dict[str, Any]:
        values = super().group_values()
        if isinstance(self.method, PolarSolver):  # plain data: the name and its options
            values.update(_solver_values(self.solver))
        return values
