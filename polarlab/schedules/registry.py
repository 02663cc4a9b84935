"""The schedule registry: name -> :class:`~polarlab.schedules.Schedule`.

:func:`register` adds a schedule under its own name, :func:`get` looks one up
(an unknown name is a ``ValueError`` listing the registered ones) and
:func:`names` lists them. The built-in presets of
:mod:`polarlab.schedules.presets` register themselves when
:mod:`polarlab.schedules` is imported.
"""

from __future__ import annotations

from polarlab._registry import Registry
from polarlab.schedules.schedule import Schedule

__all__ = ["get", "names", "register"]

_REGISTRY: Registry[Schedule] = Registry("schedule")


def register(schedule: Schedule) -> Schedule:
    """Add a schedule to the registry; an existing name raises ``ValueError``.

    >>> register(get("jordan"))
    Traceback (most recent call last):
    ...
    ValueError: schedule 'jordan' is already registered
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(f"register expects a Schedule, got {type(schedule).__name__}")
    return _REGISTRY.add(schedule.name, schedule)


def get(name: str | Schedule) -> Schedule:
    """The schedule registered as ``name`` (a :class:`~polarlab.schedules.Schedule` passes through).

    An unknown name raises ``ValueError`` listing the valid names.

    >>> get("newton_schulz_cubic").coefficients[0]
    (1.5, -0.5, 0.0)
    """
    if isinstance(name, Schedule):
        return name
    return _REGISTRY.get(name)


def names() -> list[str]:
    """All registered schedule names, sorted.

    >>> "polar_express" in names()
    True
    """
    return _REGISTRY.names()
