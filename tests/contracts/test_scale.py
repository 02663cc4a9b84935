"""Scale: ``f(cA) = c^d f(A)`` over the whole finite range of each dtype (issue 11, cause 1).

Every entry with a homogeneity degree ``d`` (a polar factor and every projection: ``d = 0``;
a tangent map in its vector, ``row_norms``, NorMuon's grafted normalisation: ``d = 1``) is
called on ``c A`` with ``max |c A|`` at ``tiny * 1e3`` and ``max / 1e3`` of the dtype (the
extremes of its range) and at a few scales between (1e-30 ... 1e30 for float32 and
bfloat16, 1e-300 ... 1e300 for float64). ``c`` is a power of two, so ``c A`` is exactly
representable and ``A`` itself is the same matrix at every scale (no rounding differs):
the answer must be ``c^d`` times the float64 answer at unit scale, within the suite's
tolerance rule and the method's error bound (``contracts.inputs``, ``contracts.contract``).

Sampling: float64 and float32 alternate numpy and torch input between scales; bfloat16 and
float16 (torch only) run on a 4 x 3 matrix; pure-Python and many-iteration routines run
in float64 and float32 only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from .contract import call, compute_of, error_of, values
from .entries import ENTRIES, Entry
from .inputs import LOW_PRECISION, as64, matrix, to_kind, tol
from .reasons import param

#: max |cA| per dtype: the extremes of the range (tiny * 1e3, max / 1e3) and points between.
SCALES = {
    "float64": ("tiny", 1e-300, 1e-100, 1e-10, 1e20, 1e100, 1e300, "max"),
    "float32": ("tiny", 1e-30, 1e-10, 1e10, 1e30, "max"),
    "bfloat16": ("tiny", 1e-30, 1e30, "max"),
    "float16": ("tiny", "max"),
}


def power_of_two(target: float) -> float:
    """The power of two nearest to ``target`` (so scaling by it is exact)."""
    return 2.0 ** round(math.log2(target))


def scale_for(dtype: str, label) -> float:
    info = torch.finfo(getattr(torch, dtype))
    if label == "tiny":
        return power_of_two(info.tiny * 1e3)
    if label == "max":
        return 2.0 ** math.floor(math.log2(info.max / 1e3))
    return power_of_two(label)


def _cases():
    for e in ENTRIES:
        if e.degree is None:
            continue
        for dtype, scales in SCALES.items():
            if dtype not in e.dtypes or (e.slow and dtype in LOW_PRECISION):
                continue
            for i, label in enumerate(scales):
                kinds = [k for k in e.kinds if dtype not in LOW_PRECISION or k == "torch"]
                kind = kinds[i % len(kinds)]
                case = f"{dtype}-{label if isinstance(label, str) else f'{label:.0e}'}-{kind}"
                yield param("scale", e.name, case, e, dtype, label, kind)


def _call(entry: Entry, arrays):
    if entry.scale_call is not None:
        return entry.scale_call(arrays[entry.data])
    return call(entry, arrays)


@pytest.mark.parametrize(("entry", "dtype", "label", "kind"), list(_cases()))
def test_scale_invariance_over_the_dtype_range(entry, dtype, label, kind):
    shape = (4, 3) if dtype in LOW_PRECISION else (5, 3)
    base = entry.build(shape, 0) if entry.build is not None else (matrix(shape),)
    data = base[entry.data] / np.abs(base[entry.data]).max()  # max |entry| = 1
    data = as64(to_kind(data, dtype, "torch"))  # representable in dtype at every scale
    c = scale_for(dtype, label)
    # the other arguments (a manifold point, a state) exactly as the scaled call sees them
    unit = [to_kind(as64(to_kind(a, dtype, "torch")), "float64", kind) for a in base]
    unit[entry.data] = to_kind(data, "float64", kind)
    scaled = [to_kind(a, dtype, kind) for a in base]
    scaled[entry.data] = to_kind(data * c, dtype, kind)
    result = values(_call(entry, scaled))
    reference = values(_call(entry, unit)) * c**entry.degree
    if entry.reference is not None and entry.scale_call is None:
        reference = np.asarray(entry.reference(*[as64(a) for a in unit])) * c**entry.degree
    k = min(shape)
    kappa = entry.sensitivity(*[as64(a) for a in unit]) if entry.sensitivity else 1.0
    bound = tol(k, dtype if entry.out == "matrix" else "float64", compute_of(entry, dtype), kappa)
    if entry.bound is not None:
        bound += entry.bound(data)
    # relative to c^d: compare at unit scale (exact: c is a power of two)
    err = error_of(entry, result / c**entry.degree, reference / c**entry.degree)
    assert err <= bound, (
        f"{entry.name} at max|cA| = {c:.3g} ({dtype}): error {err:.3g} > {bound:.3g}"
    )
