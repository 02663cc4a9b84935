"""One benchmark suite: polarlab against its own floors and against the tools users would pick.

Run from the repository root (timings under the shared benchmark lock)::

    flock /tmp/polarlab-bench.lock python -m benchmarks.suite            # CPU, full
    python -m benchmarks.suite --quick --out /tmp/suite                    # seconds
    python -m benchmarks.suite --only optimizers,imports                   # some sections

Every timed comparison is a ratio measured side by side in one run: the entries
of a comparison are called in interleaved rounds (one call of each per round,
order rotated), and a ratio is the median of the per-round ratios, with their
quartiles and range as the spread. The sections (one module each):

- :mod:`.polar`: each polar method against its matmul floor and against
  ``torch.linalg.svd`` at aspect ratios 1-32; standard against Gram
  Newton-Schulz against the ``gram-newton-schulz`` package's torch path (an
  optional peer, skipped when not installed);
- :mod:`.aurora`: Aurora's direction, plain and Gram form, ``K = 1, 2, 3``,
  against one Muon orthogonalization;
- :mod:`.optimizers`: full optimizer steps (polarlab ``Muon`` against
  ``torch.optim.Muon`` at the same settings, ``Aurora``, ``NorMuon`` and ``ARO``
  against ``Muon``) on a 12-layer d=768 GPT-like set and on tall matrices; state
  bytes per parameter byte; peak extra memory of one step;
- :mod:`.imports`: what ``import polarlab`` adds to ``import torch``.

The run writes ``suite_<device>[_quick].json`` (every number, the machine,
versions and load), ``.md`` (tables, the headline targets) and ``.png`` plots
to ``benchmarks/results/``.
"""
