r"""The neuron-death study: ``neurons(...)`` runs every training run and writes tidy CSVs.

Sizes (:data:`SIZES`, ``"quick"`` for ``polarlab report``, ``"full"`` for the committed
results) fix the models, the step budget, the seeds and the sweeps. A study is

1. **learning rates**, per model, expansion factor and optimizer, chosen on the
   validation split from a small grid (``lr_grid``) with a seed not used later; the
   AdamW baseline's choice (at the main expansion factor) is also the AdamW lr of the
   embeddings, head and vectors in the matrix optimizers' runs (one lr for the
   elementwise part across optimizers). Without a grid the preset lrs (``lrs``) are used;
2. **main runs**: every optimizer x model x seed at the main expansion factor, and the
   expansion sweep (``expansions``) for the optimizers in ``sweep_optimizers``, all at the
   same step budget;
3. **end-to-end overhead**: the time of one training step (forward, backward, optimizer)
   of Aurora and Muon on the same transformer and batch, interleaved (Muon, Aurora;
   Aurora, Muon; ...) ``timing_reps`` times per expansion factor, beside the time of one
   optimizer step on the lone up-projection matrix ``(e d) x d``. Only ratios of times
   measured side by side are judged (:mod:`polarlab.studies.neurons_claims`).

Files in ``out``: ``neuron_settings.json`` (the size, seed and device; a resume into a
folder of other settings is refused), ``neuron_runs.csv`` (one row per run, :data:`RUN_COLUMNS`),
``neuron_curves.csv`` (per checkpoint), ``neuron_leverage.csv`` (leverage histograms per
checkpoint), ``neuron_timing.csv`` (per repeat), then the claims
(``neuron_claims.csv/.json/.md``). ``resume=True`` keeps finished runs.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from polarlab.diagnostics import TAUS
from polarlab.studies._io import TidyWriter, progress, read_csv
from polarlab.studies.neurons_models import build_model, load_corpus
from polarlab.studies.neurons_train import OPTIMIZERS, _batch, _loss, make_optimizer, train_run

__all__ = [
    "RUN_COLUMNS",
    "SIZES",
    "TIMING_COLUMNS",
    "check_settings",
    "judge_neurons",
    "neurons",
    "run_study",
]

_MODEL = dict(d=64, layers=2, heads=4, context=64, mlp_context=16, batch=16)
#: Study sizes. Learning rates: ``lrs`` when there is no ``lr_grid``.
SIZES = {
    "quick": dict(
        d=32,
        layers=1,
        heads=2,
        context=32,
        mlp_context=8,
        batch=8,
        steps=100,
        warmup=10,
        checkpoints=5,
        reference=0.3,
        eval_batches=2,
        seeds=3,
        models=("transformer", "mlp"),
        expansions=(1, 4),
        main_expansion=4,
        optimizers=tuple(OPTIMIZERS),
        sweep_optimizers=("muon", "aurora"),
        lr_grid=None,
        lrs={"muon": 0.02, "normuon": 0.02, "u_normuon": 0.02, "aurora": 0.02, "adamw": 3e-3},
        timing_reps=20,
    ),
    "full": dict(
        **_MODEL,
        steps=300,
        warmup=30,
        checkpoints=10,
        reference=0.3,
        eval_batches=8,
        seeds=3,
        models=("transformer", "mlp"),
        expansions=(1, 2, 4, 8),
        main_expansion=4,
        optimizers=tuple(OPTIMIZERS),
        sweep_optimizers=("muon", "aurora", "u_normuon"),
        lr_grid={"matrix": (0.02, 0.04, 0.08, 0.16), "adamw": (3e-3, 1e-2, 3e-2, 1e-1)},
        lrs=None,
        timing_reps=30,
    ),
}

#: Columns of ``neuron_runs.csv``: the run, its lr, losses, dead fractions per tau (and the
#: leverage version), 1% and 5% quantiles of the update norm / layer mean, seconds.
RUN_COLUMNS = (
    "case_id",
    "phase",
    "model",
    "expansion",
    "optimizer",
    "lr",
    "elementwise_lr",
    "seed",
    "steps",
    "val_loss",
    "test_loss",
    "diverged",
    "neurons",
    *(f"dead_{t:g}" for t in TAUS),
    *(f"lev_dead_{t:g}" for t in TAUS),
    "update_ratio_q01",
    "update_ratio_q05",
    "seconds",
)
#: Columns of ``neuron_curves.csv`` (per checkpoint; ``low_t``: share meeting criteria 1-2).
CURVE_COLUMNS = ("case_id", "step", "train_loss", "val_loss", *(f"low_{t:g}" for t in TAUS))
LEVERAGE_COLUMNS = ("case_id", "step", "matrix", "bin_lo", "count")
#: Columns of ``neuron_timing.csv``: one interleaved repeat, seconds of each and the ratio.
TIMING_COLUMNS = ("case_id", "expansion", "kind", "rep", "muon_s", "aurora_s", "ratio")


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def step_timing(corpus, size: dict, expansion: int, reps: int, device: str, seed: int):
    """Interleaved step times of Muon and Aurora: rows per repeat, for the whole training
    step on the transformer (``"model_step"``) and the lone up matrix (``"matrix_step"``)."""

    def model_step(name):
        torch.manual_seed(seed)
        net = build_model(
            "transformer",
            d=size["d"],
            layers=size["layers"],
            heads=size["heads"],
            context=size["context"],
            expansion=expansion,
        ).to(device)
        opt = make_optimizer(name, net, 0.02, 3e-3)
        x, y = _batch(corpus.train, size["batch"], size["context"], torch.Generator(), device)

        def step():
            loss = _loss(net, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    def matrix_step(name):
        g = torch.Generator(device="cpu").manual_seed(seed)
        shape = (expansion * size["d"], size["d"])
        W = torch.nn.Parameter(torch.randn(shape, generator=g).to(device) / size["d"] ** 0.5)
        W.grad = torch.randn(shape, generator=g).to(device)
        opt = OPTIMIZERS[name]([W], lr=1e-3)
        return opt.step

    rows = []
    for kind, make in (("model_step", model_step), ("matrix_step", matrix_step)):
        steps = {name: make(name) for name in ("muon", "aurora")}
        for step in steps.values():  # warm-up: allocations, lazy state
            for _ in range(3):
                step()
        _sync(device)
        for rep in range(reps):
            order = ("muon", "aurora") if rep % 2 == 0 else ("aurora", "muon")
            seconds = {}
            for name in order:
                _sync(device)
                started = time.perf_counter()
                steps[name]()
                _sync(device)
                seconds[name] = time.perf_counter() - started
            rows.append(
                {
                    "case_id": f"timing/e{expansion}/{kind}/{rep}",
                    "expansion": expansion,
                    "kind": kind,
                    "rep": rep,
                    "muon_s": seconds["muon"],
                    "aurora_s": seconds["aurora"],
                    "ratio": seconds["aurora"] / seconds["muon"],
                }
            )
    return rows


def check_settings(out: Path, size: dict, *, seed: int, device: str, resume: bool) -> None:
    """Record the study's settings in ``out/neuron_settings.json``; with ``resume``, refuse
    a folder whose recorded settings differ (a run id does not name the size, the grid or
    the seed, so rows of another study must never be mixed in)."""
    path = out / "neuron_settings.json"
    settings = json.loads(json.dumps({"size": size, "seed": seed, "device": device}))
    if resume and path.exists():
        found = json.loads(path.read_text())
        if found != settings:
            keys = sorted(
                k
                for k in set(found.get("size", {})) | set(size)
                if found.get("size", {}).get(k) != settings["size"].get(k)
            ) + [k for k in ("seed", "device") if found.get(k) != settings[k]]
            raise ValueError(
                f"cannot resume in {out}: it holds a study with other settings "
                f"({', '.join(keys)}); use another --out or drop --resume"
            )
    path.write_text(json.dumps(settings, indent=1) + "\n")


def _best_lr(run, model, e, name, choices, elementwise_lr, seed) -> float:
    """The lr of ``choices`` with the lowest final validation loss (finite runs first)."""
    rows = [run("lr_sweep", model, e, name, lr, elementwise_lr or lr, seed) for lr in choices]
    finite = [r for r in rows if not r["diverged"]] or rows
    return min(finite, key=lambda r: r["val_loss"])["lr"]


def _settings(size: dict) -> list[tuple[str, int, str]]:
    """(model, expansion, optimizer) of the main runs: every optimizer at the main
    expansion, the sweep optimizers at the other expansions (transformer only)."""
    main_e = size["main_expansion"]
    return [
        (model, e, name)
        for model in size["models"]
        for e in size["expansions"]
        if model == "transformer" or e == main_e
        for name in (size["optimizers"] if e == main_e else size["sweep_optimizers"])
    ]


def _learning_rates(size: dict, run, seed: int) -> dict:
    """``{(model, e, optimizer): (lr, AdamW lr)}``: the grid's best on the validation split
    (seed ``seed``), AdamW's first at the main expansion; the preset ``lrs`` without a grid."""
    grid, main_e, lrs = size.get("lr_grid"), size["main_expansion"], {}
    adam = {}
    for model, e, name in _settings(size):
        if not grid:
            lrs[model, e, name] = (size["lrs"][name], size["lrs"]["adamw"])
            continue
        if model not in adam:
            adam[model] = _best_lr(run, model, main_e, "adamw", grid["adamw"], None, seed)
        if name == "adamw":
            lrs[model, e, name] = (adam[model], adam[model])
        else:
            lr = _best_lr(run, model, e, name, grid["matrix"], adam[model], seed)
            lrs[model, e, name] = (lr, adam[model])
    return lrs


