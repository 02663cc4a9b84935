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
  computed in one batched call, a bounded batch at a time: a group entry
  ``batch_bytes`` (a positive int, or ``None``, the default, for the group's
  largest matrix but at least ``MIN_BATCH_BYTES``) bounds the stacked momenta and
  short-side ``k x k`` work of one batch (``_work_bytes``), so the memory a step
  needs on top of the weights, gradients and state scales like that of a loop over
  single matrices, while small matrices share their kernel calls;
* memory: weights, momentum buffers and direction state are updated in place
  (with the same operations, hence the same bits, as the out-of-place rule),
  the finite guard is a max and a min reduction per matrix (no full-size
  temporary),
  and temporaries are released one matrix at a time;
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
from polarlab.optim import distributed, elementwise, rule
from polarlab.optim.direction import Direction
from polarlab.optim.options import (
    COMMON_HEAD,
    COMMON_KEYWORD,
    COMMON_OPTIONS,
    COMMON_TAIL,
    NONFINITE_POLICIES,
    Option,
    group_key,
    make_signature,
    naming,
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
    options; then its ``"keyword"`` options and the common keyword options
    (``distributed``), keyword-only. Common defaults are
    the direction's :attr:`~polarlab.optim.direction.Direction.common_defaults`.
    """
    own = {p: [o for o in direction_type.options if o.position == p] for p in ("early", "late")}
    keyword = [o for o in direction_type.options if o.position == "keyword"] + [*COMMON_KEYWORD]
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

    Same-shape matrices are stacked in batches of at most ``batch_bytes`` (a
    group entry, not a constructor option: ``Muon([{"params": ps, "batch_bytes":
    2**28}])`` or ``opt.param_groups[0]["batch_bytes"] = 2**28``; ``None``, the
    default, is the group's largest matrix, see ``_work_bytes``, or
    ``MIN_BATCH_BYTES`` if that is more). Larger
    batches mean fewer, larger kernel calls (useful on GPUs, for many small
    matrices) and more memory; batched products compute each matrix on its own,
    and on CPU every batch size gives the same bits.

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
        self._checked: dict[int, tuple] = {}  # group index -> group_key of checked settings
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
        index = len(self.param_groups) - 1
        group = self.param_groups[index]
        try:
            with naming(f"param_groups[{index}]"):
                self._check_group(group)
                if algorithm == self.algorithm:  # build (validate) its direction
                    direction = self.group_direction(index)
        except ValueError:
            del self.param_groups[index]  # a refused group is not kept
            self._directions.pop(index, None)
            raise
        if algorithm == self.algorithm:  # store plain data
            group.update(direction.group_values())
            self._directions[index] = (self.direction_type.key(group), direction)
        self.__dict__.setdefault("_checked", {})[index] = group_key(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        algorithm = group["algorithm"]
        allowed = (self.algorithm, *elementwise.STEPS)
        if algorithm not in allowed:
            raise ValueError(
                f"unknown algorithm {algorithm!r}; choose one of: {', '.join(allowed)}"
            )
        for i, p in enumerate(group["params"]):
            if not p.dtype.is_floating_point:  # complex, integer: never made real silently
                raise ValueError(
                    f"parameter {i} of shape {tuple(p.shape)} has dtype {p.dtype}; polarlab "
                    "optimizers take real floating-point parameters (a complex parameter "
                    "can be optimized as its real view, torch.view_as_real)"
                )
        if algorithm in elementwise.STEPS:
            elementwise.check_group(group)
            return
        missing = [o.name for o in COMMON_OPTIONS if o.name not in group]
        if missing:
            raise ValueError(f"the group has no {', '.join(map(repr, missing))}")
        for option in COMMON_OPTIONS:
            option.validate(group[option.name])
        for p in group["params"]:
            _matrix_shape(p.shape, group["flatten"])
        _check_batch_bytes("batch_bytes", group.get("batch_bytes"))

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

        The state is checked before anything is modified; ``ValueError`` names
        what does not fit: a group saved by another optimizer (another
        ``algorithm``, e.g. NorMuon's state in Muon, or none: ``torch.optim.Muon``
        and ``AdamW`` save none) or lacking a setting, a setting outside its
        allowed values, and per parameter (its index, group and shape) a missing,
        unknown or non-tensor state entry or one of another shape (a broadcastable
        shape is not enough).

        torch casts floating state to the parameter's dtype; the float32
        momentum of a bfloat16 parameter would be rounded, so the saved tensors
        are restored as they were (moved to the parameter's device).
        """
        if not (isinstance(state_dict, dict) and {"state", "param_groups"} <= set(state_dict)):
            raise ValueError("not an optimizer state: expected a dict with state and param_groups")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state has {len(saved_groups)} parameter group(s), this optimizer "
                f"{len(self.param_groups)}"
            )
        index = 0  # parameters are numbered across groups, as in state_dict()["state"]
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            where = f"param_groups[{g}] of the state"
            if saved.get("algorithm") != group["algorithm"]:
                raise ValueError(
                    f"{where} has algorithm {saved.get('algorithm')!r}, this optimizer's "
                    f"group {group['algorithm']!r}: the state of another optimizer "
                    "(torch.optim optimizers save no algorithm) cannot be loaded"
                )
            if len(saved.get("params", ())) != len(group["params"]):
                raise ValueError(
                    f"{where} has {len(saved.get('params', ()))} parameter(s), this "
                    f"optimizer's group {len(group['params'])}"
                )
            missing = [k for k in group if k not in saved]
            if missing:
                raise ValueError(f"{where} has no {', '.join(map(repr, missing))}")
            merged = {**saved, "params": group["params"]}
            with naming(where):
                self._check_group(merged)
                matrix = group["algorithm"] == self.algorithm
                direction = self.direction_type.from_group(merged) if matrix else None
            for pid, p in zip(saved["params"], group["params"]):
                what = f"state of parameter {index} (group {g}, shape {tuple(p.shape)})"
                index += 1
                entries = saved_state.get(pid, {})
                if not entries:  # never stepped: a fresh state at its first step
                    continue
                if matrix:  # the entries a step keeps, with their shapes
                    m, n = _matrix_shape(p.shape, merged["flatten"])
                    fresh = direction.init_state(m, n, torch.device("meta"), torch.float32)
                    need = {"momentum_buffer": (m, n), "nonfinite_skips": ()}
                    need.update({k: tuple(v.shape) for k, v in fresh.items()})
                    optional = {"row_update_norm": (m,)}
                else:
                    need = {"exp_avg": tuple(p.shape)}
                    if group["algorithm"] == "adamw":
                        need.update(exp_avg_sq=tuple(p.shape), step=())
                    optional = {"nonfinite_skips": ()}  # not kept by older polarlab
                lacking = [k for k in need if k not in entries]
                if lacking:
                    raise ValueError(f"{what} lacks {', '.join(map(repr, lacking))}")
                unknown = [k for k in entries if k not in need and k not in optional]
                if unknown:
                    raise ValueError(f"{what} has unknown {', '.join(map(repr, unknown))}")
                for k, value in entries.items():
                    shape = {**optional, **need}[k]
                    if not isinstance(value, torch.Tensor) or value.is_complex():
                        raise ValueError(f"{what}: {k!r} must be a real tensor, got {value!r}")
                    if tuple(value.shape) != shape:  # no broadcasting
                        raise ValueError(
                            f"{what}: {k!r} has shape {tuple(value.shape)}, expected {shape}"
                        )
        super().load_state_dict(state_dict)
        self.__dict__["_checked"] = {}  # the groups are new: checked again at the next step
        saved_ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(saved_ids, params):
            for key, value in state_dict["state"].get(pid, {}).items():
                if isinstance(value, torch.Tensor):
                    self.state[p][key] = value.detach().clone().to(p.device)

    # --- the step ---------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns ``closure()`` if given.

        Settings changed in ``param_groups`` since the last step are checked
        first, every group before any is updated: a bad value raises
        ``ValueError`` naming the group and the key, and nothing moves. An
        unchanged group costs one comparison of its settings with the checked
        ones (no host synchronisation; a device tensor lr is compared by
        identity, its value is not read).

        An empty matrix (``m = 0`` or ``n = 0``) has nothing to update: it is
        left as it is, without state.
        """
        checked = self.__dict__.setdefault("_checked", {})
        directions = []
        for index, group in enumerate(self.param_groups):
            key = group_key(group)
            matrix = group["algorithm"] not in elementwise.STEPS
            if checked.get(index) != key:
                with naming(f"param_groups[{index}]"):
                    self._check_group(group)
                    if matrix:
                        self.group_direction(index)  # its own options
                checked[index] = key
            directions.append(self.group_direction(index) if matrix else None)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group, direction in zip(self.param_groups, directions):
            if direction is None:
                elementwise.STEPS[group["algorithm"]](group, self.state)
            else:
                self._step_matrices(group, direction)
        return loss

    def _step_matrices(self, group: dict[str, Any], direction: Direction) -> None:
        buckets: dict[tuple, list[torch.Tensor]] = defaultdict(list)
        for p in group["params"]:
            if p.grad is None or p.numel() == 0:  # an empty matrix has nothing to update
                continue
            if p.grad.is_sparse:
                raise RuntimeError("matrix optimizers do not take sparse gradients")
            buckets[(tuple(p.shape), p.dtype, p.device, distributed.layout(p))].append(p)
        sizes = {
            key: _matrix_shape(params[0].shape, group["flatten"]) for key, params in buckets.items()
        }
        nbytes = {key: _work_bytes(m, n, key[1], key[2]) for key, (m, n) in sizes.items()}
        budget = group.get("batch_bytes")  # checked with the group's settings by step()
        if budget is None:  # the largest matrix: memory of a step scales like a loop's
            budget = max([MIN_BATCH_BYTES, *nbytes.values()])  # no default=: Dynamo
        chunks = []
        for key, params in buckets.items():
            size = max(1, budget // nbytes[key])
            chunks += [(params[i : i + size], sizes[key]) for i in range(0, len(params), size)]
        # where each direction is computed, and how results travel between processes
        plans = distributed.plan_step(chunks, group.get("distributed"))
        # One momentum batch per state dtype and device, as large as the largest chunk's,
        # serves every chunk in turn: the peak is unchanged (chunks run one at a time) and
        # the memory is touched once per step rather than once per chunk (on CPU every
        # fresh large buffer costs page faults).
        need: dict[tuple, int] = {}
        for (params, shape), plan in zip(chunks, plans):
            lm, ln = shape if plan is None else plan.local_shape
            key = (rule.state_dtype(params[0].dtype, params[0].device), params[0].device)
            need[key] = max(need.get(key, 0), len(params) * lm * ln)
        workspace = {k: torch.empty(v, dtype=k[0], device=k[1]) for k, v in need.items()}
        for (params, shape), plan in zip(chunks, plans):
            self._update_bucket(params, shape, group, direction, plan, workspace)

    def _state_of(self, p: torch.Tensor, m: int, n: int, direction: Direction) -> dict:
        state = self.state[p]
        if "momentum_buffer" not in state:
            sdtype = rule.state_dtype(p.dtype, p.device)
            state["momentum_buffer"] = distributed.new_buffer(p, (m, n), sdtype)  # p's layout
            state["nonfinite_skips"] = torch.zeros((), dtype=torch.int32, device=p.device)
            state.update(direction.init_state(m, n, p.device, sdtype))
        return state

    def _update_bucket(
        self,
        params: list[torch.Tensor],
        shape: tuple[int, int],
        group: dict[str, Any],
        direction: Direction,
        plan: distributed.BucketPlan | None = None,
        workspace: dict[tuple, torch.Tensor] | None = None,
    ) -> None:
        """One batch of same-shape matrices: the rule of :mod:`polarlab.optim.rule`, in place.

        Peak extra memory: the stacked momenta ``M`` (b, m, n) and what the
        direction allocates while ``M`` is alive (it may use ``M`` as scratch:
        :meth:`Direction.consume`); the directions then land in ``M`` in the state
        dtype, and each slice of ``M`` holds its matrix's cleaned gradient once its
        weight is updated (``docs/design/optimizers.md``, "Memory of a step").
        Weights, momentum buffers and direction state are written in place, each
        with the result the out-of-place rule gives (same operations, same order);
        a matrix whose gradient, momentum or direction is not finite keeps all of
        them (factors 1 and 0 chosen on device flags: no host synchronisation, and
        no ``torch.where`` over whole matrices, several times slower on CPU).

        With a ``plan`` (:mod:`polarlab.optim.distributed`) the tensors are this
        process's pieces (shards of DTensors), of shape ``plan.local_shape``, and
        the plan computes or receives the directions and agrees on the flags.
        ``workspace`` maps ``(state dtype, device)`` to a flat buffer the momentum
        batch may live in (see ``_step_matrices``); without one it is allocated here.
        """
        m, n = shape
        lm, ln = shape if plan is None else plan.local_shape
        states = [self._state_of(p, m, n, direction) for p in params]
        sdtype = states[0]["momentum_buffer"].dtype
        mu, nesterov, form = group["momentum"], group["nesterov"], group["momentum_form"]
        weights = [distributed.local(p) for p in params]  # the tensors themselves unless DTensor
        grads = [distributed.local(p.grad) for p in params]
        buffers = [distributed.local(s["momentum_buffer"]) for s in states]

        def grad(i: int) -> torch.Tensor:  # a view, or a copy if the dtype differs
            return grads[i].reshape(lm, ln).to(sdtype)

        if group["nonfinite"] == "raise":  # checked before anything is computed
            finite = torch.stack([rule.is_finite(g) for g in grads])  # one flag per matrix
            if plan is not None:
                finite = plan.agree(finite)  # every rank raises, or none
            if not bool(finite.all()):  # host sync, by request
                raise FloatingPointError(
                    f"non-finite gradient in {int((~finite).sum())} of {len(params)} "
                    f"{m}x{n} matrices (nonfinite='raise')"
                )
        M = _batch_buffer(workspace, (len(params), lm, ln), sdtype, params[0].device)
        for i in range(len(params)):
            G = grad(i)
            new = rule.momentum_buffer(buffers[i], G, mu, form, out=M[i])
            rule.lookahead(new, G, mu, nesterov, form, out=new)
        del new, G  # views and copies that would keep M alive past the direction
        # One check covers the gradient and the momentum: with a finite buffer, M (the
        # buffer's lerp or sum with G, and its look-ahead) holds NaN or Inf exactly when G
        # does, or when a finite G overflowed it; no direction of polarlab is finite then
        # either, so such matrices are skipped as well.
        finite = rule.is_finite(M, dim=(-2, -1))
        rule.finite_(M)  # no NaN/Inf reaches any kernel (QR, Cholesky); bad results are dropped
        extra = {k: torch.stack([s[k] for s in states]) for k in direction.state_names}
        if plan is None:
            U, new_extra = direction.consume(M, extra)  # M is this step's own scratch
        else:  # this rank's pieces of the directions, and the flags every rank agrees on
            U, new_extra, finite = plan.directions(direction, M, extra, finite)
        # M, the direction's input, is dead from here on; its memory (already touched) is
        # reused rather than allocating: the direction lands there in the state dtype and
        # W's layout (one pass for the cast and, for a transposed direction of wide input,
        # the transpose; elementwise ops across layouts are slow on CPU), and each matrix's
        # slice then holds its cleaned gradient. Fresh large buffers cost page faults on CPU.
        U = rule.land(U, M)
        ok = finite & rule.is_finite(U, dim=(-2, -1))
        lr, scale = group["lr"], rule.lr_scale(group["adjust_lr"], m, n)
        for i, (p, s) in enumerate(zip(weights, states)):
            in_place = p.dtype == sdtype and p.is_contiguous()
            W = p.view(lm, ln) if in_place else p.reshape(lm, ln).to(sdtype, copy=True)
            W_old = W.clone() if group["row_telemetry"] else None
            Ui = U[i]  # contiguous: rule.land gives W's layout
            rule.apply_decoupled_update_(
                W, Ui, lr, scale, group["weight_decay"], group["cautious_wd"], ok[i]
            )
            if not in_place:
                p.copy_(W.view(p.shape))
            if W_old is not None:
                s["row_update_norm"] = (W - W_old).norm(dim=-1)
            del W, W_old, Ui
            rule.momentum_buffer_(buffers[i], grad(i), mu, form, ok[i], scratch=M[i])
            s["nonfinite_skips"].add_((~ok[i]).to(torch.int32))
            for k, v in new_extra.items():  # in place when the dtype allows
                out = s[k] if torch.result_type(v, s[k]) == s[k].dtype else None
                s[k] = torch.where(ok[i], v[i], s[k], out=out)
        if plan is not None and group["row_telemetry"]:
            plan.row_telemetry(states)  # a sharded matrix's norms: of its whole rows


#: Smallest default batch (``batch_bytes=None``): matrices this small are stacked up to
#: 1 MiB of work rather than one largest matrix's worth, so that a model of small
#: matrices does not pay a step's fixed costs (Python, small kernels; about 0.3 ms a
#: batch on CPU) once for every two of them. Measured on a 12-layer d=16 GPT-like set
#: on one CPU thread: a Muon step (Jordan's rows, bfloat16) took 21 ms with the
#: largest-matrix bound (48 batches), 3.9 ms with this floor (3), torch.optim.Muon 8.4 ms.
MIN_BATCH_BYTES = 2**20


def _batch_buffer(
    workspace: dict[tuple, torch.Tensor] | None,
    shape: tuple[int, int, int],
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """An uninitialised ``shape`` tensor: a view of the workspace buffer when it is large
    enough, else a new one."""
    flat = (workspace or {}).get((dtype, device))
    numel = math.prod(shape)
    if flat is None or flat.numel() < numel:
        return torch.empty(shape, dtype=dtype, device=device)
    return flat[:numel].view(shape)


def _work_bytes(m: int, n: int, dtype: torch.dtype, device: torch.device) -> int:
    """Bytes one ``m x n`` matrix counts against ``batch_bytes``: its momentum and a
    ``k x k`` short-side matrix (``k = min(m, n)``; the Gram matrices of the polar
    iterations, as large as the momentum itself for square matrices), in the state dtype."""
    k = min(m, n)
    return (m * n + k * k) * rule.state_dtype(dtype, device).itemsize


def _check_batch_bytes(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be None or a positive integer (bytes), got {value!r}")


# Names that moved: served from their new module with a DeprecationWarning.
__getattr__ = moved_names(
    __name__,
    dict.fromkeys(
        ("ADJUST_LR", "MOMENTUM_FORMS", "apply_decoupled_update", "lr_scale", "momentum_step"),
        "polarlab.optim.rule",
    ),
)
