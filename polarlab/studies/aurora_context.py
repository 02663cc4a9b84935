r"""What every Aurora claim experiment shares: the map under test, the base polar, sizes.

An experiment takes a :class:`Context` and returns *points*, one measured value each
(``series``, ``x``, ``seed``, ``value``; :func:`point`), over the population its claim
declares (:data:`polarlab.studies.claims.SIZES`: seeds, sigma, aspect ratio, K). The
verdict is not the experiment's business: it follows from the points by
:func:`polarlab.studies.claim_verdicts.judge`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from polarlab import matrices, metrics
from polarlab._arrays import unit_roundoff
from polarlab.polar import resolve
from polarlab.studies.claims import SIZES

__all__ = ["Context", "Finding", "Projection", "norm_deviation", "point"]

#: ``projection(G, iters=K, beta=b) -> U`` on a tall (m > n) matrix: the map under test.
Projection = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Finding:
    """The record shape of earlier versions (setting, measured, headline figure, verdict).

    Kept for code that builds one; the claims study now records points and judges them
    (:func:`polarlab.studies.claim_verdicts.judge`).
    """

    setting: str
    measured: str
    figure: float
    verdict: str


class Context:
    """What every experiment shares: the projection under test, the base polar, sizes.

    Parameters
    ----------
    projection : callable
        ``projection(G, iters=K, beta=b) -> U`` (``Projection``).
    solver : PolarSolver
        The base polar method (:func:`polarlab.polar.resolve`): Muon's ``polar(G)``
        and the polar inside the other maps compared.
    seed : int
        The first seed; a population of ``s`` seeds uses ``seed, ..., seed + s - 1``.
    device : as for :func:`polarlab.matrices.random_matrix`.
    size : str or mapping
        A key of :data:`polarlab.studies.claims.SIZES` or such a mapping (missing keys
        are taken from ``"quick"``).
    sigma : float
        Row-scale spread of the lognormal rows in the figures.
    rebase : callable, optional
        ``rebase(solver) -> projection``: the projection under test on another base polar
        method (:meth:`bases`); ``None`` when the projection was injected, which is
        then used as given.
    """

    def __init__(
        self,
        projection: Projection,
        solver,
        *,
        seed: int = 0,
        device: str = "cpu",
        size: str | Mapping = "quick",
        sigma: float = 1.0,
        rebase: Callable | None = None,
    ):
        if isinstance(size, str) and size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
        self.projection = projection
        self.solver = solver
        self.seed = seed
        self.device = device
        self.size = {**SIZES["quick"], **(SIZES[size] if isinstance(size, str) else size)}
        self.sigma = sigma
        self.rebase = rebase
        # Round-off of the requested compute dtype; float64 (exact methods) otherwise.
        self.u = unit_roundoff(solver.options.get("dtype") or "float64")

    @property
    def bits(self) -> int:
        """Bits of the base polar's compute dtype (64 for the float64 exact methods)."""
        dtype = self.solver.options.get("dtype") or torch.float64
        return torch.finfo(dtype).bits

    def bases(self) -> list[Context]:
        """This context on each base polar method of the population (``size["bases"]``:
        ``(method, dtype)`` pairs), or only itself when the projection was injected."""
        if self.rebase is None:
            return [self]
        found = []
        for method, dtype in self.size["bases"]:
            solver = resolve(method, **({} if dtype is None else {"dtype": dtype}))
            other = Context(
                self.rebase(solver), solver, seed=self.seed, device=self.device, size=self.size
            )
            found.append(other)
        return found

    @property
    def seeds(self) -> range:
        """The population's seeds."""
        return range(self.seed, self.seed + self.size["seeds"])

    def matrix(self, family: str, shape, seed_offset: int = 0, **params) -> torch.Tensor:
        """A seeded matrix of ``family``; ``seed_offset`` is added to the first seed."""
        m, n = shape
        return matrices.random_matrix(
            family, m, n, seed=self.seed + seed_offset, device=self.device, **params
        )

    def draw(self, shape, seed: int, sigma: float = 0.0) -> torch.Tensor:
        """``diag(exp(sigma g)) Z`` of ``shape`` for ``seed`` (Gaussian at ``sigma = 0``)."""
        m, n = shape
        return matrices.random_matrix(
            "row_lognormal", m, n, seed=seed, device=self.device, sigma=float(sigma)
        )

    def aurora(self, G: torch.Tensor, iters: int = 2, beta: float = 0.5) -> torch.Tensor:
        return self.projection(G, iters=iters, beta=beta)

    def describe(self, keys, base: bool = True) -> str:
        """The population of the size ``keys`` in words, with the base polar method."""
        words = {
            "seeds": lambda v: f"{v} seeds",
            "sigmas": lambda v: "sigma in {" + ", ".join(f"{s:g}" for s in v) + "}",
            "aspects": lambda v: "m/n in {" + ", ".join(f"{a:g}" for a in v) + "}",
            "iters": lambda v: f"K = 1..{v}",
            "tall": lambda v: f"{v[0]}x{v[1]}",
            "dion": lambda v: f"{v[0]}x{v[1]}",
            "small": lambda v: f"{v[0]}x{v[1]}",
            "n_aspect": lambda v: f"n = {v}",
            "bases": lambda v: (
                "bases "
                + ", ".join(f"{m} ({d or 'float64'})" for m, d in v)
                + (" (the default projection on each)" if self.rebase else " (only the given one)")
            ),
        }
        parts = [words[k](self.size[k]) for k in keys]
        dtype = self.solver.options.get("dtype")
        parts += (
            []
            if not base or "bases" in keys
            else [
                f"base {self.solver.name}"
                + (f" ({dtype})".replace("torch.", "") if dtype else " (float64)")
            ]
        )
        return "; ".join(parts)


def point(series: str, x: float, seed: int, value) -> dict:
    """One measured value of ``series`` at sweep point ``x`` for ``seed``."""
    return dict(series=series, x=float(x), matrix_seed=int(seed), value=float(value))


def norm_deviation(U: torch.Tensor) -> float:
    """``max_i | ‖U_i‖ / sqrt(n/m) - 1 |``: the deviation of row *norms* (not squares)."""
    m, n = U.shape[-2:]
    return float(np.abs(np.asarray(metrics.row_norms(U)) / math.sqrt(n / m) - 1).max())
