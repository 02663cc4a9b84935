"""The catalogue: one :class:`Entry` per public array routine of polarlab.

An entry says how to call the routine on valid arrays (``call``), how to build valid
float64 arrays of a shape (``build``), what the right answer is (``reference``: a float64
closed form or SVD-based polar factor; ``None`` means the routine itself on the float64
copy of the input, for routines whose answer is only defined by their own iteration),
the error bound of an approximate method (``bound``), the dtype it computes in, how its
result scales with its input (``degree``) and its documented edge cases. Optimizers are
in :mod:`contracts.optimizers`; routines without array arguments (schedule generators,
matrix families, studies) in :data:`SETTINGS_ONLY` with the tests that cover them.

Documented edge cases used here (each from the routine's docstring or
``docs/design/layout.md``): empty input gives an empty result of the same shape; a zero
matrix has polar factor zero with a ``RuntimeWarning``; scalar metrics raise
``ValueError("empty dimension")`` on a zero-sized matrix dimension and give an empty
result for an empty batch; a polar factor is invariant to ``A -> cA`` for ``c > 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

import polarlab
from polarlab import linalg, manifolds, metrics
from polarlab.optim import functional

from .inputs import UNIT_ROUNDOFF, matrix, polar64, sval_bounds

ALL_DTYPES = ("float64", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Entry:
    """How to call one public routine, what it must return and what it documents."""

    name: str  # test id: the public name, with the method in brackets where one is chosen
    public: str  # dotted public name (the catalogue test matches these against __all__)
    call: Callable  # call(*arrays) with valid extra arguments
    arrays: tuple[str, ...] = ("A",)  # names of the array arguments (messages name them)
    build: Callable | None = None  # build(shape, seed) -> float64 arrays; default one matrix
    reference: Callable | None = None  # float64 arrays -> float64 answer; None: itself
    out: str = "matrix"  # "matrix" (shape of the first array), "rows", "scalar"
    pick: Callable = lambda r: r
    compute: str = "float64"  # dtype the routine computes in (the dtype policy's role)
    bound: Callable | None = None  # float64 arrays -> the method's documented error bound
    norm: str = "fro"  # the norm of the bound ("spectral" for the Polar Express bound)
    degree: int | None = None  # f(cA) = c^degree f(A) for c > 0 (first array); None: not
    polar_like: bool = False  # a polar factor: zero -> zero, rank deficient -> partial iso
    empty: str = "same"  # "same": empty result of that shape; "metric": the metrics' rule
    dtypes: tuple[str, ...] = ALL_DTYPES
    kinds: tuple[str, ...] = ("numpy", "torch")
    validates: bool = True  # goes through the adapter (NaN, ndim, dtype errors)
    slow: bool = False  # pure-Python or many-iteration routine: fewer, smaller cases
    tall_only: bool = False  # documented for m >= n only
    max_kappa: float = 1e15  # largest condition number held to the reference
    scale_call: Callable | None = None  # call(data) for the scale test, when other arrays
    # would have to scale too (a state): the entry's documented fresh-state form
    precise: Callable | None = None  # the call computing in float64 (gradient checks)
    sensitivity: Callable | None = None  # float64 arrays -> condition number of the problem
    data: int = 0  # the argument that carries the data (V of a tangent, G of an update)
    zero: float | None = None  # documented value of a metric at the zero matrix
    tags: frozenset = field(default_factory=frozenset)


# ---------------------------------------------------------------------------- builders
def _one(shape, seed=0):
    return (matrix(shape, seed=seed),)


def _on_stiefel(shape, seed=0):
    """(X on the Stiefel manifold, V arbitrary)."""
    return polar64(matrix(shape, seed=seed)), matrix(shape, kappa=3.0, seed=seed + 1)


def _on_oblique(shape, seed=0):
    X = matrix(shape, seed=seed)
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.where(norms == 0, 1, norms), matrix(shape, kappa=3.0, seed=seed + 1)


def _on_balanced(shape, seed=0):
    """(a point of the balanced Stiefel manifold when one exists, V): Hadamard-like rows."""
    *_, m, n = shape
    U = np.kron(np.eye(n), np.ones((m // n, 1))) / np.sqrt(m // n) if m % n == 0 and n else None
    if U is None:
        U = polar64(matrix((m, n), seed=seed))
    return np.broadcast_to(U, shape).copy(), matrix(shape, kappa=3.0, seed=seed + 1)


def _polar_and_a(shape, seed=0):
    """(approximate polar factor X, its matrix A): X = polar(A) + a small perturbation."""
    A = matrix(shape, seed=seed)
    return polar64(A) + 1e-3 * matrix(shape, seed=seed + 2), A


def _a_and_polar(shape, seed=0):
    X, A = _polar_and_a(shape, seed)
    return A, X


def _rows_and_state(shape, seed=0):
    U = polar64(matrix(shape, seed=seed))
    return U, np.full(shape[:-1], 0.01)


def _square(shape, seed=0):
    *batch, m, _ = shape
    return (matrix((*batch, m, m), seed=seed),)


# ---------------------------------------------------------------------------- references
def _stiefel_tangent(X, V):
    S = np.swapaxes(X, -1, -2) @ V
    return V - X @ (S + np.swapaxes(S, -1, -2)) / 2


def _oblique_tangent(X, V):
    return V - X * (X * V).sum(-1, keepdims=True) / (X * X).sum(-1, keepdims=True)


def _laplacian_condition(U, V=None):
    """Condition number of the multiplier system ``diag(l) - P o P`` of the balanced tangent
    space (``P = U U^T``), over its nonzero eigenvalues: its solve amplifies rounding by it."""
    P = U @ np.swapaxes(U, -1, -2)
    L = np.einsum("...ii->...i", P)[..., None] * np.eye(P.shape[-1]) - P * P
    w = np.abs(np.linalg.eigvalsh(L))
    top = w.max(axis=-1, keepdims=True)
    w = np.where(w > 1e-10 * top, w, np.inf)
    return float((top[..., 0] / w.min(axis=-1)).max()) if U.size else 1.0


def _row_oblique(X):
    n = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.where(n == 0, 1.0, n)


def _condition(A):
    s = np.linalg.svd(A, compute_uv=False)
    m, n = A.shape[-2:]
    keep = s > max(m, n) * 2.0**-53 * s[..., :1]
    return s[..., 0] / np.where(keep, s, np.inf).min(-1)


def _schedule_bound(solver):
    """Spectral-norm bound ``max |1 - f_k(sigma / ||A||_F)|`` of a schedule, from its oracle."""
    schedule = solver.schedule
    steps = solver.options.get("steps")

    def bound(A):
        F = np.linalg.norm(A, axis=(-2, -1)).max()
        smax, smin = sval_bounds(A)
        upper = min(1.0, smax / F * (1 + 1e-6))
        lower = max(min(smin / F * (1 - 1e-6), upper / 2), 1e-15)  # rank deficient: 1e-15
        return schedule.worst_case_error(lower, steps, upper=upper, points=2001)

    return bound


# ---------------------------------------------------------------------------- entries
def _float64_polar(method):
    return lambda A: polarlab.polar(A, method, dtype="float64")


def _inexact(name, public, fn, solver, array="A") -> Entry:
    """A fixed-step polynomial polar method: float32 compute, the schedule's spectral bound."""
    return Entry(
        name,
        public,
        lambda A: fn(A),
        precise=lambda A: fn(A, dtype="float64"),
        arrays=(array,),
        reference=polar64,
        compute="float32",
        bound=_schedule_bound(solver),
        norm="spectral",
        degree=0,
        polar_like=True,
        max_kappa=1e3,
        tags=frozenset({"inexact", "polar"}),
    )


