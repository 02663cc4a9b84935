"""The :class:`Schedule` value type and its exact-arithmetic scalar oracle.

A step maps ``X <- a X + (b A + c A^2) X`` with ``A = X X^T`` (tall form:
``A = X^T X`` and ``X <- a X + X (b A + c A^2)``). On singular values it is the
scalar map ``x -> a x + b x^3 + c x^5``, so ``k`` steps act on the normalised
singular values ``x = sigma / (factor * ||G||_F + eps)`` as the composition
``f_k = p_k o ... o p_1``. A :class:`Schedule` carries everything that changes
that composition: the rows, the input factor and epsilon, what happens past the
table's end (:data:`BEYOND_RULES`), and where the table comes from.

Its methods are the scalar oracle: :meth:`Schedule.apply_scalar` (the image of
given singular values), :meth:`Schedule.image_interval` and
:meth:`Schedule.worst_case_error` (the image of an interval and the spectral
error bound ``max |1 - f_k|`` of Amsel, Persson, Musco & Gower, "The Polar
Express", arXiv 2505.16932). They are exact arithmetic up to float64 rounding,
the cheap reference against which finite-precision iterates are measured.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

__all__ = ["BEYOND_RULES", "Schedule"]

#: What a schedule does when asked for more steps than it has rows.
#: ``"repeat_last"``: repeat the last row; ``"cycle"``: start again from the first;
#: ``"stop"``: no further steps (the iterate stays at the table's end);
#: ``"error"``: a fixed-length table, ``ValueError``.
BEYOND_RULES = ("repeat_last", "cycle", "stop", "error")

Beyond = Literal["repeat_last", "cycle", "stop", "error"]


def _odd_poly(x, a: float, b: float, c: float):
    """``p(x) = a x + b x^3 + c x^5`` in Horner form."""
    x2 = x * x
    return x * (a + x2 * (b + c * x2))


def _check_interval(lower: float, upper: float, *, strict: bool) -> tuple[float, float]:
    """``(lower, upper)`` as floats, with ``0 < lower < upper`` (``<=`` unless ``strict``).

    Real numbers only: a bool or a string is refused (``TypeError``), not converted.
    """
    for name, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
    lower, upper = float(lower), float(upper)
    if not (math.isfinite(lower) and lower > 0):
        raise ValueError(f"lower must be a finite number > 0, got {lower}")
    if not math.isfinite(upper):
        raise ValueError(f"upper must be finite, got {upper}")
    if strict and not lower < upper:
        raise ValueError(f"need lower < upper, got lower={lower}, upper={upper}")
    if not strict and not lower <= upper:
        raise ValueError(f"need lower <= upper, got lower={lower}, upper={upper}")
    return lower, upper


def _check_integer(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Schedule:
    """An odd-polynomial coefficient table with its input normalisation and provenance.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"polar_express"``.
    coefficients : tuple of (a, b, c)
        One row per step; cubic rows have ``c = 0``.
    input_factor : float
        ``c`` in ``X_0 = G / (c ||G||_F + eps)``.
    eps : float
        ``eps`` in the same formula.
    beyond : {"repeat_last", "cycle", "stop", "error"}
        Rule past the table's end (see :data:`~polarlab.schedules.schedule.BEYOND_RULES`).
    default_steps : int
        Steps used when the caller gives none.
    dtype : str or None
        The compute dtype the source runs the table in (informative).
    source : str
        Where the table comes from (paper, arXiv id, repository and file).
    generator : mapping or None
        ``optimal_composition`` parameters that regenerate the table, if any.
    published : tuple of (a, b, c) or None
        For a generated table: its first rows exactly as the source prints them
        (provenance; the generated rows agree with them to within one unit of the
        last printed digit, checked in ``tests/test_schedules.py``).
    published_decimals : int or None
        Decimals the source prints (``None``: full float64 digits).

    Examples
    --------
    >>> s = Schedule("two_newton_schulz", ((1.5, -0.5, 0.0),), beyond="cycle")
    >>> s.rows(2)
    ((1.5, -0.5, 0.0), (1.5, -0.5, 0.0))
    """

    name: str
    coefficients: tuple[tuple[float, float, float], ...]
    input_factor: float = 1.0
    eps: float = 1e-7
    beyond: Beyond = "repeat_last"
    default_steps: int = 5
    dtype: str | None = None
    source: str = ""
    generator: Mapping | None = field(default=None, compare=False)
    published: tuple[tuple[float, float, float], ...] | None = field(default=None, compare=False)
    published_decimals: int | None = field(default=None, compare=False)

    def __post_init__(self):
        rows = tuple(tuple(float(v) for v in row) for row in self.coefficients)
        if not rows or any(len(r) != 3 for r in rows):
            raise ValueError(
                f"schedule {self.name!r}: coefficients must be a non-empty sequence of "
                "(a, b, c) triples"
            )
        if not all(np.isfinite(v) for r in rows for v in r):
            raise ValueError(f"schedule {self.name!r}: coefficients must be finite")
        if self.beyond not in BEYOND_RULES:
            raise ValueError(
                f"schedule {self.name!r}: unknown beyond rule {self.beyond!r}; choose one of: "
                f"{', '.join(BEYOND_RULES)}"
            )
        for field_name, low in (("input_factor", "> 0"), ("eps", ">= 0")):
            value = getattr(self, field_name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (ok and math.isfinite(value) and (value > 0 if low == "> 0" else value >= 0)):
                raise ValueError(
                    f"schedule {self.name!r}: {field_name} must be a finite number {low}, "
                    f"got {value!r}"
                )
        steps = self.default_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(
                f"schedule {self.name!r}: default_steps must be a positive int, got {steps!r}"
            )
        if self.beyond == "error" and self.default_steps > len(rows):
            raise ValueError(
                f"schedule {self.name!r}: default_steps={self.default_steps} exceeds the "
                f"{len(rows)} rows of a fixed-length table"
            )
        object.__setattr__(self, "coefficients", rows)
        if self.generator is not None:
            object.__setattr__(self, "generator", MappingProxyType(dict(self.generator)))

    def __len__(self) -> int:
        return len(self.coefficients)

    def rows(self, steps: int | None = None) -> tuple[tuple[float, float, float], ...]:
        """The ``(a, b, c)`` rows actually applied in ``steps`` steps.

        ``steps=None`` means :attr:`default_steps`. Past the table's end the
        :attr:`beyond` rule applies; ``"error"`` raises ``ValueError``.

        >>> from polarlab.schedules import get
        >>> len(get("polar_express").rows(12))
        12
        """
        steps = _check_integer(self.default_steps if steps is None else steps, "steps", 0)
        n = len(self.coefficients)
        if steps <= n:
            return self.coefficients[:steps]
        if self.beyond == "error":
            raise ValueError(
                f"schedule {self.name!r} is a fixed-length table of {n} steps; "
                f"{steps} steps asked (at most {n})"
            )
        if self.beyond == "stop":
            return self.coefficients
        if self.beyond == "cycle":
            return tuple(self.coefficients[i % n] for i in range(steps))
        return self.coefficients + (self.coefficients[-1],) * (steps - n)

    def normalize_scalar(self, sigma, frobenius_norm: float):
        """Normalised singular values ``sigma / (input_factor * ||G||_F + eps)``.

        >>> from polarlab.schedules import get
        >>> float(get("polar_express").normalize_scalar(1.01, 1.0 - 1e-7 / 1.01))
        1.0
        """
        return np.asarray(sigma, dtype=np.float64) / (
            self.input_factor * float(frobenius_norm) + self.eps
        )

    def apply_scalar(self, x, steps: int | None = None) -> np.ndarray:
        """Exact-arithmetic image ``f_k(x)`` of normalised singular values ``x``.

        ``x`` are singular values of the *normalised* input ``X_0`` (see
        :meth:`normalize_scalar`); the result is what the singular values of
        ``X_k`` are in exact arithmetic (float64 evaluation).

        >>> from polarlab.schedules import get
        >>> s = get("newton_schulz_cubic")
        >>> float(s.apply_scalar(1.0, steps=3))
        1.0
        """
        x = np.array(x, dtype=np.float64)
        for a, b, c in self.rows(steps):
            x = _odd_poly(x, a, b, c)
        return x

    def image_interval(
        self, lower: float, steps: int | None = None, *, upper: float = 1.0, points: int = 20001
    ) -> tuple[float, float]:
        """``(min, max)`` of ``f_k(x / input_factor)`` over ``x`` in ``[lower, upper]``.

        Where singular values with ``sigma / ||G||_F`` in ``[lower, upper]`` land
        after ``k`` steps, in exact arithmetic. ``x`` is relative to the
        Frobenius norm and the schedule's own input factor is applied, so tables
        built for different factors compare fairly. Intermediate images may
        exceed 1 (Polar Express sends ``[1e-3, 1]`` to ``[0.129, 1.866]`` after
        3 steps); nothing is clamped.

        The extremes are located on a grid dense in both ``log x`` and ``x``
        (``points`` each); the best few grid extremes are then refined by two
        rounds of local grid search (64 cells over the two neighbouring cells),
        which shrinks the grid's ``O(h^2 f'')`` under-estimate of an interior
        extreme about a million-fold.

        >>> from polarlab.schedules import get
        >>> lo, hi = get("jordan").image_interval(1e-3, 5)
        >>> round(lo, 4), round(hi, 4)
        (0.4705, 1.2024)
        """
        lower, upper = _check_interval(lower, upper, strict=True)
        points = _check_integer(points, "points", 2)
        rows = self.rows(steps)

        def f(x):
            x = x / self.input_factor
            for row in rows:
                x = _odd_poly(x, *row)
            return x

        grid = np.unique(
            np.concatenate([np.geomspace(lower, upper, points), np.linspace(lower, upper, points)])
        )
        y = f(grid)
        return _refined_extreme(f, grid, -y, lower, upper), _refined_extreme(
            f, grid, y, lower, upper, sign=1.0
        )

    def worst_case_error(
        self, lower: float, steps: int | None = None, *, upper: float = 1.0, points: int = 20001
    ) -> float:
        """``max |1 - f_k(x / input_factor)|`` over ``x`` in ``[lower, upper]``.

        ``x = sigma / ||G||_F`` is the singular value relative to the Frobenius
        norm, so the schedule's own input factor is included. This is the
        spectral error ``||polar(G) - X_k||_2`` over all ``G`` whose normalised
        spectrum lies in ``[lower, upper]``. Since ``|1 - y|`` is largest at an
        extreme of ``y``, it is computed from :meth:`image_interval`.

        >>> from polarlab.schedules import get
        >>> round(get("newton_schulz_cubic").worst_case_error(1e-3, 3), 3)
        0.997
        """
        lo, hi = self.image_interval(lower, steps, upper=upper, points=points)
        return float(max(1.0 - lo, hi - 1.0))


def _refined_extreme(f, grid, score, lower, upper, *, sign: float = -1.0, keep: int = 8) -> float:
    """Extreme of ``f`` (max for ``sign = 1``, min for ``-1``) near the grid's best points.

    ``score = sign * f(grid)``. The ``keep`` best local maxima of ``score`` are
    refined by zooming into the two neighbouring grid cells twice.
    """
    n = len(grid)
    # Local maxima of the score, endpoints included (np.roll wraps, hence the ORs).
    peaks = np.flatnonzero(
        (score >= np.roll(score, 1)) & (score >= np.roll(score, -1))
        | (np.arange(n) == 0)
        | (np.arange(n) == n - 1)
    )
    candidates = peaks[np.argsort(score[peaks])[-keep:]]
    best = float(score.max())
    for i in candidates:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n - 1)]
        for _ in range(2):
            x = np.linspace(lo, hi, 65)
            s = sign * f(x)
            j = int(np.argmax(s))
            best = max(best, float(s[j]))
            step = x[1] - x[0]
            lo, hi = max(x[j] - step, lower), min(x[j] + step, upper)
    return sign * best
