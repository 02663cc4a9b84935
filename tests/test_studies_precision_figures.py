"""The precision figures: one norm per axis, the prediction and the bound drawn, dtypes apart.

The plotted cast floor is checked against ``||polar(fl(A)) - polar(A)||_2`` computed here
from numpy's float64 SVD of the rounded matrix (the spectral norm of the error axis), not
against the study's own column.
"""

import numpy as np
import pytest
import torch

import polarlab
from polarlab.studies import precision
from polarlab.studies.precision_figures import DTYPE_STYLES, precision_figures

pytest.importorskip("matplotlib")

SHAPE = (32, 16)
SEED = 1


@pytest.fixture(scope="module")
def figure_rows():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = precision(
        schedules=["polar_express", "jordan"],
        dtypes=["float32", "bfloat16"],
        families=["gaussian", "logspaced"],
        shapes=[SHAPE],
        steps=6,
        seed=SEED,
    )
    torch.set_num_threads(before)
    return rows


@pytest.fixture(scope="module")
def error_axes(figure_rows):
    import matplotlib.pyplot as plt

    figures = precision_figures(figure_rows)
    yield {ax.get_title().split(" ")[0]: ax for ax in figures["error"].axes}
    for fig in figures.values():
        plt.close(fig)


def _polar(A):
    U, _, Vh = np.linalg.svd(A, full_matrices=False)
    return U @ Vh


def _spectral_floor(A, dtype):
    fl = torch.from_numpy(A).to(getattr(torch, dtype)).double().numpy()  # rounded once
    return np.linalg.norm(_polar(fl) - _polar(A), 2)


@pytest.mark.parametrize("family", ["gaussian", "logspaced"])
def test_plotted_floor_is_the_spectral_norm_floor(error_axes, figure_rows, family):
    A = polarlab.random_matrix(family, *SHAPE, seed=SEED, like="numpy")
    floors = {
        line.get_gid().split(":")[1]: line.get_ydata()[0]
        for line in error_axes[family].get_lines()
        if (line.get_gid() or "").startswith("floor:")
    }
    assert sorted(floors) == ["bfloat16", "float32"]
    for dtype, plotted in floors.items():
        # Both are float64 SVDs of the same two matrices; the floor is ~u(dtype) kappa, their
        # float64 errors ~u64 kappa, so they agree to ~u64/u(dtype) relative (< 1e-8).
        assert plotted == pytest.approx(_spectral_floor(A, dtype), rel=1e-6)
        # The Frobenius-per-sqrt(r) floor is another number (1.8-3.9x apart on these
        # families): plotting it would fail the line above.
        frobenius = next(r for r in figure_rows if r["family"] == family and r["dtype"] == dtype)
        assert abs(frobenius["input_cast_floor"] / plotted - 1) > 0.2


def test_prediction_and_worst_case_bound_are_drawn(error_axes, figure_rows):
    ax = error_axes["gaussian"]
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    for schedule in ("polar_express", "jordan"):
        rows = sorted(
            (
                r
                for r in figure_rows
                if r["family"] == "gaussian"
                and r["schedule"] == schedule
                and r["dtype"] == "float32"
            ),
            key=lambda r: r["iteration"],
        )
        prediction = lines[f"prediction:newton_schulz:{schedule}"].get_ydata()
        bound = lines[f"bound:newton_schulz:{schedule}"].get_ydata()
        expected = [max(r["scalar_spectral_error"], 1e-17) for r in rows]
        np.testing.assert_allclose(prediction, expected, rtol=0)
        # the worst case over [sigma_r / ||A||_F, 1] covers this matrix's own spectrum
        assert all(b >= p * (1 - 1e-9) for b, p in zip(bound, prediction))
    assert ax.get_ylabel() == "spectral error ‖X_k − Q‖₂"  # one norm on the axis
    kinds = {
        text.get_text().split(" (")[0].split(" over")[0]: line.get_linestyle()
        for legend in (a.get_legend() for a in error_axes.values())
        for line, text in zip(legend.get_lines(), legend.get_texts())
    }
    assert kinds["prediction"] == ":"  # the dotted line is the prediction
    assert kinds["worst-case bound"] == "-."
    assert kinds["input-cast floor ‖polar(fl(A)) − Q‖₂"] == "--"


def test_every_dtype_is_distinguishable(error_axes):
    for ax in error_axes.values():
        measured = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        styles = [(line.get_color(), line.get_linestyle(), line.get_marker()) for line in measured]
        assert len(measured) == 4 and len(set(styles)) == len(styles)  # 2 schedules x 2 dtypes
        for line in measured:
            dtype = line.get_label().rsplit(" ", 1)[1]
            assert line.get_marker() == DTYPE_STYLES[dtype]["marker"]
    markers = [s["marker"] for s in DTYPE_STYLES.values()]
    assert len(set(markers)) == len(markers)
    floor_texts = {t.get_text() for t in error_axes["gaussian"].texts}
    assert floor_texts == {"float32 floor", "bfloat16 floor"}
