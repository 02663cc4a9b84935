"""The catalogue is complete, and every expected failure is documented.

Every public callable of polarlab (``polarlab.__all__`` and the ``__all__`` of each public
subpackage or module, found by walking the package, so a new module is included) must be
an entry of ``contracts.entries``, a settings-only routine with the tests that cover it,
or an optimizer of ``contracts.optimizers``. A new public function that is in none of
them fails here. Every reason an xfail may give appears verbatim in
``docs/reliability.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import polarlab

from .entries import ENTRIES, SETTINGS_ONLY
from .optimizers import COVERED_CLASSES, OPTIMIZERS
from .reasons import KNOWN, REASONS

RELIABILITY = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def public_modules() -> list[str]:
    """``polarlab`` and every public module or subpackage with an ``__all__``."""
    names = ["polarlab"]
    for info in pkgutil.walk_packages(polarlab.__path__, "polarlab."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        # a module's __all__ counts when its package re-exports it or it is a package
        parent = info.name.rsplit(".", 1)[0]
        if hasattr(module, "__all__") and (info.ispkg or parent == "polarlab"):
            names.append(info.name)
    return [*names, "polarlab.optim.functional"]


def public_callables() -> dict[str, object]:
    out = {}
    for name in public_modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if callable(obj) and not isinstance(obj, type(polarlab)):
                out.setdefault(f"{name}.{attr}", obj)
    return out


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):  # listed ahead of a change that adds it
        return None


def covered() -> set[int]:
    names = [e.public for e in ENTRIES] + list(SETTINGS_ONLY)
    objects = {id(_resolve(n)) for n in names}
    objects |= {id(e.cls) for e in OPTIMIZERS}
    objects |= {id(getattr(polarlab.optim, n)) for n in COVERED_CLASSES}
    return objects


def test_every_public_callable_is_in_the_catalogue():
    have = covered()
    missing = sorted(n for n, obj in public_callables().items() if id(obj) not in have)
    assert not missing, (
        "public routines missing from tests/contracts (add an Entry, a SETTINGS_ONLY line "
        f"or an optimizer entry): {', '.join(missing)}"
    )


def test_the_catalogue_names_only_public_routines():
    public = {id(obj) for obj in public_callables().values()}
    stale = sorted(e.public for e in ENTRIES if id(_resolve(e.public)) not in public)
    assert not stale, f"entries for routines that are no longer public: {stale}"


def test_every_optimizer_class_of_polarlab_optim_has_an_entry():
    classes = {e.cls for e in OPTIMIZERS}
    for name in polarlab.optim.__all__:
        obj = getattr(polarlab.optim, name)
        if isinstance(obj, type) and name not in COVERED_CLASSES:
            assert obj in classes, f"polarlab.optim.{name} has no optimizer entry"


def test_every_xfail_reason_is_on_the_reliability_page():
    page = RELIABILITY.read_text(encoding="utf-8")
    used = {reason for _, reason in KNOWN}
    assert used <= set(REASONS)
    missing = [r for r in REASONS if r not in page]
    assert not missing, f"docs/reliability.md lacks these xfail reasons verbatim: {missing}"


def test_every_test_the_reliability_page_names_exists():
    """The page names tests that exist, anywhere under tests/ (no stale guarantee)."""
    import re

    page = RELIABILITY.read_text(encoding="utf-8")
    named = set(re.findall(r"\b(test_\w+)\b(?!\.py)", page))
    here = Path(__file__).parents[1]
    defined = set()
    for module in here.rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", module.read_text(), re.M))
    assert named and named <= defined, sorted(named - defined)


def test_no_xfail_anywhere_in_the_tests_without_a_documented_reason():
    """Outside this suite too: every ``xfail(...)`` gives a literal ``reason=`` on the page."""
    import ast

    page = RELIABILITY.read_text(encoding="utf-8")
    tests = Path(__file__).resolve().parents[1]
    bad = []
    for path in tests.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = getattr(node, "func", None)
            if not (isinstance(node, ast.Call) and getattr(func, "attr", None) == "xfail"):
                continue
            if path.parent == Path(__file__).parent:
                continue  # this suite: one of REASONS (checked above)
            reason = next((k.value for k in node.keywords if k.arg == "reason"), None)
            if not (isinstance(reason, ast.Constant) and reason.value in page):
                bad.append(f"{path.relative_to(tests)}:{node.lineno}")
    assert not bad, f"xfail without a reason on docs/reliability.md: {bad}"
