"""Sphinx configuration for the polarlab documentation.

Three things are generated at build time and never committed:

- the API reference pages (``api/generated/``), one per public module found by walking the
  installed package, so a module that lands is documented without editing here;
- the notebook gallery (``gallery/generated/*.ipynb``), converted from the jupytext
  percent-format sources in ``notebooks/`` and executed by myst-nb;
- the coefficient-schedule table (``_generated/schedules_table.md``), from the schedule
  registry, so the table in the theory section cannot drift from the code.

Notebooks read the size parameter ``POLARLAB_NOTEBOOK_SIZE`` (``small`` by default here, the
size CI runs at; ``full`` for the sizes quoted in the text).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import types
from pathlib import Path

import jupytext

import polarlab

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "polarlab"
author = "polarlab contributors"
copyright = "2026, polarlab contributors"
release = version = polarlab.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpy-style docstrings
    "sphinx.ext.mathjax",
    # Maths renders offline: MathJax 3 ships inside this package and is copied into
    # _static/mathjax, and mathjax_path points there instead of a CDN (no network at
    # build or reading time).
    "sphinx-mathjax-offline",
]
if importlib.util.find_spec("sphinx-mathjax-offline") is None:
    raise ImportError(
        "the docs render maths offline with the sphinx-mathjax-offline package (it bundles "
        "MathJax); install the docs extra: pip install 'polarlab[docs]'"
    )

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
# results/ holds committed study outputs (CSV, JSON, the tables as Markdown): data, not pages.
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "results"]

html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {
    "description": "polar factors, projections, optimizers",
    "fixed_sidebar": True,
}

# --- MyST ---------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- notebooks ------------------------------------------------------------------------------
os.environ.setdefault("POLARLAB_NOTEBOOK_SIZE", "small")
nb_execution_mode = "force"  # every build executes every notebook
nb_execution_timeout = 120  # each notebook must finish in under 2 minutes at the small size
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# --- API reference --------------------------------------------------------------------------
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# Broken cross-references fail the build (-n -W). Names from other projects cannot be
# resolved without network access (no intersphinx), and numpy-style type prose ("shape (m, n)",
# "optional") is not a reference; both are ignored explicitly here, nothing else is.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|torch|scipy|mpmath|matplotlib|collections|typing|types|argparse)(\..*)?",
    ),
    (
        r"py:.*",
        r"(Tensor|ndarray|dtype|Module|Parameter|Optimizer|Iterator|Iterable|Callable|DeviceMesh|DTensor)",
    ),
    (r"py:.*", r"(Mapping|Sequence|MappingProxyType|Path|PathLike|os\..*|pathlib\..*)"),
    # numpy-style type prose: lower-case words, numbers, shapes, literals, "x or y"
    (r"py:class", r"[a-z0-9][a-z0-9_\- ]*"),
    (r"py:class", r"(\.\.\.|\(.*|.*\)|\{.*|.*\}|\".*\"|'.*'|.*[ =<>/].*)"),
    (r"py:(data|obj)", r"typing\..*"),
]
# References in docstrings that do not resolve yet (names not exported in their module's
# __all__, or private); listed one by one so a new broken reference still fails the build.
nitpick_ignore = [
    ("py:func", "normalize"),
    ("py:data", "PRECISION_COLUMNS"),
    ("py:data", "AURORA_COLUMNS"),
    ("py:data", "SIZES"),
    ("py:data", "CLAIMS"),
    ("py:func", "precision_cases"),
    ("py:func", "aurora_direction"),
    ("py:attr", "algorithm"),
]
# numpy-style type prose such as "name" can match several attributes of that name; such an
# ambiguous link still resolves (to one of them), so it is not a broken reference.
suppress_warnings = ["ref.python"]


def _resolve_reexport(app, env, node, contnode):
    """Resolve ``polarlab.name`` to the object's documented home, e.g. ``polarlab.metrics.x``.

    The package re-exports each module's public names; a docstring may refer to either
    spelling, and both denote the same object.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("polarlab."):
        return None
    obj = polarlab
    for part in target.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or f"{module}.{qualname}" == target:
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], f"{module}.{qualname}", node, contnode
    )


# --- build-time generation ------------------------------------------------------------------
def _api_pages() -> None:
    """One page per public module of the installed package, documenting its ``__all__``.

    Written here rather than by autosummary because ``polarlab`` re-exports the function
    ``polar`` under the name of its subpackage ``polarlab.polar``, which autosummary would
    resolve to the function.
    """
    out = DOCS / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    submodules = sorted(
        info.name
        for info in pkgutil.walk_packages(polarlab.__path__, prefix="polarlab.")
        if not any(part.startswith("_") for part in info.name.split("."))
    )
    names = ["polarlab", *submodules]
    wanted = {out / f"{name}.md" for name in names}
    for stale in out.glob("*.md"):
        if stale not in wanted:
            stale.unlink()
    for name in names:
        module = importlib.import_module(name)
        if name == "polarlab" or not hasattr(module, "__all__"):
            options = ":no-members:"
        else:
            options = ":members:\n   :show-inheritance:"
            # A package may export a function under the name of one of its submodules
            # (polarlab.studies.report); that function is documented on the submodule's page.
            clash = sorted(
                member
                for member in module.__all__
                if f"{name}.{member}" in names and not _is_module(getattr(module, member, None))
            )
            if clash:
                options += "\n   :exclude-members: " + ", ".join(clash)
        text = f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n   {options}\n```\n"
        target = out / f"{name}.md"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def _is_module(obj) -> bool:
    return isinstance(obj, types.ModuleType)


def _notebooks_to_ipynb() -> None:
    """Convert ``notebooks/*.py`` (jupytext percent format) to ``gallery/generated/*.ipynb``."""
    out = DOCS / "gallery" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("*.py"))
    for stale in out.glob("*.ipynb"):
        if not (ROOT / "notebooks" / (stale.stem + ".py")).exists():
            stale.unlink()
    for src in sources:
        nb = jupytext.read(src, fmt="py:percent")
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        target = out / (src.stem + ".ipynb")
        text = jupytext.writes(nb, fmt="ipynb")
        if not target.exists() or target.read_text() != text:  # keep mtimes for incremental builds
            target.write_text(text)


def _schedules_table() -> None:
    """Write the schedule zoo as a Markdown table from the registry."""
    from polarlab import schedules

    lines = [
        "| name | steps (rule) | rows | input | worst case on [1e-3, 1] | dtype | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in schedules.names():
        s = schedules.get(name)
        steps = s.default_steps
        a, b, c = s.coefficients[0]
        first = f"({a:.4g}, {b:.4g}, {c:.4g})"
        rows = first if len(s) == 1 else f"{len(s)} rows, first {first}"
        try:
            err = f"{s.worst_case_error(1e-3, steps, points=4001):.2g} after {steps}"
        except ValueError as exc:  # a table that cannot run its default steps is a bug: say so
            err = f"n/a ({exc})"
        source = s.source.replace("|", "/") or "(none given)"
        lines.append(
            f"| `{name}` | {steps} ({s.beyond}) | {rows} "
            f"| G/({s.input_factor:g}·‖G‖_F + {s.eps:g}) | {err} | {s.dtype or '-'} | {source} |"
        )
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    text = "\n".join(lines) + "\n"
    target = out / "schedules_table.md"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def setup(app):
    app.connect("missing-reference", _resolve_reexport)
    _api_pages()
    _notebooks_to_ipynb()
    _schedules_table()
