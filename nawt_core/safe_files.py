"""Writing the files a user names with ``-o`` (and the study's own tables): whole or not at all,
and never replacing what was not a file.

- a regular file (or a new name in an existing folder) is written atomically: a temporary
  file beside it, renamed over it, keeping the old file's permissions;
- a symbolic link is followed: the file it points to is written (atomically), the link stays;
- a FIFO or a character device (``/dev/stdout``, a pipe, ``/dev/null``) is written as a
  stream: opened and written, never replaced by a regular file (as root, a rename would
  put a regular file where ``/dev/full`` was);
- anything else (a folder, a socket, a block device, a link to nothing) is refused.

``is_stream`` tells a caller that would put side files next to its target (the Markdown
report's PNGs) not to: there is no folder of its own beside a device or a pipe.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import Failed, NawtError
from .failures import describe


def _kind(path: Path) -> str:
    """file | stream for a writable target; NawtError for anything else."""
    if os.path.lexists(path) and not os.path.exists(path):
        raise NawtError(f"cannot write {path}: it is a symbolic link to nothing")
    if path.exists():
        mode = path.stat().st_mode  # follows a link to what it points to
        if stat.S_ISDIR(mode):
            raise NawtError(f"cannot write {path}: it is a directory")
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            if not os.access(path, os.W_OK):
                raise NawtError(f"cannot write {path}: permission denied")
            return "stream"
        if not stat.S_ISREG(mode):
            raise NawtError(f"cannot write {path}: not a regular file, a pipe or a terminal")
    real = Path(os.path.realpath(path))
    parent = real.parent
    if not parent.is_dir():
        raise NawtError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (real.exists() and not os.access(real, os.W_OK)):
        raise NawtError(f"cannot write {path}: permission denied")
    return "file"


def check(path: str | os.PathLike) -> Path:
    """Fails with one line, before any work, if ``path`` cannot be written as above."""
    path = Path(path)
    _kind(path)
    return path


def is_stream(path: str | os.PathLike) -> bool:
    """``path`` is a pipe or a device (written as a stream, nothing may go beside it)."""
    return _kind(Path(path)) == "stream"


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    if _kind(path) == "stream":
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as e:
            raise Failed(describe(e, f"writing {path}")) from None
        return path
    real = Path(os.path.realpath(path))  # a link keeps pointing where it did
    tmp = real.with_name(f".{real.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if real.exists():
            os.chmod(tmp, stat.S_IMODE(real.stat().st_mode))
        os.replace(tmp, real)
    except OSError as e:
        raise Failed(describe(e, f"writing {path}")) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


__all__ = ["check", "is_stream", "write_bytes", "write_text"]
