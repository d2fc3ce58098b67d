"""User-given text (run names, tags, notes, errors quoting them) made safe to print.

A name can hold anything a shell lets through: terminal escape sequences that
clear the screen or retitle the window, carriage returns that hide what came
before, bidirectional overrides that reverse what follows, and Rich markup
(``[bold]``, ``[/bad]``) that restyles or breaks a table. ``printable`` writes
control characters as visible escapes (``\\x1b``); ``markup`` also makes the
text inert as Rich markup, for strings that are printed with markup on.
Torch-free and UI-free: the CLI and the TUI both use it.
"""

from __future__ import annotations

import re

# bidirectional embeddings, overrides and isolates, and the invisible marks that steer them
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_MARKUP = re.compile(r"(\\*)(\[[a-zA-Z#/@][^[]*?])")  # rich.markup.escape's pattern


def _escape_char(ch: str) -> str:
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` with C0/C1 control characters, DEL and bidi controls written as
    ``\\xNN`` / ``\\uNNNN``; ``newlines`` keeps line breaks and tabs (a note's lines)."""
    s = "" if text is None else str(text)
    out = []
    for ch in s:
        o = ord(ch)
        if (o < 0x20 or 0x7F <= o < 0xA0 or o in _BIDI) and not (newlines and ch in "\n\t"):
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def markup(text: object, *, newlines: bool = False) -> str:
    """``printable(text)`` that Rich prints as it is, never as markup (``[bold]`` stays literal)."""
    return _MARKUP.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", printable(text, newlines=newlines))


__all__ = ["markup", "printable"]
