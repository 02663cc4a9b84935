"""The one optimizer base class: momentum, weight decay, lr scaling, guards, batching.

A matrix optimizer here is a *direction map* ``M -> U`` (momentum in, update
direction out) plus this base class, which owns everything around it:

* momentum, EMA ``M <- lerp(M, G, 1 - mu)`` or sum ``M <- mu M + G``, with Nesterov;
* decoupled weight decay ``W <- W (1 - lr wd)``, plain or cautious
  (arXiv 2510.12402: decay only where ``W * U >= 0``);
* learning-rate shape scaling (``adjust_lr``, see :data:`ADJUST_LR`);
* the non-finite guard (``nonfinite="skip"``: a matrix whose gradient or update is
  not finite keeps its weights and state for that step, chosen by ``torch.where``
  so there is no host synchronisation; ``"raise"`` checks on the host);
* batching: same-shape matrices of a group are stacked and their directions
  computed in one batched call;
* AdamW and Lion groups (``algorithm="adamw"`` / ``"lion"``) for vectors,
  embeddings and output heads.

Every option is a group entry stored as plain data (names, numbers, booleans),
so ``state_dict()`` round-trips and schedulers or users can change any of them
between steps; the step re-reads them each time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import torch

from polarlab import schedules
from polarlab._arrays import resolve_dtype
from polarlab.polar import registry

__all__ = [
    "ADJUST_LR",
    "MOMENTUM_FORMS",
    "NONFINITE_POLICIES",
    "PolarOptimizer",
    "apply_decoupled_update",
    "lr_scale",
    "momentum_step",
]

#: lr multipliers by name for a (fan_out, fan_in) = (m, n) matrix.
ADJUST_LR: dict[str | None, Callable[[int, int], float]] = {
    # KellerJordan/Muon, torch.optim.Muon "original", Aurora reference: tall rows get norm 1.
    "aspect": lambda m, n: math.sqrt(max(1.0, m / n)),
    # dion default: RMS->RMS operator norm of an exact polar step equals lr.
    "spectral_norm": lambda m, n: math.sqrt(m / n),
    # Moonshot (arXiv 2502.16982), torch "match_rms_adamw": entry RMS 0.2 lr.
    "rms_norm": lambda m, n: 0.2 * math.sqrt(max(m, n)),
    None: lambda m, n: 1.0,
}
MOMENTUM_FORMS = ("ema", "sum")
NONFINITE_POLICIES = ("skip", "raise")
ALGORITHMS_ELEMENTWISE = ("adamw", "lion")
_ELEMENTWISE_DEFAULTS = {
    "adamw": {"betas": (0.9, 0.999), "eps": 1e-8},
    "lion": {"betas": (0.9, 0.99)},
}
_POLAR_OPTIONS = ("schedule", "steps", "dtype")


def lr_scale(adjust_lr: str | None, m: int, n: int) -> float:
    """Learning-rate multiplier for an ``m x n`` = (fan_out, fan_in) matrix.

    ``"aspect"``: ``sqrt(max(1, m/n))``; ``"spectral_norm"``: ``sqrt(m/n)``;
    ``"rms_norm"``: ``0.2 sqrt(max(m, n))``; ``None``: 1 (after KellerJordan/Muon,
    microsoft/dion and arXiv 2502.16982).

    Examples
    --------
    >>> lr_scale("aspect", 512, 128), lr_scale("aspect", 128, 512)
    (2.0, 1.0)
    >>> lr_scale("rms_norm", 100, 25)
    2.0
    """
    if adjust_lr not in ADJUST_LR:
        raise ValueError(
            f"unknown adjust_lr {adjust_lr!r}; choose one of: "
            f"{', '.join(repr(k) for k in ADJUST_LR)}"
        )
    return ADJUST_LR[adjust_lr](m, n)


def momentum_step(
    buf: torch.Tensor, G: torch.Tensor, momentum: float, nesterov: bool, form: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One momentum update; returns ``(new_buffer, M)`` with ``M`` the vector to use.

    EMA: ``B <- mu B + (1 - mu) G``, Nesterov ``M = (1 - mu) G + mu B``
    (KellerJordan/Muon, torch.optim.Muon). Sum: ``B <- mu B + G``, Nesterov
    ``M = G + mu B`` (microsoft/dion). The two differ by the factor ``1/(1 - mu)``.
    Inputs are not modified.

    Examples
    --------
    >>> B, M = momentum_step(torch.zeros(2), torch.ones(2), 0.5, False, "sum")
    >>> B.tolist(), M.tolist()
    ([1.0, 1.0], [1.0, 1.0])
    """
    if form == "ema":
        new = torch.lerp(buf, G, 1.0 - momentum)
        return new, (torch.lerp(G, new, momentum) if nesterov else new)
    if form == "sum":
        new = buf * momentum + G
        return new, (G + new * momentum if nesterov else new)
    raise ValueError(f"unknown momentum_form {form!r}; choose one of: {', '.join(MOMENTUM_FORMS)}")


