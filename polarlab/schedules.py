"""Coefficient schedules for odd-polynomial polar iterations, stored as data.

A step maps ``X <- a X + (b A + c A^2) X`` with ``A = X X^T`` (tall form:
``A = X^T X`` and ``X <- a X + X (b A + c A^2)``). On singular values it is the
scalar map ``x -> a x + b x^3 + c x^5``, so ``k`` steps act on the normalised
singular values ``x = sigma / (factor * ||G||_F + eps)`` as the composition
``f_k = p_k o ... o p_1`` (REFERENCE sections 2-4). A :class:`Schedule` carries
everything that changes that composition: the rows, the input factor and
epsilon, what happens past the table's end, and where the table comes from.
The engine that runs a schedule (``polarlab.polar.polynomial``) knows nothing
about its provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

__all__ = ["BEYOND_RULES", "Schedule"]  # get, names, register: via polarlab.schedules

#: What a schedule does when asked for more steps than it has rows.
#: ``"repeat_last"``: repeat the last row; ``"cycle"``: start again from the first;
#: ``"stop"``: no further steps (the iterate stays at the table's end);
#: ``"error"``: a fixed-length table, ``ValueError``.
BEYOND_RULES = ("repeat_last", "cycle", "stop", "error")

Beyond = Literal["repeat_last", "cycle", "stop", "error"]


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
        Rule past the table's end (see :data:`BEYOND_RULES`).
    default_steps : int
        Steps used when the caller gives none.
    dtype : str or None
        The compute dtype the source runs the table in (informative).
    source : str
        Where the table comes from (paper, arXiv id, repository and file).
    generator : mapping or None
        ``optimal_composition`` parameters that regenerate the table, if any.
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
        if not self.input_factor > 0 or not self.eps >= 0:
            raise ValueError(f"schedule {self.name!r}: need input_factor > 0 and eps >= 0")
        if not isinstance(self.default_steps, int) or self.default_steps < 1:
            raise ValueError(f"schedule {self.name!r}: default_steps must be a positive int")
        object.__setattr__(self, "coefficients", rows)
        if self.generator is not None:
            object.__setattr__(self, "generator", MappingProxyType(dict(self.generator)))

    def __len__(self) -> int:
        return len(self.coefficients)

    def rows(self, steps: int | None = None) -> tuple[tuple[float, float, float], ...]:
        """The ``(a, b, c)`` rows actually applied in ``steps`` steps.

        ``steps=None`` means :attr:`default_steps`. Past the table's end the
        :attr:`beyond` rule applies; ``"error"`` raises ``ValueError``.
        """
        steps = self.default_steps if steps is None else steps
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        steps = int(steps)
        n = len(self.coefficients)
        if steps <= n:
            return self.coefficients[:steps]
        if self.beyond == "error":
            raise ValueError(
                f"schedule {self.name!r} is a fixed-length table of {n} steps; "
                f"{steps} steps asked"
            )
        if self.beyond == "stop":
            return self.coefficients
        if self.beyond == "cycle":
            return tuple(self.coefficients[i % n] for i in range(steps))
        return self.coefficients + (self.coefficients[-1],) * (steps - n)

    def normalize_scalar(self, sigma, frobenius_norm: float):
        """Normalised singular values ``sigma / (input_factor * ||G||_F + eps)``."""
        return np.asarray(sigma, dtype=np.float64) / (
            self.input_factor * float(frobenius_norm) + self.eps
        )

    def apply_scalar(self, x, steps: int | None = None) -> np.ndarray:
        """Exact-arithmetic image ``f_k(x)`` of normalised singular values ``x``.

        ``x`` are singular values of the *normalised* input ``X_0`` (see
        :meth:`normalize_scalar`); the result is what the singular values of
        ``X_k`` are in exact arithmetic (float64 evaluation).

        >>> s = get("newton_schulz_cubic")
        >>> float(s.apply_scalar(1.0, steps=3))
        1.0
        """
        x = np.array(x, dtype=np.float64)
        for a, b, c in self.rows(steps):
            x2 = x * x
            x = x * (a + x2 * (b + c * x2))
        return x

    def worst_case_error(
        self, lower: float, steps: int | None = None, *, upper: float = 1.0, points: int = 20001
    ) -> float:
        """``max |1 - f_k(x / input_factor)|`` over ``x`` in ``[lower, upper]``.

        ``x = sigma / ||G||_F`` is the singular value relative to the Frobenius
        norm, so the schedule's own input factor is included, as in
        REFERENCE section 4.3. Evaluated on a grid that is dense both in
        ``log x`` and in ``x`` (``points`` each), which resolves the maxima of
        the compositions in the reference tables to three significant digits
        or better.

        >>> round(get("newton_schulz_cubic").worst_case_error(1e-3, 3), 3)
        0.997
        """
        lower, upper = float(lower), float(upper)
        if not lower > 0:
            raise ValueError(f"lower must be > 0, got {lower}")
        if not lower < upper:
            raise ValueError(f"need lower < upper, got lower={lower}, upper={upper}")
        grid = np.unique(
            np.concatenate(
                [
                    np.geomspace(lower, upper, points),
                    np.linspace(lower, upper, points),
                ]
            )
        )
        y = self.apply_scalar(grid / self.input_factor, steps)
        return float(np.max(np.abs(1.0 - y)))


_REGISTRY: dict[str, Schedule] = {}


def register(schedule: Schedule) -> Schedule:
    """Add a schedule to the registry; an existing name raises ``ValueError``."""
    if schedule.name in _REGISTRY:
        raise ValueError(f"schedule {schedule.name!r} is already registered")
    _REGISTRY[schedule.name] = schedule
    return schedule


def get(name: str | Schedule) -> Schedule:
    """The schedule registered as ``name`` (a :class:`Schedule` passes through).

    An unknown name raises ``ValueError`` listing the valid names.

    >>> get("newton_schulz_cubic").coefficients[0]
    (1.5, -0.5, 0.0)
    """
    if isinstance(name, Schedule):
        return name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown schedule {name!r}; choose one of: {', '.join(names())}")
    return _REGISTRY[name]


def names() -> list[str]:
    """All registered schedule names, sorted."""
    return sorted(_REGISTRY)


def _rows(rows: Sequence[Sequence[float]]) -> tuple[tuple[float, float, float], ...]:
    return tuple(tuple(float(v) for v in (*r, 0.0)[:3]) for r in rows)


# --- Presets with provenance (REFERENCE sections 3-4). -------------------------------
# Hand-typed rows appear only where no generator setting reproduces the table.

register(
    Schedule(
        "newton_schulz_cubic",
        _rows([(1.5, -0.5)]),
        beyond="repeat_last",
        default_steps=12,
        source="Classic cubic Newton-Schulz (Kovarik 1970; Bjorck & Bowie 1971)",
    )
)
register(
    Schedule(
        "pade_quintic",
        _rows([(15 / 8, -10 / 8, 3 / 8)]),
        beyond="repeat_last",
        default_steps=15,
        source="Pade quintic NS5, p'(1) = p''(1) = 0 (Higham 2008, sec. 8.3)",
    )
)
register(
    Schedule(
        "simple_quintic",
        _rows([(2.0, -1.5, 0.5)]),
        beyond="repeat_last",
        default_steps=12,
        dtype="bfloat16",
        source="modded-nanogpt track-3 baseline; aurora-release v1 polar (12 steps, bf16)",
    )
)
register(
    Schedule(
        "jordan",
        _rows([(3.4445, -4.7750, 2.0315)]),
        beyond="repeat_last",
        default_steps=5,
        dtype="bfloat16",
        source="KellerJordan/Muon zeropower_via_newtonschulz5; torch.optim.Muon default",
    )
)
