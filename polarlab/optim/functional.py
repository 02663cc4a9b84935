"""Per-tensor updates: one optimizer step on one weight, state passed explicitly.

:func:`update` applies any :class:`~polarlab.optim.direction.Direction` to a
weight ``W`` with gradient ``G``, momentum buffer and the direction's state,
and returns the new weight and new state as new arrays (nothing is modified in
place), in the caller's kind of array (numpy or torch). It runs the same
function as the optimizer classes (:func:`polarlab.optim.rule.matrix_update`),
so ``Muon(...).step()`` and ``update(MuonDirection(...), ...)`` agree, and follows
their rule for a non-finite gradient (``nonfinite="skip"``): a matrix whose
gradient, momentum or direction is not finite is skipped (its weight, momentum and
state come back unchanged), without a host synchronisation.

:func:`muon_update`, :func:`normuon_update`, :func:`aurora_update` and
:func:`aro_update` are the same entry point with the direction built from
keywords (their signatures are generated from the option records).

Shapes: ``W``, ``G`` and the momentum are ``(..., m, n)``; leading dimensions are
a batch of independent matrices. An empty matrix (``m = 0`` or ``n = 0``) has
nothing to update: it comes back unchanged, as in the optimizer classes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch

from polarlab._arrays import as_work, to_caller
from polarlab.optim.aro import ARODirection
from polarlab.optim.aurora import AuroraDirection
from polarlab.optim.direction import Direction
from polarlab.optim.muon import MuonDirection
from polarlab.optim.normuon import NorMuonDirection, UNorMuonDirection
from polarlab.optim.options import (
    COMMON_HEAD,
    Option,
    boolean,
    check_lr,
    parameters_section,
    with_defaults,
)
from polarlab.optim.rule import finite_, is_finite, lr_scale, matrix_update, state_dtype

__all__ = ["aro_update", "aurora_update", "muon_update", "normuon_update", "update"]

_STEP_OPTIONS = tuple(o for o in COMMON_HEAD if o.name != "lr")  # lr: required, no default
_ARRAYS_DOC = (
    "W, G, momentum_buffer : numpy.ndarray or torch.Tensor, shape (..., m, n)\n"
    "    Weights, gradient and momentum buffer (zeros at the start)."
)
_LR_DOC = (
    "lr : float or 0-d tensor\n"
    "    Learning rate (required): a finite number >= 0 or a one-element tensor (a device\n"
    "    tensor's value is not read on the host, so it costs no synchronisation)."
)


def update(
    direction: Direction,
    W,
    G,
    momentum_buffer,
    state: Mapping[str, Any] | None = None,
    *,
    lr,
    momentum: float = 0.95,
    nesterov: bool = True,
    momentum_form: str = "ema",
    weight_decay: float = 0.0,
    cautious_wd: bool = False,
    adjust_lr: str | None = "aspect",
):
    """One step of a direction on one weight (or a batch), state explicit.

    Parameters
    ----------
    direction : Direction
        E.g. ``MuonDirection(method="svd")`` or ``ARODirection(base="sign")``.
    W, G, momentum_buffer : numpy.ndarray or torch.Tensor, shape (..., m, n)
    state : mapping of str to array, optional
        The direction's state (keys ``direction.state_names``, e.g. NorMuon's
        ``row_second_moment`` of shape (..., m)); ``None``: a fresh state.
    lr, momentum, nesterov, momentum_form, weight_decay, cautious_wd, adjust_lr
        The common optimizer options (see :class:`polarlab.optim.Muon`). The
        defaults are the common ones: pass ARO's ``adjust_lr=None`` yourself.

    Returns
    -------
    W_new, momentum_buffer_new : same kinds as the inputs
    state_new : dict of str to array
        Same kinds and dtypes as the given state (a fresh state comes back in
        ``W``'s kind and the state dtype).

        A matrix (of the batch) whose gradient, new momentum or direction is not
        finite is skipped, as the optimizer classes do under ``nonfinite="skip"``:
        its ``W_new``, ``momentum_buffer_new`` and state equal the given ones
        (``W_new`` in the state dtype, so unchanged exactly when that is ``W``'s).
        The classes count such steps in ``nonfinite_skips``; here compare with
        the inputs, or check ``G`` beforehand.

    Examples
    --------
    >>> import torch
    >>> from polarlab.optim.muon import MuonDirection
    >>> W, G = torch.zeros(3, 2, dtype=torch.float64), torch.eye(3, 2, dtype=torch.float64)
    >>> W1, B1, _ = update(MuonDirection(method="svd"), W, G, torch.zeros_like(W), lr=0.1,
    ...                    adjust_lr=None)
    >>> W1.tolist()
    [[-0.1, 0.0], [0.0, -0.1], [0.0, 0.0]]
    """
    common = dict(
        momentum=momentum,
        nesterov=nesterov,
        momentum_form=momentum_form,
        weight_decay=weight_decay,
        cautious_wd=cautious_wd,
    )
    check_lr("lr", lr)  # a device tensor's value is not read (no host sync)
    for option in _STEP_OPTIONS:
        option.validate(adjust_lr if option.name == "adjust_lr" else common[option.name])
    Wt, kind = as_work(W, name="W", check_finite=False)
    Gt, _ = as_work(G, name="G", check_finite=False)
    Bt, bkind = as_work(momentum_buffer, name="momentum", check_finite=False)
    if not Wt.shape == Gt.shape == Bt.shape:
        raise ValueError(
            f"W, G and momentum must have the same shape; got {tuple(Wt.shape)}, "
            f"{tuple(Gt.shape)}, {tuple(Bt.shape)}"
        )
    work = state_dtype(Bt.dtype, Bt.device)
    m, n = Wt.shape[-2:]
    if state is None:
        fresh = direction.init_state(m, n, Wt.device, work)
        states = {k: v.expand(*Wt.shape[:-2], *v.shape) for k, v in fresh.items()}
        kinds = dict.fromkeys(states, (kind, work))
    else:
        converted = {
            k: as_work(v, name=k, min_ndim=1, check_finite=False) for k, v in state.items()
        }
        states = {k: v.to(work) for k, (v, _) in converted.items()}
        kinds = {k: (k_, None) for k, (_, k_) in converted.items()}
    if m == 0 or n == 0:  # an empty matrix has nothing to update: everything as it was
        W_new, B_new, S_new = Wt.to(work), Bt.to(work), states
    else:
        W0, G0, B0 = Wt.to(work), Gt.to(work), Bt.to(work)
        ok = is_finite(G0, dim=(-2, -1))  # one flag per matrix, as in the classes
        W_new, B_new, U, S_new = matrix_update(
            direction,
            W0,
            finite_(G0, in_place=False),  # no NaN/Inf reaches a kernel (QR, Cholesky)
            B0,
            states,
            lr=lr,
            scale=lr_scale(adjust_lr, m, n),
            **common,
        )
        ok = ok & is_finite(B_new, dim=(-2, -1)) & is_finite(U, dim=(-2, -1))
        W_new, B_new = _kept(ok, W_new, W0), _kept(ok, B_new, B0)
        S_new = {k: _kept(ok, v, states[k]) for k, v in S_new.items()}
    new_state = {k: to_caller(v, *kinds[k]) for k, v in S_new.items()}
    return to_caller(W_new, kind), to_caller(B_new, bkind), new_state


def _kept(ok: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new`` for the matrices where ``ok`` (batch shape), else ``old`` (a skipped step)."""
    flags = ok.reshape(*ok.shape, *(1,) * (new.ndim - ok.ndim))
    return torch.where(flags, new, old.to(new.dtype))


def _per_tensor(
    name: str,
    summary: str,
    choose: Callable[[dict], type[Direction]],
    base: type[Direction],
    *,
    state_docs: tuple[str, ...] = (),
    extra: tuple[Option, ...] = (),
    returns: str,
    example: str,
) -> Callable:
    """A function ``name(W, G, momentum_buffer, *state, *, lr, **options)`` over :func:`update`.

    ``choose(values)`` picks the direction class from the bound arguments;
    ``base`` is the class whose options and common defaults the signature lists.
    """
    P = inspect.Parameter
    arrays = [P(n, P.POSITIONAL_OR_KEYWORD) for n in ("W", "G", "momentum_buffer")]
    arrays += [P(n, P.POSITIONAL_OR_KEYWORD) for n in base.state_names]
    options = [
        *with_defaults(_STEP_OPTIONS, base.common_defaults),
        *extra,
        *base.options,
    ]
    kw = P.KEYWORD_ONLY
    signature = inspect.Signature([*arrays, P("lr", kw), *(o.parameter(kw) for o in options)])

    def fn(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)  # TypeError on an unknown name
        bound.apply_defaults()
        values = bound.arguments
        for option in extra:
            option.validate(values[option.name])
        direction_type = choose(values)
        direction = direction_type(**{o.name: values[o.name] for o in direction_type.options})
        state = {k: values[k] for k in direction_type.state_names}
        common = {o.name: values[o.name] for o in _STEP_OPTIONS}
        W_new, B_new, S_new = update(
            direction, values["W"], values["G"], values["momentum_buffer"], state,
            lr=values["lr"], **common,
        )  # fmt: skip
        return (W_new, B_new, *(S_new[k] for k in direction_type.state_names))

    fn.__name__ = fn.__qualname__ = name
    fn.__signature__ = signature
    section = parameters_section(options, preamble=[_ARRAYS_DOC, *state_docs, _LR_DOC])
    fn.__doc__ = "\n\n".join(
        [summary, section, f"Returns\n-------\n{returns}", f"Examples\n--------\n{example}"]
    )
    return fn


muon_update = _per_tensor(
    "muon_update",
    "One Muon step: ``W <- W (1 - lr wd) - lr s(m, n) polar(M)``.",
    lambda values: MuonDirection,
    MuonDirection,
    returns="W_new, momentum_buffer_new : same kinds as the inputs",
    example="""\
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> W, G = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
>>> W1, B1 = muon_update(W, G, np.zeros_like(W), lr=0.1, method="svd", adjust_lr=None)
>>> s = np.linalg.svd(W - W1, compute_uv=False)  # lr * polar(G): singular values 0.1
>>> bool(np.allclose(s, 0.1)), bool(np.allclose(B1, 0.05 * G))
(True, True)""",
)

normuon_update = _per_tensor(
    "normuon_update",
    "One NorMuon (``uniform=False``) or U-NorMuon (``uniform=True``) step.",
    lambda values: UNorMuonDirection if values["uniform"] else NorMuonDirection,
    NorMuonDirection,
    state_docs=(
        "row_second_moment : shape (..., m)\n    Per-row second moment ``v`` (zeros at the start).",
    ),
    extra=(
        Option(
            "uniform",
            False,
            "bool",
            "U-NorMuon's ``sqrt(n)`` Frobenius target instead of NorMuon's grafting.",
            boolean,
        ),
    ),
    returns="W_new, momentum_buffer_new, row_second_moment_new",
    example="""\
>>> import torch
>>> _ = torch.manual_seed(0)
>>> W, G = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
>>> out = normuon_update(W, G, torch.zeros_like(W), torch.zeros(8, dtype=torch.float64),
...                      lr=1.0, uniform=True, method="svd", adjust_lr=None)
>>> bool(torch.allclose((W - out[0]).norm(dim=1), torch.full((8,), 0.5, dtype=torch.float64)))
True""",
)

aurora_update = _per_tensor(
    "aurora_update",
    "One Aurora step: ``W <- W (1 - lr wd) - lr s(m, n) P(M)``, ``P`` the balanced polar.",
    lambda values: AuroraDirection,
    AuroraDirection,
    returns="W_new, momentum_buffer_new",
    example="""\
>>> import torch
>>> _ = torch.manual_seed(0)
>>> W, G = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 4, dtype=torch.float64)
>>> W1, B1 = aurora_update(W, G * torch.rand(16, 1, dtype=torch.float64),
...                        torch.zeros_like(W), lr=1.0, iters=12, method="svd", adjust_lr=None)
>>> bool(torch.allclose((W - W1).norm(dim=1), torch.full((16,), 0.5, dtype=torch.float64),
...                     rtol=1e-3))
True""",
)

aro_update = _per_tensor(
    "aro_update",
    "One ARO step (short-side rotation; row side with mode='release'): ``U = R f(R^T M)``, "
    "``R`` from QR.",
    lambda values: ARODirection,
    ARODirection,
    state_docs=(
        "rotation : shape (..., k, k)\n"
        "    Rotation state (identity at the start), k = min(m, n); k = m (the row side)\n"
        "    with mode='release'.",
    ),
    returns="W_new, momentum_buffer_new, rotation_new",
    example="""\
>>> import torch
>>> _ = torch.manual_seed(0)
>>> W, G = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
>>> W1, B1, R1 = aro_update(W, G, torch.zeros_like(W), torch.eye(3, dtype=torch.float64),
...                         lr=0.1, base="sign")
>>> bool(torch.allclose(R1.T @ R1, torch.eye(3, dtype=torch.float64)))
True""",
)