def _polar_entries() -> list[Entry]:
    out = []
    for method in polarlab.polar_methods():
        solver = polarlab.resolve(method)
        exact = solver.exact
        out.append(
            Entry(
                name=f"polar[{method}]",
                public="polarlab.polar",
                call=lambda A, method=method: polarlab.polar(A, method),
                precise=None
                if exact
                else lambda A, m=method: polarlab.polar(A, m, dtype="float64"),
                reference=polar64,
                compute="float64" if exact else "float32",
                bound=None if exact else _schedule_bound(solver),
                norm="fro" if exact else "spectral",
                degree=0,
                polar_like=True,
                slow=method == "mpmath",
                max_kappa=1e15 if exact else 1e3,
                tags=frozenset({"exact" if exact else "inexact", "polar"}),
            )
        )
    ns = polarlab.resolve("newton_schulz")
    out += [
        _inexact("newton_schulz", "polarlab.newton_schulz", polarlab.newton_schulz, ns, "G"),
        _inexact(
            "gram_newton_schulz",
            "polarlab.gram_newton_schulz",
            polarlab.gram_newton_schulz,
            polarlab.resolve("gram_newton_schulz"),
            "G",
        ),
        _inexact(
            "polar_iterates[newton_schulz]",
            "polarlab.polar_iterates",
            lambda A, **kw: list(polarlab.polar_iterates(A, "newton_schulz", 5, **kw))[-1],
            ns,
        ),
        Entry(
            "PolarSolver[qdwh]",
            "polarlab.PolarSolver",
            lambda A: polarlab.resolve("qdwh")(A),
            reference=polar64,
            degree=0,
            polar_like=True,
            tags=frozenset({"exact", "polar"}),
        ),
        Entry(
            "project_stiefel[svd]",
            "polarlab.project_stiefel",
            lambda X: polarlab.project_stiefel(X),
            arrays=("X",),
            reference=polar64,
            degree=0,
            polar_like=True,
            tags=frozenset({"exact", "polar", "projection"}),
        ),
    ]
    return out


