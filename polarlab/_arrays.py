"""The one place that turns caller arrays into work tensors and back.

Every public routine accepts a numpy array or a torch tensor of shape ``(..., m, n)``
and returns the same kind of array, with the same shape, device and dtype, unless
the caller asks otherwise. Routines call :func:`as_work` on the way in and
:func:`to_caller` on the way out; no other module converts between numpy and torch.

Inputs are never modified: numpy inputs are wrapped without a copy
(``torch.from_numpy``), so every routine downstream must treat work tensors as
read-only (no in-place operations on them).

Autograd and meta tensors (``docs/design/autograd.md``): a routine computed with
torch operations passes ``grad="keep"`` and its result carries the input's graph;
a routine that cannot be differentiated passes ``grad="refuse"`` and raises on a
tensor that requires grad (while grad mode is on), naming itself and suggesting
``.detach()``; measurements that return numbers take the values (``"detach"``,
as ``Tensor.item()`` does). Meta tensors (shape only) are accepted by routines
that pass ``allow_meta=True`` (they return an empty meta result of the right
shape, :func:`meta_result`); every other routine raises a clear ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "FLOAT_DTYPES",
    "ArrayKind",
    "as_work",
    "compute_dtype",
    "meta_result",
    "reads_values",
    "resolve_dtype",
    "to_caller",
    "unit_roundoff",
]

#: Floating dtypes polarlab computes in, by name.
FLOAT_DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

# Unit round-off u = eps/2 per dtype: 2^-p for p significand bits (53, 24, 11, 8).
_UNIT_ROUNDOFF = {
    torch.float64: 2.0**-53,
    torch.float32: 2.0**-24,
    torch.float16: 2.0**-11,
    torch.bfloat16: 2.0**-8,
}


def unit_roundoff(dtype: torch.dtype | str) -> float:
    """Unit round-off ``u`` of a floating dtype (half the machine epsilon).

    >>> unit_roundoff("float64") == 2.0 ** -53
    True
    """
    return _UNIT_ROUNDOFF[resolve_dtype(dtype)]


def resolve_dtype(dtype: torch.dtype | np.dtype | str | None) -> torch.dtype | None:
    """Map a dtype given as a name, a numpy dtype or a torch dtype to a torch dtype.

    ``None`` passes through. Anything but the four real floating dtypes raises
    ``ValueError`` naming the allowed ones.

    >>> resolve_dtype("bfloat16")
    torch.bfloat16
    """
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype in _UNIT_ROUNDOFF):
        return dtype
    name = dtype
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    elif not isinstance(dtype, str):
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    if name in FLOAT_DTYPES:
        return FLOAT_DTYPES[name]
    raise ValueError(f"unsupported dtype {dtype!r}; choose one of: {', '.join(FLOAT_DTYPES)}")


# (device type, dtype) pairs whose matrix products torch does not provide.
_UNSUPPORTED = {("mps", torch.float64)}

#: What each role computes in when the caller names no dtype (see :func:`compute_dtype`).
DTYPE_ROLES = ("polar", "optimizer", "scaling", "exact")


def compute_dtype(
    requested: torch.dtype | str | None = None,
    device: torch.device | str = "cpu",
    *,
    role: str = "polar",
    input_dtype: torch.dtype | None = None,
    at_least: torch.dtype | None = None,
) -> torch.dtype:
    """The one dtype policy: what a computation runs in, given its role and device.

    A requested dtype always wins (if the device can multiply in it). Otherwise:

    ============  ==============================================  ============  ============
    role          used by                                         CPU           CUDA
    ============  ==============================================  ============  ============
    ``polar``     polynomial iterations (Newton-Schulz, Gram NS)  float32       float32
    ``optimizer`` the same iterations inside an optimizer step    float32       bfloat16
    ``scaling``   norms, row scalings, optimizer state            input, at least float32
    ``exact``     svd, mpmath, QDWH, scaled Newton                float64       float64
    ============  ==============================================  ============  ============

    Parameters
    ----------
    requested : str, torch.dtype or None
        ``"float64"``, ``"float32"``, ``"float16"``, ``"bfloat16"`` or the torch dtype.
    device : torch.device or str
        Where the computation runs.
    role : {"polar", "optimizer", "scaling", "exact"}
    input_dtype : torch.dtype, optional
        The input's dtype (needed by ``role="scaling"``).
    at_least : torch.dtype, optional
        A floor for kernels that need it, applied last, to a requested dtype too
        (ARO's Cholesky QR needs single precision: ``at_least=torch.float32``).

    Raises
    ------
    ValueError
        An unknown dtype or role, or a dtype the device cannot multiply in (float64
        on Apple ``mps``).

    Examples
    --------
    >>> compute_dtype(None, "cpu")
    torch.float32
    >>> compute_dtype(None, "cuda", role="optimizer")
    torch.bfloat16
    >>> compute_dtype(None, "cpu", role="scaling", input_dtype=torch.bfloat16)
    torch.float32
    >>> compute_dtype("bfloat16", "cpu")
    torch.bfloat16
    >>> compute_dtype("bfloat16", "cpu", role="scaling", at_least=torch.float32)
    torch.float32
    """
    device_type = torch.device(device).type
    if requested is not None:
        resolved = resolve_dtype(requested)
    elif role == "polar":
        resolved = torch.float32
    elif role == "optimizer":
        resolved = torch.bfloat16 if device_type == "cuda" else torch.float32
    elif role == "scaling":
        if input_dtype is None:
            raise ValueError("role 'scaling' needs the input dtype")
        resolved = torch.promote_types(input_dtype, torch.float32)
    elif role == "exact":
        resolved = torch.float64
    else:
        raise ValueError(f"unknown dtype role {role!r}; choose one of: {', '.join(DTYPE_ROLES)}")
    if at_least is not None:
        resolved = torch.promote_types(resolved, at_least)
    if (device_type, resolved) in _UNSUPPORTED:
        supported = [n for n, dt in FLOAT_DTYPES.items() if (device_type, dt) not in _UNSUPPORTED]
        raise ValueError(
            f"dtype {resolved} is not supported on device {device_type!r}; "
            f"choose one of: {', '.join(supported)}"
        )
    return resolved


@dataclass(frozen=True)
class ArrayKind:
    """What the caller handed in, so results can be given back in the same form."""

    is_numpy: bool
    dtype: torch.dtype
    device: torch.device


#: What :func:`as_work` does with a tensor that requires grad (see the module docstring).
GRAD_MODES = ("detach", "keep", "refuse")


def as_work(
    A,
    *,
    name: str = "A",
    min_ndim: int = 2,
    check_finite: bool = True,
    grad: str = "detach",
    routine: str | None = None,
    allow_meta: bool = False,
) -> tuple[torch.Tensor, ArrayKind]:
    """Validate ``A`` and return ``(tensor, kind)`` without copying or mutating it.

    Parameters
    ----------
    A : numpy.ndarray or torch.Tensor, shape (..., m, n)
        Real floating input (float16, bfloat16, float32 or float64).
    name : str
        How error messages refer to the argument.
    min_ndim : int
        Fewest dimensions accepted (2 for matrices).
    check_finite : bool
        Raise ``ValueError`` if any entry is NaN or infinite. This reads the data
        (a host synchronisation on CUDA); hot paths such as optimizer steps pass
        ``False`` and guard finiteness themselves. Skipped for meta tensors and
        while ``torch.compile`` traces (:func:`reads_values`).
    grad : {"detach", "keep", "refuse"}
        For a tensor that requires grad while grad mode is on: ``"keep"`` its
        graph (the routine is differentiable), ``"refuse"`` it with a
        ``ValueError`` naming ``routine``, or ``"detach"`` (measurements that
        return numbers; optimizers, which update data in place).
    routine : str, optional
        The public routine's name, for error messages.
    allow_meta : bool
        Accept a meta tensor (the caller propagates shapes, :func:`meta_result`);
        otherwise a meta tensor raises ``ValueError``.

    Raises
    ------
    TypeError
        ``A`` is neither a numpy array nor a torch tensor.
    ValueError
        Complex, integer or boolean dtype; fewer than ``min_ndim`` dimensions;
        non-finite entries (when ``check_finite``, outside ``torch.compile``); a
        tensor that requires grad (``grad="refuse"``); a meta tensor (unless
        ``allow_meta``).
    """
    if grad not in GRAD_MODES:
        raise ValueError(f"unknown grad mode {grad!r}; choose one of: {', '.join(GRAD_MODES)}")
    who = routine or "this routine"
    if isinstance(A, np.ndarray):
        if A.dtype.kind == "c":
            raise ValueError(f"{name} is complex ({A.dtype}); polarlab handles real matrices only")
        if A.dtype.kind != "f":
            raise ValueError(
                f"{name} has dtype {A.dtype}; expected a real floating dtype "
                f"({', '.join(FLOAT_DTYPES)})"
            )
        try:
            work = torch.from_numpy(A)
        except ValueError:  # a negative stride or unaligned memory: copy once
            # Not np.ascontiguousarray: numpy calls a negative stride on a length-1
            # axis (np.ones((1, 3))[::-1]) contiguous and would return A itself.
            work = torch.from_numpy(np.array(A, order="C", copy=True))
        kind = ArrayKind(True, work.dtype, work.device)
    elif isinstance(A, torch.Tensor):
        if A.is_complex():
            raise ValueError(f"{name} is complex ({A.dtype}); polarlab handles real matrices only")
        if A.dtype not in _UNIT_ROUNDOFF:
            raise ValueError(
                f"{name} has dtype {A.dtype}; expected a real floating dtype "
                f"({', '.join(FLOAT_DTYPES)})"
            )
        tracked = A.requires_grad and torch.is_grad_enabled()
        if tracked and grad == "refuse":
            raise ValueError(
                f"{who} does not propagate gradients, but {name} requires grad; pass "
                f"{name}.detach(), or call it under torch.no_grad(), to use the values "
                "without a gradient"
            )
        if A.is_meta and not allow_meta:
            raise ValueError(
                f"{name} is a meta tensor (a shape without values), but {who} reads values; "
                "pass a tensor on a real device (polar, the projections, the tangent maps "
                "and the NorMuon normalisations accept meta tensors and propagate shapes)"
            )
        work = A if grad == "keep" else A.detach()
        kind = ArrayKind(False, A.dtype, A.device)
    else:
        raise TypeError(f"{name} must be a numpy array or a torch tensor, not {type(A).__name__}")
    if work.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (..., m, n); got shape "
            f"{tuple(work.shape)}"
        )
    if check_finite and reads_values(work) and not bool(torch.isfinite(work).all()):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return work, kind


def reads_values(work: torch.Tensor) -> bool:
    """Whether a validation may read ``work``'s values on the host.

    Not for an empty or meta tensor (nothing to read), nor while ``torch.compile``
    traces (a host read is a graph break: a compiled routine runs as with
    ``check_finite=False``).
    """
    return bool(work.numel()) and not work.is_meta and not torch.compiler.is_compiling()


def scratch_ok(X: torch.Tensor) -> bool:
    """Whether a caller that may overwrite ``X`` can update it in place.

    No element may share memory with another (an expanded view's in-place update
    raises) and ``X`` may not require a gradient (autograd keeps it for the backward
    pass). A shape and flag test: no data is read.
    """
    dense = X.is_contiguous() or X.mT.is_contiguous()
    return dense and not X.requires_grad


def to_caller(X: torch.Tensor, kind: ArrayKind, dtype=None):
    """Return ``X`` as the caller's kind of array, on the caller's device.

    ``dtype`` (optional) overrides the caller's dtype for the result.
    """
    target = resolve_dtype(dtype) or kind.dtype
    X = X.to(device=kind.device, dtype=target)
    if kind.is_numpy:
        return X.detach().cpu().numpy()
    return X


def meta_result(shape, kind: ArrayKind, dtype=None) -> torch.Tensor:
    """An empty meta tensor of ``shape`` in the caller's dtype (or ``dtype``).

    What a shape-preserving routine returns for meta input: the result's shape
    and dtype without computing anything (``torch.device("meta")`` holds no data).

    >>> meta_result((3, 2), ArrayKind(False, torch.float32, torch.device("meta"))).shape
    torch.Size([3, 2])
    """
    return torch.empty(shape, dtype=resolve_dtype(dtype) or kind.dtype, device="meta")
