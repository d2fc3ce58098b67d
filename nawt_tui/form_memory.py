"""What the new-run form remembers between launches (no torch).

After a launch the form's values are kept per method, with the last method
and the dataset folder, in ``<data-dir>/tui-form.json`` (a file nawt makes in
its own data dir); the next form starts from them. A file that cannot be read
or written is ignored: the form then starts from the defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE = "tui-form.json"
NOT_KEPT = ("name",)  # a run name is one run's


def load(data_dir: str) -> dict[str, Any]:
    try:
        got = json.loads((Path(data_dir) / FILE).read_text())
    except (OSError, ValueError):
        return {}
    return got if isinstance(got, dict) and isinstance(got.get("methods", {}), dict) else {}


def remember(data_dir: str, values: dict[str, Any], folder: str | None) -> None:
    """Keeps ``values`` (the form's strings and booleans) as its method's last ones."""
    method = values.get("method") or ""
    if not method:
        return
    memory = load(data_dir)
    memory.setdefault("methods", {})[method] = {k: v for k, v in values.items()
                                                if k not in NOT_KEPT and isinstance(v, (str, bool))}
    memory["last_method"] = method
    if folder:
        memory["cifar_dir"] = folder
    path = Path(data_dir) / FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(memory, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data dir: the form just does not remember


def last_run_folder(runs: list[Any]) -> str | None:
    """The CIFAR-10 folder of the latest run that trained on it (the README's study names it with
    --cifar-dir; a TUI opened without it should look there too)."""
    for run in sorted(runs, key=lambda r: r.id, reverse=True):
        cfg = run.config or {}
        if cfg.get("dataset") == "cifar10" and cfg.get("data_dir"):
            return str(cfg["data_dir"])
    return None


__all__ = ["FILE", "last_run_folder", "load", "remember"]
