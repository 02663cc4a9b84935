"""The optimizer catalogue (OptimizerInfo style): every optimizer of ``polarlab.optim``.

An :class:`OptimizerEntry` names the class, the keywords of a cheap valid configuration,
and the settings that must be refused at construction (and after a change in
``param_groups``), each with the key the error message must name. The common settings
are checked for every optimizer; each entry adds its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polarlab.optim as optim

#: (key, value) pairs every matrix optimizer must refuse, naming the key. Values that
#: merely pass a naive check: infinite or NaN numbers, numbers as text, booleans as
#: numbers (``True == 1``), numbers as booleans, out-of-range momentum.
COMMON_BAD = (
    ("lr", float("inf")),
    ("lr", float("nan")),
    ("lr", "0.1"),
    ("lr", True),
    ("lr", -1.0),
    ("momentum", 1.5),
    ("momentum", True),
    ("momentum", "0.9"),
    ("nesterov", "no"),
    ("weight_decay", -0.1),
    ("weight_decay", True),
    ("weight_decay", float("inf")),
    ("flatten", "yes"),
    ("nonfinite", "ignore"),
    ("momentum_form", "heavy"),
    ("adjust_lr", "sqrt"),
)


@dataclass(frozen=True)
class OptimizerEntry:
    """One optimizer configuration and the settings it must refuse."""

    name: str
    cls: type
    kwargs: dict = field(default_factory=dict)
    bad: tuple = ()  # (key, value) pairs specific to this optimizer

    def make(self, params, **kw):
        return self.cls(params, **{"lr": 0.02, **self.kwargs, **kw})


OPTIMIZERS = [
    OptimizerEntry("Muon", optim.Muon, {}, (("steps", 2.5), ("steps", True), ("method", "foo"))),
    OptimizerEntry("NorMuon", optim.NorMuon, {}, (("beta2", 1.5), ("beta2", True))),
    OptimizerEntry("UNorMuon", optim.UNorMuon, {}, (("beta2", -0.1), ("beta2", "0.9"))),
    OptimizerEntry(
        "Aurora",
        optim.Aurora,
        {},
        (("iters", 0), ("iters", True), ("beta", 2.0), ("form", "x"), ("eps", float("nan"))),
    ),
    OptimizerEntry("Aurora[alternating]", optim.Aurora, {"form": "alternating"}, ()),
    OptimizerEntry("ARO", optim.ARO, {"lr": 0.01}, (("base", "x"), ("qr", "x"))),
]

#: Public classes of ``polarlab.optim`` covered through the entries above: the base
#: class and each direction object (their options are the optimizers' options; their
#: maps are exercised by every step and by ``polarlab.optim.functional``).
COVERED_CLASSES = (
    "PolarOptimizer",
    "Direction",
    "PolarDirection",
    "MuonDirection",
    "NorMuonDirection",
    "UNorMuonDirection",
    "AuroraDirection",
    "ARODirection",
)
