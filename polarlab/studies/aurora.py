r"""The Aurora claims study: measure, judge, write the table and figures.

Aurora (Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715; code
tilde-research/aurora-release) replaces Muon's update ``polar(G)`` on tall matrices
by a point of the balanced Stiefel manifold ``{U : U^T U = I, ‖U_i‖^2 = n/m}``.
The study's parts, one concept per module:

- :mod:`polarlab.studies.claims`: the claims as pre-registered records (quote,
  quantity, population, rule) and the populations (``SIZES``), in the vocabulary of
  :mod:`polarlab.studies.claim_rules`;
- :mod:`polarlab.studies.aurora_experiments`: one experiment per claim (returning
  measured points) and one per overview figure (returning rows);
- :mod:`polarlab.studies.claim_verdicts`: the verdict from the points alone;
- :mod:`polarlab.studies.claim_figures` and :mod:`polarlab.studies.aurora_figures`:
  the figures, drawn from recorded points and rows only;
- this module: :func:`aurora_claims` measures with the projection under test
  (``projection=``, so a broken projection flips the verdicts of the claims about it,
  see ``tests/test_studies_aurora.py``) and judges;
  :func:`polarlab.studies.aurora.judge_points` recomputes the
  verdicts of a finished run from its CSV; :func:`aurora_rows` measures the overview
  figures' rows; :func:`claims_markdown` / :func:`write_claims` write the table.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from polarlab import manifolds
from polarlab._deprecation import moved_names
from polarlab.polar import PolarSolver, registry, resolve
from polarlab.studies import aurora_experiments as _experiments
from polarlab.studies import claims as _claims
from polarlab.studies._io import plain_options, read_csv, run_cases
from polarlab.studies.aurora_figures import plot_aurora_rows
from polarlab.studies.claim_figures import plot_claim_points
from polarlab.studies.claim_verdicts import POINT_COLUMNS, judge
from polarlab.studies.tables import format_table

__all__ = [
    "aurora_claims",
    "aurora_rows",
    "base_solver",
    "claims_markdown",
    "default_projection",
    "judge_points",
    "plot_aurora",
    "plot_claims",
    "write_claims",
]

# Names that moved: claim data to ``claims``, the projection type to ``aurora_experiments``.
__getattr__ = moved_names(
    __name__,
    {
        **dict.fromkeys(
            (
                "AURORA_COLUMNS",
                "CLAIMS",
                "HOLDS",
                "HOLDS_WITH_CAVEAT",
                "NOT_HOLDS",
                "SIZES",
                "VERDICTS",
                "Claim",
                "claim_ids",
            ),
            _claims.__name__,
        ),
        "Projection": _experiments.__name__,
    },
)


def default_projection(method: str | PolarSolver = "svd", **polar_options):
    """Aurora's released ("preconditioned", code) form with a given base polar method.

    The default ``projection`` of :func:`aurora_claims`:
    ``projection(G, iters=K, beta=b) = project_balanced_stiefel(G, K, b, solver,
    form="preconditioned")`` with ``solver = resolve(method, **polar_options)``,
    resolved once here.

    Examples
    --------
    >>> import torch
    >>> G = torch.randn(32, 8, dtype=torch.float64)
    >>> U = default_projection("svd")(G, iters=2, beta=0.5)
    >>> bool(torch.allclose(U.T @ U, torch.eye(8, dtype=torch.float64)))
    True
    """
    return functools.partial(
        manifolds.project_balanced_stiefel,
        method=resolve(method, **polar_options),
        form="preconditioned",
    )


def base_solver(method: str | PolarSolver = "svd", dtype: str | None = None, **options):
    """The base polar method of the Aurora study, resolved once (with ``dtype``, if given).

    Raises
    ------
    ValueError
        Unknown method or option; a ``dtype`` for a method without one.

    Examples
    --------
    >>> base_solver("newton_schulz", dtype="float32").options["dtype"]
    torch.float32
    >>> base_solver("svd", dtype="float32")
    Traceback (most recent call last):
    ...
    ValueError: method 'svd' has no dtype option (it computes in float64); drop ...
    """
    if dtype is not None:
        spec = method.method if isinstance(method, PolarSolver) else registry.get(method)
        if "dtype" not in spec.options:
            raise ValueError(
                f"method {spec.name!r} has no dtype option (it computes in float64); drop "
                "--dtype or choose a method with one, e.g. newton_schulz"
            )
        options = {**options, "dtype": dtype}
    return resolve(method, **options)


def _context(projection, method, dtype, options, **setup) -> _experiments.Context:
    """The experiments' context: the base polar resolved once, the projection defaulted."""
    solver = base_solver(method, dtype, **options)
    # With the default projection, experiments may rebuild it on other base polar methods
    # (C-4a's population of bases); an injected projection is used as given.
    rebase = None if projection else default_projection
    return _experiments.Context(
        projection or default_projection(solver), solver, rebase=rebase, **setup
    )


