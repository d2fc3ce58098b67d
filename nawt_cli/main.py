"""Entry point: registers every command module, then turns NawtError into one line."""

from __future__ import annotations

import sys

from nawt_core.errors import NawtError

from . import analysis_cmds, run_cmds, train_cmds  # noqa: F401  (importing them registers their commands)
from .app import app, err_console, setup_logging


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
