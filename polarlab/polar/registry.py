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

Methods register themselves with :func:`register` when their module is imported;
``polarlab.polar`` imports every built-in method module.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

__all__ = ["PolarMethod", "get", "names", "register"]

Solve = Callable[..., tuple[torch.Tensor, dict]]
Iterates = Callable[..., Iterator[torch.Tensor]]


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

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options ``solve`` accepts (from its signature)."""
        params = list(inspect.signature(self.solve).parameters.values())[1:]
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY)

    def check_options(self, options: dict, *, extra: tuple[str, ...] = ()) -> None:
        """Raise ``ValueError`` naming any option this method does not take."""
        allowed = set(self.options) | set(extra)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(
                f"method {self.name!r} takes no option(s) {', '.join(unknown)}; "
                f"its options are: {', '.join(sorted(allowed)) or '(none)'}"
            )


_REGISTRY: dict[str, PolarMethod] = {}


def register(
    name: str, solve: Solve, summary: str, *, iterates: Iterates | None = None
) -> PolarMethod:
    """Register a polar method under ``name`` and return its record.

    Registering an existing name raises ``ValueError``: methods are never
    silently replaced.

    Examples
    --------
    >>> register("svd", lambda X: (X, {}), "a second svd")
    Traceback (most recent call last):
    ...
    ValueError: polar method 'svd' is already registered
    """
    if name in _REGISTRY:
        raise ValueError(f"polar method {name!r} is already registered")
    method = PolarMethod(name, solve, summary, iterates)
    _REGISTRY[name] = method
    return method


def get(name: str) -> PolarMethod:
    """The method registered as ``name``; ``ValueError`` listing valid names otherwise.

    >>> get("svd").name
    'svd'
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(names())}")
    return _REGISTRY[name]


def names() -> list[str]:
    """Registered method names, sorted.

    >>> "svd" in names()
    True
    """
    return sorted(_REGISTRY)