def aurora_claims(
    *,
    projection: _experiments.Projection | None = None,
    method: str | PolarSolver = "svd",
    dtype: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    size: str | Mapping = "quick",
    claims: Sequence[str] | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = False,
    return_points: bool = False,
    **options,
) -> list[dict] | tuple[list[dict], list[dict]]:
    r"""Measure every checkable Aurora claim over its population and judge it by its rule.

    Each claim of :data:`polarlab.studies.claims.CLAIMS` declares its population and its
    decision rule before anything runs; its experiment
    (:data:`polarlab.studies.aurora_experiments.EXPERIMENTS`) measures points over the
    population, and :func:`polarlab.studies.claim_verdicts.judge` gives the verdict from
    the points alone (no wall-clock time anywhere), so the same inputs give the same
    verdicts, and :func:`polarlab.studies.aurora.judge_points` recomputes them from the points' CSV.

    Parameters
    ----------
    projection : callable, optional
        The map under test, ``projection(G, iters=K, beta=b) -> U`` for tall ``G``
        (torch tensor ``(m, n)``, ``m > n``). Default: Aurora's released
        preconditioned form :func:`polarlab.manifolds.project_balanced_stiefel` with the base
        polar method. Inject another map to test it against the same rules.
    method : str or PolarSolver
        Polar method used for Muon's ``polar(G)`` and inside the default projection
        (default ``"svd"``: exact, so the verdicts are about the algorithm, not the
        rounding); resolved once with ``options`` (:func:`polarlab.polar.resolve`).
    dtype : str, optional
        Compute dtype of ``method`` (methods with a ``dtype`` option only).
    seed : int
        The first seed of every population (``seed, ..., seed + seeds - 1``).
    device : as for :func:`polarlab.matrices.random_matrix`.
    size : {"quick", "full"} or mapping
        The populations (:data:`polarlab.studies.claims.SIZES`; a mapping replaces keys
        of ``"quick"``).
    claims : sequence of str, optional
        Claim ids to run (default all of :data:`polarlab.studies.claims.CLAIMS`).
    out : path, optional
        Directory: ``aurora_points.csv`` (the measured points) and ``aurora_claims.csv``
        grow one claim at a time (resumable); the JSON files beside them are written
        at the end.
    resume, show_progress : bool
        As for :func:`polarlab.studies.precision`.
    return_points : bool
        Also return the measured points (the rows of ``aurora_points.csv``, columns
        :data:`polarlab.studies.claim_verdicts.POINT_COLUMNS`).
    **options
        Further options of ``method`` (e.g. ``normalization`` for ``newton_schulz``).

    Returns
    -------
    list of dict
        One record per claim with the keys :data:`polarlab.studies.claims.AURORA_COLUMNS`
        (and the points, with ``return_points``).

    Examples
    --------
    >>> records = aurora_claims(claims=["C-10", "R-1"], size=dict(seeds=3))
    >>> [(r["claim_id"], r["verdict"]) for r in records]
    [('C-10', 'holds'), ('R-1', 'holds')]
    >>> records[0]["population"]
    'sigma in {0, 0.5, 1, 1.5, 2}; 3 seeds; 128x32; base svd (float64)'
    """
    ctx = _context(projection, method, dtype, options, seed=seed, device=device, size=size)
    chosen = _claims.claim_ids(claims)
    settings = _settings(ctx, projection, seed, device, size)
    points = _measure(ctx, chosen, out, resume, show_progress, settings)
    populations = {
        c.claim_id: ctx.describe(c.population)
        if not c.not_testable
        else ctx.describe(c.population, base=False) + "; FLOP counts of Polar Express only"
        for c in _claims.CLAIMS
    }
    records = _judged(chosen, points, populations, out, resume, settings)
    return (records, points) if return_points else records


