"""The README's promises: its commands, its figure and its example stay true."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block_after(tag: str) -> str:
    match = re.search(rf"<!-- {tag} -->\s*```bash\n(.*?)```", README, re.S)
    assert match, f"README has no command block after <!-- {tag} -->"
    return match.group(1).strip()


def test_commands_install_and_run_the_documented_jobs():
    assert _block_after("main-command").endswith("&& polarlab report")
    assert _block_after("test-command").endswith("&& python -m pytest")


def test_ci_extracts_the_readme_test_command():
    # .ci/run reads the README block itself, so the two cannot drift apart.
    script = (ROOT / ".ci" / "run").read_text()
    function = re.search(r"^readme_block\(\) \{.*?^\}", script, re.S | re.M).group(0)
    out = subprocess.run(
        ["bash", "-c", function + "\nreadme_block test-command"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == _block_after("test-command")


def test_readme_figure_exists_and_is_the_report_figure():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", README)
    assert images, "README shows no figure"
    for image in images:
        assert (ROOT / image).is_file(), image
        assert f"polarlab report --readme-figure {image}" in README


def test_python_example_runs_and_prints_what_its_comments_say(capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    orth, err, rho = (float(line) for line in capsys.readouterr().out.split())
    assert orth < 1e-13  # float64 SVD: orthogonality to a few ulps times n
    assert err < 1e-4  # float32 Polar Express after 8 steps: near the float32 floor
    assert 1.0 <= rho < 1.15  # Aurora K=2 on a Gaussian 512x128 (dion PR #80 criterion)