def _tangent(name, arrays, build, reference, **kw) -> Entry:
    """A tangent projection ``P_X(V)``: linear in ``V`` (degree 1), ``V`` carries the data."""
    return Entry(
        name,
        f"polarlab.{name}",
        getattr(polarlab, name),
        arrays=arrays,
        data=1,
        degree=1,
        compute="scaling",
        build=build,
        reference=reference,
        **kw,
    )


def _projection(name, public, fn, array="G", **kw) -> Entry:
    """A projection onto a manifold: scale invariant (degree 0), row scalings in 'scaling'."""
    return Entry(
        name,
        public,
        fn,
        arrays=(array,),
        compute="scaling",
        degree=0,
        tags=frozenset({"projection"}),
        **kw,
    )


def _manifold_entries() -> list[Entry]:
    return [
        _projection(
            "project_row_oblique",
            "polarlab.project_row_oblique",
            lambda X: polarlab.project_row_oblique(X),
            "X",
            reference=_row_oblique,
        ),
        _projection("muoneq_r", "polarlab.muoneq_r", lambda G: polarlab.muoneq_r(G)),
        *[
            _projection(
                f"project_balanced_stiefel[{form}]",
                "polarlab.project_balanced_stiefel",
                lambda G, form=form: polarlab.project_balanced_stiefel(G, form=form),
            )
            for form in manifolds.FORMS
        ],
        _projection(
            "riemannian_balanced_stiefel",
            "polarlab.riemannian_balanced_stiefel",
            lambda G: polarlab.riemannian_balanced_stiefel(G),
            slow=True,
            # its steps solve the tangent multiplier system at polar(G)
            sensitivity=lambda G: _laplacian_condition(polar64(G)),
        ),
        _projection(
            "balanced_stiefel_exact",
            "polarlab.balanced_stiefel_exact",
            lambda G: polarlab.balanced_stiefel_exact(G, starts=1),
            pick=lambda r: r[0],
            slow=True,
        ),
        _tangent("tangent_stiefel", ("X", "V"), _on_stiefel, _stiefel_tangent),
        _tangent("tangent_row_oblique", ("X", "V"), _on_oblique, _oblique_tangent),
        _tangent(
            "tangent_balanced_stiefel",
            ("U", "V"),
            _on_balanced,
            None,
            tall_only=True,
            sensitivity=_laplacian_condition,
        ),
        *[
            Entry(
                name,
                f"polarlab.{name}",
                lambda U, v, name=name: getattr(polarlab, name)(U, v),
                arrays=("U", "v"),
                build=_rows_and_state,
                pick=lambda r: r[0],
                compute="scaling",
                # NorMuon grafts ||U||_F back (degree 1); U-NorMuon sets it to sqrt(n) (0)
                degree=degree,
                scale_call=lambda U, name=name: getattr(polarlab, name)(U)[0],
                tags=frozenset({"state"}),
            )
            for name, degree in (("normuon_normalize", 1), ("u_normuon_normalize", 0))
        ],
    ]


def _metric(
    name, arrays=("X",), *, reference=None, degree=None, build=None, out="scalar", zero=None, **kw
):
    fn = getattr(metrics, name)
    return Entry(
        f"{name}",
        f"polarlab.{name}",
        lambda *a: fn(*a, **kw),
        arrays=arrays,
        build=build,
        reference=reference,
        out=out,
        degree=degree,
        empty="metric",
        zero=zero,
        tags=frozenset({"metric"}),
    )


