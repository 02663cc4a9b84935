"""Precision study: every metric of :mod:`polarlab.metrics` per iterate, beside the scalar oracle.

For each *case* (polar method, coefficient schedule, compute dtype, matrix family,
shape) the study draws one seeded float64 matrix ``A`` from
:func:`polarlab.matrices.random_matrix`, runs the method once with
:meth:`PolarSolver.iterates <polarlab.polar.PolarSolver.iterates>` (the method
resolved once, :func:`polarlab.polar.resolve`) and records, for every iterate ``X_k``:

* the precision metrics of :mod:`polarlab.metrics` against the float64 SVD polar
  factor ``Q = polar(A)`` (computed once per matrix);
* the exact-arithmetic **prediction** for this matrix (``scalar_spectral_error``,
  the scalar picture of Amsel, Persson, Musco, Gower, "The Polar Express",
  arXiv 2505.16932: what ``spectral_error`` would be without rounding), the
  schedule's **worst-case bound** over ``[sigma_r / s, 1]`` (``scalar_worst_case``)
  and the **input-cast floors** in both norms, all defined in
  :mod:`polarlab.studies.precision_reference`.

One row per case x iterate; the columns are :data:`PRECISION_COLUMNS`. The sweeps
(:data:`SWEEPS`, "quick" the defaults and "full") are the ones the ``polarlab``
command runs. The figures are drawn by :mod:`polarlab.studies.precision_figures`,
the comparison of step arrangements by :mod:`polarlab.studies.precision_arrangement`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from polarlab import matrices, metrics
from polarlab._arrays import resolve_dtype
from polarlab._deprecation import moved_names
from polarlab.polar import PolarSolver, registry, resolve
from polarlab.polar.polynomial import check_arrangement
from polarlab.studies._io import plain_options, run_cases
from polarlab.studies._resume import distinct
from polarlab.studies.precision_reference import (
    PREDICTION_COLUMNS,
    PrecisionInput,
    prediction_columns,
)

__all__ = [
    "PRECISION_COLUMNS",
    "SWEEPS",
    "precision",
    "precision_cases",
    "precision_summary",
    "run_case",
]

#: Columns of the precision table, one row per case x iterate.
PRECISION_COLUMNS: tuple[str, ...] = (
    "case_id",  # method/schedule/dtype/family/m x n/seed: the resume key
    "method",
    "schedule",  # empty for methods without a coefficient schedule
    "dtype",  # compute dtype of the method
    "options",  # the method's other non-default options, e.g. normalization=schatten8
    "family",
    "m",
    "n",
    "seed",
    "device",
    "iteration",  # k = 1..steps
    "polar_error",  # ||X_k - Q||_F / sqrt(r)
    "spectral_error",  # ||X_k - Q||_2
    "sigma_min",  # singular value range of X_k over the top r
    "sigma_max",
    "singular_value_deviation",  # max_i |sigma_i(X_k) - 1|
    "bound_violation",  # max(sigma_max(X_k) - 1, 0)
    "orthogonality_defect",  # ||X^T X - I||_F / sqrt(n), short side
    "dual_gap",  # 1 - <A, X_k> / ||A||_*
    "alignment",  # <A, X_k> / (||A||_* ||X_k||_2)
    "distance_to_polar",  # ||X_k - polar(A)||_F / sqrt(n)
    "row_norm_ratio",  # max / min row norm
    "row_norm_cv",
    "row_norm_deviation",  # max_i | ||X_i||^2 / (n/m) - 1 |
    "input_condition_number",  # sigma_1 / sigma_r of A
    "input_leverage_min",  # range of the leverage scores of A
    "input_leverage_max",
    "input_cast_floor",  # ||polar(fl(A)) - polar(A)||_F / sqrt(r), fl = cast to dtype
    "input_cast_floor_spectral",  # ||polar(fl(A)) - polar(A)||_2: spectral_error's floor
    *PREDICTION_COLUMNS,  # prediction (exact arithmetic, this A) and worst-case bound
)

#: The sweeps: "quick" (the defaults, small enough for the report's time budget on two
#: CPU cores) and "full". The ``polarlab`` command's ``--quick`` and ``--full`` run them.
SWEEPS: dict[str, dict] = {
    "quick": dict(
        methods=("newton_schulz",),
        schedules=("polar_express", "simple_quintic", "jordan"),
        dtypes=("float32", "bfloat16"),
        families=("gaussian", "logspaced", "low_rank_noise"),
        shapes=((64, 256),),
        steps=8,
    ),
    "full": dict(
        methods=("newton_schulz", "qdwh", "newton"),
        schedules=(
            "polar_express",
            "polar_express_modded",
            "simple_quintic",
            "jordan",
            "you_5",
            "cans_5",
            "pade_quintic",
            "newton_schulz_cubic",
        ),
        dtypes=("float64", "float32", "float16", "bfloat16"),
        families=(
            "gaussian",
            "logspaced",
            "power_law",
            "spike_flat",
            "rank_deficient",
            "low_rank_noise",
            "row_lognormal",
            "heavy_tailed",
        ),
        shapes=((128, 512), (256, 256)),
        steps=16,
    ),
}
DEFAULT_METHODS = SWEEPS["quick"]["methods"]
DEFAULT_SCHEDULES = SWEEPS["quick"]["schedules"]
DEFAULT_DTYPES = SWEEPS["quick"]["dtypes"]
DEFAULT_FAMILIES = SWEEPS["quick"]["families"]
DEFAULT_SHAPES = SWEEPS["quick"]["shapes"]
DEFAULT_STEPS = SWEEPS["quick"]["steps"]


def _check_shape(shape) -> tuple[int, int]:
    try:
        m, n = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"shape must be a pair (m, n) of positive integers, got {shape!r}"
        ) from None
    if m < 2 or n < 2:
        raise ValueError(f"impossible shape {m}x{n}: both dimensions must be at least 2")
    return m, n


def _options_label(solver: PolarSolver, defaults: PolarSolver) -> str | None:
    """``"k=v;..."`` for the options (other than schedule and dtype) off their defaults.

    >>> _options_label(resolve("polar_express", arrangement="published"), resolve("polar_express"))
    'arrangement=published'
    """
    given, default = plain_options(solver), plain_options(defaults)
    label = ";".join(
        f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
        for k, v in given.items()
        if k not in ("schedule", "dtype") and v != default[k]
    )
    return label or None


def _resolve_method(method: str | PolarSolver, options: Mapping) -> PolarSolver:
    """The method resolved once with ``options``; it must have iterates."""
    solver = resolve(method, **options)
    if not solver.iterative:
        iterative = [n for n in registry.names() if registry.get(n).iterates is not None]
        raise ValueError(
            f"method {solver.name!r} has no iterates; choose one of: {', '.join(iterative)}"
        )
    return solver


def precision_cases(
    *,
    methods: Sequence[str | PolarSolver] = DEFAULT_METHODS,
    schedules_: Sequence[str] = DEFAULT_SCHEDULES,
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    families: Sequence[str] = DEFAULT_FAMILIES,
    shapes: Sequence[tuple[int, int]] = DEFAULT_SHAPES,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    method_options: Mapping | None = None,
    arrangements: Sequence[str] | None = None,
) -> list[dict]:
    """Validate the sweep and expand it into cases, before any work is done.

    Rules (each case is one matrix and one run): every method is resolved once
    with ``method_options`` (:func:`polarlab.polar.resolve`); methods with a
    ``schedule`` option are crossed with ``schedules_``, the others run with their
    own; methods with a ``dtype`` option are crossed with ``dtypes``, the others
    compute in float64 and run once, labelled ``float64``; methods with an
    ``arrangement`` option (the Newton-Schulz engine's step arrangement,
    :data:`polarlab.polar.polynomial.ARRANGEMENTS`) are crossed with
    ``arrangements`` when it is given (``None``: the method's own). A fixed-length
    schedule (``beyond="error"``) runs at most its own length.

    Returns
    -------
    list of dict
        Keys ``case_id, method, schedule, dtype, options, family, m, n, seed, steps``
        and ``solver``, the :class:`~polarlab.polar.PolarSolver` the case runs.
        ``options`` labels the method's non-default options other than schedule
        and dtype (``None`` if there are none).

    Raises
    ------
    ValueError
        Unknown method, option, schedule, dtype or family; a method without
        iterates; an impossible shape; ``steps < 1``; an empty list or one naming
        a value twice. The message names the argument and lists what is allowed.

    Examples
    --------
    >>> cases = precision_cases(methods=["newton_schulz", "qdwh"], schedules_=["jordan"],
    ...                         dtypes=["float32", "bfloat16"], families=["gaussian"],
    ...                         shapes=[(8, 4)], steps=3)
    >>> [c["case_id"] for c in cases]  # doctest: +NORMALIZE_WHITESPACE
    ['newton_schulz/jordan/float32/gaussian/8x4/seed0',
     'newton_schulz/jordan/bfloat16/gaussian/8x4/seed0',
     'qdwh/-/float64/gaussian/8x4/seed0']
    >>> [c["case_id"] for c in precision_cases(schedules_=["jordan"], dtypes=["bfloat16"],
    ...     families=["gaussian"], shapes=[(8, 4)], arrangements=["fused", "published"])]
    ...     # doctest: +NORMALIZE_WHITESPACE
    ['newton_schulz/jordan/bfloat16/gaussian/8x4/seed0',
     'newton_schulz[arrangement=published]/jordan/bfloat16/gaussian/8x4/seed0']
    >>> precision_cases(methods=["newton_schulz"], schedules_=["jordan"], dtypes=["float32"],
    ...                 families=["gaussian"], shapes=[(8, 4)],
    ...                 method_options={"normalization": "schatten8"})[0]["case_id"]
    'newton_schulz[normalization=schatten8]/jordan/float32/gaussian/8x4/seed0'
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    known_families = matrices.families()
    for family in distinct("families", families):
        if family not in known_families:
            raise ValueError(
                f"unknown matrix family {family!r}; choose one of: {', '.join(known_families)}"
            )
    checked_dtypes = [str(resolve_dtype(d)).removeprefix("torch.") for d in dtypes]
    checked_shapes = distinct("shapes", [_check_shape(s) for s in shapes])
    distinct("dtypes", checked_dtypes)
    distinct("schedules", schedules_)
    if arrangements is not None:
        for arrangement in distinct("arrangements", arrangements):
            check_arrangement("arrangement", arrangement)
    cases = []
    for method in distinct("methods", methods):
        base = _resolve_method(method, method_options or {})
        method_schedules = schedules_ if "schedule" in base.options else [None]
        method_dtypes = checked_dtypes if "dtype" in base.options else ["float64"]
        method_arrangements = (
            arrangements if arrangements is not None and "arrangement" in base.options else [None]
        )
        for schedule, dtype, arrangement in itertools.product(
            method_schedules, method_dtypes, method_arrangements
        ):
            sweep = {"schedule": schedule} if schedule is not None else {}
            if "dtype" in base.options:
                sweep["dtype"] = dtype
            if arrangement is not None:
                sweep["arrangement"] = arrangement
            solver = base.replace(**sweep) if sweep else base
            label = _options_label(solver, resolve(solver.name))
            name = solver.name + (f"[{label}]" if label else "")
            table = solver.schedule
            case_steps = (
                min(steps, len(table)) if table is not None and table.beyond == "error" else steps
            )
            schedule_name = table.name if schedule is not None else None
            prefix = f"{name}/{schedule_name or '-'}/{dtype}"
            for family, (m, n) in itertools.product(families, checked_shapes):
                cases.append(
                    dict(
                        case_id=f"{prefix}/{family}/{m}x{n}/seed{seed}",
                        method=base.name,
                        schedule=schedule_name,
                        dtype=dtype,
                        options=label,
                        family=family,
                        m=m,
                        n=n,
                        seed=seed,
                        steps=case_steps,
                        solver=solver,
                    )
                )
    return cases


def _iterate_metrics(X: torch.Tensor, A: torch.Tensor, Q: torch.Tensor) -> dict:
    sigma_min, sigma_max = metrics.singular_value_range(X)
    return dict(
        polar_error=float(metrics.polar_error(X, A, reference=Q)),
        spectral_error=float(metrics.spectral_error(X, A, reference=Q)),
        sigma_min=float(sigma_min),
        sigma_max=float(sigma_max),
        singular_value_deviation=float(metrics.singular_value_deviation(X)),
        bound_violation=float(metrics.bound_violation(X)),
        orthogonality_defect=float(metrics.orthogonality_defect(X)),
        dual_gap=float(metrics.dual_gap(A, X)),
        alignment=float(metrics.alignment(A, X)),
        distance_to_polar=float(metrics.distance_to_polar(X, A, reference=Q)),
        row_norm_ratio=float(metrics.row_norm_ratio(X)),
        row_norm_cv=float(metrics.row_norm_cv(X)),
        row_norm_deviation=float(metrics.row_norm_deviation(X)),
    )


def run_case(case: dict, *, device: str = "cpu", cache: dict | None = None) -> list[dict]:
    """Rows (one per iterate) of one case from :func:`precision_cases`.

    ``cache`` (a dict) shares the matrix, its reference polar factor and its input
    metrics between cases on the same ``(family, m, n, seed, device)``.

    Examples
    --------
    >>> case = precision_cases(schedules_=["jordan"], dtypes=["float64"],
    ...                        families=["gaussian"], shapes=[(8, 4)], steps=2)[0]
    >>> [row["iteration"] for row in run_case(case)]
    [1, 2]
    """
    cache = {} if cache is None else cache
    key = (case["family"], case["m"], case["n"], case["seed"], device)
    if key not in cache:
        cache[key] = PrecisionInput(case["family"], case["m"], case["n"], case["seed"], device)
    M = cache[key]
    solver = case["solver"]
    floor, floor_spectral = M.cast_floor(case["dtype"]), M.cast_floor_spectral(case["dtype"])
    rows = []
    for k, X in enumerate(solver.iterates(M.A, case["steps"]), start=1):
        row = {c: case[c] for c in PRECISION_COLUMNS[:8]}  # case_id .. n
        row.update(seed=case["seed"], device=device, iteration=k)
        row.update(_iterate_metrics(X, M.A, M.Q))
        row.update(
            input_condition_number=M.condition_number,
            input_leverage_min=M.leverage[0],
            input_leverage_max=M.leverage[1],
            input_cast_floor=floor,
            input_cast_floor_spectral=floor_spectral,
        )
        row.update(prediction_columns(solver, M, k))
        rows.append(row)
    return rows


def precision(
    *,
    methods: Sequence[str | PolarSolver] = DEFAULT_METHODS,
    schedules: Sequence[str] = DEFAULT_SCHEDULES,
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    families: Sequence[str] = DEFAULT_FAMILIES,
    shapes: Sequence[tuple[int, int]] = DEFAULT_SHAPES,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    device: str = "cpu",
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = False,
    method_options: Mapping | None = None,
    arrangements: Sequence[str] | None = None,
) -> list[dict]:
    r"""Precision of polar iterations per iterate, beside the prediction, bound and cast floor.

    Every case (method x schedule x dtype x arrangement x family x shape, see
    :func:`precision_cases`) is one seeded matrix ``A`` (shape ``(m, n)``, float64)
    and one run of the method's iterates (``solver.iterates``); each iterate ``X_k``
    (``k = 1..steps``) gets every metric of :mod:`polarlab.metrics` against the
    float64 SVD polar factor, next to the exact-arithmetic prediction
    ``sigma_i(X_k) = f_k(sigma_i / (c ||A||_F + eps))`` (Amsel et al., arXiv
    2505.16932), the schedule's worst-case bound and the input-cast floors of the
    compute dtype (:mod:`polarlab.studies.precision_reference`).

    Parameters
    ----------
    methods : sequence of str or PolarSolver
        Polar methods with iterates: registered names or solvers made by
        :func:`polarlab.polar.resolve`.
    schedules, dtypes, families : sequences of names
        Coefficient schedules and compute dtypes (crossed with the methods that
        take them) and matrix families. Unknown names raise ``ValueError`` before
        any work.
    shapes : sequence of (m, n)
        Matrix shapes (tall, wide or square; each dimension >= 2).
    steps : int
        Iterates per run (fixed-length schedules stop at their length).
    seed : int
        Seed of every matrix (one matrix per family and shape, shared by all
        methods and dtypes, so they are compared on the same input).
    device : str
        Torch device the methods run on (metrics are float64).
    out : path, optional
        Directory (locked for the run): rows are appended to ``precision.csv`` one
        finished case at a time (an interrupted run keeps them); ``precision.json``.
    resume : bool
        With ``out``: keep the cases already in ``precision.csv`` and skip them, if
        whole and computed with these settings (else ``ValueError`` naming the line).
    show_progress : bool
        Progress bar on stderr.
    method_options : mapping, optional
        Further options of every method (e.g. ``{"normalization": "schatten8"}``),
        validated once per method; the ``options`` column records them.
    arrangements : sequence of {"fused", "published"}, optional
        Step arrangements of the Newton-Schulz engine, crossed with the methods
        that take the option (``None``: each method's own); recorded in ``options``.

    Returns
    -------
    list of dict
        One record per case x iterate with the keys :data:`PRECISION_COLUMNS`
        (including the rows of cases skipped by ``resume``).

    Examples
    --------
    >>> rows = precision(methods=["svd"], families=["gaussian"], shapes=[(8, 4)], steps=1)
    Traceback (most recent call last):
    ...
    ValueError: method 'svd' has no iterates; choose one of: ...
    >>> rows = precision(schedules=["polar_express"], dtypes=["float64"],
    ...                  families=["gaussian"], shapes=[(16, 8)], steps=8)
    >>> last = rows[-1]
    >>> bool(abs(last["spectral_error"] - last["scalar_spectral_error"]) < 1e-10)
    True
    """
    cases = precision_cases(
        methods=methods,
        schedules_=schedules,
        dtypes=dtypes,
        families=families,
        shapes=shapes,
        steps=steps,
        seed=seed,
        method_options=method_options,
        arrangements=arrangements,
    )
    cache: dict = {}
    device = str(device)  # a torch.device too; the rows hold its name
    return run_cases(
        cases,
        # Looked up at call time, so that a test can intercept the cases.
        lambda case: run_case(case, device=device, cache=cache),
        out=out,
        name="precision",
        columns=PRECISION_COLUMNS,
        kinds=_KINDS,
        case_rows=lambda case: [{"iteration": k} for k in range(1, case["steps"] + 1)],
        resume=resume,
        show_progress=show_progress,
        # The resume key, with the case_id (method+options, schedule, dtype, family, shape):
        steps=steps,
        seed=seed,
        device=device,
    )


# What each column holds (polarlab.studies._resume.COLUMN_KINDS), checked on writing and
# on resuming: the scalar oracle is nan without a schedule, row_norm_ratio inf at a zero row.
_KINDS = {
    **dict.fromkeys(PRECISION_COLUMNS[PRECISION_COLUMNS.index("polar_error") :], "finite"),
    **dict.fromkeys(("case_id", "method", "dtype", "family", "device"), "text"),
    **dict.fromkeys(("schedule", "options"), "optional text"),
    **dict.fromkeys(("m", "n", "seed", "iteration"), "int"),
    **dict.fromkeys([c for c in PRECISION_COLUMNS if c.startswith("scalar_")], "real"),
    "row_norm_ratio": "real",
}


def precision_summary(rows: Sequence[dict]) -> list[dict]:
    """The last iterate of every case, as plain records (for the printed table).

    Examples
    --------
    >>> rows = precision(schedules=["jordan"], dtypes=["float64"], families=["gaussian"],
    ...                  shapes=[(8, 4)], steps=3)
    >>> [(r["schedule"], r["iteration"]) for r in precision_summary(rows)]
    [('jordan', 3)]
    """
    last: dict[str, dict] = {}
    for row in rows:
        if row["case_id"] not in last or row["iteration"] > last[row["case_id"]]["iteration"]:
            last[row["case_id"]] = row
    keys = (
        "method",
        "schedule",
        "dtype",
        "options",
        "family",
        "m",
        "n",
        "iteration",
        "polar_error",
        "spectral_error",
        "scalar_spectral_error",
        "scalar_worst_case",
        "sigma_min",
        "sigma_max",
        "input_cast_floor_spectral",
    )
    return [{k: r[k] for k in keys} for r in last.values()]


# Names that moved: served from their new module with a DeprecationWarning.
__getattr__ = moved_names(__name__, {"plot_precision": "polarlab.studies.precision_figures"})
