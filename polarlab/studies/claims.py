r"""The published claims about Aurora's projection, as pre-registered records.

Aurora (Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715; blog "Aurora: A
Leverage-Aware Optimizer for Rectangular Matrices"; code tilde-research/aurora-release)
replaces Muon's update ``polar(G)`` on tall matrices by a point of the balanced
Stiefel manifold ``{U : U^T U = I, ‖U_i‖^2 = n/m}``, computed as ``polar(D G)``
with an iterated row scaling ``D``.

Each :class:`Claim` is declared here, as data, **before** anything is measured: the
source and its wording (``quote``), the quantity measured, the population it is
measured over (the axes of :data:`SIZES`: seeds, row-scale spread sigma, aspect
ratio, iterations K) and the decision rule, a tuple of :class:`Condition`. Every
number a rule compares with is a :class:`Threshold` that names its provenance: the
claim's own wording (``"quote"``: the number is written in the quote) or a named
convention of :data:`polarlab.studies.claim_rules.CONVENTIONS`
(``tests/test_claims.py`` checks both). Labels C-n are published claims, F-n, E-n and
R-n checks derived here. :mod:`polarlab.studies.claim_verdicts` turns measured points
into verdicts; the experiment of each claim is
:data:`polarlab.studies.aurora_experiments.EXPERIMENTS` ``[claim_id]``.

Verdicts (:data:`polarlab.studies.claim_rules.VERDICTS`): ``"holds"`` (every cell of
the declared population satisfies the rule), ``"does not hold"`` (none does),
``"mixed"`` (some do: the record names which) and ``"not testable here"`` (a matrix
experiment cannot see the quantity; the record gives the reason and where it is
tested instead).
"""

from __future__ import annotations

from polarlab.studies.claim_rules import (
    CONVENTIONS,
    HOLDS,
    HOLDS_WITH_CAVEAT,
    MIXED,
    NOT_HOLDS,
    NOT_TESTABLE,
    VERDICTS,
    Claim,
    Condition,
    Convention,
    Threshold,
)

__all__ = [
    "AURORA_COLUMNS",
    "CLAIMS",
    "CONVENTIONS",
    "HOLDS",
    "HOLDS_WITH_CAVEAT",
    "MIXED",
    "NOT_HOLDS",
    "NOT_TESTABLE",
    "SIZES",
    "VERDICTS",
    "Claim",
    "Condition",
    "Convention",
    "Threshold",
    "claim_ids",
]

#: Columns of the claims table (CSV/JSON/Markdown), one row per claim.
AURORA_COLUMNS: tuple[str, ...] = (
    "case_id",  # the claim id (resume key)
    "claim_id",
    "claim",  # the published statement, paraphrased
    "source",  # where it is published
    "quote",  # its wording, which the thresholds come from
    "quantity",  # what is measured
    "population",  # what it is measured over (seeds, sizes, sigma, K, dtype)
    "setting",  # the experiment actually run
    "rule",  # how the verdict follows from the measurement
    "thresholds",  # every number of the rule, with its provenance
    "measured",  # the measured figures: mean [95% interval] per cell
    "part",  # mixed: the part that holds and the part that does not; not testable: why
    "figure",  # the headline number (the first cell's statistic)
    "verdict",
)


#: Experiment sizes (the populations): ``seeds`` per cell, matrix shapes (``tall``
#: most claims, ``dion`` the dion test shape, ``small`` for the exact solver), the
#: aspect-ratio sweep at ``n_aspect`` columns, the row-scale spreads ``sigmas`` and
#: the largest ``iters`` K, the base polar methods of C-4a (``bases``). "quick" measures in
#: about 5 s on one thread, "full" (the committed sweep, docs/results/aurora) in about 80 s.
SIZES = {
    "quick": dict(
        seeds=10,
        tall=(128, 32),
        dion=(512, 128),
        small=(24, 6),
        n_aspect=8,
        aspects=(1, 2, 4, 8, 16),
        sigmas=(0.0, 0.5, 1.0, 1.5, 2.0),
        iters=6,
        square=(16, 32, 64),
        bases=(("svd", None), ("polar_express", "float32"), ("polar_express", "bfloat16")),
    ),
    "full": dict(
        seeds=12,
        tall=(512, 128),
        dion=(512, 128),
        small=(48, 12),
        n_aspect=32,
        aspects=(1, 2, 4, 8, 16),
        sigmas=(0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0),
        iters=6,
        square=(32, 64, 128),
        bases=(("svd", None), ("polar_express", "float32"), ("polar_express", "bfloat16")),
    ),
}


