"""Escaping, and the page shell: one self-contained HTML file under a strict CSP.

Every piece of data reaches the page through :func:`esc` (text and attribute values) or
:func:`json_script` (a JSON data block read by the table script with ``JSON.parse`` and put
in the page with ``textContent`` only). Nothing from a results file is ever markup.

The Content Security Policy forbids every fetch (``default-src 'none'``): no image, font,
stylesheet, script, frame or connection can load, whatever a row contains. The one inline
script and the one inline stylesheet run because the policy names their SHA-256 hashes;
there are no ``style=`` or event-handler attributes (the policy would block them).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

from evalcli.textsafe import replace_surrogates

# Characters that must not appear literally inside a <script> data block: "<" could open
# "</script>" or "<!--", ">" and "&" are escaped for good measure, and U+2028/U+2029 are
# line terminators to older JavaScript parsers.
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def esc(value: Any) -> str:
    """HTML text or attribute value (quotes escaped too); lone surrogates become U+FFFD."""
    text = value if isinstance(value, str) else str(value)
    return html.escape(replace_surrogates(text), quote=True)


def breakable(name: str) -> str:
    """An escaped identifier that may wrap after its underscores and dots (``<wbr>``)."""
    return esc(name).replace("_", "_<wbr>").replace(".", ".<wbr>")


def json_script(element_id: str, data: Any) -> str:
    """A ``<script type="application/json">`` block holding ``data``, safe to embed.

    Non-finite floats must not be in ``data`` (strict JSON).
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = replace_surrogates(text)
    # One str.replace per character (a fast scan; the escapes hold none of these characters)
    # rather than str.translate, which maps the megabytes of a big table one by one.
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def csp_hash(source: str) -> str:
    """The CSP source expression allowing an inline script or style with this exact text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script: str, style: str) -> str:
    """The page's policy: nothing loads; only this script and this stylesheet run."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {csp_hash(script)}",
            f"style-src {csp_hash(style)}",
            "img-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def page(title: str, body: str, *, script: str, style: str, lang: str = "en") -> str:
    """The whole document: CSP meta tag first, then the hashed style, body and script."""
    policy = content_security_policy(script, style)
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{script}</script>\n</body>\n</html>\n"
    )


def fmt_number(value: float | None, digits: int = 3) -> str:
    """A metric value for people: ``0.543``, ``3.5``, ``12``, ``-`` for none."""
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def fmt_rate(value: float | None) -> str:
    """A share as a percentage: ``85%``, ``12.5%``."""
    if value is None:
        return "-"
    return f"{fmt_number(value * 100, 1)}%"


def fmt_count(n: int) -> str:
    """``12,345``."""
    return f"{n:,}"
