"""The one optimizer base class: common options, state, batching and the non-finite guard.

A matrix optimizer here is a :class:`~polarlab.optim.direction.Direction`
(``M -> U``, with its own options and state) plus this base class, which owns
everything around it:

* the common options (:data:`polarlab.optim.options.COMMON_OPTIONS`): lr,
  momentum (EMA or sum, Nesterov), decoupled weight decay (plain or cautious,
  arXiv 2510.12402), lr shape scaling (``adjust_lr``), ``flatten``, the
  non-finite guard and row telemetry;
* the step itself, :func:`polarlab.optim.rule.matrix_update`, the same function
  the per-tensor API (:mod:`polarlab.optim.functional`) calls;
* the non-finite guard (``nonfinite="skip"``: a matrix whose gradient or update is
  not finite keeps its weights and state for that step, chosen by ``torch.where``
  so there is no host synchronisation; ``"raise"`` checks on the host);
* batching: same-shape matrices of a group are stacked and their directions
  computed in one batched call;
* AdamW and Lion groups (``algorithm="adamw"`` / ``"lion"``,
  :mod:`polarlab.optim.elementwise`) for vectors, embeddings and output heads.

Every option is a group entry stored as plain data (names, numbers, booleans,
tuples; a polar method by name, its extra options as a plain dict), so
``state_dict()`` round-trips (also through ``torch.load(weights_only=True)``)
and schedulers or users can change any of them between steps. The direction of
a group is built (and its options validated) once, and rebuilt only when the
group's direction options have changed.
"""

from __future__ import annotations

import inspect
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch

from polarlab._deprecation import moved_names
from polarlab.optim import elementwise, rule
from polarlab.optim.direction import Direction
from polarlab.optim.options import (
    COMMON_HEAD,
    COMMON_OPTIONS,
    COMMON_TAIL,
    NONFINITE_POLICIES,
    Option,
    make_signature,
    parameters_section,
    with_defaults,
    with_section,
)

__all__ = ["NONFINITE_POLICIES", "PolarOptimizer", "constructor_options"]

_PARAMS = inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)
_PARAMS_DOC = (
    "params : iterable of tensors or dicts\n"
    "    Matrices (2-D; N-D with ``flatten=True``) or parameter groups. A group with\n"
    '    ``algorithm="adamw"`` or ``"lion"`` is updated elementwise (any shape; keys\n'
    "    ``lr``, ``betas``, ``eps`` (AdamW), ``weight_decay``); see\n"
    "    :func:`polarlab.optim.split_params`."
)


def constructor_options(direction_type: type[Direction]) -> tuple[list[Option], list[Option]]:
    """``(positional, keyword_only)`` options of an optimizer built on ``direction_type``.

    Order: the common head (lr ... adjust_lr), the direction's ``"early"``
    options, the common tail (flatten, nonfinite, row_telemetry), its ``"late"``
    options; then its ``"keyword"`` options, keyword-only. Common defaults are
    the direction's :attr:`~polarlab.optim.direction.Direction.common_defaults`.
    """
    own = {p: [o for o in direction_type.options if o.position == p] for p in ("early", "late")}
    keyword = [o for o in direction_type.options if o.position == "keyword"]
    head, tail = (
        with_defaults(c, direction_type.common_defaults) for c in (COMMON_HEAD, COMMON_TAIL)
    )
    return [*head, *own["early"], *tail, *own["late"]], keyword


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


