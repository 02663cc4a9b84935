r"""The vocabulary of pre-registered claims: verdict words, thresholds, conditions, claims.

A claim record (:class:`Claim`) declares, before anything is measured, the quantity,
the population and the decision rule: a tuple of :class:`Condition`, each comparing a
measured series with a :class:`Threshold` (or with another series, or along the sweep).
Every threshold names its provenance: the claim's own wording (``"quote"``: the number
is written in the quote; ``"stated precision"``: the interval of values that round to
the quoted number) or a named convention of :data:`CONVENTIONS`. The records of
Aurora's claims are :data:`polarlab.studies.claims.CLAIMS`; the verdicts follow from
measured points by :func:`polarlab.studies.claim_verdicts.judge`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CONDITION_KINDS",
    "CONVENTIONS",
    "HOLDS",
    "HOLDS_WITH_CAVEAT",
    "MIXED",
    "MODEL_VERDICTS",
    "NOT_HOLDS",
    "NOT_REPRODUCED",
    "NOT_TESTABLE",
    "STATISTICS",
    "VERDICTS",
    "Claim",
    "Condition",
    "Convention",
    "Threshold",
]

HOLDS = "holds"
NOT_HOLDS = "does not hold"
MIXED = "mixed"
NOT_TESTABLE = "not testable here"
#: Every verdict a claim can get.
VERDICTS: tuple[str, ...] = (HOLDS, NOT_HOLDS, MIXED, NOT_TESTABLE)
#: A model-scale claim (:mod:`polarlab.studies.neurons_claims`) whose effect is absent or
#: within noise in the study's small models: weaker than "does not hold", since the claim
#: is about larger models than any run here.
NOT_REPRODUCED = "not reproduced at this scale"
#: Every verdict a model-scale claim can get.
MODEL_VERDICTS: tuple[str, ...] = (*VERDICTS, NOT_REPRODUCED)
#: The verdict of earlier versions for a partial result; no longer given (a partial
#: result is ``"mixed"``, with the part named). Kept so that code importing it works.
HOLDS_WITH_CAVEAT = "holds with caveat"


@dataclass(frozen=True)
class Convention:
    """A reading of informal wording, fixed in advance: its values and why."""

    values: tuple[float, ...]
    wording: str
    reason: str


#: Named conventions: how wording without a number becomes a threshold. A threshold
#: whose number is not written in its claim's quote must use one of these.
CONVENTIONS: dict[str, Convention] = {
    "stated precision": Convention(
        (),
        "a number written with d significant digits, '~x' included",
        "stands for the values that round to it: x +- half a unit of its last digit "
        "('0.6%' is [0.55%, 0.65%], '~2%' is below 2.5%); the values are computed from the "
        "number in the quote",
    ),
    "round-off": Convention(
        (100.0, 1000.0),
        "'exactly', 'is', 'the same', 'stay zero' (identities)",
        "an identity holds to a round-off allowance c u of the compute dtype (quantities "
        "measured in units of u): c = 100 for one polar call, 1000 for chained calls",
    ),
    "order of magnitude": Convention(
        (10.0,),
        "'arbitrarily', 'without losing', 'at the cost of'",
        "a qualitative large effect is one of at least 10x; 'no loss' is less than 10x",
    ),
    "factor of two": Convention(
        (0.5, 2.0),
        "'helps', 'improves', 'revived', 'lower'",
        "a qualitative improvement is at least a factor 2; 'about the same' is within 2x",
    ),
    "baseline": Convention(
        (0.0,),
        "'tracks', 'grows with' (an effect of the swept parameter)",
        "a difference from the baseline point of the sweep (sigma = 0: Gaussian input), paired "
        "by seed, greater than 0",
    ),
    "fraction of a percent": Convention(
        (0.01,),
        "'a fraction of a percent'",
        "below 1%",
    ),
}


@dataclass(frozen=True)
class Threshold:
    """A number of a decision rule and where it comes from.

    ``text`` is how the number is written in the claim's quote (provenance
    ``"quote"`` or ``"stated precision"``) or in the convention's table.
    """

    value: float
    text: str
    provenance: str

    def __str__(self) -> str:
        return f"{self.value:g} ({self.provenance}: {self.text!r})"


#: Condition kinds: ``bound`` (a series against a threshold), ``increasing`` /
#: ``decreasing`` (a series along the sweep axis), ``compare`` (a series against
#: ``threshold`` times another, seed by seed).
CONDITION_KINDS = ("bound", "increasing", "decreasing", "compare")
#: Statistics over seeds: ``mean`` (decided on its 95% bootstrap interval) or
#: ``every`` (every seed must satisfy the rule).
STATISTICS = ("mean", "every")


@dataclass(frozen=True)
class Condition:
    """One part of a decision rule, judged per cell (series x sweep point).

    Attributes
    ----------
    kind : {"bound", "increasing", "decreasing", "compare"}
    series : str
        The measured series it applies to.
    op : {"<", "<=", ">", ">=", "in"}
        ``value op threshold`` (bound) or ``value op threshold * other`` (compare);
        ``"in"``: ``threshold <= value <= upper`` (bound only).
    threshold : Threshold, optional
        The bound, or the factor of a comparison (``None``: factor 1).
    upper : Threshold, optional
        The upper end of an ``"in"`` interval.
    other : str, optional
        The series compared with (compare only).
    stat : {"mean", "every"}
    at : (float, float), optional
        The closed interval of sweep points it applies to (default every point measured).
    """

    kind: str
    series: str
    op: str = "<"
    threshold: Threshold | None = None
    upper: Threshold | None = None
    other: str | None = None
    stat: str = "mean"
    at: tuple[float, float] | None = None

    def __post_init__(self):
        if self.kind not in CONDITION_KINDS or self.stat not in STATISTICS:
            raise ValueError(f"bad condition {self.kind!r}/{self.stat!r}")
        if self.op not in ("<", "<=", ">", ">=", "in"):
            raise ValueError(f"bad comparison {self.op!r}; choose <, <=, >, >= or in")
        if (self.op == "in") != (self.upper is not None) or (
            self.op == "in" and self.kind != "bound"
        ):
            raise ValueError("op 'in' needs an upper threshold, and a bound condition")

    def describe(self) -> str:
        """The condition in words, e.g. ``"mean rho(Aurora) < 1.15"``."""
        where = "" if self.at is None else f" for x in [{self.at[0]:g}, {self.at[1]:g}]"
        if self.kind in ("increasing", "decreasing"):
            return f"{self.series} {self.kind} along the sweep{where}"
        lhs = f"{'mean ' if self.stat == 'mean' else 'every seed: '}{self.series}"
        factor = "" if self.threshold is None else f"{self.threshold.value:g} x "
        rhs = (
            f"{self.threshold.value:g}"
            if self.kind == "bound"
            else f"{factor}{self.other} (paired by seed)"
        )
        if self.op == "in":
            rhs = f"[{self.threshold.value:g}, {self.upper.value:g}]"
        return f"{lhs} {self.op} {rhs}{where}"


@dataclass(frozen=True)
class Claim:
    """One claim: statement, source, rule in words, and the pre-registered test.

    ``not_testable`` (a reason) marks a claim a matrix experiment cannot judge; it
    then has no conditions. ``population`` names the :data:`SIZES` keys the
    experiment sweeps; ``axis`` names its x (the sweep variable of its figure).

    Examples
    --------
    >>> from polarlab.studies.claims import CLAIMS
    >>> CLAIMS[0].claim_id, CLAIMS[0].source
    ('C-1a', 'Aurora abstract and TL;DR (arXiv 2606.27715)')
    """

    claim_id: str
    claim: str
    source: str
    rule: str
    quote: str = ""
    quantity: str = ""
    axis: str = ""
    population: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = field(default=())
    not_testable: str = ""

    def thresholds(self) -> list[Threshold]:
        """Every threshold of the rule."""
        return [t for c in self.conditions for t in (c.threshold, c.upper) if t is not None]
