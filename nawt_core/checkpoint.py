"""Checkpoints: written atomically, read with ``weights_only=True`` so a file
cannot run code when loaded."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import NawtError

FORMAT = 1


def save_atomic(state: dict, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # a crash leaves either the old file or the new one, never half
    finally:
        tmp.unlink(missing_ok=True)


def load(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise NawtError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the file is unusable
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NawtError(f"checkpoint {path} is unreadable or corrupt ({first[:160]})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise NawtError(f"checkpoint {path} is not a nawt checkpoint")
    return state


def load_model_state(path: str | Path, map_location="cpu") -> dict:
    """The model weights of a nawt checkpoint."""
    return load(path, map_location)["model"]
