r"""Seeded test-matrix families for polar-factor and optimizer studies.

Every matrix is generated in float64 from ``numpy.random.default_rng(seed)`` (a PCG64
stream, reproducible across platforms and numpy versions that keep the generator's
stream policy), then cast to the requested dtype and handed out as a torch tensor
or a numpy array. The same ``(family, m, n, seed, batch, params)`` always gives
the same float64 matrix; batch slices are independent draws.

Families (``k = min(m, n)``; ``Haar`` = Haar-distributed orthonormal columns, see
:func:`haar_orthogonal`; spectral families are ``U diag(s) V^T`` built by
:func:`prescribed_spectrum`; the choices follow the test matrices of Polar Express,
arXiv 2505.16932, App. E, and the row-heterogeneous cases of Aurora, arXiv 2606.27715):

================== =================================================== ========================
family             matrix                                              params: default, allowed
================== =================================================== ========================
gaussian           i.i.d. N(0, 1) entries; any aspect ratio (square    (none)
                   is hard: ``sigma_min ~ 1/sqrt(n)``)
logspaced          Haar spectrum, ``s_j`` log-spaced from 1 down to    ``cond``: 1e3, >= 1
                   ``1/cond``, ``j = 1..k``
power_law          Haar spectrum, ``s_j = j^(-beta)``                  ``beta``: 1.0, >= 0
spike_flat         Haar spectrum: ``spikes`` values ``height``, the    ``spikes``: min(4, k),
                   rest 1                                              0..k; ``height``: 100, > 0
rank_deficient     Haar spectrum, ``s_j`` log-spaced from 1 to         ``rank``: k // 2, 0..k;
                   ``1/cond`` for ``j <= rank``, exact zeros after     ``cond``: 10, >= 1
low_rank_noise     rank-``rank`` part with unit singular values plus   ``rank``: max(1, k // 8),
                   ``noise Z / (sqrt(m) + sqrt(n))``, Gaussian ``Z``   1..k; ``noise``: 1e-3,
                   (the noise has spectral norm about ``noise``)       >= 0
row_lognormal      ``diag(d) Z``, Gaussian ``Z``, lognormal row        ``sigma``: 1.0, >= 0
                   scales ``d_i = exp(sigma g_i)``, ``g_i ~ N(0, 1)``
row_fraction_small Gaussian; ``round(fraction m)`` rows, chosen at     ``fraction``: 0.25, [0, 1];
                   random, multiplied by ``scale``                     ``scale``: 0.01, >= 0
zero_rows          Gaussian; ``k`` rows, chosen at random, set to 0    ``k``: 1, 0..m
heavy_tailed       i.i.d. Student-t entries, ``df`` degrees of         ``df``: 1.5, > 0
                   freedom (``P(|x| > t) ~ t^-df``; ``df = 1`` is
                   Cauchy). A stand-in for the Levy-stable entries
                   Turbo-Muon uses: same tail index for ``df < 2``,
                   but not a stable law
================== =================================================== ========================

The last four families are the row-heterogeneous (Aurora) cases: Muon's update
``polar(G)`` gives such rows very unequal norms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import torch

from polarlab._arrays import ArrayKind, as_work, resolve_dtype, to_caller

__all__ = ["families", "haar_orthogonal", "prescribed_spectrum", "random_matrix"]

Like = Literal["torch", "numpy"]
_LIKES = ("torch", "numpy")


# --------------------------------------------------------------------------- output plumbing


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_shape(batch, *dims: tuple[str, int]) -> tuple[int, ...]:
    """The batch shape as a tuple of ints; ``ValueError`` naming ``m``/``n``/``batch``."""
    for name, value in dims:
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    entries = (batch,) if _is_int(batch) else batch
    if not isinstance(entries, tuple | list) or not all(_is_int(b) and b >= 0 for b in entries):
        raise ValueError(
            f"batch must be a tuple of non-negative integers (or one such integer), got {batch!r}"
        )
    return tuple(int(b) for b in entries)


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def _output_kind(dtype, like: str, device) -> ArrayKind:
    if like not in _LIKES:
        raise ValueError(f"unknown like {like!r}; choose one of: {', '.join(_LIKES)}")
    target = resolve_dtype(dtype)
    if target is None:
        raise ValueError("dtype is required: one of float64, float32, float16, bfloat16")
    if like == "numpy":
        if target == torch.bfloat16:
            raise ValueError("numpy has no bfloat16; use like='torch' for bfloat16 matrices")
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"numpy arrays live on the CPU; got device={device!r}")
    return ArrayKind(like == "numpy", target, torch.device("cpu" if device is None else device))


def _deliver(M: np.ndarray, kind: ArrayKind):
    """Cast the float64 draw once, through the array adapter; refuse an overflowing cast.

    The draw is finite in float64, but entries above the target dtype's largest value
    (65504 for float16) would become inf: that is an error naming the dtype, not a
    matrix of infinities.
    """
    work, _ = as_work(M, name="generated matrix")
    biggest = float(work.abs().max()) if work.numel() else 0.0
    limit = torch.finfo(kind.dtype).max
    if biggest > limit:
        raise ValueError(
            f"the generated matrix has entries up to {biggest:.3g}, beyond the largest "
            f"{str(kind.dtype).removeprefix('torch.')} value {limit:.3g}; generate in a wider "
            "dtype or choose smaller parameters"
        )
    return to_caller(work, kind)


# --------------------------------------------------------------------------- building blocks


def _haar_columns(rng: np.random.Generator, shape: tuple[int, ...], p: int, q: int) -> np.ndarray:
    """``(..., p, q)`` with Haar-distributed orthonormal columns, ``q <= p``.

    QR of a Gaussian with the signs of ``diag(R)`` moved into ``Q``, which makes
    the factorisation unique and the distribution exactly Haar (Mezzadri,
    arXiv math-ph/0609050); the first ``q`` columns of a Haar matrix are Haar on
    the Stiefel manifold.
    """
    Q, R = np.linalg.qr(rng.standard_normal((*shape, p, q)))
    signs = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    signs = np.where(signs == 0, 1.0, signs)  # probability 0, but never divide by it
    return Q * signs[..., None, :]


def _spectrum_matrix(
    rng: np.random.Generator, shape: tuple[int, ...], s: np.ndarray, m: int, n: int
) -> np.ndarray:
    """``U diag(s) V^T`` with Haar ``U`` (m x r) and ``V`` (n x r), ``r = len(s)``."""
    r = s.shape[-1]
    if r == 0:
        return np.zeros((*shape, m, n))
    U = _haar_columns(rng, shape, m, r)
    V = _haar_columns(rng, shape, n, r)
    return (U * s) @ np.swapaxes(V, -1, -2)


def _random_rows(rng: np.random.Generator, shape: tuple[int, ...], m: int, count: int):
    """Boolean mask ``(..., m)`` with exactly ``count`` rows chosen uniformly per slice."""
    order = rng.random((*shape, m)).argsort(axis=-1)
    return order < count  # a uniformly random subset of size `count` per slice


# --------------------------------------------------------------------------- families


def _gaussian(rng, shape, m, n):
    return rng.standard_normal((*shape, m, n))


def _logspaced(rng, shape, m, n, *, cond):
    k = min(m, n)
    s = np.logspace(0.0, -math.log10(cond), k)  # 1 ... 1/cond
    return _spectrum_matrix(rng, shape, s, m, n)


def _power_law(rng, shape, m, n, *, beta):
    s = np.arange(1, min(m, n) + 1, dtype=np.float64) ** -beta
    return _spectrum_matrix(rng, shape, s, m, n)


def _spike_flat(rng, shape, m, n, *, spikes, height):
    s = np.ones(min(m, n))
    s[:spikes] = height
    return _spectrum_matrix(rng, shape, np.sort(s)[::-1], m, n)


def _rank_deficient(rng, shape, m, n, *, rank, cond):
    s = np.logspace(0.0, -math.log10(cond), rank)  # exact zeros: only `rank` columns built
    return _spectrum_matrix(rng, shape, s, m, n)


def _low_rank_noise(rng, shape, m, n, *, rank, noise):
    signal = _spectrum_matrix(rng, shape, np.ones(rank), m, n)
    # ||Z||_2 ~ sqrt(m) + sqrt(n) for Gaussian Z (Davidson-Szarek), so noise sets ||E||_2.
    return signal + noise / (math.sqrt(m) + math.sqrt(n)) * rng.standard_normal((*shape, m, n))


def _row_lognormal(rng, shape, m, n, *, sigma):
    d = np.exp(sigma * rng.standard_normal((*shape, m, 1)))
    return d * rng.standard_normal((*shape, m, n))


def _row_fraction_small(rng, shape, m, n, *, fraction, scale):
    small = _random_rows(rng, shape, m, round(fraction * m))
    Z = rng.standard_normal((*shape, m, n))
    return np.where(small[..., None], scale, 1.0) * Z


def _zero_rows(rng, shape, m, n, *, k):
    dead = _random_rows(rng, shape, m, k)
    Z = rng.standard_normal((*shape, m, n))
    return np.where(dead[..., None], 0.0, Z)


def _heavy_tailed(rng, shape, m, n, *, df):
    return rng.standard_t(df, size=(*shape, m, n))


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class _Param:
    """A family parameter: default (possibly depending on (m, n)), validity, and what is allowed."""

    default: Callable[[int, int], float | int]
    valid: Callable[[float | int, int, int], bool]
    allowed: str
    integer: bool = False


@dataclass(frozen=True)
class _Family:
    build: Callable[..., np.ndarray]
    params: MappingProxyType


def _family(build, **params: _Param) -> _Family:
    return _Family(build, MappingProxyType(params))


_FAMILIES: dict[str, _Family] = {
    "gaussian": _family(_gaussian),
    "logspaced": _family(
        _logspaced, cond=_Param(lambda m, n: 1e3, lambda x, m, n: x >= 1, "a float >= 1")
    ),
    "power_law": _family(
        _power_law, beta=_Param(lambda m, n: 1.0, lambda x, m, n: x >= 0, "a float >= 0")
    ),
    "spike_flat": _family(
        _spike_flat,
        spikes=_Param(
            lambda m, n: min(4, m, n),
            lambda x, m, n: 0 <= x <= min(m, n),
            "an integer in [0, min(m, n)]",
            integer=True,
        ),
        height=_Param(lambda m, n: 100.0, lambda x, m, n: x > 0, "a float > 0"),
    ),
    "rank_deficient": _family(
        _rank_deficient,
        rank=_Param(
            lambda m, n: min(m, n) // 2,
            lambda x, m, n: 0 <= x <= min(m, n),
            "an integer in [0, min(m, n)]",
            integer=True,
        ),
        cond=_Param(lambda m, n: 10.0, lambda x, m, n: x >= 1, "a float >= 1"),
    ),
    "low_rank_noise": _family(
        _low_rank_noise,
        rank=_Param(
            lambda m, n: max(1, min(m, n) // 8),
            lambda x, m, n: 1 <= x <= min(m, n),
            "an integer in [1, min(m, n)]",
            integer=True,
        ),
        noise=_Param(lambda m, n: 1e-3, lambda x, m, n: x >= 0, "a float >= 0"),
    ),
    "row_lognormal": _family(
        _row_lognormal, sigma=_Param(lambda m, n: 1.0, lambda x, m, n: x >= 0, "a float >= 0")
    ),
    "row_fraction_small": _family(
        _row_fraction_small,
        fraction=_Param(lambda m, n: 0.25, lambda x, m, n: 0 <= x <= 1, "a float in [0, 1]"),
        scale=_Param(lambda m, n: 0.01, lambda x, m, n: x >= 0, "a float >= 0"),
    ),
    "zero_rows": _family(
        _zero_rows,
        k=_Param(lambda m, n: 1, lambda x, m, n: 0 <= x <= m, "an integer in [0, m]", integer=True),
    ),
    "heavy_tailed": _family(
        _heavy_tailed, df=_Param(lambda m, n: 1.5, lambda x, m, n: x > 0, "a float > 0")
    ),
}


def families() -> list[str]:
    """Names of the matrix families, in the order of the module's table.

    >>> families()[:3]
    ['gaussian', 'logspaced', 'power_law']
    """
    return list(_FAMILIES)


def _resolve_params(family: str, spec: _Family, m: int, n: int, given: dict) -> dict:
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        raise ValueError(
            f"family {family!r} takes no parameter(s) {', '.join(unknown)}; its parameters "
            f"are: {', '.join(spec.params) or '(none)'}"
        )
    values = {}
    for name, param in spec.params.items():
        x = given.get(name, param.default(m, n))
        number = isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)
        if param.integer:
            number = number and float(x).is_integer()
        if not number or not math.isfinite(x) or not param.valid(x, m, n):
            raise ValueError(
                f"family {family!r}: {name} must be {param.allowed} (m={m}, n={n}); got {x!r}"
            )
        values[name] = int(x) if param.integer else float(x)
    return values


# --------------------------------------------------------------------------- public API


def random_matrix(
    family: str,
    m: int,
    n: int,
    *,
    seed: int,
    batch: int | Sequence[int] = (),
    dtype: torch.dtype | str = torch.float64,
    like: Like = "torch",
    device: torch.device | str | None = None,
    **params,
):
    r"""A seeded random matrix from a named family (see the module table).

    Parameters
    ----------
    family : str
        One of :func:`families`; an unknown name raises ``ValueError`` listing them.
    m, n : int
        Rows and columns (any aspect ratio).
    seed : int
        Non-negative seed of ``numpy.random.default_rng``; required, so that every
        study records it.
    batch : int or tuple of int
        Leading batch shape; each slice is an independent draw.
    dtype : torch dtype or name
        Storage dtype; the matrix is drawn in float64 and rounded once.
    like : {"torch", "numpy"}
        Kind of array returned (numpy has no bfloat16).
    device : torch device, optional
        Device of a torch result (default CPU).
    **params
        The family's parameters (module table); unknown names or invalid values
        raise ``ValueError`` saying what is allowed.

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (*batch, m, n)

    Examples
    --------
    >>> import numpy as np
    >>> A = random_matrix("logspaced", 6, 4, seed=0, cond=100.0, like="numpy")
    >>> bool(np.allclose(np.linalg.svd(A, compute_uv=False), [1.0, 10**(-2/3), 10**(-4/3), 0.01]))
    True
    >>> B = random_matrix("gaussian", 3, 5, seed=1, batch=(2,), dtype="bfloat16")
    >>> tuple(B.shape), B.dtype
    ((2, 3, 5), torch.bfloat16)
    """
    if family not in _FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of: {', '.join(_FAMILIES)}")
    shape = _check_shape(batch, ("m", m), ("n", n))
    kind = _output_kind(dtype, like, device)
    spec = _FAMILIES[family]
    values = _resolve_params(family, spec, m, n, params)
    return _deliver(spec.build(_rng(seed), shape, m, n, **values), kind)


def haar_orthogonal(
    n: int,
    *,
    seed: int,
    batch: int | Sequence[int] = (),
    dtype: torch.dtype | str = torch.float64,
    like: Like = "torch",
    device: torch.device | str | None = None,
):
    r"""A Haar-distributed (uniformly random) orthogonal ``n x n`` matrix.

    ``Q`` from the QR factorisation of a Gaussian matrix, with column ``j``
    multiplied by ``sign(R_jj)``: without the sign fix the distribution of
    ``Q`` is not Haar (Mezzadri, arXiv math-ph/0609050).

    Parameters
    ----------
    n : int
    seed, batch, dtype, like, device
        As for :func:`random_matrix`.

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (*batch, n, n)

    Examples
    --------
    >>> import numpy as np
    >>> Q = haar_orthogonal(5, seed=0, like="numpy")
    >>> bool(np.allclose(Q.T @ Q, np.eye(5), atol=1e-14))
    True
    """
    shape = _check_shape(batch, ("n", n))
    kind = _output_kind(dtype, like, device)
    return _deliver(_haar_columns(_rng(seed), shape, n, n), kind)


def prescribed_spectrum(
    s,
    m: int,
    n: int,
    *,
    seed: int,
    batch: int | Sequence[int] = (),
    dtype: torch.dtype | str = torch.float64,
    like: Like = "torch",
    device: torch.device | str | None = None,
):
    r"""``U diag(s) V^T`` with Haar ``U`` (m x r), ``V`` (n x r): singular values exactly ``s``.

    Parameters
    ----------
    s : sequence of float, or 1-D numpy array / torch tensor, length r <= min(m, n)
        Non-negative singular values, in any order. ``r < min(m, n)`` leaves the
        remaining singular values exactly zero in exact arithmetic (about
        ``1e-16 max(s)`` in float64), so the matrix has rank ``r``.
    m, n : int
    seed, batch, dtype, like, device
        As for :func:`random_matrix`.

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (*batch, m, n)

    Examples
    --------
    >>> import numpy as np
    >>> A = prescribed_spectrum([3.0, 2.0, 1e-8], 5, 3, seed=0, like="numpy")
    >>> bool(np.allclose(np.linalg.svd(A, compute_uv=False), [3.0, 2.0, 1e-8], rtol=1e-6))
    True
    """
    shape = _check_shape(batch, ("m", m), ("n", n))
    kind = _output_kind(dtype, like, device)
    if isinstance(s, torch.Tensor):  # through the adapter: it may live on a GPU
        work, _ = as_work(s, name="s", min_ndim=1)
        values = to_caller(work, ArrayKind(True, torch.float64, torch.device("cpu")))
    else:
        values = np.asarray(s, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"s must be one-dimensional, got shape {values.shape}")
    if values.size > min(m, n):
        raise ValueError(f"s has {values.size} values; at most min(m, n) = {min(m, n)} allowed")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("s must hold finite, non-negative singular values")
    return _deliver(_spectrum_matrix(_rng(seed), shape, values, m, n), kind)
