"""The built-in schedules: published coefficient tables with their provenance.

Every preset lives in this file and registers itself by name when
:mod:`polarlab.schedules` is imported; ``polarlab.schedules.names()`` lists
them. Each carries its ``source`` (paper, arXiv id, repository and file), the
input normalisation ``X_0 = G / (input_factor ||G||_F + eps)`` and compute dtype
its source uses, and the rule past its last row.

Two kinds of entry:

- **Typed tables** (constant polynomials, Jordan's, You's and CANS-12): tables
  found by tuning or other optimisations, written here digit for digit as their
  sources publish them.
- **Generated tables** (the Polar Express family, Amsel, Persson, Musco & Gower,
  arXiv 2505.16932, and the CANS-5 table): the literal data is the generator
  setting (interval, steps, safety factor and where it is applied, cushion,
  rounding) that reproduces the published rows, recorded in the schedule's
  ``generator`` field; :func:`~polarlab.schedules.optimal_composition` builds the
  rows from it. The rows as the source prints them stand beside it in the
  ``published`` field (so grepping this file for a published coefficient finds
  it), and ``tests/test_schedules.py`` checks the generated rows against them.
  Generating rather than typing keeps every row at full float64 accuracy and
  makes the difference between variants (safety inside or post hoc, cushion,
  input factor) explicit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from polarlab.schedules.generator import POLAR_EXPRESS_CUSHION, optimal_composition
from polarlab.schedules.registry import register
from polarlab.schedules.schedule import Schedule

__all__: list[str] = []  # this module only registers; look presets up with get(name)


def _rows(rows: Sequence[Sequence[float]]) -> tuple[tuple[float, float, float], ...]:
    """Rows as float ``(a, b, c)`` triples; a cubic row ``(a, b)`` gets ``c = 0``."""
    return tuple(tuple(float(v) for v in (*r, 0.0)[:3]) for r in rows)


# Constant polynomials.
register(
    Schedule(
        "newton_schulz_cubic",
        _rows([(1.5, -0.5)]),
        beyond="repeat_last",
        default_steps=12,
        source="Classic cubic Newton-Schulz (Kovarik 1970; Bjorck & Bowie 1971)",
    )
)
register(
    Schedule(
        "pade_quintic",
        _rows([(15 / 8, -10 / 8, 3 / 8)]),
        beyond="repeat_last",
        default_steps=15,
        source="Pade quintic NS5, p'(1) = p''(1) = 0 (Higham 2008, sec. 8.3)",
    )
)
register(
    Schedule(
        "simple_quintic",
        _rows([(2.0, -1.5, 0.5)]),
        eps=1e-7,  # hard-coded in the source
        beyond="repeat_last",
        default_steps=12,
        dtype="bfloat16",
        source="modded-nanogpt track-3 baseline; aurora-release v1 polar (12 steps, bf16)",
    )
)
register(
    Schedule(
        "jordan",
        _rows([(3.4445, -4.7750, 2.0315)]),
        eps=1e-7,
        beyond="repeat_last",
        default_steps=5,
        dtype="bfloat16",
        source="KellerJordan/Muon zeropower_via_newtonschulz5; torch.optim.Muon default. "
        "Does not converge: iterates settle in [0.6818, 1.1344]",
    )
)

# Tuned tables (found by optimisation, not by a generator): typed.
register(
    Schedule(
        "you_5",
        _rows(
            [
                (4.0848, -6.8946, 2.9270),
                (3.9505, -6.3029, 2.6377),
                (3.7418, -5.5913, 2.3037),
                (2.8769, -3.1427, 1.2046),
                (2.8366, -3.0525, 1.2012),
            ]
        ),
        eps=1e-7,
        beyond="error",
        default_steps=5,
        dtype="bfloat16",
        source="Jiacheng You's 5-step table; microsoft/dion zeropower_via_newtonschulz5 and "
        "newton_schulz_triton; gram-newton-schulz YOU_COEFFICIENTS",
    )
)
register(
    Schedule(
        "you_6",
        tuple(
            (a / 1024, b / 1024, c / 1024)
            for a, b, c in [
                (3955, -8306, 5008),
                (3735, -6681, 3463),
                (3799, -6499, 3211),
                (4019, -6385, 2906),
                (2677, -3029, 1162),
                (2172, -1833, 682),
            ]
        ),
        eps=0.0,  # modula divides by ||G||_F with no epsilon
        beyond="error",
        default_steps=6,
        source="Jiacheng You's 6-step dyadic table (all /1024); modula orthogonalize",
    )
)
register(
    Schedule(
        "cans_12",
        _rows(
            [
                (5.1825, -5.1781),
                (2.5861, -0.6480),
                (2.5674, -0.6455),
                (2.5206, -0.6394),
                (2.4108, -0.6249),
                (2.1883, -0.5952),
                (1.8596, -0.5504),
                (1.5890, -0.5127),
                (1.5052, -0.5007),
                (1.5, -0.5),
                (1.5, -0.5),
                (1.5, -0.5),
            ]
        ),
        beyond="error",
        default_steps=12,
        dtype="float32",
        source="CANS-12 cubic (Grishina, Smirnov, Rakhuba, arXiv 2506.10935); "
        "aurora-release v2 polar. Not the greedy minimax: row 1 on [1e-3, 1] "
        "would be (5.1801, -5.1749)",
    )
)

# Polar Express family (Amsel, Persson, Musco, Gower, arXiv 2505.16932), generated.
register(
    optimal_composition(
        1e-3,
        8,
        cushion=POLAR_EXPRESS_CUSHION,
        name="polar_express_raw",
        # Designed for sigma / ||G||_F in [1e-3, 1] in exact arithmetic: no margin.
        input_factor=1.0,
        eps=1e-7,
        beyond="repeat_last",
        source="Polar Express design table, no safety factor (arXiv 2505.16932 reference "
        "code, NoahAmsel/PolarExpress); rows 8+ are NS5",
    )
)
register(
    replace(
        optimal_composition(
            1e-3,
            8,
            safety=0.01,
            cushion=POLAR_EXPRESS_CUSHION,
            safety_mode="posthoc",
            name="polar_express",
            input_factor=1.01,
            eps=1e-7,
            beyond="repeat_last",
            dtype="bfloat16",
            source="Polar Express, arXiv 2505.16932 Algorithm 1 (GPT-2 runs): design rows "
            "1-7 divided by (1.01, 1.01^3, 1.01^5), row 8 (NS5) unchanged and repeated",
        ),
        default_steps=5,  # the paper's runs use 5 steps ("PE"); 8 steps is "PE-8"
        # As printed to 4 decimals by NVIDIA emerging-optimizers and aurora-release v1
        # (8.2051 for 8.20516: that source truncates there).
        published=(
            (8.2051, -22.9019, 16.4607),
            (4.0664, -2.8612, 0.5184),
            (3.9096, -2.8234, 0.5250),
            (3.2856, -2.4153, 0.4853),
            (2.2779, -1.6198, 0.3985),
            (1.8726, -1.2307, 0.3585),
            (1.8564, -1.2132, 0.3568),
            (1.875, -1.25, 0.375),
        ),
        published_decimals=4,
    )
)
register(
    replace(
        optimal_composition(
            1e-3,
            5,
            safety=0.02,
            cushion=0.02,
            safety_mode="inside",
            name="polar_express_modded",
            input_factor=1.02,
            # dion's optimizers pass eps=1e-8; its polar_express function defaults to 1e-6.
            eps=1e-8,
            beyond="error",
            dtype="bfloat16",
            source="modded-nanogpt polar_express; microsoft/dion polar_express (dion's "
            "default polar): 'num_iters=5, safety_factor=2e-2, cushion=2', last row without "
            "safety",
        ),
        published=(
            (8.156554524902461, -22.48329292557795, 15.878769915207462),
            (4.042929935166739, -2.808917465908714, 0.5000178451051316),
            (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
            (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
            (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
        ),
    )
)
register(
    replace(
        optimal_composition(
            1e-3,
            10,
            safety=0.01,
            cushion=0.02,
            safety_mode="inside",
            name="polar_express_amsel",
            input_factor=1.0,  # pytorch-optimizer's default
            eps=1e-7,
            beyond="repeat_last",
            source="NoahAmsel/PolarExpress coeffs_list (l=1e-3, 10 steps, safety 0.01, "
            "cushion 0.02); pytorch-optimizer polar_express (repeats the last row)",
        ),
        published=((8.237312490495555, -23.157747414558184, 16.6805684114459),),
    )
)
register(
    replace(
        optimal_composition(
            1e-3,
            5,
            safety=0.05,
            cushion=POLAR_EXPRESS_CUSHION,
            safety_mode="posthoc",
            safety_last=True,
            name="gram_ns",
            input_factor=1.0,
            eps=1e-7,
            beyond="error",
            dtype="float16",
            source="gram-newton-schulz (Dao-AILab) POLAR_EXPRESS_COEFFICIENTS: Polar Express "
            "design rows 1-5, each divided by (1.05, 1.05^3, 1.05^5), the last included; "
            "normalised in float32, iterated in float16",
        ),
        published=((7.8925828744, -20.3830139459, 13.5553061494),),
        published_decimals=10,
    )
)
register(
    replace(
        optimal_composition(
            1e-3,
            5,
            decimals=4,
            name="cans_5",
            input_factor=1.0,
            eps=1e-15,  # emerging-optimizers' Newton-Schulz default
            beyond="error",
            source="NVIDIA emerging-optimizers 'CANS' 5-step table: the pure greedy minimax "
            "quintic composition on [1e-3, 1] (no cushion, no safety), published to 4 "
            "decimals. Unsafe in bfloat16",
        ),
        published=(
            (8.4703, -25.1081, 18.6293),
            (4.1828, -3.1087, 0.5806),
            (3.9619, -2.9541, 0.5630),
            (3.2866, -2.4647, 0.5074),
            (2.2737, -1.6447, 0.4162),
        ),
        published_decimals=4,
    )
)
