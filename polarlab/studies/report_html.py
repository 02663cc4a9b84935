"""``report.html``: the report's Markdown rendered by markdown-it-py, in a Jinja2 page.

The Markdown (CommonMark with GitHub-style tables, markdown-it-py's ``"commonmark"``
preset plus its ``table`` rule) is rendered as it is written: emphasis, code, tables and
escaped pipes (``\\|x\\|``) come out as a reader expects, and every figure linked as
``figures/NAME.png`` is embedded as a ``data:`` URI, so the page is one file to share.
Both libraries are dependencies of the ``studies`` extra
(``pip install 'polarlab[studies]'``); without them :func:`render_html` says so.
"""

from __future__ import annotations

import base64
from pathlib import Path

from polarlab.studies._io import MissingDependencyError

__all__ = ["render_html"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:sans-serif;max-width:80em;margin:auto;padding:0 1em;line-height:1.4}
table{border-collapse:collapse;font-size:small;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
th{background:#f4f4f4}img{max-width:100%}code{background:#f4f4f4;padding:0 2px}
</style></head>
<body>
{{ body }}
</body></html>
"""


def _libraries():
    try:
        import jinja2
        import markupsafe
        from markdown_it import MarkdownIt
    except ImportError as exc:
        raise MissingDependencyError(
            f"report.html needs markdown-it-py and Jinja2 ({exc.name} is not installed); "
            "install the studies extra: pip install 'polarlab[studies]'"
        ) from exc
    return MarkdownIt, jinja2, markupsafe.Markup


def render_html(markdown: str, figures: str | Path, title: str = "polarlab report") -> str:
    """The HTML page of ``markdown``, with images under ``figures/`` embedded.

    Parameters
    ----------
    markdown : str
        The report (CommonMark and GitHub-style tables).
    figures : path
        The directory that ``figures/NAME`` links point into.
    title : str
        The page title (escaped).

    Raises
    ------
    RuntimeError
        ``MissingDependencyError``: markdown-it-py or Jinja2 is not installed (the message
        says how to install them).

    Examples
    --------
    >>> page = render_html("| a | b |\\n|---|---|\\n| **holds** | \\\\|x\\\\| |\\n", ".")
    >>> "<td><strong>holds</strong></td>" in page and "<td>|x|</td>" in page
    True
    """
    MarkdownIt, jinja2, Markup = _libraries()
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    folder = Path(figures)
    for token in tokens:
        for child in token.children or ():
            src = child.attrGet("src") if child.type == "image" else None
            if src and src.startswith("figures/"):
                data = base64.b64encode((folder / src[len("figures/") :]).read_bytes()).decode()
                child.attrSet("src", f"data:image/png;base64,{data}")
    body = md.renderer.render(tokens, md.options, {})
    page = jinja2.Environment(autoescape=True).from_string(_PAGE)
    return page.render(title=title, body=Markup(body))
