r"""What the precision study measures an iterate against: reference, prediction, bound, floors.

For one seeded float64 input ``A`` (shape ``(m, n)``, rank ``r``) with singular
values ``sigma_1 >= ... >= sigma_r`` and float64 SVD polar factor ``Q = polar(A)``:

* **prediction** (``scalar_spectral_error``): an odd polynomial acts on singular
  values only, so in exact arithmetic ``sigma_i(X_k) = f_k(sigma_i / (c s + eps))``
  with ``f_k`` the composition of the schedule's first ``k`` rows, ``c`` and ``eps``
  its input factor and epsilon and ``s >= ||A||_2`` the bound the method divides by
  (``||A||_F`` unless its ``normalization`` says otherwise). The prediction for
  *this* matrix is ``max_i |1 - f_k(x_i)| = ||X_k - Q||_2`` without rounding
  (Amsel, Persson, Musco, Gower, "The Polar Express", arXiv 2505.16932, sec. 2).
  It is not a bound: rounding can only be judged against it.
* **worst-case bound** (``scalar_worst_case``): ``max |1 - f_k(x / c)|`` over the
  whole interval ``x in [l, 1]``, ``l = c sigma_r / (c s + eps)``, about
  ``sigma_r / s`` (``1 / kappa(A)`` when ``s = ||A||_2``; smaller under the
  Frobenius normalisation). It bounds the
  exact-arithmetic spectral error of every matrix whose normalised spectrum lies in
  ``[l, 1]``, this one included (the quantity the Polar Express schedule minimises,
  arXiv 2505.16932, sec. 4), so ``prediction <= bound``.
* **input-cast floors**: ``polar(fl(A)) - Q`` with ``fl`` the rounding of ``A`` to
  the compute dtype, the error of the *exact* polar factor of the rounded input,
  which no method reading ``A`` in that dtype can be expected to beat (first order:
  about ``u ||A||_2 / sigma_r``). Measured in both norms of the study's errors:
  ``input_cast_floor_spectral = ||polar(fl(A)) - Q||_2`` (the spectral-error axis)
  and ``input_cast_floor = ||polar(fl(A)) - Q||_F / sqrt(r)``
  (:func:`polarlab.metrics.input_cast_floor`, the ``polar_error`` scale).
"""

from __future__ import annotations

import math

import torch

from polarlab import matrices, metrics
from polarlab.polar import PolarSolver, polar
from polarlab.polar.exact import default_rank_tol

__all__ = ["PREDICTION_COLUMNS", "PrecisionInput", "prediction_columns"]

#: The columns :func:`prediction_columns` fills (nan for a method without a schedule).
PREDICTION_COLUMNS: tuple[str, ...] = (
    "scalar_spectral_error",  # the prediction: exact-arithmetic ||X_k - Q||_2 for this A
    "scalar_sigma_min",  # exact-arithmetic range of sigma_i(X_k)
    "scalar_sigma_max",
    "scalar_worst_case",  # the worst-case bound over [sigma_r / s, 1]
)


