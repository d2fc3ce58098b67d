"""Entry point: registers every command module, then turns every failure into one line."""

from __future__ import annotations

import os
import sys

from nawt_core.errors import FAILURE, NawtError
from nawt_core.textsafe import printable

from . import compare_cmds, db_cmds, eval_cmds, queue_cmds, run_cmds, study_cmds, train_cmds  # noqa: F401  (importing them registers their commands)
from .app import app, err_console, setup_logging


def _one_line(message: str, code: int) -> None:
    err_console.print(f"error: {printable(message)}", markup=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    setup_logging()
    try:
        app()
    except NawtError as e:
        _one_line(str(e), e.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as e:  # not nawt's own: disk full, out of memory, the database gone, ...
        if os.environ.get("NAWT_DEBUG"):
            raise
        from nawt_core.failures import describe

        _one_line(f"{describe(e)} (NAWT_DEBUG=1 shows the traceback)", FAILURE)
