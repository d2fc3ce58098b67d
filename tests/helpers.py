"""Helpers the tests import (conftest holds only fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_CIFAR = REPO.parent / "shared" / "data"


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """`nawt ARGS` in a fresh process, as a user would run it."""
    full_env = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "nawt_cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=full_env)
