"""Why a contract case is expected to fail today: the one list of reasons and the cases.

Every reason string is one of :data:`REASONS` and appears verbatim in the "Known
limitations" section of ``docs/reliability.md`` (``test_catalogue.py`` checks both). A
case listed in :data:`KNOWN` is marked ``xfail(strict=True)``: when a fix lands it
XPASSes, the run fails, and the line is removed here (and the reason from the page once
no case uses it).

Case ids are ``<test>::<entry>::<case>``. The cases are listed, one per line with the key
of their reason, in ``known_failures.txt`` beside this module (data, not code: a fix
removes lines); ids are exact (no patterns, so a fix cannot hide behind one). Setting
``POLARLAB_CONTRACTS_NO_XFAIL=1`` drops every mark (to count what fails).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SCALE = "scale: norms and eps clamps are not scale-relative over the dtype range (issue 11 cause 1)"
AUTOGRAD = "autograd: requires_grad input is silently detached (issue 11 cause 2)"
META = "meta: meta tensors crash instead of propagating shapes or raising (issue 11 cause 2)"
SHAPES = "shapes: a degenerate shape or mixed dtypes give an internal error (issue 11 cause 3)"
VALUES = "values: a value that passes validation gives a wrong result (issue 11 cause 4)"
OPTIM = "optimizer: a setting or state is not checked (issue 11 cause 5)"
MESSAGES = "messages: an error names an internal variable, not the argument (issue 11 cause 6)"
NEW = "new: a contract failure outside issue 11's causes (listed in the closing note)"

#: The reason strings in use (the Reliability page lists each verbatim): none today. The
#: ones above named causes whose cases all pass since the issue 11 fixes (509 cases failed
#: on the commit before them: scale 267, autograd 23, meta 21, shapes 12, values 6,
#: optimizer 102, messages 26, new 52); put one back here, and on the page, to use it.
REASONS: tuple[str, ...] = ()
KEYS = {r.split(":", 1)[0]: r for r in REASONS}


def _read_known() -> list[tuple[str, str]]:
    """``(case id, reason)`` from ``known_failures.txt`` (``key case-id`` lines)."""
    out = []
    path = Path(__file__).with_name("known_failures.txt")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            key, case = line.split(None, 1)
            if key not in KEYS:
                raise ValueError(f"{path.name}:{number}: unknown reason key {key!r}")
            out.append((case, KEYS[key]))
    return out


#: (case id, reason): the cases that fail today, each with its cause.
KNOWN: list[tuple[str, str]] = _read_known()
_BY_ID = dict(KNOWN)


def marks(case_id: str) -> list:
    """The strict xfail mark of a case id that is a known failure."""
    if os.environ.get("POLARLAB_CONTRACTS_NO_XFAIL") or case_id not in _BY_ID:
        return []
    return [pytest.mark.xfail(strict=True, reason=_BY_ID[case_id])]


def param(test: str, entry: str, case: str, *values):
    """A ``pytest.param`` with id ``entry::case`` and the mark of ``test::entry::case``."""
    return pytest.param(*values, id=f"{entry}::{case}", marks=marks(f"{test}::{entry}::{case}"))
