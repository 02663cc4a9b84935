r"""Gram-form Aurora: the polar factors of the preconditioned form computed on the short side.

Aurora's preconditioned form (Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715;
code tilde-research/aurora-release; :func:`~polarlab.manifolds.project_balanced_stiefel`)
needs, for a tall ``G`` (``m > n``), ``K`` polar factors ``U_k = polar(D_k G)`` with a
diagonal ``D_k``, and of each but the last only its squared row norms. With a
polynomial polar method (a Newton-Schulz schedule) every iterate is
``X_0 q_t(X_0^T X_0)`` with ``X_0 = D_k G / nu_k``, ``nu_k = c ||D_k G||_F + eps``
(the schedule's normalisation), so each polar call can run on the ``n x n`` Gram
matrix

.. math::

    R_k = X_0^T X_0 = G^T D_k^2 G / \nu_k^2, \qquad Q_k = q_T(R_k), \qquad
    U_k = X_0 Q_k, \qquad \|U_{k,i}\|^2 = d_{k,i}^2\, g_i^T Q_k^2 g_i / \nu_k^2,

as Gram Newton-Schulz does for one polar factor (Zhang, Amsel, Chen, Dao, "Gram
Newton-Schulz", 2026, package ``gram-newton-schulz``; Polar Express, arXiv
2505.16932, App. F): :func:`gram_polar` runs the engine of
:mod:`polarlab.polar.gram` on ``D_k G`` with the solver's own schedule, step count
and normalisation. In exact arithmetic the result equals the plain form's for the
same schedule and every restart set.

**What is shared, what is not.** ``D_{k+1}`` is a data-dependent reweighting of the
rows, so ``R_{k+1}`` is not a function of ``R_k``: each refinement needs a new
``m x n x n`` Gram product, and the ``m`` row norms of ``U_k`` are ``m`` quadratic
forms in an ``n x n`` matrix, another ``m x n x n`` product however they are
evaluated. The cheapest correct form is the row sums of squares of ``X_0 Q_k``
(``2 m n^2 + 2 m n`` flops): ``rowsum((X_0 Q^2) * X_0)`` costs the same product plus
``2 n^3`` for ``Q^2`` and can come out negative in rounding (``Q^2`` has condition
number up to about ``10^6`` for the Polar Express rows), a sum of squares cannot.
What the ``K`` calls share is only ``O(m n)`` work: the row norms of ``G`` and the
normalisation scalars.

**Cost** (matrix-product flops, 2 per multiply-add, per matrix; ``T`` steps of a
quintic schedule, no restarts). Plain form: ``K T (4 m n^2 + 2 n^3)``. Gram form:
``K`` Gram matrices and ``K`` products ``X_0 Q`` (``4 K m n^2``) and ``4 T - 3``
products of ``n x n`` matrices per call. Every one of those products, and the Gram
matrix, is a product of commuting symmetric matrices, so only the upper block rows
are computed: with ``p`` row panels (``p = min(8, n // 128)``, at least 1) a product
costs ``(p + 1) / (2 p)`` of a full one, ``9/16`` at ``p = 8`` (BLAS has no kernel
for a symmetric product of two symmetric matrices). For ``K = 2``, ``T = 5``,
``p = 8`` (``n >= 1024``): ``6.25 m n^2 + 38.25 n^3`` against ``20 m n^2 + 10 n^3``
for one standard 5-step Polar Express orthogonalisation (0.70 of it at ``m = 4 n``,
0.52 at ``m = 8 n``) and ``40 m n^2 + 20 n^3`` for the plain form (0.35 and 0.26).
:func:`aurora_flops` counts exactly what the code runs (``tests`` check it with
``torch.utils.flop_counter``); ``docs/design/aurora-gram.md`` has the measured times.

**Restarts** (:func:`gram_restarts`). Forming ``R = X^T X`` resolves a singular
value ``sigma`` of ``X`` only to a relative ``u / (2 sigma^2)`` where standard
Newton-Schulz resolves it to about ``u`` (``u`` the unit round-off), and the ``n x n``
updates of ``R`` drift from ``Q R_0 Q``; a restart rebuilds ``X <- X Q``,
``R <- X^T X`` from the tall matrix. A ``gram_newton_schulz`` solver keeps its own
``restarts``. For ``newton_schulz`` and ``polar_express``: none in float32 and
float64 (the Polar Express rows give a relative perturbation of at most ``0.009`` on
the design interval ``[1e-3, 1]`` in float32, ``2e-11`` in float64); before every
other step from step 1, ``(1, 3, 5, ...)``, in float16 and bfloat16 (bfloat16
without restarts diverges on the log-spaced and rank-deficient families of
:mod:`polarlab.matrices`, and with ``(2,)`` it loses 0.1 in orthogonality defect on
log-spaced spectra; ``(1, 3)`` keeps the bound at 0.08 against 0.03 for the plain
form).

**Engine rule** (:func:`choose_engine`). ``"gram"`` is valid for the
preconditioned form with a polynomial method (:data:`GRAM_METHODS`); ``"auto"`` takes
it where it is valid and :func:`aurora_flops` counts at most 3/4 of the plain form's
flops for it at the matrix's shape and compute dtype (the dtype sets the restarts),
else the plain form. The margin pays for the Gram form's smaller products, which run
at a lower rate: measured on CPU, a near-square ``300 x 260`` matrix took 1.23 times
the plain form's time at 0.9 times its flops. For the five Polar Express rows and
``K = 2`` the Gram form is taken from aspect ratio ``m / n`` of 2.4 for ``n < 256``,
1.6 at ``n = 256``, 1.2 at ``n = 512`` and 1.0 (every tall matrix) from ``n = 1024``
in float32; in bfloat16, with its restarts, from 4.8, 2.0, 1.2 and 1.0. No host
synchronisation and no data-dependent Python branch: the rule reads shapes, the
device type and the solver's options only.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from itertools import pairwise

import torch

from polarlab._arrays import compute_dtype, unit_roundoff
from polarlab.manifolds._common import check_choice
from polarlab.polar import PolarSolver
from polarlab.polar.gram import _gram_run, dense_product
from polarlab.polar.polynomial import batch_view, normalize

__all__ = [
    "AUTO_MARGIN",
    "ENGINES",
    "GRAM_METHODS",
    "aurora_flops",
    "check_engine",
    "choose_engine",
    "gram_polar",
    "gram_restarts",
    "polar_map",
]

#: How :func:`~polarlab.manifolds.project_balanced_stiefel` computes its polar factors.
ENGINES = ("auto", "plain", "gram")
#: The polar methods the Gram form can run: the polynomial (Newton-Schulz) ones.
GRAM_METHODS = ("newton_schulz", "polar_express", "gram_newton_schulz")

#: ``engine="auto"`` takes the Gram form at no more than this fraction of the plain flops.
AUTO_MARGIN = 0.75

#: Smallest panel height of the symmetric products (n // 128 panels, at most 8).
_PANEL_ROWS = 128
_MAX_PANELS = 8


# --- products of commuting symmetric matrices: upper block rows only ------------------------


def _panel_bounds(n: int) -> tuple[tuple[int, int], ...]:
    """Row panels ``[s_j, e_j)`` of an ``n x n`` symmetric result: ``p = min(8, n // 128)``
    equal panels, at least one (measured on CPU: 128-row panels run near full speed)."""
    p = max(1, min(_MAX_PANELS, n // _PANEL_ROWS))
    edges = [n * j // p for j in range(p + 1)]
    return tuple(pairwise(edges))


def _assemble(panels: list[torch.Tensor], bounds) -> torch.Tensor:
    """The symmetric matrix whose rows ``[s_j, e_j)``, columns ``[s_j, n)`` are ``panels[j]``."""
    rows = []
    for j, (s, e) in enumerate(bounds):
        # block (j, i < j) is the transpose of block (i, j), held by panel i from column s_i
        left = [P[..., s - si : e - si].mT for P, (si, _) in zip(panels[:j], bounds, strict=False)]
        rows.append(torch.cat([*left, panels[j]], dim=-1))
    return torch.cat(rows, dim=-2)


def _symmetric_product(A, B, C=None, *, beta: float = 1.0, alpha: float = 1.0) -> torch.Tensor:
    """``beta C + alpha A B`` for symmetric ``A``, ``B``, ``C`` (batch, n, n), the result symmetric.

    Panel ``j`` is ``A[s_j:e_j] B[:, s_j:]``: ``2 (e_j - s_j) n (n - s_j)`` flops, in all
    ``(p + 1) / (2 p)`` of ``2 n^3``. ``B[:, s:]`` is read in place as a column slice
    (a strided view BLAS takes as it is): on CPU in bfloat16 the same panel read as the
    transposed row slice ``B[s:]^T`` (equal for symmetric ``B``) took twice as long.
    """
    bounds = _panel_bounds(A.shape[-1])
    if len(bounds) == 1:
        return dense_product(A, B, C, beta=beta, alpha=alpha)
    panels = [
        dense_product(
            A[:, s:e],
            B[:, :, s:],
            None if C is None else C[:, s:e, s:],
            beta=beta,
            alpha=alpha,
        )
        for s, e in bounds
    ]
    return _assemble(panels, bounds)


def _symmetric_gram(X: torch.Tensor) -> torch.Tensor:
    """``X^T X`` for ``X`` (B, m, n) from its upper block rows: ``(p + 1) / (2 p)`` of
    ``2 m n^2`` flops."""
    bounds = _panel_bounds(X.shape[-1])
    return _assemble([torch.bmm(X[:, :, s:e].mT, X[:, :, s:]) for s, e in bounds], bounds)


# --- the Gram-form polar factor ------------------------------------------------------------


def gram_restarts(solver: PolarSolver, dtype: torch.dtype) -> frozenset[int]:
    """The restart set of the Gram form (0-based steps before which ``R`` is rebuilt).

    A ``gram_newton_schulz`` solver's own ``restarts``; otherwise none when ``dtype``
    is float32 or float64 and every other step from 1 (``1, 3, 5, ...``) in half
    precision (see the module notes).

    >>> from polarlab.polar import resolve
    >>> sorted(gram_restarts(resolve("polar_express"), torch.bfloat16))
    [1, 3]
    >>> sorted(gram_restarts(resolve("polar_express"), torch.float32))
    []
    """
    if solver.name == "gram_newton_schulz":
        return frozenset(solver.options["restarts"])
    if unit_roundoff(dtype) > unit_roundoff(torch.float32):
        steps = len(solver.schedule.rows(solver.options["steps"]))
        return frozenset(range(1, steps, 2))
    return frozenset()


def gram_polar(
    X: torch.Tensor,
    solver: PolarSolver,
    *,
    overwrite: bool = False,
    row_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""``polar(X)`` by a polynomial solver's schedule, run on the Gram matrix ``X^T X``.

    ``X_0 = X / (c s + eps)`` as the solver normalises, then Gram Newton-Schulz with
    the solver's rows, symmetric half products and :func:`gram_restarts`; returns
    ``X_r Q``. Equal to ``solver.apply(X)[0]`` in exact arithmetic.

    Parameters
    ----------
    X : torch.Tensor, shape (..., m, n), m > n
        Work tensor; read only unless ``overwrite``.
    solver : PolarSolver
        A ``newton_schulz``, ``polar_express`` or ``gram_newton_schulz`` solver.
    overwrite : bool
        ``X`` is the caller's scratch: the normalisation divides it in place instead
        of allocating a full-size copy (the same bits).
    row_scale : torch.Tensor, shape (..., m, 1), optional
        Take ``polar(row_scale * X)``: the scaled matrix is formed here, as this
        call's own scratch, and freed as soon as it is normalised (a caller that
        passed it as the argument would hold it through the whole iteration). ``X``
        is then only read.

    Returns
    -------
    torch.Tensor, shape (..., m, n), in the solver's compute dtype

    Examples
    --------
    >>> from polarlab.polar import resolve
    >>> X = torch.randn(64, 8, dtype=torch.float64)
    >>> pe = resolve("polar_express", dtype="float64")
    >>> bool(torch.allclose(gram_polar(X, pe), pe.apply(X)[0], rtol=0, atol=1e-12))
    True
    """
    opts = solver.options
    dtype = compute_dtype(opts["dtype"], X.device, role=solver.role)
    schedule, steps, normalization = opts["schedule"], opts["steps"], opts["normalization"]
    shape = X.shape
    if row_scale is not None:
        X, overwrite = row_scale * X, True  # our own scratch
    work = batch_view(X)
    if not schedule.rows(steps):  # zero steps: the normalised input, as the plain engine
        return normalize(work, schedule, normalization, dtype, overwrite).X.reshape(shape)
    restarts = gram_restarts(solver, dtype)
    run = _gram_run(
        work,
        schedule,
        steps,
        restarts,
        dtype,
        normalization,
        gram=_symmetric_gram,
        product=_symmetric_product,
        overwrite=overwrite,
    )
    del X, work  # the run holds the only reference: freed once normalised
    Xr, Q = deque(run, maxlen=1)[0]
    return torch.bmm(Xr, Q).reshape(shape)


def _plain_polar(
    X: torch.Tensor, solver: PolarSolver, *, overwrite: bool, row_scale=None
) -> torch.Tensor:
    if row_scale is not None:
        return solver.apply(row_scale * X, overwrite=True)[0]
    return solver.apply(X, overwrite=overwrite)[0]


def polar_map(engine: str, solver: PolarSolver, *, overwrite: bool = False):
    """``(X, row_scale=None) -> polar(row_scale * X)`` on tall work tensors by the engine
    ``"plain"`` (``solver.apply``) or ``"gram"`` (:func:`gram_polar`). ``overwrite``: the
    map may use each ``X`` it is given as scratch (for callers that pass their own
    temporaries); a ``row_scale`` product is always the map's own scratch."""
    return partial(
        gram_polar if engine == "gram" else _plain_polar, solver=solver, overwrite=overwrite
    )


# --- which engine ----------------------------------------------------------------------------


def check_engine(engine: str, form: str, solver: PolarSolver) -> None:
    """``ValueError`` unless ``engine`` is one of :data:`ENGINES` and valid for ``form``
    and the solver's method (``"gram"`` needs the preconditioned form and one of
    :data:`GRAM_METHODS`)."""
    check_choice(engine, "engine", ENGINES)
    if engine == "gram" and (form != "preconditioned" or solver.name not in GRAM_METHODS):
        raise ValueError(
            f"engine='gram' needs form='preconditioned' and a polynomial method "
            f"({', '.join(GRAM_METHODS)}); got form={form!r}, method={solver.name!r} "
            "(use engine='plain' or 'auto')"
        )


def choose_engine(
    engine: str, form: str, solver: PolarSolver, m: int, n: int, iters: int, device
) -> str:
    """``"plain"`` or ``"gram"`` for a validated ``engine`` (:func:`check_engine`).

    ``"auto"``: ``"gram"`` where it is valid and :func:`aurora_flops` counts at
    most :data:`AUTO_MARGIN` of the plain form's flops for it on the tall ``m x n``
    matrix in the solver's compute dtype on ``device`` (the dtype sets the
    restarts), else ``"plain"``.

    >>> from polarlab.polar import resolve
    >>> pe = resolve("polar_express")
    >>> choose_engine("auto", "preconditioned", pe, 3072, 768, 2, "cpu")
    'gram'
    >>> choose_engine("auto", "preconditioned", resolve("svd"), 3072, 768, 2, "cpu")
    'plain'
    """
    if engine != "auto":
        return engine
    if form != "preconditioned" or solver.name not in GRAM_METHODS:
        return "plain"
    dtype = compute_dtype(solver.options["dtype"], torch.device(device), role=solver.role)
    gram = aurora_flops(m, n, iters, solver, engine="gram", dtype=dtype)
    plain = aurora_flops(m, n, iters, solver, engine="plain", dtype=dtype)
    return "gram" if gram <= AUTO_MARGIN * plain else "plain"


# --- flop counts -----------------------------------------------------------------------------


def _panel_flops(inner: int, n: int, symmetric: bool) -> int:
    """Flops of a symmetric ``n x n`` result with inner dimension ``inner``."""
    bounds = _panel_bounds(n) if symmetric else ((0, n),)
    return sum(2 * (e - s) * inner * (n - s) for s, e in bounds)


def _gram_run_flops(m, n, rows, restarts, normalization: str, symmetric: bool) -> int:
    """Product flops of ``polarlab.polar.gram._gram_run`` plus the final ``X_r Q``."""
    product = _panel_flops(n, n, symmetric)
    gram = _panel_flops(m, n, symmetric)
    schatten8 = normalization == "schatten8"  # normalize() forms A and A^2 in full
    total = 2 * m * n * n + 2 * n**3 if schatten8 else gram
    if not rows:
        return total if schatten8 else 0
    T = len(rows)
    for t, (_, _, c) in enumerate(rows):
        restart = t in restarts
        total += (2 * m * n * n + gram) if restart else 0  # X <- X Q, R <- X^T X
        total += product if c != 0.0 and not (t == 0 and schatten8) else 0  # R^2
        total += product if t > 0 and not restart else 0  # Q <- a Q + Q Z
        total += 2 * product if t < T - 1 and (t + 1) not in restarts else 0  # H R H
    return total + 2 * m * n * n  # X_r Q


def _plain_polar_flops(m, n, solver: PolarSolver) -> int:
    """Product flops of ``solver.apply`` on one tall ``m x n`` matrix."""
    opts = solver.options
    rows = solver.schedule.rows(opts["steps"])
    if solver.name == "gram_newton_schulz":
        restarts = frozenset(opts["restarts"])
        return _gram_run_flops(m, n, rows, restarts, opts["normalization"], symmetric=False)
    # each step: A = X^T X, A^2 (quintic), X (a I + b A + c A^2)
    total = sum(4 * m * n * n + (2 * n**3 if c != 0.0 else 0) for _, _, c in rows)
    if opts["normalization"] == "schatten8" and (not rows or rows[0][2] == 0.0):
        total += 2 * n**3 + (2 * m * n * n if not rows else 0)  # A^2 (and A) formed anyway
    return total


def aurora_flops(m: int, n: int, iters: int, solver: PolarSolver, *, engine: str, dtype) -> int:
    """Matrix-product flops (2 per multiply-add) of the preconditioned form on one tall matrix.

    Counts exactly the products the code runs (the row scalings and normalisations
    are ``O(m n)`` and not counted) for ``iters`` polar calls on an ``m x n``
    matrix, ``m > n``.

    Parameters
    ----------
    m, n : int
        The tall orientation (Aurora balances the long axis).
    iters : int
        Polar calls ``K``.
    solver : PolarSolver
        A polynomial solver (:data:`GRAM_METHODS`).
    engine : {"plain", "gram"}
    dtype : torch.dtype
        The compute dtype (it sets the Gram form's restarts).

    Examples
    --------
    >>> from polarlab.polar import resolve
    >>> pe = resolve("polar_express", steps=5)
    >>> m, n = 4096, 1024
    >>> aurora_flops(m, n, 2, pe, engine="plain", dtype=torch.float32) == 2 * (
    ...     20 * m * n**2 + 10 * n**3)
    True
    >>> gram = aurora_flops(m, n, 2, pe, engine="gram", dtype=torch.float32)
    >>> round(gram / (20 * m * n**2 + 10 * n**3), 2)  # against one 5-step Muon step
    0.7
    """
    if solver.name not in GRAM_METHODS:
        raise ValueError(f"flops are counted for {', '.join(GRAM_METHODS)}; got {solver.name!r}")
    if engine == "plain":
        return iters * _plain_polar_flops(m, n, solver)
    check_choice(engine, "engine", ("plain", "gram"))
    opts = solver.options
    rows = solver.schedule.rows(opts["steps"])
    restarts = gram_restarts(solver, dtype)
    return iters * _gram_run_flops(m, n, rows, restarts, opts["normalization"], symmetric=True)
