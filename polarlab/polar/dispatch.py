r"""The dispatcher: a polar method resolved once into a value, and the one place that orients.

``resolve(method, **options)`` looks the name up in the registry, validates the
options (names and values) once, fills in the defaults and returns a frozen
:class:`PolarSolver`. Every layer above (projections, optimizers, studies, the
command line) takes ``method: str | PolarSolver`` plus options, calls
:func:`resolve` once at its entry and passes the solver down; nothing below
re-validates or re-forwards keywords.

:meth:`PolarSolver.apply` is the one place that orients input: a method's
``solve`` only ever sees a tall work tensor (``m >= n``; wide input is
transposed and the result transposed back), never an empty one (an empty input
gives an empty result), and a compute dtype chosen by the one dtype policy
(``polarlab._arrays.compute_dtype``, the table in ``docs/design/layout.md``).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch

from polarlab._arrays import (
    DTYPE_ROLES,
    ArrayKind,
    as_work,
    compute_dtype,
    meta_result,
    reads_values,
    to_caller,
)
from polarlab.polar import registry

__all__ = ["PolarSolver", "resolve"]


def _signature_names(fn) -> frozenset[str]:
    return frozenset(
        p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY
    )


@dataclass(frozen=True)
class PolarSolver:
    """A polar method with validated options: a frozen, hashable, callable value.

    Made by :func:`resolve`, never directly. Calling it is :func:`polarlab.polar.polar`
    with these options.

    Attributes
    ----------
    method : PolarMethod
        The registry record.
    items : tuple of (name, value)
        Every option of the method, defaults filled in, values normalised (a
        schedule is a :class:`~polarlab.schedules.Schedule`, a dtype a torch
        dtype or ``None``). Read them as the mapping :attr:`options`.
    role : {"polar", "optimizer", "scaling", "exact"}
        The dtype role used when the ``dtype`` option is ``None``
        (``polarlab._arrays.compute_dtype``, the table in ``docs/design/layout.md``);
        optimizers use ``"optimizer"``.

    Examples
    --------
    >>> import numpy as np
    >>> ns = resolve("polar_express", schedule="jordan", steps=5)
    >>> ns.schedule.name, ns.exact, ns.iterative
    ('jordan', False, True)
    >>> A = np.random.default_rng(0).standard_normal((6, 3))
    >>> U = resolve("svd")(A)
    >>> bool(np.allclose(U.T @ U, np.eye(3)))
    True
    """

    method: registry.PolarMethod
    items: tuple[tuple[str, Any], ...]
    role: str = "polar"
    _iterate_keys: frozenset = field(default=frozenset(), compare=False, repr=False)

    # --- what the value knows -------------------------------------------------------
    @property
    def name(self) -> str:
        """The registry name."""
        return self.method.name

    @property
    def options(self) -> Mapping[str, Any]:
        """Every option with its (validated, normalised) value, read only."""
        return MappingProxyType(dict(self.items))

    @property
    def schedule(self):
        """The coefficient :class:`~polarlab.schedules.Schedule`, or ``None`` for
        methods without one."""
        return dict(self.items).get("schedule")

    @property
    def exact(self) -> bool:
        """Converges to working (float64) precision, whatever the input."""
        return self.method.exact

    @property
    def iterative(self) -> bool:
        """Has per-iterate output (:meth:`iterates`)."""
        return self.method.iterates is not None

    def __repr__(self) -> str:
        opts = ", ".join(
            f"{k}={getattr(v, 'name', v)!r}" if k == "schedule" else f"{k}={v!r}"
            for k, v in self.items
        )
        role = "" if self.role == "polar" else f", role={self.role!r}"
        return f"PolarSolver({self.name!r}{', ' if opts else ''}{opts}{role})"

    # --- new values -----------------------------------------------------------------
    def replace(self, **options) -> PolarSolver:
        """A new solver with some options changed (validated once)."""
        return _make(self.method, {**self._given(), **options}, self.role)

    def in_role(self, role: str) -> PolarSolver:
        """The same solver under another dtype role; no re-validation."""
        if role not in DTYPE_ROLES:
            raise ValueError(
                f"unknown dtype role {role!r}; choose one of: {', '.join(DTYPE_ROLES)}"
            )
        return self if role == self.role else replace(self, role=role)

    def _given(self) -> dict:
        """Options in a form ``resolve_options`` accepts again (schedules by value)."""
        return dict(self.items)

    # --- work tensors (no validation, no host synchronisation) ---------------------
    def _solve_options(self, device: torch.device) -> dict:
        opts = dict(self.items)
        if "dtype" in opts:
            opts["dtype"] = compute_dtype(opts["dtype"], device, role=self.role)
        return opts

    def apply(self, X: torch.Tensor, *, overwrite: bool = False) -> tuple[torch.Tensor, dict]:
        """``(polar(X), info)`` of a validated work tensor of any orientation.

        Parameters
        ----------
        X : torch.Tensor, shape (..., m, n)
            Read only, unless ``overwrite``. Wide input is transposed so the method
            runs on the short side, and the result transposed back; empty input
            gives an empty result.
        overwrite : bool
            ``X`` is the caller's scratch: a method with a ``solve_in_place``
            (the Newton-Schulz engine) may use its memory and leave it changed,
            saving a full-size temporary. The result is the same, bit for bit.

        Returns
        -------
        U : torch.Tensor, shape (..., m, n), in the method's compute dtype
        info : dict
        """
        wide = X.shape[-2] < X.shape[-1]
        T = X.mT if wide else X
        if T.numel() == 0:
            U, info = T.clone(), {}
        else:
            in_place = self.method.solve_in_place if overwrite else None
            U, info = (in_place or self.method.solve)(T, **self._solve_options(T.device))
        return (U.mT if wide else U), info

    # --- the checked front door -----------------------------------------------------
    def _work(self, A, check_finite: bool, name: str = "A") -> tuple[torch.Tensor, ArrayKind]:
        """``as_work`` for the front door: gradients kept (every method computed with
        torch operations is differentiable; one that is not refuses a tensor that
        requires grad in its own ``solve``), meta tensors accepted.

        Validation is ``check_finite``: finite entries (else ``ValueError``) and a
        ``RuntimeWarning`` for an exactly zero matrix, both reading the data; neither
        runs with ``check_finite=False`` (hot paths) or under ``torch.compile``."""
        routine = f"polar(method={self.name!r})"
        work, kind = as_work(
            A, name=name, check_finite=check_finite, grad="keep", routine=routine, allow_meta=True
        )
        if check_finite:
            _warn_zero(work)
        return work, kind

    def __call__(
        self,
        A,
        *,
        out_dtype=None,
        return_info: bool = False,
        check_finite: bool = True,
        name: str = "A",
    ):
        """Polar factor of ``A``; see :func:`polarlab.polar.polar`.

        ``name`` is how error messages call the argument (a public wrapper passes its
        own parameter's name, e.g. ``"G"``).
        """
        work, kind = self._work(A, check_finite, name)
        if work.is_meta:  # shape propagation: the polar factor has A's shape
            U = meta_result(work.shape, kind, out_dtype)
            return (U, {}) if return_info else U
        U, info = self.apply(work)
        U = to_caller(U, kind, out_dtype)
        return (U, info) if return_info else U

    def iterates(self, A, steps: int, *, out_dtype=None, check_finite: bool = True) -> Iterator:
        """Iterates ``X_1, ..., X_steps`` of one run; see :func:`polarlab.polar.polar_iterates`."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if not self.iterative:
            iterative = [n for n in registry.names() if registry.get(n).iterates is not None]
            raise ValueError(
                f"method {self.name!r} is not iterative; methods with iterates: "
                f"{', '.join(iterative)}"
            )
        work, kind = self._work(A, check_finite)
        if work.is_meta:
            return (meta_result(work.shape, kind, out_dtype) for _ in range(steps))
        wide = work.shape[-2] < work.shape[-1]
        X = work.mT if wide else work
        if X.numel() == 0:
            inner = (X for _ in range(steps))
        else:
            opts = self._solve_options(X.device)
            keys = self._iterate_keys
            inner = self.method.iterates(X, steps, **{k: v for k, v in opts.items() if k in keys})
        # Validation above runs at call time; the generator below only computes.
        return (to_caller(Xk.mT if wide else Xk, kind, out_dtype) for Xk in inner)


def _warn_zero(work: torch.Tensor) -> None:
    """Warn (reads the data) when a matrix is exactly zero."""
    if not reads_values(work):
        return
    zero = (work == 0).all(dim=-1).all(dim=-1)
    if bool(zero.any()):
        warnings.warn(
            f"exactly zero input ({int(zero.sum())} of {zero.numel()} matrices): its polar "
            "factor is defined as the zero matrix (the rank-0 partial isometry)",
            RuntimeWarning,
            stacklevel=5,  # the caller of polar() (_warn_zero, _work, __call__, polar)
        )


def _make(method: registry.PolarMethod, options: Mapping, role: str) -> PolarSolver:
    full = method.resolve_options(options)
    keys = _signature_names(method.iterates) if method.iterates is not None else frozenset()
    return PolarSolver(method, tuple(full.items()), role, keys)


def resolve(method: str | PolarSolver = "svd", **options) -> PolarSolver:
    """Validate a polar method and its options once; return a :class:`PolarSolver`.

    Parameters
    ----------
    method : str or PolarSolver
        A registered name (:func:`polarlab.polar.names`), or a solver: returned
        as it is when no options are given (no validation), else
        ``method.replace(**options)``.
    **options
        The method's options; an unknown name or a bad value raises
        ``ValueError`` saying what is allowed.

    Examples
    --------
    >>> resolve("svd")
    PolarSolver('svd', rank_tol=None)
    >>> s = resolve("newton_schulz", schedule="jordan")
    >>> resolve(s) is s
    True
    >>> resolve(s, steps=3).options["steps"]
    3
    >>> resolve("svd", steps=3)
    Traceback (most recent call last):
    ...
    ValueError: method 'svd' takes no option(s) steps; its options are: rank_tol
    """
    if isinstance(method, PolarSolver):
        return method.replace(**options) if options else method
    return _make(registry.get(method), options, "polar")