def run_study(
    size: dict,
    out: Path,
    *,
    seed: int = 0,
    device: str = "cpu",
    resume: bool = False,
    show_progress: bool = False,
) -> dict:
    """Run the study of ``size`` into ``out``; returns ``{"runs", "curves", "leverage",
    "timing", "meta"}`` (lists of rows, and the run's facts)."""
    started = time.perf_counter()
    corpus = load_corpus()
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, size, seed=seed, device=device, resume=resume)
    writers = {
        "runs": TidyWriter(out / "neuron_runs.csv", RUN_COLUMNS, resume=resume),
        "curves": TidyWriter(out / "neuron_curves.csv", CURVE_COLUMNS, resume=resume),
        "leverage": TidyWriter(out / "neuron_leverage.csv", LEVERAGE_COLUMNS, resume=resume),
        "timing": TidyWriter(out / "neuron_timing.csv", TIMING_COLUMNS, resume=resume),
    }
    done = {r["case_id"]: r for r in writers["runs"].rows}

    def run(phase, model, e, name, lr, elementwise_lr, s):
        case_id = f"{phase}/{model}/e{e}/{name}/lr{lr:g}/s{s}"
        if case_id in done:
            return done[case_id]
        result = train_run(
            corpus,
            model=model,
            optimizer=name,
            lr=lr,
            elementwise_lr=elementwise_lr,
            seed=s,
            size=size,
            expansion=e,
            device=device,
        )
        writers["curves"].write_case([{"case_id": case_id, **r} for r in result["curve"]])
        writers["leverage"].write_case([{"case_id": case_id, **r} for r in result["leverage"]])
        row = {
            "case_id": case_id,
            "phase": phase,
            "model": model,
            "expansion": e,
            "optimizer": name,
            "lr": lr,
            "elementwise_lr": elementwise_lr,
            "seed": s,
            "steps": size["steps"],
            **result["summary"],
        }
        writers["runs"].write_case([row])
        done[case_id] = row
        return row

    lrs = _learning_rates(size, run, seed + 1000)
    plan = [(*key, *lrs[key], seed + s) for key in _settings(size) for s in range(size["seeds"])]
    for case in progress(plan, total=len(plan), desc="neurons", enabled=show_progress):
        run("main", *case)
    timing_done = {r["case_id"] for r in writers["timing"].rows}
    for e in size["expansions"]:
        if f"timing/e{e}/model_step/0" not in timing_done:
            writers["timing"].write_case(
                step_timing(corpus, size, e, size["timing_reps"], device, seed)
            )
    meta = {
        "seconds": time.perf_counter() - started,
        "device": device,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "corpus_digest": corpus.digest,
        "train_tokens": int(corpus.train.numel()),
    }
    return {name: w.rows for name, w in writers.items()} | {"meta": meta}


