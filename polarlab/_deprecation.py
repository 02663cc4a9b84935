"""Deprecated aliases for names that moved to another module.

A module whose names moved sets ``__getattr__ = moved_names(__name__, {...})``: the
old path keeps working, imports the new home lazily (no import cycles) and warns
with a ``DeprecationWarning`` that names the new place.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["moved_names"]


def moved_names(module: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``moved`` (old name -> new module path).

    Examples
    --------
    >>> getattr_ = moved_names("old.place", {"sqrt": "math"})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     f = getattr_("sqrt")
    >>> f(4.0), str(w[0].message)
    (2.0, 'old.place.sqrt is deprecated; use math.sqrt')
    """
    table = dict(moved)

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target = table[name]
        warnings.warn(
            f"{module}.{name} is deprecated; use {target}.{name}", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(target), name)

    return __getattr__
