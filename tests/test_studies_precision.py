"""The precision study: its rows are the library's metrics, beside independent predictions.

Expected values come from outside the study: direct calls of the metrics on a fresh
``polar(...)`` run, numpy's SVD, and the scalar picture of odd-polynomial iterations
(sigma_i(X_k) = f_k(sigma_i / (c ||A||_F + eps)), Amsel et al., arXiv 2505.16932),
evaluated here with numpy from the schedule's rows.
"""

import json

import numpy as np
import pytest
import torch

import polarlab
import polarlab.studies.precision_study as precision_module
from polarlab import metrics, schedules
from polarlab.polar import resolve
from polarlab.studies import PRECISION_COLUMNS, precision
from polarlab.studies._io import read_csv

U64 = 2.0**-53

TINY = dict(
    methods=["newton_schulz"],
    schedules=["polar_express", "jordan"],
    dtypes=["float64"],
    families=["gaussian", "logspaced"],
    shapes=[(16, 8)],
    steps=4,
    seed=3,
)


@pytest.fixture(scope="module")
def tiny_rows():
    torch.set_num_threads(1)
    return precision(**TINY)


def test_rows_have_documented_columns_one_per_case_and_iterate(tiny_rows):
    assert all(tuple(r) == PRECISION_COLUMNS for r in tiny_rows)
    # 2 schedules x 1 dtype x 2 families x 1 shape = 4 cases, 4 iterates each.
    assert len(tiny_rows) == 4 * 4
    assert sorted({r["iteration"] for r in tiny_rows}) == [1, 2, 3, 4]


def test_row_equals_direct_metric_calls(tiny_rows):
    row = next(
        r
        for r in tiny_rows
        if r["schedule"] == "jordan" and r["iteration"] == 3 and r["family"] == "logspaced"
    )
    A = polarlab.random_matrix("logspaced", 16, 8, seed=3)
    X = polarlab.polar(A, method="newton_schulz", schedule="jordan", steps=3, dtype="float64")
    # A fresh 3-step run repeats the iterate's float64 operations: equal up to a few u.
    for name, direct in [
        ("polar_error", metrics.polar_error(X, A)),
        ("spectral_error", metrics.spectral_error(X, A)),
        ("orthogonality_defect", metrics.orthogonality_defect(X)),
        ("dual_gap", metrics.dual_gap(A, X)),
        ("alignment", metrics.alignment(A, X)),
        ("row_norm_ratio", metrics.row_norm_ratio(X)),
        ("row_norm_deviation", metrics.row_norm_deviation(X)),
        ("input_condition_number", metrics.condition_number(A)),
    ]:
        assert row[name] == pytest.approx(direct, rel=1e-12, abs=1e-14), name
    s = np.linalg.svd(X.numpy(), compute_uv=False)
    assert row["sigma_min"] == pytest.approx(s.min(), rel=1e-12)
    assert row["sigma_max"] == pytest.approx(s.max(), rel=1e-12)


def _scalar_prediction(A: np.ndarray, rows, factor: float, eps: float) -> np.ndarray:
    """f_k(sigma / (c ||A||_F + eps)) written out with numpy, independent of Schedule."""
    x = np.linalg.svd(A, compute_uv=False) / (factor * np.linalg.norm(A) + eps)
    for a, b, c in rows:
        x = a * x + b * x**3 + c * x**5
    return x


@pytest.mark.parametrize("schedule", ["polar_express", "jordan"])
def test_scalar_columns_match_numpy_oracle_and_float64_measurement(tiny_rows, schedule):
    table = schedules.get(schedule)
    A = polarlab.random_matrix("gaussian", 16, 8, seed=3, like="numpy")
    for row in (r for r in tiny_rows if r["schedule"] == schedule and r["family"] == "gaussian"):
        k = row["iteration"]
        assert table.beyond == "repeat_last"
        rows = [table.coefficients[min(i, len(table) - 1)] for i in range(k)]
        image = _scalar_prediction(A, rows, table.input_factor, table.eps)
        assert row["scalar_spectral_error"] == pytest.approx(np.abs(1 - image).max(), abs=1e-13)
        assert row["scalar_sigma_max"] == pytest.approx(image.max(), abs=1e-13)
        # float64 run vs exact arithmetic: a few steps of O(u) rounding per singular
        # value, amplified by at most |p'| <= ~10 per step on [0, 1.2]: 1e3 u k is ample.
        assert row["spectral_error"] == pytest.approx(
            row["scalar_spectral_error"], abs=1e3 * U64 * k
        )
        assert row["input_cast_floor"] == 0.0  # float64 cast is the identity


def test_low_precision_rows_carry_the_cast_floor():
    rows = precision(
        schedules=["polar_express"],
        dtypes=["bfloat16"],
        families=["gaussian"],
        shapes=[(8, 4)],
        steps=2,
        seed=1,
    )
    A = polarlab.random_matrix("gaussian", 8, 4, seed=1)
    expected = metrics.input_cast_floor(A, "bfloat16")
    assert all(r["input_cast_floor"] == pytest.approx(expected, rel=1e-12) for r in rows)
    assert expected > 0
    assert {r["dtype"] for r in rows} == {"bfloat16"}


def test_fixed_length_schedule_stops_at_its_length():
    table = schedules.get("polar_express_modded")
    assert table.beyond == "error"
    rows = precision(
        schedules=[table.name],
        dtypes=["float64"],
        families=["gaussian"],
        shapes=[(8, 4)],
        steps=len(table) + 3,
    )
    assert max(r["iteration"] for r in rows) == len(table)


