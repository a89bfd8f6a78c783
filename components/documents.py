"""Printable documents (receipts, statements) as HTML text, from the very trees the pages show.

A page shows a ``dash.html`` tree; its PDF is rendered on the server from ``html_text`` of the
same tree, inside ``document_html`` (a complete page: language, title, no script). Only
``dash.html`` components have an HTML form here: a ``dbc`` or ``dcc`` component in a document
is a mistake (it would be a React widget on the page and nothing in the PDF), so it raises.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from dash.development.base_component import Component

HTML_NAMESPACE = "dash_html_components"
# Elements without a closing tag.
VOID_ELEMENTS = frozenset({"br", "hr", "img", "col", "wbr"})
# Dash's own props: they mean something to the renderer, nothing to HTML.
DASH_ONLY = frozenset(
    {"n_clicks", "n_clicks_timestamp", "disable_n_clicks", "loading_state", "key"}
)
ATTRIBUTE_NAMES = {"className": "class", "htmlFor": "for"}
_UPPER = re.compile(r"[A-Z]")


def _props(node: Component) -> dict[str, Any]:
    """The props set on ``node``, wildcard ones (``aria-*``, ``data-*``) included."""
    names = [n for n in node._prop_names if not n.endswith("*")]
    wildcards = tuple(node._valid_wildcard_attributes)
    names += [n for n in vars(node) if n.startswith(wildcards)]
    return {n: getattr(node, n) for n in names if getattr(node, n, None) is not None}


def _style(style: dict[str, Any]) -> str:
    return "; ".join(
        f"{_UPPER.sub(lambda m: '-' + m[0].lower(), k)}: {v}" for k, v in style.items()
    )


def _attributes(props: dict[str, Any]) -> str:
    out = []
    for name, value in props.items():
        if name == "children" or name in DASH_ONLY:
            continue
        attribute = ATTRIBUTE_NAMES.get(name, name.lower())
        if name == "style" and isinstance(value, dict):
            value = _style(value)
        if value is True:
            out.append(f" {attribute}")
        elif value is not False:
            out.append(f' {attribute}="{escape(str(value), quote=True)}"')
    return "".join(out)


def html_text(node: Any) -> str:
    """``node`` (a ``dash.html`` tree, text, a number or a list of them) as HTML, every text
    and attribute value escaped."""
    if node is None or isinstance(node, bool):
        return ""
    if isinstance(node, str):
        return escape(node, quote=False)
    if isinstance(node, int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return "".join(html_text(child) for child in node)
    if not isinstance(node, Component) or node._namespace != HTML_NAMESPACE:
        raise TypeError(f"{type(node).__name__} has no HTML form: documents use dash.html only")
    tag = node._type.lower()
    props = _props(node)
    opening = f"<{tag}{_attributes(props)}>"
    if tag in VOID_ELEMENTS:
        return opening
    return f"{opening}{html_text(props.get('children'))}</{tag}>"


def document_html(title: str, body: Component) -> str:
    """A complete HTML page around ``body``: what a PDF is rendered from."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title, quote=False)}</title>\n</head>\n"
        f'<body class="document">\n{html_text(body)}\n</body>\n</html>\n'
    )