def _measure(ctx, chosen, out, resume, show_progress, settings) -> list[dict]:
    """Run the experiments of the ``chosen`` claims; their points (``aurora_points.csv``)."""

    def run(case: dict) -> list[dict]:
        found = _experiments.EXPERIMENTS[case["case_id"]](ctx)
        return [{"case_id": case["case_id"], "claim_id": case["case_id"], **p} for p in found]

    return run_cases(
        [
            {"case_id": c.claim_id, "claim_id": c.claim_id}
            for c in _claims.CLAIMS
            if c.claim_id in chosen
        ],
        run,
        out=out,
        name="aurora_points",
        columns=POINT_COLUMNS,
        kinds={
            "claim_id": "text",
            "series": "text",
            "x": "real",
            "matrix_seed": "int",
            "value": "real",
        },
        resume=resume,
        show_progress=show_progress,
        **settings,
    )


def _judged(chosen, points, populations, out, resume, settings) -> list[dict]:
    """The claim records of ``chosen``, judged on ``points`` (``aurora_claims.csv``)."""
    by_id = {c.claim_id: c for c in _claims.CLAIMS}

    def run(case: dict) -> list[dict]:
        claim = by_id[case["case_id"]]
        found = judge(claim, [p for p in points if p["claim_id"] == claim.claim_id])
        experiment = _experiments.EXPERIMENTS[claim.claim_id]
        values = {
            **asdict(claim),
            "case_id": claim.claim_id,
            "population": populations[claim.claim_id],
            "setting": " ".join((experiment.__doc__ or "").split("\n\n")[0].split()).replace(
                "``", "`"
            ),
            "thresholds": "; ".join(map(str, claim.thresholds())) or "none",
            "measured": found.measured,
            "figure": float(found.figure),
            "verdict": found.verdict,
            "part": found.part or None,
        }
        return [{column: values[column] for column in _claims.AURORA_COLUMNS}]

    rows = run_cases(
        [{"case_id": c} for c in by_id if c in chosen],
        run,
        out=out,
        name="aurora_claims",
        columns=_claims.AURORA_COLUMNS,
        kinds={
            **dict.fromkeys(_claims.AURORA_COLUMNS, "text"),
            "figure": "finite",
            "part": "optional text",
        },
        case_rows=lambda case: [{}],  # one row per claim
        resume=resume,
        **settings,
    )
    order = list(by_id)
    return sorted(
        (r for r in rows if r["claim_id"] in chosen), key=lambda r: order.index(r["claim_id"])
    )


def judge_points(folder: str | Path) -> list[dict]:
    """Recompute the verdicts of a finished run from its points, without measuring.

    Reads ``aurora_points.csv`` and ``aurora_claims.csv`` in ``folder`` (e.g. the
    committed ``docs/results``), judges every claim's points again by its record in
    :data:`polarlab.studies.claims.CLAIMS`, and returns the records with the
    recomputed ``measured``, ``figure``, ``verdict`` and ``part`` (the other columns as
    stored). ``polarlab aurora --judge FOLDER`` prints them and whether they equal the
    stored ones.

    Raises
    ------
    ValueError
        A claim in the file that is not in :data:`~polarlab.studies.claims.CLAIMS`.
    """
    folder = Path(folder)
    points = read_csv(folder / "aurora_points.csv")
    stored = read_csv(folder / "aurora_claims.csv")
    by_id = {c.claim_id: c for c in _claims.CLAIMS}
    _claims.claim_ids([r["claim_id"] for r in stored])
    records = []
    for row in stored:
        found = judge(
            by_id[row["claim_id"]], [p for p in points if p["claim_id"] == row["claim_id"]]
        )
        records.append(
            {
                **row,
                "measured": found.measured,
                "figure": float(found.figure),
                "verdict": found.verdict,
                "part": found.part or None,
            }
        )
    return records


