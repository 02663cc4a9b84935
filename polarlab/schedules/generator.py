"""The Polar Express generator: minimax odd polynomials and their greedy composition.

:func:`optimal_quintic` (simplified Remez exchange) and :func:`optimal_cubic`
(closed form) give the odd polynomial closest to 1 in the max norm on an
interval; :func:`optimal_composition` chains them greedily into a
:class:`~polarlab.schedules.Schedule`, with the finite-precision fixes (cushion,
recentring, safety factor) of Amsel, Persson, Musco & Gower, "The Polar
Express", arXiv 2505.16932. The presets in :mod:`polarlab.schedules.presets`
that a generator setting reproduces are built here from their recorded
parameters, so ``optimal_composition(**schedule.generator)`` rebuilds them.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from polarlab.schedules.schedule import (
    Beyond,
    Schedule,
    _check_integer,
    _check_interval,
    _odd_poly,
)

__all__ = ["POLAR_EXPRESS_CUSHION", "optimal_composition", "optimal_cubic", "optimal_quintic"]

SafetyMode = Literal["inside", "posthoc"]

#: Cushion used by the Polar Express code (NoahAmsel/PolarExpress; the paper's
#: text says 1/10): on ``[0.02407..., 1]`` the optimal quintic has error exactly
#: 9/11, so its dip ``1 - E = 2/11`` is 1/10 of its peak ``1 + E = 20/11``.
POLAR_EXPRESS_CUSHION = 0.02407327424182761

# Above this ratio lower/upper the equioscillating quintic equals NS5 to float64
# precision and the 4x4 Remez system is too ill-conditioned to solve
# (arXiv 2505.16932, reference code).
_NS5_RATIO = 1.0 - 5e-6
_NS5 = (15 / 8, -10 / 8, 3 / 8)
# The simplified Remez stops when E changes by less than this (the paper's code
# uses the same absolute test; E is a deviation from 1, so this is ~4.5 ulp(1)).
_REMEZ_STALL = 1e-15
_REMEZ_MAX_ROUNDS = 64


def optimal_quintic(lower: float, upper: float = 1.0) -> tuple[float, float, float, float]:
    """Odd quintic closest to 1 in the max norm on ``[lower, upper]``.

    Finds ``p(x) = a x + b x^3 + c x^5`` minimising ``E = max |1 - p(x)|`` over
    ``x`` in ``[l, u] = [lower, upper]``, by the simplified Remez exchange of
    Polar Express (Amsel, Persson, Musco, Gower, arXiv 2505.16932, sec. 4):

    1. start from ``q = (3l + u)/4`` and ``r = (l + 3u)/4``;
    2. solve the equioscillation conditions ``p(l) = 1 - E``, ``p(q) = 1 + E``,
       ``p(r) = 1 - E``, ``p(u) = 1 + E`` (linear in ``a, b, c, E``);
    3. move ``q, r`` to the critical points
       ``x^2 = (-3b -+ sqrt(9 b^2 - 20 a c)) / (10 c)``;
    4. repeat until ``E`` stalls (a handful of rounds).

    When ``l/u >= 1 - 5e-6`` the answer is NS5 scaled to ``u``,
    ``(15/8 u^-1, -10/8 u^-3, 3/8 u^-5)``, with ``E = 1 - p(l)``. The image of
    ``[l, u]`` under ``p`` is ``[1 - E, 1 + E]``. float64 agrees with 40-digit
    mpmath to about 1e-15 for ``l/u <= 0.9`` and to about 1e-10 at
    ``l/u = 0.999``; ``E`` itself is accurate to about ``1e-16`` absolute.

    Parameters
    ----------
    lower, upper : float
        The interval, ``0 < lower <= upper``.

    Returns
    -------
    (a, b, c, E) : tuple of float
        Coefficients and the minimax error.

    Examples
    --------
    On ``[0.02407..., 1]`` the error is exactly 9/11 (the Polar Express cushion):

    >>> a, b, c, E = optimal_quintic(POLAR_EXPRESS_CUSHION, 1.0)
    >>> bool(abs(E - 9 / 11) < 1e-14)
    True
    >>> x = np.linspace(POLAR_EXPRESS_CUSHION, 1.0, 10001)
    >>> bool(abs(np.abs(1 - (a * x + b * x**3 + c * x**5)).max() - E) < 1e-12)
    True
    """
    l, u = _check_interval(lower, upper, strict=False)
    if l / u >= _NS5_RATIO:
        a, b, c = _NS5[0] / u, _NS5[1] / u**3, _NS5[2] / u**5
        return a, b, c, float(1.0 - _odd_poly(l, a, b, c))
    q, r = (3 * l + u) / 4, (l + 3 * u) / 4
    sign = np.array([1.0, -1.0, 1.0, -1.0])  # p(x_i) + sign_i E = 1
    E_previous = math.inf
    for _ in range(_REMEZ_MAX_ROUNDS):
        x = np.array([l, q, r, u])
        system = np.stack([x, x**3, x**5, sign], axis=1)
        a, b, c, E = np.linalg.solve(system, np.ones(4))
        discriminant = 9 * b * b - 20 * a * c
        critical = (-3 * b + np.array([-1.0, 1.0]) * math.sqrt(max(discriminant, 0.0))) / (10 * c)
        if not (discriminant > 0 and np.all(critical > 0)):
            raise RuntimeError(
                f"simplified Remez lost its critical points on [{l}, {u}]; "
                "this interval is outside the range the method handles"
            )
        q, r = np.sqrt(np.sort(critical))
        if abs(E - E_previous) <= _REMEZ_STALL:
            return float(a), float(b), float(c), float(E)
        E_previous = E
    raise RuntimeError(
        f"simplified Remez did not settle on [{l}, {u}] in {_REMEZ_MAX_ROUNDS} rounds"
    )


def optimal_cubic(lower: float, upper: float = 1.0) -> tuple[float, float, float]:
    """Odd cubic closest to 1 in the max norm on ``[lower, upper]``, in closed form.

    Chen & Chow (2014), also the CANS base polynomial (Grishina, Smirnov,
    Rakhuba, arXiv 2506.10935): with ``alpha = sqrt(3 / (u^2 + l u + l^2))`` and
    ``beta = 4 / (2 + l u (l + u) alpha^3)``,

    ``p(x) = beta (1.5 alpha x - 0.5 (alpha x)^3) = a x + b x^3``,

    which equioscillates at ``l`` (``1 - E``), ``1/alpha`` (``1 + E``) and ``u``
    (``1 - E``), so ``E = beta - 1``.

    Parameters
    ----------
    lower, upper : float
        The interval, ``0 < lower <= upper``.

    Returns
    -------
    (a, b, E) : tuple of float

    Examples
    --------
    >>> a, b, E = optimal_cubic(1e-3, 1.0)
    >>> round(a, 4), round(b, 4)
    (5.1801, -5.1749)
    >>> x = np.linspace(1e-3, 1.0, 10001)
    >>> bool(abs(np.abs(1 - (a * x + b * x**3)).max() - E) < 1e-9)
    True
    """
    l, u = _check_interval(lower, upper, strict=False)
    alpha = math.sqrt(3.0 / (u * u + l * u + l * l))
    beta = 4.0 / (2.0 + l * u * (l + u) * alpha**3)
    return 1.5 * beta * alpha, -0.5 * beta * alpha**3, beta - 1.0


def optimal_composition(
    lower: float,
    steps: int,
    *,
    degree: int = 5,
    safety: float = 0.0,
    cushion: float = 0.0,
    upper: float = 1.0,
    safety_mode: SafetyMode = "inside",
    safety_last: bool = False,
    name: str | None = None,
    input_factor: float = 1.0,
    eps: float = 1e-7,
    beyond: Beyond | None = None,
    dtype: str | None = None,
    source: str | None = None,
    decimals: int | None = None,
) -> Schedule:
    """Greedy minimax composition of odd polynomials, as a schedule.

    Polar Express (Amsel, Persson, Musco, Gower, arXiv 2505.16932, Thm 4.1):
    the composition ``p_T o ... o p_1`` of odd degree-``d`` polynomials that
    minimises ``max |1 - p(x)|`` over ``x`` in ``[l, u]`` is greedy. Each
    ``p_t`` is the minimax polynomial on the current interval
    ``[l_t, u_t]``; its image is ``[1 - E_t, 1 + E_t]``, so
    ``l_{t+1} = p_t(l_t)``, ``u_{t+1} = 2 - l_{t+1}`` and the error after
    ``T`` steps is ``1 - l_{T+1}``. This bounds the spectral error
    ``||polar(M) - p(M)||_2`` for every ``M`` with ``sigma(M)`` in ``[l, u]``.

    Degree 5 uses :func:`optimal_quintic`; degree 3 the closed form
    :func:`optimal_cubic` (Chen & Chow 2014; CANS, arXiv 2506.10935). The
    finite-precision fixes of arXiv 2505.16932 (sec. 5) are::

        for t = 1..T:
            p_t <- minimax on [max(l, cushion * u), u]
            if cushion * u > l:  p_t <- p_t * 2 / (p_t(l) + p_t(u))    # recentre
            if inside and (t < T or safety_last):  p_t(x) <- p_t(x / (1 + safety))
            l <- p_t(l);  u <- 2 - l

    ``safety_mode="posthoc"`` instead builds the table with no safety and then
    divides ``(a, b, c)`` by ``(1 + s, (1 + s)^3, (1 + s)^5)`` in rows
    ``1..T-1`` (all ``T`` rows with ``safety_last=True``). The paper's
    Algorithm 1 table is the post-hoc form; modded-nanogpt's is the inside form.

    Once the interval is within ``1 - 5e-6`` of a point the quintic row is NS5
    itself, scaled to the interval's midpoint. The recursion keeps
    ``[l_t, u_t]`` centred on 1, so that row is the plain ``(15/8, -10/8, 3/8)``
    the published table carries ("subsequent coeffs equal this numerically");
    it has 1 as a fixed point, so it may be repeated (the paper's code scales
    it to ``u_t`` instead, which differs by ``~5 (u_t - 1)``, about 5e-9 at
    ``T = 8`` from ``l = 1e-3``).

    Parameters
    ----------
    lower : float
        Smallest normalised singular value to be mapped to 1, ``> 0``.
    steps : int
        Number of rows ``T >= 1``.
    degree : {3, 5}
        Polynomial degree.
    safety : float
        ``eps_s >= 0``; the paper uses 0.01 for bfloat16 (about its ulp at 1).
    cushion : float
        ``lambda`` in ``[0, 1)``; each fit uses ``[max(l_t, lambda u_t), u_t]``.
        The paper's code uses :data:`~polarlab.schedules.generator.POLAR_EXPRESS_CUSHION`.
    upper : float
        Largest normalised singular value, ``> lower`` (1 after Frobenius
        normalisation).
    safety_mode : {"inside", "posthoc"}
        Where the safety factor is applied (see above).
    safety_last : bool
        Also apply the safety factor to the last row.
    name, input_factor, eps, dtype, source
        Passed to :class:`~polarlab.schedules.Schedule` (``name`` and ``source`` get descriptive
        defaults).
    decimals : int or None
        Round the final rows to this many decimals, as some published tables
        are (the rounding changes the worst case slightly: rounded tables are
        data in their own right).
    beyond : str or None
        Rule past row ``T``. ``None`` chooses ``"repeat_last"`` when the last row
        is the converged, unsafe NS5 row (repeating it keeps 1 fixed) and
        ``"error"`` otherwise (a table designed for exactly ``T`` steps).

    Returns
    -------
    Schedule
        A :class:`~polarlab.schedules.Schedule` whose ``generator`` holds the parameters, so
        ``optimal_composition(**schedule.generator)`` rebuilds the rows.

    Examples
    --------
    Five quintic steps from ``[1e-3, 1]``: the worst case is ``1 - l_6``,
    attained at ``x = l`` (Thm 4.1):

    >>> s = optimal_composition(1e-3, 5)
    >>> bound = 1.0 - float(s.apply_scalar(1e-3))
    >>> round(bound, 4), bool(abs(s.worst_case_error(1e-3) - bound) < 1e-9)
    (0.1134, True)
    >>> s.beyond, len(s)
    ('error', 5)
    >>> pe = optimal_composition(1e-3, 8, cushion=POLAR_EXPRESS_CUSHION)
    >>> pe.coefficients[-1], pe.beyond
    ((1.875, -1.25, 0.375), 'repeat_last')
    """
    l, u = _check_interval(lower, upper, strict=True)
    steps = _check_integer(steps, "steps", 1)
    if degree not in (3, 5):
        raise ValueError(f"degree must be 3 or 5, got {degree!r}")
    if not (math.isfinite(safety) and safety >= 0):
        raise ValueError(f"safety must be a finite number >= 0, got {safety}")
    if not 0 <= cushion < 1:
        raise ValueError(f"cushion must lie in [0, 1), got {cushion}")
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)):
        raise ValueError(f"decimals must be an int or None, got {decimals!r}")
    if safety_mode not in ("inside", "posthoc"):
        raise ValueError(f"unknown safety_mode {safety_mode!r}; choose one of: inside, posthoc")
    s = 1.0 + safety

    def safe(row: tuple[float, float, float]) -> tuple[float, float, float]:
        # p(x / (1 + s)): every odd power picks up its own power of 1 + s.
        return row[0] / s, row[1] / s**3, row[2] / s**5

    rows: list[tuple[float, float, float]] = []
    converged = False
    for t in range(steps):
        converged = l / u >= _NS5_RATIO
        if degree == 5 and converged:
            # Midpoint of [l, u]; exactly 1 after the first step, where u = 2 - l.
            m = (l + u) / 2 if t == 0 else 1.0
            row = (_NS5[0] / m, _NS5[1] / m**3, _NS5[2] / m**5)
        elif degree == 5:
            row = optimal_quintic(max(l, cushion * u), u)[:3]
        else:
            a, b, _ = optimal_cubic(max(l, cushion * u), u)
            row = (a, b, 0.0)
        if cushion * u > l:
            # Fitted on [cushion * u, u]: rescale so that p(l) and p(u) sit
            # symmetrically about 1, keeping the image of the true interval centred.
            scale = 2.0 / (_odd_poly(l, *row) + _odd_poly(u, *row))
            row = (row[0] * scale, row[1] * scale, row[2] * scale)
        last = t == steps - 1
        if safety and safety_mode == "inside" and (not last or safety_last):
            row = safe(row)
        rows.append(row)
        l = float(_odd_poly(l, *row))
        u = 2.0 - l
    if safety and safety_mode == "posthoc":
        n_safe = steps if safety_last else steps - 1
        rows = [safe(r) for r in rows[:n_safe]] + rows[n_safe:]
    if decimals is not None:
        rows = [(round(a, decimals), round(b, decimals), round(c, decimals)) for a, b, c in rows]

    if beyond is None:
        unsafe_tail = not safety or not safety_last
        beyond = "repeat_last" if converged and unsafe_tail else "error"
    generator = dict(
        lower=float(lower),
        steps=steps,
        degree=degree,
        safety=float(safety),
        cushion=float(cushion),
        upper=float(upper),
        safety_mode=safety_mode,
        safety_last=bool(safety_last),
        decimals=decimals,
    )
    if source is None:
        source = (
            "greedy minimax composition, Polar Express (arXiv 2505.16932, Thm 4.1)"
            if degree == 5
            else "greedy minimax cubic composition (Chen & Chow 2014; CANS, arXiv 2506.10935)"
        )
    return Schedule(
        name or f"optimal_degree{degree}_lower{lower:g}_steps{steps}",
        tuple(rows),
        input_factor=input_factor,
        eps=eps,
        beyond=beyond,
        default_steps=steps,
        dtype=dtype,
        source=source,
        generator=generator,
    )