def _t(value: float, text: str, provenance: str = "quote") -> Threshold:
    return Threshold(value, text, provenance)


_ROUNDOFF_ONE = _t(100.0, "c = 100 for one polar call", "round-off")
_ROUNDOFF_CHAIN = _t(1000.0, "c = 1000 for chained calls", "round-off")
_TEN = _t(10.0, "at least 10x", "order of magnitude")
_HALF = _t(0.5, "a factor 2", "factor of two")
_BASELINE = _t(0.0, "greater than the Gaussian baseline", "baseline")
_HETEROGENEOUS = (0.25, 10.0)  # the sweep points with heterogeneous rows (sigma > 0)

#: The claims, in report order, each with its pre-registered test.
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "C-1a",
        "Muon's rows are anisotropic on tall matrices, 'arbitrarily non-uniform', "
        "growing with row heterogeneity",
        "Aurora abstract and TL;DR (arXiv 2606.27715)",
        "rho(polar(G)) increases with sigma and reaches an order of magnitude at sigma = 2",
        quote="Muon's updates ... arbitrarily non-uniform",
        quantity="rho = max_i ‖U_i‖ / min_i ‖U_i‖ of U = polar(G), G = diag(exp(sigma g)) Z",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(
            Condition("increasing", "rho(polar)"),
            Condition("bound", "rho(polar)", ">=", _TEN, at=(2.0, 2.0)),
        ),
    ),
    Claim(
        "C-1b",
        "the anisotropy grows with the aspect ratio m/n (the proxy for 'gains grow "
        "with MLP expansion', C-14)",
        "Aurora abstract (arXiv 2606.27715)",
        "rho(polar(G)) = 1 at m = n (to round-off) and increases with m/n",
        quote="gains grow with MLP expansion",
        quantity="rho of polar(G), Gaussian G (n columns, m = aspect x n rows)",
        axis="m/n",
        population=("aspects", "seeds", "n_aspect"),
        conditions=(
            Condition("increasing", "rho(polar)"),
            Condition("bound", "(rho - 1)/u", "<=", _ROUNDOFF_CHAIN, stat="every", at=(1, 1)),
        ),
    ),
    Claim(
        "C-2",
        "leverage tracks momentum row norm: the static relation behind 'the feedback loop' "
        "(the loop itself, over training steps, is a model-scale question)",
        "third-party summary 'Claim 2'; bound l_i <= ‖M_i‖^2/sigma_min^2 derived",
        "the bound holds for every row (to round-off), and the rank correlation of ‖M_i‖ "
        "and l_i on heterogeneous rows exceeds the Gaussian-input baseline",
        quote="leverage tracks momentum row norm",
        quantity="Spearman(‖M_i‖, l_i), l_i = ‖polar(M)_i‖^2; its excess over the same "
        "seed's Gaussian input (sigma = 0); max_i l_i sigma_min^2/‖M_i‖^2 - 1 in units of u",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(
            Condition("bound", "bound excess/u", "<=", _ROUNDOFF_ONE, stat="every"),
            Condition("bound", "Spearman excess", ">", _BASELINE, at=_HETEROGENEOUS),
        ),
    ),
    Claim(
        "C-3",
        "square matrices need no fix (Aurora on square input is exactly Muon); "
        "non-square ones do (the fix acts on the long axis)",
        "aurora-release code and README; dion PR #80 test (torch.equal)",
        "square: polar(G) already has uniform rows and Aurora equals it (round-off); tall "
        "and wide (transpose rule): Aurora's long-axis rho is below polar's for every seed",
        quote="Aurora on square input is exactly Muon (torch.equal)",
        quantity="max |Aurora(G) - polar(G)| and rho(polar(G)) - 1 in units of u (square); "
        "rho of the long axis of Aurora(G) and polar(G) (m/n = 1/4 and 4)",
        axis="m/n",
        population=("seeds", "tall"),
        conditions=(
            Condition("bound", "|Aurora - polar|/u", "<=", _ROUNDOFF_ONE, stat="every"),
            Condition("bound", "(rho(polar) - 1)/u", "<=", _ROUNDOFF_CHAIN, stat="every"),
            Condition("compare", "rho(Aurora)", "<", other="rho(polar)", stat="every"),
        ),
    ),
    Claim(
        "C-4a",
        "Aurora gives uniform rows: rho_Aurora < rho_polar and < 1.15",
        "dion PR #80 TestAurora (randn(512, 128), K=2, beta=0.5)",
        "for every seed: rho(Aurora) < 1.15 and rho(Aurora) < rho(polar)",
        quote="randn(512, 128): rho_Aurora < rho_polar and rho_Aurora < 1.15",
        quantity="rho = max/min row norm of Aurora (K=2, beta=0.5) and of polar(G), each "
        "with the base polar method of the sweep point (x = bits of its compute dtype: 64 "
        "the exact float64 SVD, 32 and 16 Polar Express in float32 and bfloat16, as in the "
        "dion test)",
        axis="base bits",
        population=("seeds", "dion", "bases"),
        conditions=(
            Condition("bound", "rho(Aurora)", "<", _t(1.15, "1.15"), stat="every"),
            Condition("compare", "rho(Aurora)", "<", other="rho(polar)", stat="every"),
        ),
    ),
    Claim(
        "C-4b",
        "pp_iterations=2, pp_beta=0.5 gives row norms 'within ~2% of uniform'",
        "modded-nanogpt record README (PR #284); aurora-release README",
        "mean over seeds of max_i | ‖U_i‖/sqrt(n/m) - 1 | below 2.5% ('~2%' at its stated "
        "precision), at every tall aspect ratio of the sweep",
        quote="pp_iterations=2, pp_beta=0.5 ... row norms within ~2% of uniform",
        quantity="max_i | ‖U_i‖/sqrt(n/m) - 1 | (row norms, as worded), K=2, beta=0.5, "
        "Gaussian G with n = the dion shape's columns and m = aspect x n (row scales do "
        "not change Aurora's output, R-1, so the sweep is over the aspect ratio)",
        axis="m/n",
        population=("aspects", "seeds", "dion"),
        conditions=(
            Condition("bound", "row-norm deviation", "<", _t(0.025, "~2%", "stated precision")),
        ),
    ),
    Claim(
        "C-4c",
        "uniform rows without losing polar precision (semi-orthogonality kept)",
        "Aurora abstract and README",
        "for every seed, Aurora's orthogonality defect is within an order of magnitude of "
        "the base polar's on G (+ a 100 u n round-off allowance)",
        quote="uniform rows without losing polar precision",
        quantity="‖U^T U - I‖_F/sqrt(n) of Aurora K=2 over (that of polar(G) + 100 u n)",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(Condition("bound", "defect ratio", "<", _TEN, stat="every"),),
    ),
    Claim(
        "C-5",
        "row normalisation (NorMuon style) costs orthogonality, increasingly with "
        "heterogeneity; Aurora does not",
        "Aurora TL;DR ('at the cost of orthogonality')",
        "U-NorMuon's max|sigma_i - 1| increases with sigma and exceeds 10x the base polar's "
        "(+ 100 u n) for heterogeneous rows; Aurora's stays below 10x",
        quote="at the cost of orthogonality",
        quantity="max_i |sigma_i - 1| of U-NorMuon (row-normalised polar(G)) and of Aurora "
        "K=2, and each over (that of polar(G) + 100 u n)",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(
            Condition("increasing", "U-NorMuon max|sigma-1|"),
            Condition("bound", "U-NorMuon ratio", ">=", _TEN, at=_HETEROGENEOUS),
            Condition("bound", "Aurora ratio", "<", _TEN, stat="every"),
        ),
    ),
    Claim(
        "C-9",
        "row uniformity improves with the iterations K; beta = 0.5 is not slower than "
        "the damped beta = 0.25",
        "aurora-release README ('larger K refines toward the row-uniform fixed point'; "
        "'smaller beta damps'); paper Fig. 9",
        "the deviation falls with K at beta = 0.5, and beta = 0.5 <= beta = 0.25 at K = 3",
        quote="larger K refines toward the row-uniform fixed point; smaller beta damps",
        quantity="max_i | ‖U_i‖^2/(n/m) - 1 | of Aurora, lognormal rows sigma = 1",
        axis="K",
        population=("iters", "seeds", "tall"),
        conditions=(
            Condition("decreasing", "beta=0.5"),
            Condition("compare", "beta=0.5", "<=", other="beta=0.25", at=(3, 3)),
        ),
    ),
    Claim(
        "C-10",
        "K = 1 is MuonEq-R",
        "aurora-release initial README; MuonEq (arXiv 2603.28254)",
        "for every seed, max |Aurora(K=1) - MuonEq-R| <= 100 u",
        quote="K = 1 is Muon EQ",
        quantity="max |Aurora(K=1) - MuonEq-R| in units of u",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(Condition("bound", "difference/u", "<=", _ROUNDOFF_ONE, stat="every"),),
    ),
    Claim(
        "C-15",
        "zero rows stay zero, live rows go to n/(m-k), near-zero rows are revived",
        "derived (d_i absorbs zero rows; sum of squared row norms is n)",
        "zero rows 0 (to 100 u); the live rows' deviation from n/(m-k) falls with K; rows "
        "at 1% scale reach at least half the target at K=2",
        quote="zero rows stay zero; near-zero rows are revived",
        quantity="max |U_i| / u over zero rows; max_i | ‖U_i‖^2/(n/(m-k)) - 1 | over live "
        "rows (m/16 zero rows); min ‖U_i‖^2/(n/m) over 10% of rows at 1% scale",
        axis="K",
        population=("iters", "seeds", "tall"),
        conditions=(
            Condition("bound", "zero rows/u", "<=", _ROUNDOFF_ONE, stat="every"),
            Condition("decreasing", "live-row deviation"),
            Condition("bound", "small rows revived", ">=", _HALF, stat="every"),
        ),
    ),
    Claim(
        "F-1",
        "the code (preconditioned) form is more uniform at K=2 than the paper's alternating form",
        "third-party transcription of the paper's Algorithm 3",
        "mean row deviation preconditioned < alternating (paired by seed), at every sigma",
        quote="code form more uniform than the alternating form at K=2",
        quantity="max_i | ‖U_i‖^2/(n/m) - 1 | of both forms, K=2, beta=0.5",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(Condition("compare", "preconditioned", "<", other="alternating"),),
    ),
    Claim(
        "C-20",
        "Riemannian Aurora: '+0.6% gradient alignment' over vanilla",
        "Aurora blog (third-party summary)",
        "at matched feasibility (both outputs balanced by Aurora's fixed-point scaling), the "
        "mean relative alignment gain is 0.6% at its stated precision: in [0.55%, 0.65%]",
        quote="Riemannian achieves 0.6% higher gradient alignment",
        quantity="(A(R) - A(V))/A(V), A(U) = <G, U>/‖G‖_*, R = Riemannian output (3 steps, "
        "scale-invariant form) and V = Aurora K=2, each balanced to row deviation 1e-12 "
        "(Aurora's fixed point of the output, Newton on the row scaling); raw (unbalanced) "
        "gain and row deviations for information",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(
            Condition(
                "bound",
                "gain (balanced)",
                "in",
                _t(0.0055, "0.6%", "stated precision"),
                upper=_t(0.0065, "0.6%", "stated precision"),
            ),
        ),
    ),
    Claim(
        "E-1",
        "Aurora's fixed point is not the exact balanced-Stiefel maximiser; its "
        "alignment cost is a fraction of a percent on isotropic input and larger for "
        "heterogeneous rows",
        "derived (KKT condition G = U S + diag(lambda) U)",
        "mean gap to the certified optimum (or to the Lagrangian duality bound where not "
        "certified) < 1% at sigma = 0; the gap to the best point found increases with sigma",
        quote="a fraction of a percent on isotropic input and larger for heterogeneous rows",
        quantity="relative alignment gap of Aurora's fixed point (row scaling solved to "
        "deviation 1e-12): upper "
        "(duality bound, equal to the optimum when certified) and lower (best point found)",
        axis="sigma",
        population=("sigmas", "seeds", "small"),
        conditions=(
            Condition(
                "bound",
                "gap (upper)",
                "<",
                _t(0.01, "below 1%", "fraction of a percent"),
                at=(0, 0),
            ),
            Condition("increasing", "gap (lower)"),
        ),
    ),
    Claim(
        "C-16",
        "row preconditioning helps Newton-Schulz (lower condition number)",
        "MuonEq (arXiv 2603.28254)",
        "mean cond(D0 G)/cond(G) below 1/2 for heterogeneous rows (sigma > 0) and within "
        "a factor 2 of 1 for Gaussian input",
        quote="row preconditioning lowers the condition number",
        quantity="cond(D0 G)/cond(G), D0 = row normalisation",
        axis="sigma",
        population=("sigmas", "seeds", "tall"),
        conditions=(
            Condition("bound", "cond ratio", "<", _HALF, at=_HETEROGENEOUS),
            Condition("bound", "cond ratio", ">=", _HALF, at=(0, 0)),
            Condition(
                "bound", "cond ratio", "<=", _t(2.0, "within 2x", "factor of two"), at=(0, 0)
            ),
        ),
    ),
    Claim(
        "R-1",
        "the code form sees only row directions: Aurora(Lambda G) = Aurora(G)",
        "derived (d_0 absorbs positive row scalings)",
        "for every seed, max |Aurora(Lambda G) - Aurora(G)| <= 1000 u",
        quote="Aurora(Lambda G) = Aurora(G)",
        quantity="max |Aurora(Lambda G) - Aurora(G)| in units of u, Lambda = diag(exp(s g))",
        axis="s (spread of Lambda)",
        population=("sigmas", "seeds", "tall"),
        conditions=(Condition("bound", "difference/u", "<=", _ROUNDOFF_CHAIN, stat="every"),),
    ),
    Claim(
        "C-17",
        "'only a 6% overhead over traditional Muon'",
        "Aurora TL;DR",
        "none at matrix level: not testable here",
        quote="only a 6% overhead over traditional Muon",
        quantity="end-to-end training-step time (not measured here); for information, the "
        "matrix-product FLOP ratio of Aurora K=2 to one Muon polar call (Polar Express, 5 "
        "steps), plain and Gram engine (polarlab.manifolds.balanced_gram.aurora_flops)",
        axis="m/n",
        population=("aspects", "dion"),
        not_testable="the 6% is an end-to-end figure (a training step, where the polar calls "
        "are one part); per tall matrix Aurora makes K polar calls (K = 2: about 2x one polar "
        "call's FLOPs, or 0.7x with the Gram engine, plus O(K m n) row scalings; the FLOP "
        "ratios are recorded), so a matrix experiment can neither confirm "
        "nor refute it, and a wall-clock ratio would flip with machine load. Its end-to-end "
        "verdict comes from the model-scale study (polarlab neurons, claim M-5 of "
        "polarlab.studies.neurons_claims).",
    ),
)


def claim_ids(claims=None) -> list[str]:
    """Ids of ``claims`` (default all, in report order); ``ValueError`` for unknown ones.

    Examples
    --------
    >>> claim_ids(["R-1", "C-3"])
    ['R-1', 'C-3']
    >>> claim_ids(["C-99"])
    Traceback (most recent call last):
    ...
    ValueError: unknown claim(s) C-99; choose from: C-1a, C-1b, ...
    """
    known = [c.claim_id for c in CLAIMS]
    chosen = list(known if claims is None else claims)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ValueError(f"unknown claim(s) {', '.join(unknown)}; choose from: {', '.join(known)}")
    return chosen