def apply_decoupled_update(
    W: torch.Tensor,
    U: torch.Tensor,
    lr: float | torch.Tensor,
    scale: float,
    weight_decay: float,
    cautious: bool = False,
) -> torch.Tensor:
    """``W (1 - lr wd) - lr scale U``, with cautious decay if asked; a new tensor.

    Weight decay uses the *unadjusted* lr (torch.optim.Muon, microsoft/dion).
    Cautious decay (arXiv 2510.12402) decays only entries with ``W * U >= 0``,
    i.e. where the update already moves toward zero.

    Examples
    --------
    >>> W = torch.tensor([1.0, -1.0]); U = torch.tensor([1.0, 1.0])
    >>> [round(x, 6) for x in apply_decoupled_update(W, U, 0.1, 1.0, 1.0, cautious=True).tolist()]
    [0.8, -1.1]
    """
    if cautious:
        decay = W * (lr * weight_decay) * (W * U >= 0)
        W = W - decay
    elif weight_decay != 0:
        W = W * (1 - lr * weight_decay)
    return W - U * (lr * scale)


def _matrix_shape(shape: torch.Size, flatten: bool) -> tuple[int, int]:
    """The (fan_out, fan_in) matrix a parameter is optimized as."""
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    if flatten and len(shape) > 2:
        return int(shape[0]), int(math.prod(shape[1:]))
    raise ValueError(
        f"parameter of shape {tuple(shape)} is not a matrix; matrix optimizers take 2-D "
        "parameters, or N-D (e.g. conv) weights with flatten=True (viewed as "
        "shape[0] x prod(shape[1:])); put vectors in an algorithm='adamw' or 'lion' group"
    )


def _compute_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """The polar step's compute dtype: the group's, else bf16 on CUDA, float32 elsewhere."""
    if dtype is not None:
        return resolve_dtype(dtype)
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _polar_options(group: dict, device: torch.device) -> dict[str, Any]:
    """Options for the group's registered polar method (only those it takes)."""
    spec = registry.get(group["method"])
    opts: dict[str, Any] = {}
    for key in _POLAR_OPTIONS:
        if key not in spec.options:
            continue
        if key == "dtype":
            opts["dtype"] = _compute_dtype(group["dtype"], device)
        elif group[key] is not None:
            opts[key] = group[key]
    return opts


