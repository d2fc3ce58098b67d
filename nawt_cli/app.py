"""The Typer app and what every command shares: options, the store, errors.

Nothing here imports torch: `nawt --help` and the TUI start fast. Commands
import the torch-using parts of nawt_core inside their bodies.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from nawt_core import spec
from nawt_core.errors import NawtError

app = typer.Typer(
    name="nawt",
    help="Noise-aware weight training: train ResNets on CIFAR-10 several ways, stress them, compare.",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",  # help texts escape their [brackets] as \\[
)
for _var in ("COLUMNS", "LINES"):  # COLUMNS=0 (or junk) would make Rich print nothing at all: ignore it
    if _var in os.environ and not (os.environ[_var].strip().isdigit() and int(os.environ[_var]) > 0):
        del os.environ[_var]
console = Console()
err_console = Console(stderr=True, highlight=False)

try:  # before the commands are defined: their --method help lists the plugins' methods too
    spec.load_plugins()
except NawtError as _e:
    err_console.print(f"error: {_e}", markup=False, soft_wrap=True)
    sys.exit(2)

def _utf8_path(value: Path | None) -> Path | None:
    """A folder name that is not UTF-8 cannot be stored with a run: refused before anything is made."""
    if value is not None:
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:
            raise NawtError(f"the folder name {str(value).encode('utf-8', 'surrogateescape')!r} is not valid UTF-8; "
                            "use a folder whose name is") from None
    return value


DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the store, or the path of a SQLite file \\[env NAWT_DB; default <data-dir>/nawt.db]")]
DataDirOpt = Annotated[Path, typer.Option("--data-dir", callback=_utf8_path,
                                          help="nawt's home: nawt.db, runs/, studies/ (and CIFAR-10 unless --cifar-dir)")]
CifarDirOpt = Annotated[Optional[Path], typer.Option(
    "--cifar-dir", envvar="NAWT_CIFAR_DIR", callback=_utf8_path,
    help="where CIFAR-10 is read, or downloaded to \\[env NAWT_CIFAR_DIR; default: --data-dir]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    "--threads", help="torch CPU threads of this process (e.g. a share of a node's cores) \\[default: torch's, one per core]")]
PrecisionOpt = Annotated[str, typer.Option(
    "--precision", help="auto (bf16 where the hardware runs it natively: CUDA compute capability ≥ 8.0, "
                        "or a CPU with avx512_bf16/amx_bf16; else fp32), fp32 or bf16 (autocast)")]


def check_threads(threads: int | None) -> None:
    """--threads is a whole number of threads: refused before anything is recorded."""
    from nawt_core import bounds

    bounds.whole(threads, "--threads", 1, bounds.MAX_THREADS)


def use_threads(threads: int | None) -> None:
    """Sets torch's CPU threads (checked by check_threads); the run's device label records them."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def check_device(device: str | None, *, config: bool = False) -> None:
    """A device asked for is one nawt knows (``config``: as TrainConfig spells it) and, when it is
    a CUDA device, exists here (torch is imported only then). Refused before anything is recorded."""
    if device is None:
        return
    if config:
        from nawt_core.config import TrainConfig

        TrainConfig(device=device).validate()
    if device not in ("auto", "cpu"):
        from nawt_core.device import resolve_device

        resolve_device(device)


def progress_bar():
    """A transient Rich progress bar on stderr (an evaluation's points)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, transient=True)


def open_store(db: str | None, data_dir: Path, *, create: bool = True, upgrade: bool = True):
    from nawt_core.store import Store, default_url

    return Store(db or default_url(data_dir), create=create, upgrade=upgrade, home=data_dir)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


class _LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (as logging's last resort does)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging() -> None:
    handler = _StderrHandler()
    handler.setFormatter(_LevelFormatter())
    root = logging.getLogger("nawt")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