def _settings(ctx: _experiments.Context, projection, seed: int, device, size, **more) -> dict:
    """The options that change the experiments' results: the resume key (with the
    claim or figure name) and the JSON ``meta``. An injected projection is known by
    its name (a ``functools.partial`` by its function's)."""
    options = plain_options(ctx.solver)
    target = getattr(projection, "func", projection)
    qualname = getattr(target, "__qualname__", type(target).__qualname__)
    name = f"{getattr(target, '__module__', '')}.{qualname}"
    return dict(
        method=ctx.solver.name,
        options=options,
        dtype=options.get("dtype"),
        seed=seed,
        device=str(device),
        size=size,
        projection="default" if projection is None else name,
        **more,
    )


def aurora_rows(
    *,
    projection: _experiments.Projection | None = None,
    method: str | PolarSolver = "svd",
    dtype: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    size: str | Mapping = "quick",
    sigma: float = 1.0,
    claims: Sequence[str] | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = False,
    **options,
) -> list[dict]:
    """The rows the Aurora figures draw, measured like :func:`aurora_claims` measures.

    Runs :data:`polarlab.studies.aurora_figure_rows.FIGURE_EXPERIMENTS` with the same
    projection, base polar method, dtype, seed, device and size as the claims, so
    the figures (:func:`polarlab.studies.aurora_figures.plot_aurora_rows`) show what
    was measured. ``sigma`` is the row-scale spread of the lognormal rows; ``claims``
    keeps only the figures of those claims
    (:data:`polarlab.studies.aurora_figure_rows.FIGURE_CLAIMS`); the other
    parameters are those of :func:`aurora_claims`, and with ``out`` the rows go to
    ``aurora_rows.csv`` / ``.json``.

    Returns
    -------
    list of dict
        Rows with the keys :data:`polarlab.studies.aurora_figure_rows.FIGURE_COLUMNS`.

    Examples
    --------
    >>> rows = aurora_rows(size=dict(tall=(32, 8), small=(16, 4), iters=3))
    >>> sorted({r["figure"] for r in rows})
    ['aurora_row_norms', 'aurora_tradeoff', 'aurora_uniformity']
    """
    ctx = _context(
        projection, method, dtype, options, seed=seed, device=device, size=size, sigma=sigma
    )
    figures = _experiments.FIGURE_EXPERIMENTS
    chosen = set(_claims.claim_ids(claims))
    return run_cases(
        [{"case_id": name} for name in figures if chosen & set(_experiments.FIGURE_CLAIMS[name])],
        lambda case: figures[case["case_id"]](ctx),
        out=out,
        name="aurora_rows",
        columns=_experiments.FIGURE_COLUMNS,
        kinds={
            **dict.fromkeys(("case_id", "figure", "series"), "text"),
            **dict.fromkeys(("m", "n"), "int"),
            **dict.fromkeys(("sigma", "x", "y"), "real"),
        },
        resume=resume,
        show_progress=show_progress,
        **_settings(ctx, projection, seed, device, size, sigma=sigma),
    )


