r"""The Aurora claims study: run the experiments, give verdicts, write the table and figures.

Aurora (Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715; code
tilde-research/aurora-release) replaces Muon's update ``polar(G)`` on tall matrices
by a point of the balanced Stiefel manifold ``{U : U^T U = I, ||U_i||^2 = n/m}``.
The study has four parts, one module each:

- :mod:`polarlab.studies.claims`: the claims as data (statement, source, verdict
  rule), the verdict words and the experiment sizes;
- :mod:`polarlab.studies.aurora_experiments`: one experiment per claim, and one per
  figure, each returning a record;
- :mod:`polarlab.studies.aurora_figures`: the figures, drawn from recorded rows only;
- this module: :func:`aurora_claims` and :func:`aurora_rows` run the experiments with
  the projection under test (``projection=``, so a broken projection flips the
  verdicts of the claims about it, see ``tests/test_studies_aurora.py``), and
  :func:`claims_markdown` / :func:`write_claims` write the table.
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
from polarlab.studies._io import plain_options, run_cases
from polarlab.studies.aurora_figures import plot_aurora_rows
from polarlab.studies.tables import format_table

__all__ = [
    "aurora_claims",
    "aurora_rows",
    "base_solver",
    "claims_markdown",
    "default_projection",
    "plot_aurora",
    "write_claims",
]

# Names that moved: claim data to ``claims``, the projection type to ``aurora_experiments``.
__getattr__ = moved_names(
    __name__,
    {
        **dict.fromkeys(_claims.__all__, _claims.__name__),
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
    return _experiments.Context(projection or default_projection(solver), solver, **setup)


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
    **options,
) -> list[dict]:
    r"""Run the experiment of every checkable Aurora claim and give each a verdict.

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
    seed, device : as for :func:`polarlab.matrices.random_matrix`.
    size : {"quick", "full"} or mapping
        Experiment sizes (:data:`polarlab.studies.claims.SIZES`).
    claims : sequence of str, optional
        Claim ids to run (default all of :data:`polarlab.studies.claims.CLAIMS`).
    out : path, optional
        Directory: ``aurora_claims.csv`` grows one claim at a time (resumable) and
        ``aurora_claims.json`` is written at the end.
    resume, show_progress : bool
        As for :func:`polarlab.studies.precision`.
    **options
        Further options of ``method`` (e.g. ``normalization`` for ``newton_schulz``).

    Returns
    -------
    list of dict
        One record per claim with the keys :data:`polarlab.studies.claims.AURORA_COLUMNS`.

    Examples
    --------
    >>> records = aurora_claims(claims=["C-10", "R-1"])
    >>> [(r["claim_id"], r["verdict"]) for r in records]
    [('C-10', 'holds'), ('R-1', 'holds')]
    """
    ctx = _context(projection, method, dtype, options, seed=seed, device=device, size=size)
    chosen = _claims.claim_ids(claims)
    by_id = {c.claim_id: c for c in _claims.CLAIMS}

    def run(case: dict) -> list[dict]:
        claim = by_id[case["case_id"]]
        found = _experiments.EXPERIMENTS[claim.claim_id](ctx)
        values = {**asdict(claim), **asdict(found), "case_id": claim.claim_id}
        values["figure"] = float(found.figure)
        return [{column: values[column] for column in _claims.AURORA_COLUMNS}]

    rows = run_cases(
        [{"case_id": c, "claim_id": c} for c in by_id if c in chosen],
        run,
        out=out,
        name="aurora_claims",
        columns=_claims.AURORA_COLUMNS,
        kinds={**dict.fromkeys(_claims.AURORA_COLUMNS, "text"), "figure": "finite"},
        case_rows=lambda case: [{}],  # one row per claim
        resume=resume,
        show_progress=show_progress,
        **_settings(ctx, projection, seed, device, size),
    )
    order = list(by_id)
    return sorted(
        (r for r in rows if r["claim_id"] in chosen), key=lambda r: order.index(r["claim_id"])
    )


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
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = False,
    **options,
) -> list[dict]:
    """The rows the Aurora figures draw, measured like :func:`aurora_claims` measures.

    Runs :data:`polarlab.studies.aurora_experiments.FIGURE_EXPERIMENTS` with the same
    projection, base polar method, dtype, seed, device and size as the claims, so
    the figures (:func:`polarlab.studies.aurora_figures.plot_aurora_rows`) show what
    was measured. ``sigma`` is the row-scale spread of the lognormal rows; the other
    parameters are those of :func:`aurora_claims`, and with ``out`` the rows go to
    ``aurora_rows.csv`` / ``.json``.

    Returns
    -------
    list of dict
        Rows with the keys :data:`polarlab.studies.aurora_experiments.FIGURE_COLUMNS`.

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
    return run_cases(
        [{"case_id": name} for name in figures],
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


def claims_markdown(records: Sequence[dict]) -> str:
    """The claims table as Markdown: claim, source, setting, measured, rule, verdict.

    Examples
    --------
    >>> print(claims_markdown(aurora_claims(claims=["C-10"])).splitlines()[2][:12])
    | C-10 | K =
    """
    cells = [
        {
            "id": r["claim_id"],
            "claim (source)": f"{r['claim']} ({r['source']})",
            "setting": r["setting"],
            "measured": r["measured"],
            "rule": r["rule"],
            "verdict": f"**{r['verdict']}**",
        }
        for r in records
    ]
    return format_table(cells, style="markdown")


def write_claims(records: Sequence[dict], out: str | Path) -> Path:
    """Write ``aurora_claims.md`` (the table) into ``out``; returns its path.

    Examples
    --------
    >>> import tempfile
    >>> write_claims(aurora_claims(claims=["R-1"]), tempfile.mkdtemp()).name
    'aurora_claims.md'
    """
    path = Path(out) / "aurora_claims.md"
    path.write_text("# Aurora claims, checked on matrices\n\n" + claims_markdown(records))
    return path