class PolarOptimizer(torch.optim.Optimizer):
    """Base class: momentum, decay, lr scaling, guard and batching around a direction map.

    Subclasses set :attr:`algorithm` (the name matrix groups carry), may add group
    options to the defaults they pass (validated by :meth:`check_extra`), per-matrix
    state in :meth:`init_extra_state`, and implement :meth:`direction`.

    Parameters
    ----------
    params : iterable of tensors or dicts
        Parameters or parameter groups. A group with ``algorithm="adamw"`` or
        ``"lion"`` is updated elementwise (any shape; keys ``lr``, ``betas``,
        ``eps`` (AdamW), ``weight_decay``). Other groups hold matrices
        (2-D, or N-D with ``flatten=True``).
    defaults : dict
        Group defaults (the subclass's constructor keywords).

    Notes
    -----
    State per matrix: ``momentum_buffer`` (float32, or float64 for float64
    parameters: kept in at least single precision for any parameter dtype),
    ``nonfinite_skips`` (int32 count of skipped steps, updated without host
    synchronisation), the subclass's extra state, and with ``row_telemetry=True``
    ``row_update_norm``: the per-row norms of the applied change ``W_new - W``
    (one value per output neuron; for dead-neuron studies).

    Examples
    --------
    A new optimizer is one direction map (here: the entrywise sign of the momentum):

    >>> class SignMomentum(PolarOptimizer):
    ...     algorithm = "sign_momentum"
    ...     def __init__(self, params, lr=0.01):
    ...         super().__init__(params, _matrix_defaults(
    ...             lr=lr, momentum=0.9, nesterov=False, momentum_form="ema",
    ...             weight_decay=0.0, cautious_wd=False, adjust_lr=None, method=None,
    ...             schedule=None, steps=None, dtype=None, flatten=False,
    ...             nonfinite="skip", row_telemetry=False))
    ...     def direction(self, M, state, group):
    ...         return torch.sign(M), {}
    >>> W = torch.nn.Parameter(torch.zeros(2, 3))
    >>> opt = SignMomentum([W], lr=0.5)
    >>> W.grad = torch.tensor([[1.0, -2.0, 3.0], [-1.0, 1.0, 1.0]])
    >>> opt.step()
    >>> W.detach().tolist()
    [[-0.5, 0.5, -0.5], [0.5, -0.5, -0.5]]
    """

    algorithm: str = "matrix"

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)

    # --- construction and validation ------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        algorithm = param_group.get("algorithm", self.algorithm)
        for key, value in _ELEMENTWISE_DEFAULTS.get(algorithm, {}).items():
            param_group.setdefault(key, value)
        param_group.setdefault("algorithm", algorithm)
        super().add_param_group(param_group)
        self._check_group(self.param_groups[-1])

    def _check_group(self, group: dict[str, Any]) -> None:
        algorithm = group["algorithm"]
        allowed = (self.algorithm, *ALGORITHMS_ELEMENTWISE)
        if algorithm not in allowed:
            raise ValueError(
                f"unknown algorithm {algorithm!r}; choose one of: {', '.join(allowed)}"
            )
        lr = group["lr"]
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError(f"a tensor lr must have one element, got shape {tuple(lr.shape)}")
        if not float(lr) >= 0:  # construction only; step() never reads lr on the host
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']!r}")
        if algorithm in ALGORITHMS_ELEMENTWISE:
            b1, b2 = group["betas"]
            if not (0 <= b1 < 1 and 0 <= b2 < 1):
                raise ValueError(f"betas must lie in [0, 1), got {group['betas']!r}")
            if algorithm == "adamw" and not group["eps"] > 0:
                raise ValueError(f"eps must be > 0, got {group['eps']!r}")
            return
        if not 0 <= group["momentum"] < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {group['momentum']!r}")
        if group["momentum_form"] not in MOMENTUM_FORMS:
            raise ValueError(
                f"unknown momentum_form {group['momentum_form']!r}; choose one of: "
                f"{', '.join(MOMENTUM_FORMS)}"
            )
        if group["nonfinite"] not in NONFINITE_POLICIES:
            raise ValueError(
                f"unknown nonfinite policy {group['nonfinite']!r}; choose one of: "
                f"{', '.join(NONFINITE_POLICIES)}"
            )
        lr_scale(group["adjust_lr"], 1, 1)  # raises on an unknown name
        if group.get("method") is not None:
            spec = registry.get(group["method"])  # unknown name -> ValueError listing names
            given = {k: group[k] for k in _POLAR_OPTIONS if group[k] is not None}
            spec.check_options(given)
            if group["schedule"] is not None:
                schedules.get(group["schedule"])
            steps = group["steps"]
            if steps is not None and (not isinstance(steps, int) or steps < 1):
                raise ValueError(f"steps must be a positive integer or None, got {steps!r}")
            if group["dtype"] is not None:
                resolve_dtype(group["dtype"])
        for p in group["params"]:
            _matrix_shape(p.shape, group["flatten"])
        self.check_extra(group)

    def check_extra(self, group: dict[str, Any]) -> None:
        """Validate the subclass's own group options (raise ``ValueError``)."""

    # --- the parts a subclass supplies ------------------------------------------------
    def init_extra_state(
        self, m: int, n: int, group: dict[str, Any], device: torch.device, dtype: torch.dtype
    ) -> dict[str, torch.Tensor]:
        """Per-matrix state beyond the momentum buffer (e.g. a second moment)."""
        return {}

    def direction(
        self, M: torch.Tensor, state: dict[str, torch.Tensor], group: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Map stacked momenta ``M`` (b, m, n) to directions ``U`` and new extra state."""
        raise NotImplementedError

    # --- checkpointing ----------------------------------------------------------------
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As :meth:`torch.optim.Optimizer.load_state_dict`, keeping saved state dtypes.

        torch casts floating state to the parameter's dtype; the float32
        momentum of a bfloat16 parameter would be rounded, so the saved tensors
        are restored as they were (moved to the parameter's device).
        """
        super().load_state_dict(state_dict)
        saved_ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(saved_ids, params):
            for key, value in state_dict["state"].get(pid, {}).items():
                if isinstance(value, torch.Tensor):
                    self.state[p][key] = value.detach().clone().to(p.device)

    # --- the step ---------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["algorithm"] == "adamw":
                self._step_adamw(group)
            elif group["algorithm"] == "lion":
                self._step_lion(group)
            else:
                self._step_matrices(group)
        return loss

    def _step_matrices(self, group: dict[str, Any]) -> None:
        buckets: dict[tuple, list[torch.Tensor]] = defaultdict(list)
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("matrix optimizers do not take sparse gradients")
            buckets[(tuple(p.shape), p.dtype, p.device)].append(p)
        for params in buckets.values():
            self._update_bucket(params, group)

    def _state_of(self, p: torch.Tensor, m: int, n: int, group: dict[str, Any]) -> dict:
        state = self.state[p]
        if "momentum_buffer" not in state:
            sdtype = torch.promote_types(p.dtype, torch.float32)
            state["momentum_buffer"] = torch.zeros((m, n), dtype=sdtype, device=p.device)
            state["nonfinite_skips"] = torch.zeros((), dtype=torch.int32, device=p.device)
            state.update(self.init_extra_state(m, n, group, p.device, sdtype))
        return state

    def _update_bucket(self, params: list[torch.Tensor], group: dict[str, Any]) -> None:
        m, n = _matrix_shape(params[0].shape, group["flatten"])
        states = [self._state_of(p, m, n, group) for p in params]
        buf = torch.stack([s["momentum_buffer"] for s in states])
        G = torch.stack([p.grad.reshape(m, n) for p in params]).to(buf.dtype)
        finite = torch.isfinite(G).flatten(1).all(1)  # (b,): one flag per matrix
        if group["nonfinite"] == "raise" and not bool(finite.all()):  # host sync, by request
            raise FloatingPointError(
                f"non-finite gradient in {int((~finite).sum())} of {len(params)} "
                f"{m}x{n} matrices (nonfinite='raise')"
            )
        # Zero the bad slices first, so no NaN/Inf reaches any kernel (QR, Cholesky).
        G = torch.where(finite[:, None, None], G, 0.0)
        new_buf, M = momentum_step(
            buf, G, group["momentum"], group["nesterov"], group["momentum_form"]
        )
        keys = [k for k in states[0] if k not in ("momentum_buffer", "nonfinite_skips")]
        keys = [k for k in keys if k != "row_update_norm"]
        extra = {k: torch.stack([s[k] for s in states]) for k in keys}
        U, new_extra = self.direction(M, extra, group)
        U = U.to(buf.dtype)
        ok = finite & torch.isfinite(U).flatten(1).all(1)
        W = torch.stack([p.reshape(m, n) for p in params]).to(buf.dtype)
        W_new = apply_decoupled_update(
            W,
            U,
            group["lr"],
            lr_scale(group["adjust_lr"], m, n),
            group["weight_decay"],
            group["cautious_wd"],
        )
        okm = ok[:, None, None]
        W_new = torch.where(okm, W_new, W)
        new_buf = torch.where(okm, new_buf, buf)
        new_extra = {
            k: torch.where(ok.view(-1, *([1] * (v.ndim - 1))), v, extra[k])
            for k, v in new_extra.items()
        }
        rows = (W_new - W).norm(dim=-1) if group["row_telemetry"] else None
        for i, (p, s) in enumerate(zip(params, states)):
            p.copy_(W_new[i].reshape(p.shape))
            s["momentum_buffer"] = new_buf[i]
            s["nonfinite_skips"] = s["nonfinite_skips"] + (~ok[i]).to(torch.int32)
            for k, v in new_extra.items():
                s[k] = v[i]
            if rows is not None:
                s["row_update_norm"] = rows[i]

    # --- elementwise groups -----------------------------------------------------------
    def _elementwise_params(self, group: dict[str, Any]):
        """Yield ``(p, state, state_dtype, grad, ok)`` for the params of an AdamW/Lion group.

        State lives in float32 or wider; ``exp_avg`` is created on first use.
        ``ok`` is a 0-d bool tensor (all-finite gradient) and a non-finite ``grad``
        comes back zeroed, so callers select with ``torch.where`` and never sync.
        """
        for p in group["params"]:
            if p.grad is None:
                continue
            st = self.state[p]
            sdtype = torch.promote_types(p.dtype, torch.float32)
            if "exp_avg" not in st:
                st["exp_avg"] = torch.zeros_like(p, dtype=sdtype)
            g = p.grad.to(sdtype)
            ok = torch.isfinite(g).all()
            yield p, st, sdtype, torch.where(ok, g, 0.0), ok

    def _step_adamw(self, group: dict[str, Any]) -> None:
        """AdamW (Loshchilov & Hutter, arXiv 1711.05101), decoupled decay, bias-corrected."""
        b1, b2 = group["betas"]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        for p, st, sdtype, g, ok in self._elementwise_params(group):
            if "exp_avg_sq" not in st:
                st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                st["exp_avg_sq"] = torch.zeros_like(p, dtype=sdtype)
            step = st["step"] + 1
            m1 = torch.lerp(st["exp_avg"], g, 1 - b1)
            m2 = torch.lerp(st["exp_avg_sq"], g * g, 1 - b2)
            # bias corrections 1 - beta^t, as tensors: no host sync
            t = step.to(sdtype)
            c1 = 1 - torch.pow(b1, t)
            c2 = 1 - torch.pow(b2, t)
            U = (m1 / c1) / ((m2 / c2).sqrt() + eps)
            W = p.to(sdtype)
            W_new = torch.where(ok, apply_decoupled_update(W, U, lr, 1.0, wd), W)
            p.copy_(W_new)
            st["step"] = torch.where(ok, step, st["step"])
            st["exp_avg"] = torch.where(ok, m1, st["exp_avg"])
            st["exp_avg_sq"] = torch.where(ok, m2, st["exp_avg_sq"])

    def _step_lion(self, group: dict[str, Any]) -> None:
        """Lion (Chen et al., arXiv 2302.06675): ``W -= lr sign(lerp(m, g, 1-b1))``."""
        b1, b2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        for p, st, sdtype, g, ok in self._elementwise_params(group):
            U = torch.sign(torch.lerp(st["exp_avg"], g, 1 - b1))
            W = p.to(sdtype)
            p.copy_(torch.where(ok, apply_decoupled_update(W, U, lr, 1.0, wd), W))
            st["exp_avg"] = torch.where(ok, torch.lerp(st["exp_avg"], g, 1 - b2), st["exp_avg"])


def _matrix_defaults(
    *,
    lr: float | torch.Tensor,
    momentum: float,
    nesterov: bool,
    momentum_form: str,
    weight_decay: float,
    cautious_wd: bool,
    adjust_lr: str | None,
    method: str | None,
    schedule: str | None,
    steps: int | None,
    dtype: str | None,
    flatten: bool,
    nonfinite: str,
    row_telemetry: bool,
    **extra: Any,
) -> dict[str, Any]:
    """The group defaults every matrix optimizer stores (plain data)."""
    if isinstance(dtype, torch.dtype):  # store by name so state_dict stays plain data
        dtype = str(dtype).removeprefix("torch.")
    return dict(
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        momentum_form=momentum_form,
        weight_decay=weight_decay,
        cautious_wd=cautious_wd,
        adjust_lr=adjust_lr,
        method=method,
        schedule=schedule,
        steps=steps,
        dtype=dtype,
        flatten=flatten,
        nonfinite=nonfinite,
        row_telemetry=row_telemetry,
        **extra,
    )
