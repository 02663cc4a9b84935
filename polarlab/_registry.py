"""The one name -> value registry behind polar methods and schedules.

Names are never silently replaced, and an unknown name is a ``ValueError`` that
lists the registered ones (STYLE: errors say what was wrong and what is allowed).
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Values of one kind by name.

    Examples
    --------
    >>> r = Registry("colour")
    >>> r.add("red", 1)
    1
    >>> r.get("blue")
    Traceback (most recent call last):
    ...
    ValueError: unknown colour 'blue'; choose one of: red
    """

    def __init__(self, kind: str, *, short: str | None = None) -> None:
        self.kind = kind  # in "... is already registered"
        self.short = short or kind  # in "unknown ...; choose one of"
        self._values: dict[str, T] = {}

    def add(self, name: str, value: T) -> T:
        """Register ``value`` as ``name``; an existing name raises ``ValueError``."""
        if name in self._values:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._values[name] = value
        return value

    def get(self, name: str) -> T:
        """The value registered as ``name``; ``ValueError`` listing the names otherwise."""
        if not isinstance(name, str) or name not in self._values:
            raise ValueError(
                f"unknown {self.short} {name!r}; choose one of: {', '.join(self.names())}"
            )
        return self._values[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._values)
