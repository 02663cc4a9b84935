r"""The published claims about Aurora's projection, as data: statement, source, verdict rule.

Aurora (Dewulf, Pai, Yang, Zhang, Keigwin, arXiv 2606.27715; blog "Aurora: A
Leverage-Aware Optimizer for Rectangular Matrices"; code tilde-research/aurora-release)
replaces Muon's update ``polar(G)`` on tall matrices by a point of the balanced
Stiefel manifold ``{U : U^T U = I, ||U_i||^2 = n/m}``, computed as ``polar(D G)``
with an iterated row scaling ``D``. Each :class:`Claim` states one published claim
(labels C-n are published claims, F-n, E-n and R-n checks derived here), its
source, and the **rule** that turns the measured numbers into a verdict, with
thresholds taken from the claim's own wording. The experiment that measures it is
:data:`polarlab.studies.aurora_experiments.EXPERIMENTS` ``[claim_id]``.

Verdicts (:data:`VERDICTS`): ``"holds"``, ``"does not hold"``, ``"holds with
caveat"`` (the measured numbers satisfy the rule only in part, or the claim is
about a larger scale than a matrix experiment can see; the record's ``measured``
says which).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AURORA_COLUMNS",
    "CLAIMS",
    "HOLDS",
    "HOLDS_WITH_CAVEAT",
    "NOT_HOLDS",
    "SIZES",
    "VERDICTS",
    "Claim",
    "claim_ids",
]

HOLDS = "holds"
NOT_HOLDS = "does not hold"
HOLDS_WITH_CAVEAT = "holds with caveat"
#: Every verdict a claim can get.
VERDICTS: tuple[str, ...] = (HOLDS, NOT_HOLDS, HOLDS_WITH_CAVEAT)

#: Columns of the claims table (CSV/JSON/Markdown), one row per claim.
AURORA_COLUMNS: tuple[str, ...] = (
    "case_id",  # the claim id (resume key)
    "claim_id",
    "claim",  # the published statement, paraphrased
    "source",  # where it is published
    "setting",  # the experiment actually run
    "rule",  # how the verdict follows from the measurement
    "measured",  # the measured figures, in words
    "figure",  # the headline number the rule is applied to
    "verdict",
)

#: Experiment sizes: matrix shapes (``tall`` most claims, ``dion`` the dion test shape,
#: ``small`` for the exact solver), the aspect-ratio sweep, timing repeats, the
#: row-scale spreads ``sigmas`` and the largest ``iters``. "quick" runs in seconds.
SIZES = {
    "quick": dict(
        tall=(256, 64),
        dion=(512, 128),
        small=(48, 12),
        timing=(1024, 256),
        n_aspect=16,
        reps=7,
        sigmas=(0.0, 0.5, 1.0, 1.5, 2.0),
        aspects=(1, 2, 4, 8, 16),
        iters=6,
    ),
    "full": dict(
        tall=(1024, 256),
        dion=(512, 128),
        small=(96, 24),
        timing=(2048, 512),
        n_aspect=32,
        reps=9,
        sigmas=(0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0),
        aspects=(1, 2, 4, 8, 16, 32),
        iters=10,
    ),
}


@dataclass(frozen=True)
class Claim:
    """One checkable claim: its id, the statement, where it is published, the verdict rule.

    Examples
    --------
    >>> CLAIMS[0].claim_id, CLAIMS[0].source
    ('C-1a', 'Aurora abstract and TL;DR (arXiv 2606.27715)')
    """

    claim_id: str
    claim: str
    source: str
    rule: str


#: The claims, in report order.
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "C-1a",
        "Muon's rows are anisotropic on tall matrices, 'arbitrarily non-uniform', "
        "growing with row heterogeneity",
        "Aurora abstract and TL;DR (arXiv 2606.27715)",
        "rho(polar(G)) increases with the row-scale spread and reaches >= 10",
    ),
    Claim(
        "C-1b",
        "the anisotropy grows with the aspect ratio m/n (the proxy for 'gains grow "
        "with MLP expansion', C-14)",
        "Aurora abstract (arXiv 2606.27715)",
        "rho(polar(G)) = 1 at m = n and increases with m/n",
    ),
    Claim(
        "C-2",
        "leverage tracks momentum row norm (the feedback loop)",
        "third-party summary 'Claim 2'; bound l_i <= ||M_i||^2/sigma_min^2 derived",
        "the bound holds for every row and Spearman(||M_i||, l_i) > 0.5",
    ),
    Claim(
        "C-3",
        "square matrices need no fix: Aurora on square input is exactly Muon",
        "aurora-release code and README; dion PR #80 test (torch.equal)",
        "bitwise equal (caveat: equal to round-off)",
    ),
    Claim(
        "C-4a",
        "Aurora gives uniform rows: rho_Aurora < rho_polar and < 1.15",
        "dion PR #80 TestAurora (randn(512, 128), K=2, beta=0.5)",
        "rho_Aurora < rho_polar and rho_Aurora < 1.15",
    ),
    Claim(
        "C-4b",
        "pp_iterations=2, pp_beta=0.5 gives row norms 'within ~2% of uniform'",
        "modded-nanogpt record README (PR #284); aurora-release README",
        "max_i | ||U_i||/sqrt(n/m) - 1 | (row norms, as worded) at K=2 on Gaussian and "
        "lognormal rows: < 0.02 holds, < 0.03 (the '~') holds with caveat",
    ),
    Claim(
        "C-4c",
        "uniform rows without losing polar precision (semi-orthogonality kept)",
        "Aurora abstract and README",
        "Aurora's orthogonality defect <= 10x the base polar's on G, + 100 u n",
    ),
    Claim(
        "C-5",
        "row normalisation (NorMuon style) costs orthogonality, increasingly with "
        "heterogeneity; Aurora does not",
        "Aurora TL;DR ('at the cost of orthogonality')",
        "U-NorMuon's max|sigma-1| increases with spread and exceeds 0.05; Aurora's stays at "
        "the base polar's level",
    ),
    Claim(
        "C-9",
        "row uniformity improves with the iterations K; beta = 0.5 is not slower than "
        "the damped beta = 0.25",
        "aurora-release README; paper Fig. 9 (2-3 iterations)",
        "deviation falls with K at beta=0.5 (K=2 at most half of K=1) and beta=0.5 <= 0.25 at K=3",
    ),
    Claim(
        "C-10",
        "K = 1 is MuonEq-R",
        "aurora-release initial README; MuonEq (arXiv 2603.28254)",
        "max |Aurora(K=1) - MuonEq-R| <= 100 u",
    ),
    Claim(
        "C-15",
        "zero rows stay zero, live rows go to n/(m-k), near-zero rows are revived",
        "derived (d_i absorbs zero rows; sum of squared row norms is n)",
        "zero rows 0 (to 100 u), live deviation < 0.02 at the largest K, 1%-scale rows reach "
        ">= 0.5 n/m at K=2",
    ),
    Claim(
        "F-1",
        "the code (preconditioned) form is more uniform at K=2 than the paper's alternating form",
        "third-party transcription of the paper's Algorithm 3",
        "row deviation preconditioned < alternating",
    ),
    Claim(
        "C-20",
        "Riemannian Aurora: '+0.6% gradient alignment' over vanilla",
        "Aurora blog (third-party summary)",
        "relative gain in [0.3%, 1.2%] (a factor 2 around 0.6%); caveat if > 0 outside",
    ),
    Claim(
        "E-1",
        "Aurora's fixed point is not the exact balanced-Stiefel maximiser; its "
        "alignment cost is a fraction of a percent on isotropic input and larger for "
        "heterogeneous rows",
        "derived (KKT condition G = U S + diag(lambda) U)",
        "gap vs the exact solution < 1% on Gaussian and larger on lognormal rows (caveat: "
        "only the first)",
    ),
    Claim(
        "C-16",
        "row preconditioning helps Newton-Schulz (lower condition number)",
        "MuonEq (arXiv 2603.28254)",
        "cond(D0 G)/cond(G) < 0.5 for lognormal rows and in [0.5, 2] for Gaussian",
    ),
    Claim(
        "R-1",
        "the code form sees only row directions: Aurora(Lambda G) = Aurora(G)",
        "derived (d_0 absorbs positive row scalings)",
        "max difference <= 1e-6 + 1000 u",
    ),
    Claim(
        "C-17",
        "'only a 6% overhead over traditional Muon'",
        "Aurora TL;DR",
        "per-matrix time ratio <= 1.06 holds; <= 2.5 (about K polar calls) holds with caveat",
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
