"""The report as a new user finds it: rendered HTML, honest timings, figures of the chosen
claims only, and a clear error when a rendering library is missing."""

import re
import sys

import pytest
import torch

from polarlab.cli import main
from polarlab.studies._io import MissingDependencyError
from polarlab.studies.report import report
from polarlab.studies.report_html import render_html

PRECISION = dict(
    schedules=["jordan"], dtypes=["float64"], families=["gaussian"], shapes=[(8, 4)], steps=2
)
SIZE = dict(seeds=3, tall=(32, 8), dion=(64, 16), sigmas=(0.0, 1.0), iters=3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    pytest.importorskip("matplotlib")
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("report")
    report(
        out, precision_options=PRECISION, aurora_options=dict(claims=["C-4a", "C-10"], size=SIZE)
    )
    return out


def test_html_is_rendered_markdown(folder):
    page = (folder / "report.html").read_text()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert "**" not in text and "`" not in text  # no raw Markdown left
    assert "<strong>holds</strong>" in text and "<table>" in text and "<code>" in text
    assert re.search(r"//\S", text) is None  # norms are never written //x//
    assert text.count("<img") == len(list((folder / "figures").glob("*.png")))


def test_claims_limit_the_figures(folder):
    names = {p.name for p in (folder / "figures").glob("*.png")}
    aurora = {n for n in names if not n.startswith("precision")}
    # C-4a has its own figure and is illustrated by the row-norm overview; C-10 has its own.
    assert aurora == {"claim_C-4a.png", "claim_C-10.png", "aurora_row_norms.png"}


def test_header_timings_add_up(folder):
    header = next(
        line for line in (folder / "report.md").read_text().splitlines() if "Generated" in line
    )
    total = float(re.search(r"in ([\d.]+) s =", header).group(1))
    terms = header.split(" s = ", 1)[1].split(" on ")[0].split(" + ")
    parts = [float(re.search(r"([\d.]+) s", term).group(1)) for term in terms]
    assert len(parts) >= 5  # precision, claims, precision figures, Aurora figures, ..., other
    # Each number is rounded to 0.1 s: the sum may differ from the total by 0.05 s each.
    assert abs(sum(parts) - total) <= 0.05 * (len(parts) + 1)


def test_missing_renderer_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "markdown_it", None)
    with pytest.raises(MissingDependencyError, match=r"markdown-it-py and Jinja2.*pip install"):
        render_html("# title\n", ".")


def test_escaped_pipes_render_as_absolute_values():
    page = render_html("| x |\n|---|\n| \\|x\\| and ‖x‖ |\n", ".")
    assert "<td>|x| and ‖x‖</td>" in page


def test_version_flag(capsys):
    import polarlab

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"polarlab {polarlab.__version__}"