def test_methods_without_dtype_option_run_once_in_float64():
    cases = precision_module.precision_cases(
        methods=["qdwh"], dtypes=["float32", "bfloat16"], families=["gaussian"], shapes=[(8, 4)]
    )
    assert [(c["dtype"], c["schedule"]) for c in cases] == [("float64", None)]


def test_files_and_resume_after_interrupt(tmp_path, monkeypatch):
    real = precision_module.run_case
    calls = []

    def interrupted(case, **kw):
        calls.append(case["case_id"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(case, **kw)

    monkeypatch.setattr(precision_module, "run_case", interrupted)
    with pytest.raises(KeyboardInterrupt):
        precision(**TINY, out=tmp_path)
    on_disk = read_csv(tmp_path / "precision.csv")
    assert len(on_disk) == 4  # exactly the first (finished) case
    assert len({r["case_id"] for r in on_disk}) == 1
    interrupted_json = json.loads((tmp_path / "precision.json").read_text())
    assert interrupted_json["meta"]["complete"] is False and len(interrupted_json["rows"]) == 4

    calls.clear()
    monkeypatch.setattr(
        precision_module, "run_case", lambda case, **kw: (calls.append(1), real(case, **kw))[1]
    )
    rows = precision(**TINY, out=tmp_path, resume=True)
    assert len(calls) == 3  # the finished case was skipped
    assert len(rows) == 16
    assert read_csv(tmp_path / "precision.csv") == rows
    data = json.loads((tmp_path / "precision.json").read_text())
    assert data["meta"]["columns"] == list(PRECISION_COLUMNS) and data["meta"]["complete"]
    assert len(data["rows"]) == 16


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(methods=["nope"]), "unknown method 'nope'; choose one of"),
        (dict(methods=["svd"]), "has no iterates; choose one of"),
        (dict(schedules=["nope"]), "unknown schedule 'nope'; choose one of"),
        (dict(families=["nope"]), "unknown matrix family 'nope'; choose one of"),
        (dict(dtypes=["int8"]), "unsupported dtype 'int8'; choose one of"),
        (dict(shapes=[(0, 4)]), "impossible shape 0x4"),
        (dict(steps=0), "steps must be a positive integer"),
        # An empty list or a repeated value (it would run and be written twice), by the
        # argument's own name.
        (dict(methods=[]), "methods is empty"),
        (dict(schedules=[]), "schedules is empty"),
        (dict(dtypes=()), "dtypes is empty"),
        (dict(families=[]), "families is empty"),
        (dict(shapes=[]), "shapes is empty"),
        (dict(dtypes=["float64", "float64"]), "dtypes lists 'float64' twice"),
        (dict(schedules=["jordan", "jordan"]), "schedules lists 'jordan' twice"),
        (dict(shapes=[(16, 8), [16, 8]]), r"shapes lists \(16, 8\) twice"),
    ],
)
def test_bad_input_is_rejected_before_any_work(bad, message):
    with pytest.raises(ValueError, match=message):
        precision(**{**TINY, **bad})


def test_plots_are_written(tiny_rows, tmp_path):
    pytest.importorskip("matplotlib")
    from polarlab.studies.precision_figures import plot_precision

    paths = plot_precision(tiny_rows, tmp_path)
    assert [p.name for p in paths] == ["precision_error.png", "precision_sigma.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


@pytest.mark.parametrize("normalization", ["schatten8", "one_inf"])
def test_method_options_reach_the_method_and_the_scalar_oracle(normalization):
    rows = precision(**{**TINY, "method_options": {"normalization": normalization}})
    assert {r["options"] for r in rows} == {f"normalization={normalization}"}
    assert all(
        r["case_id"].startswith(f"newton_schulz[normalization={normalization}]/") for r in rows
    )
    row = next(r for r in rows if r["schedule"] == "jordan" and r["iteration"] == 3)
    A = polarlab.random_matrix(row["family"], 16, 8, seed=3)
    X = polarlab.polar(
        A, "newton_schulz", schedule="jordan", steps=3, dtype="float64", normalization=normalization
    )
    assert row["polar_error"] == pytest.approx(metrics.polar_error(X, A), rel=1e-12)
    # The scalar prediction divides by the same norm bound as the method.
    for r in rows:
        assert r["spectral_error"] == pytest.approx(
            r["scalar_spectral_error"], abs=1e3 * U64 * r["iteration"]
        )


def test_solvers_are_taken_as_given(tiny_rows):
    solver = resolve("newton_schulz")
    rows = precision(**{**TINY, "methods": [solver]})
    assert rows == tiny_rows
    assert {r["options"] for r in rows} == {None}
    cases = precision_module.precision_cases(
        methods=[resolve("gram_newton_schulz", restarts=(2, 4))],
        schedules_=["jordan"],
        dtypes=["float32"],
        families=["gaussian"],
        shapes=[(8, 4)],
    )
    assert cases[0]["options"] == "restarts=2,4"
    assert cases[0]["solver"].schedule.name == "jordan"


def test_library_sweeps_are_the_defaults():
    quick = precision_module.SWEEPS["quick"]
    cases = precision_module.precision_cases()
    assert {c["steps"] for c in cases} == {quick["steps"]}
    assert len(cases) == len(quick["schedules"]) * len(quick["dtypes"]) * len(quick["families"])


def test_plot_precision_moved_to_the_figures_module():
    from polarlab.studies import precision_figures

    with pytest.warns(DeprecationWarning, match="use polarlab.studies.precision_figures"):
        moved = precision_module.plot_precision
    assert moved is precision_figures.plot_precision
