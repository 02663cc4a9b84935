"""What the suite measures: shapes, dtypes and repeats of the full and the quick run."""

from __future__ import annotations

from dataclasses import dataclass, field


def gpt_shapes(layers: int, d: int) -> list[tuple[int, int]]:
    """The hidden matrices of a GPT block stack, (fan_out, fan_in) as PyTorch stores them.

    Per block: attention q, k, v, o (d x d) and the MLP's up (4d x d) and down
    (d x 4d) projections; 12 layers at d = 768 is GPT-2 small (85M parameters).
    """
    block = [(d, d)] * 4 + [(4 * d, d), (d, 4 * d)]
    return block * layers


@dataclass(frozen=True)
class Config:
    """One run's sizes. Shapes are (rows, cols); polar inputs are tall (m >= n)."""

    name: str
    #: polar methods: n columns, m = aspect * n rows
    polar_n: int
    aspects: tuple[int, ...]
    #: standard vs Gram Newton-Schulz vs the package (aspect 4 and 8)
    gram_shapes: tuple[tuple[int, int], ...]
    #: Aurora's direction vs one Muon orthogonalization (aspect 4 and 8)
    aurora_shapes: tuple[tuple[int, int], ...]
    #: polarlab's engine against torch.optim.Muon's Newton-Schulz (square, tall, wide)
    torch_ns_shapes: tuple[tuple[int, int], ...] = ((768, 768), (3072, 768), (768, 3072))
    #: optimizer steps: name -> parameter shapes
    sets: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: compute dtypes of the polar iterations
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    #: optimizer sets timed in float32 iterations as well as bfloat16 (the torch.optim.Muon
    #: setting): set -> the optimizers to time (``None``: all). A float32 step of the
    #: GPT-like set takes about 16 s on one CPU thread, five times a bfloat16 one, so
    #: only Muon and Aurora are timed there.
    float32_sets: dict[str, tuple[str, ...] | None] = field(
        default_factory=lambda: {"tall": None, "gpt": ("Muon", "Aurora")}
    )
    rounds: int = 5
    #: seconds of rounds an entry group may take before rounds stop growing
    budget_s: float = 2.0
    import_rounds: int = 15


FULL = Config(
    name="full",
    polar_n=256,
    aspects=(1, 2, 4, 8, 16, 32),
    gram_shapes=((4096, 1024), (4096, 512)),
    aurora_shapes=((3072, 768), (6144, 768)),
    sets={
        "gpt": gpt_shapes(12, 768),
        "tall": [(3072, 768)] * 2 + [(4096, 1024)] * 2,
    },
)

QUICK = Config(
    name="quick",
    polar_n=16,
    aspects=(1, 4),
    gram_shapes=((128, 32),),
    aurora_shapes=((64, 16), (128, 16)),
    torch_ns_shapes=((32, 32), (96, 24), (24, 96)),
    sets={"gpt": gpt_shapes(1, 16), "tall": [(96, 24)] * 2},
    float32_sets={"tall": None, "gpt": ("Muon", "Aurora")},
    rounds=2,
    budget_s=0.0,
    import_rounds=1,
)