class PolarOptimizer(torch.optim.Optimizer):
    """Base class: common options, guard and batching around one direction per group.

    A subclass sets :attr:`algorithm` (the name its matrix groups carry) and
    ``direction_type``; its constructor signature (``params`` then every
    common and direction option, with defaults) and the *Parameters* section of
    its docstring are generated from the option records.

    Notes
    -----
    State per matrix: ``momentum_buffer`` (float32, or float64 for float64
    parameters: kept in at least single precision for any parameter dtype),
    ``nonfinite_skips`` (int32 count of skipped steps, updated without host
    synchronisation), the direction's state, and with ``row_telemetry=True``
    ``row_update_norm``: the per-row norms of the applied change ``W_new - W``
    (one value per output neuron; for dead-neuron studies).

    Examples
    --------
    A new optimizer is one direction (here: the entrywise sign of the momentum):

    >>> class SignDirection(Direction):
    ...     common_defaults = {"lr": 0.01, "adjust_lr": None}
    ...     def __call__(self, M, state):
    ...         return torch.sign(M), {}
    >>> class SignMomentum(PolarOptimizer):
    ...     algorithm = "sign_momentum"
    ...     direction_type = SignDirection
    >>> W = torch.nn.Parameter(torch.zeros(2, 3))
    >>> opt = SignMomentum([W], lr=0.5, momentum=0.9, nesterov=False)
    >>> W.grad = torch.tensor([[1.0, -2.0, 3.0], [-1.0, 1.0, 1.0]])
    >>> opt.step()
    >>> W.detach().tolist()
    [[-0.5, 0.5, -0.5], [0.5, -0.5, -0.5]]
    >>> str(inspect.signature(SignMomentum))[:40]
    '(params, lr=0.01, momentum=0.95, nestero'
    """

    algorithm: ClassVar[str] = "matrix"
    direction_type: ClassVar[type[Direction] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.direction_type is None:
            return
        positional, keyword = constructor_options(cls.direction_type)
        cls._signature = make_signature(positional, keyword, leading=[_PARAMS])
        if cls.__init__ is PolarOptimizer.__init__:  # a subclass's own __init__ keeps its own
            cls.__signature__ = cls._signature
            section = parameters_section([*positional, *keyword], preamble=[_PARAMS_DOC])
            cls.__doc__ = with_section(cls.__doc__, section)
        else:
            cls.__signature__ = None

    def __init__(self, params: Iterable, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if cls.direction_type is None:
            raise TypeError(f"{cls.__name__} has no direction_type; subclass it with one")
        bound = cls._signature.bind(params, *args, **kwargs)  # TypeError on an unknown name
        bound.apply_defaults()
        values = dict(bound.arguments)
        params = values.pop("params")
        own = {o.name: values.pop(o.name) for o in cls.direction_type.options}
        direction = cls.direction_type(**own)
        defaults = {**values, **direction.group_values()}
        self._directions: dict[int, tuple[tuple, Direction]] = {}
        self._default_direction = (cls.direction_type.key(defaults), direction)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_directions", {})  # caches, not pickled by torch
        self.__dict__.setdefault("_default_direction", ((), None))

    # --- construction and validation ------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        algorithm = param_group.get("algorithm", self.algorithm)
        for key, value in elementwise.DEFAULTS.get(algorithm, {}).items():
            param_group.setdefault(key, value)
        param_group.setdefault("algorithm", algorithm)
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        self._check_group(group)
        if algorithm == self.algorithm:  # build (validate) its direction; store plain data
            index = len(self.param_groups) - 1
            direction = self.group_direction(index)
            group.update(direction.group_values())
            self._directions[index] = (self.direction_type.key(group), direction)

    def _check_group(self, group: dict[str, Any]) -> None:
        algorithm = group["algorithm"]
        allowed = (self.algorithm, *elementwise.STEPS)
        if algorithm not in allowed:
            raise ValueError(
                f"unknown algorithm {algorithm!r}; choose one of: {', '.join(allowed)}"
            )
        if algorithm in elementwise.STEPS:
            elementwise.check_group(group)
            return
        for option in COMMON_OPTIONS:
            option.validate(group[option.name])
        for p in group["params"]:
            _matrix_shape(p.shape, group["flatten"])

    def group_direction(self, index: int) -> Direction:
        """The direction of matrix group ``index``, rebuilt if its options changed."""
        group = self.param_groups[index]
        key = self.direction_type.key(group)
        for known_key, known in (self._directions.get(index, ((), None)), self._default_direction):
            if known is not None and known_key == key:
                break
        else:
            known = self.direction_type.from_group(group)
        self._directions[index] = (key, known)
        return known

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
        for index, group in enumerate(self.param_groups):
            if group["algorithm"] in elementwise.STEPS:
                elementwise.STEPS[group["algorithm"]](group, self.state)
            else:
                self._step_matrices(group, self.group_direction(index))
        return loss

    def _step_matrices(self, group: dict[str, Any], direction: Direction) -> None:
        buckets: dict[tuple, list[torch.Tensor]] = defaultdict(list)
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("matrix optimizers do not take sparse gradients")
            buckets[(tuple(p.shape), p.dtype, p.device)].append(p)
        for params in buckets.values():
            self._update_bucket(params, group, direction)

    def _state_of(self, p: torch.Tensor, m: int, n: int, direction: Direction) -> dict:
        state = self.state[p]
        if "momentum_buffer" not in state:
            sdtype = rule.state_dtype(p.dtype, p.device)
            state["momentum_buffer"] = torch.zeros((m, n), dtype=sdtype, device=p.device)
            state["nonfinite_skips"] = torch.zeros((), dtype=torch.int32, device=p.device)
            state.update(direction.init_state(m, n, p.device, sdtype))
        return state

    def _update_bucket(
        self, params: list[torch.Tensor], group: dict[str, Any], direction: Direction
    ) -> None:
        m, n = _matrix_shape(params[0].shape, group["flatten"])
        states = [self._state_of(p, m, n, direction) for p in params]
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
        extra = {k: torch.stack([s[k] for s in states]) for k in direction.state_names}
        W = torch.stack([p.reshape(m, n) for p in params]).to(buf.dtype)
        W_new, new_buf, U, new_extra = rule.matrix_update(
            direction,
            W,
            G,
            buf,
            extra,
            lr=group["lr"],
            momentum=group["momentum"],
            nesterov=group["nesterov"],
            momentum_form=group["momentum_form"],
            weight_decay=group["weight_decay"],
            cautious_wd=group["cautious_wd"],
            scale=rule.lr_scale(group["adjust_lr"], m, n),
        )
        ok = finite & torch.isfinite(U).flatten(1).all(1)
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


# Names that moved: served from their new module with a DeprecationWarning.
__getattr__ = moved_names(
    __name__,
    dict.fromkeys(
        ("ADJUST_LR", "MOMENTUM_FORMS", "apply_decoupled_update", "lr_scale", "momentum_step"),
        "polarlab.optim.rule",
    ),
)