def plot_aurora(
    out: str | Path,
    *,
    rows: Sequence[dict] | None = None,
    method: str | PolarSolver = "svd",
    seed: int = 0,
    shape: tuple[int, int] | None = None,
    sigma: float = 1.0,
) -> list[Path]:
    """Figures of the Aurora study, drawn from the rows of :func:`aurora_rows`.

    ``rows`` are recorded rows; without them they are recorded here at the quick
    size with the default projection of ``method`` (``shape`` replaces the tall
    matrix shape, ``sigma`` the row-scale spread). Writes ``aurora_row_norms.png``,
    ``aurora_uniformity.png`` and ``aurora_tradeoff.png`` (see
    :func:`polarlab.studies.aurora_figures.plot_aurora_rows`). Needs matplotlib.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in plot_aurora(tempfile.mkdtemp(), shape=(32, 8))]
    ['aurora_row_norms.png', 'aurora_uniformity.png', 'aurora_tradeoff.png']
    """
    if rows is None:
        size = _claims.SIZES["quick"]
        size = size if shape is None else {**size, "tall": tuple(shape)}
        rows = aurora_rows(method=method, seed=seed, size=size, sigma=sigma)
    return plot_aurora_rows(rows, out)


def plot_claims(records: Sequence[dict], points: Sequence[dict], out: str | Path) -> list[Path]:
    """One figure per measured claim of ``records`` (``claim_<id>.png`` in ``out``).

    Drawn from the ``points`` only (:func:`polarlab.studies.claim_figures.plot_claim_points`):
    each series' mean and 95% interval over the sweep, every seed, the thresholds.

    Examples
    --------
    >>> import tempfile
    >>> records, points = aurora_claims(claims=["C-10"], size=dict(seeds=3), return_points=True)
    >>> [p.name for p in plot_claims(records, points, tempfile.mkdtemp())]
    ['claim_C-10.png']
    """
    chosen = {r["claim_id"] for r in records}
    claims = [c for c in _claims.CLAIMS if c.claim_id in chosen]
    return plot_claim_points(points, claims, records, out)


def claims_markdown(records: Sequence[dict]) -> str:
    """The claims as Markdown: a table (claim, population, rule, verdict) and the details.

    The details of each claim give its quote, quantity, thresholds with their
    provenance, the measured figures (mean [95% interval] per cell) and, for a
    ``mixed`` or ``not testable here`` verdict, the part named or the reason. Records
    without some of these keys (rows of other studies) leave them out.

    Examples
    --------
    >>> text = claims_markdown(aurora_claims(claims=["C-10"], size=dict(seeds=3)))
    >>> print(text.splitlines()[2][:12])
    | C-10 | K =
    """
    cells = [
        {
            "id": r["claim_id"],
            "claim (source)": f"{r['claim']} ({r['source']})",
            "population": r.get("population") or r.get("setting", "-"),
            "rule": r["rule"],
            "verdict": f"**{r['verdict']}**",
        }
        for r in records
    ]
    lines = [format_table(cells, style="markdown", escape=True)]
    for r in records:
        lines.append(f"**{r['claim_id']}** ({r['verdict']})")
        lines.append("")
        for key, label in _DETAILS:
            if r.get(key):
                lines.append(f"- {label}: {r[key]}")
        lines.append("")
    return "\n".join(lines)


# The details listed under the table: record key, label.
_DETAILS = (
    ("quote", "quote"),
    ("quantity", "quantity"),
    ("setting", "experiment"),
    ("thresholds", "thresholds (provenance)"),
    ("measured", "measured"),
    ("part", "part / reason"),
)


def write_claims(records: Sequence[dict], out: str | Path) -> Path:
    """Write ``aurora_claims.md`` (the table and the details) into ``out``; returns its path.

    Examples
    --------
    >>> import tempfile
    >>> write_claims(aurora_claims(claims=["R-1"], size=dict(seeds=3)), tempfile.mkdtemp()).name
    'aurora_claims.md'
    """
    path = Path(out) / "aurora_claims.md"
    path.write_text(
        "# Aurora claims, checked on matrices\n\n"
        "Each claim's population and decision rule were declared before measuring "
        "(polarlab.studies.claims); verdicts follow from the points in aurora_points.csv "
        "(`polarlab aurora --judge FOLDER` recomputes them).\n\n" + claims_markdown(records)
    )
    return path