def _metric_entries() -> list[Entry]:
    pair_xa = dict(arrays=("X", "A"), build=_polar_and_a)
    return [
        _metric("alignment", ("A", "X"), build=_a_and_polar, degree=0),
        _metric("dual_gap", ("A", "X"), build=_a_and_polar, degree=0),
        _metric("polar_error", **pair_xa),
        _metric("spectral_error", **pair_xa),
        _metric("distance_to_polar", ("U", "G"), build=_polar_and_a),
        _metric("bound_violation"),
        _metric("condition_number", ("A",), reference=_condition, degree=0),
        _metric("leverage_scores", ("A",), degree=0, out="rows"),
        _metric("orthogonality_defect"),
        _metric("row_norm_cv", degree=0),
        _metric("row_norm_deviation"),
        _metric("row_norm_ratio", degree=0, zero=np.inf),
        _metric(
            "row_norms",
            reference=lambda X: np.linalg.norm(X, axis=-1),
            degree=1,
            out="rows",
        ),
        _metric("singular_value_deviation"),
        _metric("singular_value_range", out="pair"),
        _metric("input_cast_floor", ("A",), dtype="float32"),
    ]


def _kernel_entries() -> list[Entry]:
    """Shared torch kernels: typed ``torch.Tensor`` (no adapter), float32 and float64."""
    kernel = dict(
        kinds=("torch",), dtypes=("float64", "float32"), validates=False, compute="scaling"
    )
    return [
        Entry(
            "linalg.sinkhorn",
            "polarlab.linalg.sinkhorn",
            linalg.sinkhorn,
            arrays=("X",),  # norms clamped at 1e-8 (documented): not scale invariant
            **kernel,
        ),
        *[
            Entry(
                f"linalg.positive_qr[{method}]",
                "polarlab.linalg.positive_qr",
                _flagged(lambda A, method=method: linalg.positive_qr(A, method)),
                build=_square,
                degree=0,
                **kernel,
            )
            for method in linalg.QR_METHODS
        ],
        Entry(
            "linalg.cholesky_qr",
            "polarlab.linalg.cholesky_qr",
            _flagged(linalg.cholesky_qr, lambda info: info == 0),
            build=_square,
            degree=0,
            **kernel,
        ),
    ]


def _identity(shape):
    k = min(shape[-2:])
    return np.broadcast_to(np.eye(k), (*shape[:-2], k, k)).copy()


def _flagged(qr, success=lambda flag: flag):
    """A kernel's documented failure flag as the documented error (``ValueError``)."""

    def call(A):
        Q, flag = qr(A)
        flag = torch.as_tensor(flag)
        if not flag.is_meta and not bool(success(flag).all()):
            raise ValueError("A is numerically rank deficient (the kernel's flag is False)")
        return Q

    return call


def _power_of_two_scaled(X):
    """``X / 2^floor(log2 max |x|)`` per matrix (``1 <= max |Y| < 2``); zero stays zero."""
    top = np.abs(X).max(axis=(-2, -1), keepdims=True) if X.size else np.ones(X.shape)
    return X / np.where(top > 0, 2.0 ** np.floor(np.log2(np.where(top > 0, top, 1.0))), 1.0)


def _optional_kernels() -> list[Entry]:
    """Norm kernels of ``polarlab.linalg`` (present once the scale fix lands)."""
    out = []
    kernel = dict(kinds=("torch",), validates=False, arrays=("X",))
    if hasattr(linalg, "safe_norm"):
        out.append(
            Entry(
                "linalg.safe_norm",
                "polarlab.linalg.safe_norm",
                lambda X: linalg.safe_norm(X),
                reference=lambda X: np.linalg.norm(X, axis=(-2, -1)),
                out="scalar",
                compute="scaling",
                degree=1,
                **kernel,
            )
        )
    if hasattr(linalg, "max_abs_scale"):
        out.append(
            Entry(
                "linalg.max_abs_scale",
                "polarlab.linalg.max_abs_scale",
                lambda X: linalg.max_abs_scale(X)[0],
                reference=_power_of_two_scaled,
                compute="scaling",
                degree=0,
                dtypes=("float64", "float32"),  # the result is in the 'scaling' dtype
                **kernel,
            )
        )
    if hasattr(linalg, "pow2_scale"):
        out.append(
            Entry(
                "linalg.pow2_scale",
                "polarlab.linalg.pow2_scale",
                lambda X: X / linalg.pow2_scale(X),  # the scaled matrix, against numpy's
                reference=_power_of_two_scaled,
                compute="scaling",
                degree=0,
                dtypes=("float64", "float32"),
                **kernel,
            )
        )
    return out