def _size(size: str | dict) -> dict:
    if isinstance(size, dict):
        unknown = sorted(set(size) - set(SIZES["full"]))
        if unknown:
            raise ValueError(
                f"unknown size key(s) {', '.join(unknown)}; keys: {', '.join(SIZES['full'])}"
            )
        return {**SIZES["quick"], **size}
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    return dict(SIZES[size])


def neurons(
    size: str | dict = "quick",
    *,
    out: str | Path = "polarlab-neurons",
    seed: int = 0,
    device: str = "cpu",
    plots: bool = True,
    resume: bool = False,
    show_progress: bool = False,
) -> list[dict]:
    """Train the study's models with Muon, NorMuon, U-NorMuon, Aurora and AdamW, detect
    dead neurons, time Aurora against Muon, and judge the model-scale claims.

    Parameters
    ----------
    size : {"quick", "full"} or dict
        A preset of :data:`SIZES`, or a dict of its keys (missing keys from "quick").
    out : path
        Output directory: the CSV rows, ``neuron_claims.*``, ``neurons.md`` and
        ``figures/`` (with ``plots``).
    seed : int
        First seed; the runs use ``seed, seed + 1, ...`` and the learning-rate sweep
        ``seed + 1000``.
    device : str
        Torch device of the models (the histories are read at checkpoints only).
    plots, resume, show_progress
        Figures (matplotlib), keep finished runs found in ``out``, progress bars.

    Returns
    -------
    list of dict
        The claim records (:data:`polarlab.studies.neurons_claims.CLAIM_COLUMNS`).

    Examples
    --------
    >>> import tempfile
    >>> tiny = dict(steps=12, warmup=2, checkpoints=3, seeds=1, models=("mlp",),
    ...             expansions=(2,), main_expansion=2, timing_reps=2, eval_batches=1)
    >>> records = neurons(tiny, out=tempfile.mkdtemp(), plots=False)
    >>> [r["claim_id"] for r in records]
    ['M-1', 'M-2', 'M-3', 'M-5']
    """
    chosen = _size(size)
    out = Path(out)
    data = run_study(
        chosen, out, seed=seed, device=device, resume=resume, show_progress=show_progress
    )
    data["meta"]["model_size"] = (
        f"d {chosen['d']}, {chosen['layers']} layer(s), context {chosen['context']}, "
        f"batch {chosen['batch']}"
    )
    return _publish(data, out, plots)


def _publish(data: dict, out: Path, plots: bool) -> list[dict]:
    """Claims, figures and ``neurons.md`` from the rows (nothing is measured here)."""
    from polarlab.studies.neurons_claims import neuron_claims
    from polarlab.studies.neurons_report import neurons_markdown, write_claims

    meta = data["meta"]
    records = neuron_claims(
        data["runs"], data["timing"], device=meta["device"], size_text=meta["model_size"]
    )
    write_claims(records, out, **meta)
    names = []
    if plots:
        from polarlab.studies.neurons_figures import plot_neurons

        names = [p.name for p in plot_neurons(data, out / "figures")]
    (out / "neurons.md").write_text(neurons_markdown(data, records, figures=names))
    return records


def judge_neurons(out: str | Path, *, plots: bool = True) -> list[dict]:
    """Recompute the claims, figures and ``neurons.md`` of a finished study in ``out`` from
    its CSV files alone (the run's facts from ``neuron_claims.json``); returns the records.
    """
    out = Path(out)
    data = {k: read_csv(out / f"neuron_{k}.csv") for k in ("runs", "curves", "leverage", "timing")}
    data["meta"] = json.loads((out / "neuron_claims.json").read_text())["meta"]
    return _publish(data, out, plots)
