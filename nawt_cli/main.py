"""Entry point: registers every command module, then turns NawtError into one line."""

from __future__ import annotations

import sys

from nawt_core.errors import NawtError

from . import train_cmds  # noqa: F401  (registers commands)
from .app import app, err_console, setup_logging

try:  # evaluation, comparison, export and study commands
    from . import analysis_cmds  # noqa: F401
except ImportError as e:  # pragma: no cover - only while that module is being written
    if "analysis_cmds" not in str(e):
        raise


def main() -> None:
    setup_logging()
    try:
        app()
    except NawtError as e:
        err_console.print(f"error: {e}", markup=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
