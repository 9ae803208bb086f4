"""Text for a terminal that shows data as it is and runs none of it.

Every data value the CLI prints (ids, handles, texts, paths, error messages) goes through
:func:`show` or :func:`line`; later faces that print to a terminal use them too.

- Plain :class:`rich.text.Text`, never Rich markup: escaped markup still depends on what
  follows it (a trailing ``\\`` escapes the next tag, a lone ``[`` pairs with a later ``]``).
- Characters that act on a terminal instead of showing (C0 and C1 controls, ESC, DEL, the
  bidirectional controls, line and paragraph separators, lone surrogates) become ``\\x1b``,
  ``\\u202e``, ``\\n``, ... (:func:`visible`), so an id can neither recolour the screen, hide
  a link (OSC 8), reorder text nor crash the output encoding.
- Long values are cut (:data:`SHOW_LIMIT` characters, with the count of the rest): a 1 MB
  handle is unreadable in a terminal; exports keep every character.
"""
from __future__ import annotations

import re

from rich.text import Text

__all__ = ["SHOW_LIMIT", "visible", "show", "line"]

#: Characters of a data value shown in the terminal; the rest is counted, not printed.
SHOW_LIMIT = 500
#: Characters of each part of a :func:`line` (messages quote data, and say what to do).
_LINE_LIMIT = 4000
#: What a terminal would act on instead of showing: C0 and C1 controls (ESC, CR, BEL, ...),
#: DEL, the bidirectional marks, embeddings, overrides and isolates, the line and paragraph
#: separators, and lone surrogates (not encodable: printing one raises).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                        "\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    if c in _SHORT:
        return _SHORT[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def visible(value: object, limit: int | None = SHOW_LIMIT) -> str:
    r"""``value`` as text a terminal shows as it is: controls as ``\x1b``-style escapes.

    Parameters
    ----------
    value : object
        Anything; ``None`` is the empty string, other non-strings their ``str``.
    limit : int or None, default :data:`SHOW_LIMIT`
        Longer values are cut there, followed by ``… (+N characters)``.

    >>> visible("\x1b[31mred\u202e")
    '\\x1b[31mred\\u202e'
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    more = ""
    if limit is not None and len(text) > limit:
        text, more = text[:limit], f"… (+{len(text) - limit:,} characters)"
    return _INVISIBLE.sub(_escape_char, text) + more


def show(value: object, limit: int | None = SHOW_LIMIT, style: str = "") -> Text:
    """``value`` as a Rich :class:`~rich.text.Text` never read as markup, controls visible
    (:func:`visible`): what every data value shown in the terminal goes through."""
    return Text(visible(value, limit), style=style)


def line(*parts: object) -> Text:
    """One line of plain text: each part is a value (made visible, never markup, cut after
    4,000 characters) or a ``(value, style)`` pair for our own emphasis.

    >>> line(("error:", "red"), " ", "[/nope]").plain
    'error: [/nope]'
    """
    text = Text()
    for p in parts:
        if isinstance(p, Text):
            text.append_text(p)
        elif isinstance(p, tuple):
            text.append(visible(p[0], _LINE_LIMIT), style=p[1])
        else:
            text.append(visible(p, _LINE_LIMIT))
    return text