def _update_entry(name, *extra_state):
    fn = getattr(functional, name)

    def build(shape, seed=0):
        W = matrix(shape, seed=seed)
        G = matrix(shape, kappa=4.0, seed=seed + 1)
        states = [np.zeros(shape)] + [
            np.zeros(shape[:-1]) if s == "rows" else _identity(shape) for s in extra_state
        ]
        return W, G, *states

    arrays = (
        "W",
        "G",
        "momentum_buffer",
        *(("row_second_moment",) if "rows" in extra_state else ()),
    )
    if "rotation" in extra_state:
        arrays = ("W", "G", "momentum_buffer", "rotation")
    return Entry(
        f"optim.functional.{name}",
        f"polarlab.optim.functional.{name}",
        lambda *a: fn(*a, lr=0.01),
        arrays=arrays,
        build=build,
        pick=lambda r: r[0],
        kinds=("torch",),
        dtypes=("float64", "float32"),
        compute="scaling",
        data=1,
        tags=frozenset({"update"}),
    )


def _update_entries() -> list[Entry]:
    return [
        _update_entry("muon_update"),
        _update_entry("normuon_update", "rows"),
        _update_entry("aurora_update"),
        _update_entry("aro_update", "rotation"),
    ]


ENTRIES: list[Entry] = [
    *_polar_entries(),
    *_manifold_entries(),
    *_metric_entries(),
    *_kernel_entries(),
    *_optional_kernels(),
    *_update_entries(),
]
BY_NAME = {entry.name: entry for entry in ENTRIES}
assert len(BY_NAME) == len(ENTRIES), "entry names must be unique"

#: Public names without array arguments, with the tests that hold their contract
#: (bad settings raise naming the key; generated values are finite in the target dtype).
SETTINGS_ONLY = {
    "polarlab.resolve": "contracts/test_settings.py",
    "polarlab.polar_methods": "contracts/test_settings.py",
    "polarlab.families": "contracts/test_settings.py",
    "polarlab.random_matrix": "contracts/test_settings.py",
    "polarlab.haar_orthogonal": "contracts/test_settings.py",
    "polarlab.prescribed_spectrum": "contracts/test_settings.py",
    "polarlab.Schedule": "contracts/test_settings.py",
    "polarlab.optimal_cubic": "contracts/test_settings.py",
    "polarlab.optimal_quintic": "contracts/test_settings.py",
    "polarlab.optimal_composition": "contracts/test_settings.py",
    "polarlab.schedules.get": "contracts/test_settings.py",
    "polarlab.schedules.names": "contracts/test_settings.py",
    "polarlab.schedules.register": "test_schedules.py",
    "polarlab.polar.register": "test_dispatch.py",
    "polarlab.polar.PolarMethod": "test_dispatch.py",
    "polarlab.BalancedStiefelCertificate": "test_manifolds_exact.py",
    "polarlab.optim.functional.update": "contracts/test_optimizers.py",
    "polarlab.optim.split_params": "test_optim_training.py",
    "polarlab.studies.precision": "test_studies_precision.py, test_studies_io.py",
    "polarlab.studies.aurora_claims": "test_studies_aurora.py, test_studies_io.py",
    "polarlab.studies.report": "test_studies_aurora.py",
    "polarlab.studies.neurons": "test_studies_neurons.py",
    # Histories in, fractions out; planted dead rows in the tests (issue 14).
    "polarlab.diagnostics.RowHistory": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.RowTelemetry": "test_diagnostics_telemetry.py",
    "polarlab.diagnostics.dead_fractions": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.dead_rows": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.effective_norms": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.leverage_dead_rows": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.low_fraction_by_checkpoint": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.relative_to_layer_mean": "test_diagnostics_dead_neurons.py",
    "polarlab.diagnostics.update_ratio_quantiles": "test_diagnostics_dead_neurons.py",
    "polarlab.cli.main": "test_cli.py",
    "polarlab.cli.build_parser": "test_cli.py",
    "polarlab.cli.UsageError": "test_cli.py",
    # per-row training telemetry over recorded histories (not matrix routines)
    **{
        f"polarlab.diagnostics.{name}": "test_diagnostics_dead_neurons.py, "
        "test_diagnostics_telemetry.py"
        for name in (
            "RowHistory",
            "RowTelemetry",
            "dead_fractions",
            "dead_rows",
            "effective_norms",
            "leverage_dead_rows",
            "low_fraction_by_checkpoint",
            "relative_to_layer_mean",
            "update_ratio_quantiles",
        )
    },
}


def unit_roundoff(name: str) -> float:
    """Unit roundoff by dtype name."""
    return UNIT_ROUNDOFF[name]


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype by name."""
    return getattr(torch, name)
