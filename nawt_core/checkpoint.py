"""Checkpoints: written atomically, read with ``weights_only=True`` so a file
cannot run code when loaded."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from .errors import Failed, NawtError
from .failures import describe, first_line
from .store import pid_alive


def _tmp_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.tmp-{pid}")


def save_atomic(state: dict, path: str | Path, check=None) -> None:
    """Writes ``path`` whole or not at all; a failure (disk full, folder deleted)
    is a NawtError naming the file, the old file stays as it was. ``check()`` runs
    just before the new file replaces the old one (a trainer's claim check: one that
    lost its run to another process raises there and replaces nothing)."""
    path = Path(path)
    tmp = _tmp_name(path, os.getpid())
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if check is not None:
            check()
        os.replace(tmp, path)  # a crash leaves either the old file or the new one, never half
    except (OSError, RuntimeError) as e:
        raise Failed(describe(e, f"writing {path.name} in {path.parent}")) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def clean_temporaries(folder: str | Path) -> list[Path]:
    """Removes half-written checkpoints (``.NAME.tmp-PID``) whose writer is gone:
    a kill during a write leaves one behind."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for tmp in folder.glob(".*.pt.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # another live process is writing it
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def load(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise NawtError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weights_only" in str(e):
            raise NawtError(f"checkpoint {path} is not a plain tensor checkpoint; refusing to load it") from None
        raise NawtError(f"checkpoint {path} is unreadable or corrupt ({_first(e)})") from None
    except Exception as e:  # noqa: BLE001 - any other failure means the file is unusable
        raise NawtError(f"checkpoint {path} is unreadable or corrupt ({_first(e)})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise NawtError(f"checkpoint {path} is not a nawt checkpoint")
    return state


def _first(e: Exception) -> str:
    return first_line(e, 160) or type(e).__name__


def load_model_state(path: str | Path, map_location="cpu") -> dict:
    """The model weights of a nawt checkpoint."""
    return load(path, map_location)["model"]
