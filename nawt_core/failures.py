"""Exceptions that are not nawt's own, as one line a person can act on.

A run or evaluation that fails records this line as its error, and the CLI
prints it as its one ``error:`` line: "disk full while writing last.pt (…)",
"out of memory …", never a C++ source location or a traceback.
"""

from __future__ import annotations

import errno
import re

from .errors import NawtError

_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_ENFORCE = re.compile(r"\[enforce fail at [^\]]*\]\s*\.?\s*")


def first_line(text: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return _ENFORCE.sub("", line)[:limit]


def short(e: BaseException) -> str:
    """An exception's first line (a database error's driver message, not SQLAlchemy's wrapping)."""
    return first_line(str(getattr(e, "orig", None) or e)) or type(e).__name__


def is_out_of_memory(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    text = str(e).lower()
    return type(e).__name__ == "OutOfMemoryError" or "out of memory" in text or "can't allocate memory" in text


def describe(e: BaseException, doing: str | None = None) -> str:
    """One line for ``e``; ``doing`` says what was happening ("writing last.pt")."""
    while_ = f" while {doing}" if doing else ""
    if isinstance(e, NawtError):
        return str(e)
    if is_out_of_memory(e):
        return f"out of memory{while_} ({first_line(e) or type(e).__name__}); use a smaller --batch-size or --train-subset"
    if isinstance(e, OSError) and e.errno is not None:
        where = f"{e.filename}: " if e.filename else ""
        if e.errno in _DISK_FULL:
            return f"disk full{while_} ({where}{e.strerror})"
        if e.errno == errno.ENOENT and doing:
            return f"a file or folder disappeared{while_} ({where}{e.strerror}; was it deleted?)"
        return f"cannot complete{while_ or ' a file operation'} ({where}{e.strerror})"
    text = first_line(e)
    orig = getattr(e, "orig", None)  # SQLAlchemy wraps the driver's error
    if orig is not None:
        text = first_line(orig)
        if "disk is full" in text or "disk full" in text:
            return f"disk full: the database cannot be written{while_} ({text})"
        if "readonly database" in text:
            return f"the database is read-only{while_}: nothing was changed"
        if "locked" in text:
            return f"the database stayed locked{while_} ({text}); retry in a moment"
        return f"database error{while_}: {text}"
    if "Parent directory" in text and "does not exist" in text:
        return f"a folder disappeared{while_} ({text} Was it deleted?)"
    if "file write failed" in text or "PytorchStreamWriter failed" in text:
        return f"could not write the file{while_} (disk full or unwritable: {text})"
    return f"{type(e).__name__}{while_}: {text}" if text else f"{type(e).__name__}{while_}"