class PrecisionInput:
    """One seeded input, with its reference, spectrum and floors computed once.

    Attributes
    ----------
    A : torch.Tensor, shape (m, n), float64
        :func:`polarlab.matrices.random_matrix` of the family, shape and seed.
    Q : torch.Tensor, shape (m, n), float64
        ``polar(A)`` by the float64 SVD (a partial isometry for rank-deficient ``A``).
    sigma : numpy.ndarray
        The ``r`` nonzero singular values (above the SVD method's rank tolerance).
    frobenius, condition_number : float
        ``||A||_F`` and ``sigma_1 / sigma_r``.
    leverage : tuple of float
        Range of the leverage scores of ``A``.

    Examples
    --------
    >>> M = PrecisionInput("gaussian", 16, 8, seed=0, device="cpu")
    >>> M.cast_floor("float64"), M.cast_floor_spectral("float64")
    (0.0, 0.0)
    >>> bool(M.cast_floor_spectral("bfloat16") >= M.cast_floor("bfloat16"))
    True
    """

    def __init__(self, family: str, m: int, n: int, seed: int, device: str):
        self.A = matrices.random_matrix(family, m, n, seed=seed, dtype="float64", device=device)
        self.Q = polar(self.A, method="svd")
        s = torch.linalg.svdvals(self.A).double().cpu()
        keep = s > default_rank_tol(m, n) * s[0]
        self.sigma = s[keep].numpy()
        self.frobenius = float(torch.linalg.matrix_norm(self.A.double()).cpu())
        self.condition_number = float(metrics.condition_number(self.A))
        leverage = torch.as_tensor(metrics.leverage_scores(self.A))
        self.leverage = (float(leverage.min()), float(leverage.max()))
        self._floors: dict[tuple[str, str], float] = {}

    def norm_bound(self, normalization: str) -> float:
        """The bound ``s >= ||A||_2`` a polynomial method divides ``A`` by, for its
        ``normalization`` (:data:`polarlab.polar.polynomial.NORMALIZATIONS`)."""
        if normalization == "schatten8":  # (sum sigma_i^8)^{1/8}, scaled against overflow
            top = float(self.sigma.max())
            return top * float(((self.sigma / top) ** 8).sum() ** 0.125)
        if normalization == "one_inf":  # sqrt(||A||_1 ||A||_inf)
            one, inf = (float(torch.linalg.matrix_norm(self.A, p)) for p in (1, math.inf))
            return math.sqrt(one * inf)
        return self.frobenius

    def cast_floor(self, dtype: str) -> float:
        """``||polar(fl(A)) - Q||_F / sqrt(r)`` (:func:`polarlab.metrics.input_cast_floor`)."""
        if ("F", dtype) not in self._floors:
            self._floors["F", dtype] = float(metrics.input_cast_floor(self.A, dtype))
        return self._floors["F", dtype]

    def cast_floor_spectral(self, dtype: str) -> float:
        """``||polar(fl(A)) - Q||_2``: the floor in the norm of ``spectral_error``."""
        if ("2", dtype) not in self._floors:
            fl = self.A.to(getattr(torch, dtype)).to(torch.float64)  # rounded once
            floor = metrics.spectral_error(polar(fl, method="svd"), self.A, reference=self.Q)
            self._floors["2", dtype] = float(floor)
        return self._floors["2", dtype]


def prediction_columns(solver: PolarSolver, M: PrecisionInput, k: int) -> dict:
    """The prediction and the worst-case bound after ``k`` steps (:data:`PREDICTION_COLUMNS`).

    ``nan`` for a method without a coefficient schedule, and a ``nan`` bound when
    ``l`` (about ``sigma_r / s``) is not below 1.

    Examples
    --------
    >>> from polarlab.polar import resolve
    >>> M = PrecisionInput("gaussian", 32, 8, seed=0, device="cpu")
    >>> p = prediction_columns(resolve("polar_express"), M, 5)
    >>> bool(p["scalar_spectral_error"] <= p["scalar_worst_case"])
    True
    """
    table = solver.schedule
    if table is None:
        return dict.fromkeys(PREDICTION_COLUMNS, math.nan)
    # sigma_i(X_k) = f_k(sigma_i / (c s + eps)) in exact arithmetic, s = ||A||_F by default.
    s = M.norm_bound(solver.options.get("normalization", "frobenius"))
    x = table.normalize_scalar(M.sigma, s)
    image = table.apply_scalar(x, k)
    # worst_case_error takes x = sigma / s and applies 1 / c itself; with the eps of the
    # normalisation the smallest point is c x_min (not sigma_r / s), so [l, 1] covers x.
    lower = table.input_factor * float(x.min())
    worst = table.worst_case_error(lower, k) if lower < 1.0 else math.nan
    return dict(
        scalar_spectral_error=float(abs(1.0 - image).max()),
        scalar_sigma_min=float(image.min()),
        scalar_sigma_max=float(image.max()),
        scalar_worst_case=float(worst),
    )
