"""Starting `nawt` processes from the TUI, and the stop/delete actions.

Trainings are launched with `nawt train ... --detach` (the CLI forks a
detached trainer and prints the run id); evaluations and studies run as
detached processes of their own (new session: they outlive the TUI and the
SSH session) that log to a file under the data directory.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class LaunchResult:
    ok: bool
    message: str
    run_id: int | None = None
    log_path: str | None = None


def cli_env() -> dict[str, str]:
    """The child's environment: make `python -m nawt_cli` importable from a checkout."""
    env = dict(os.environ)
    try:
        spec = importlib.util.find_spec("nawt_cli")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        root = str(Path(list(spec.submodule_search_locations)[0]).resolve().parent)
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in paths:
            env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "nawt_cli", *args]


def _error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.lower().startswith("error"):
            return ln
    return lines[-1] if lines else "no output"


def run_detached_cli(args: list[str], timeout: float = 120.0) -> LaunchResult:
    """Runs `nawt <args> --detach` (or `--queue`) and returns the run id it prints, or its error."""
    argv = cli_argv(*args)
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=cli_env(),
            start_new_session=True, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return LaunchResult(False, f"error: `nawt {args[0]}` did not answer within {timeout:.0f}s")
    except OSError as e:
        return LaunchResult(False, f"error: cannot start nawt: {e.strerror}")
    if proc.returncode != 0:
        return LaunchResult(False, _error_line(proc.stderr or proc.stdout))
    found = re.search(r"\brun (\d+) (?:started|queued)", proc.stdout)
    run_id = int(found.group(1)) if found else None
    msg = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "started"
    return LaunchResult(True, msg, run_id)


def spawn_background(args: list[str], data_dir: str, tag: str, wait: float = 1.5) -> LaunchResult:
    """Starts `nawt <args>` detached, logging to <data_dir>/logs/<tag>-<time>.log.

    Waits `wait` seconds so that an immediate failure (bad input) is reported."""
    logs = Path(data_dir) / "logs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return LaunchResult(False, f"error: cannot create {logs}: {e.strerror}")
    log_path = logs / f"{tag}-{datetime.now():%Y%m%d-%H%M%S}.log"
    try:
        with open(log_path, "ab") as log:
            log.write(("$ nawt " + " ".join(shlex.quote(a) for a in args) + "\n").encode())
            log.flush()
            proc = subprocess.Popen(
                cli_argv(*args), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=cli_env(), start_new_session=True,
            )
    except OSError as e:
        return LaunchResult(False, f"error: cannot start nawt: {e.strerror}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None:
            text = log_path.read_text(errors="replace")
            if rc != 0:
                return LaunchResult(False, _error_line(text), log_path=str(log_path))
            return LaunchResult(True, f"nawt {args[0]} finished; log {log_path}", log_path=str(log_path))
        time.sleep(0.1)
    return LaunchResult(True, f"nawt {args[0]} started (pid {proc.pid}); log {log_path}",
                        log_path=str(log_path))


def stop_run(store: Any, run_id: int, host: str, now: datetime | None = None) -> str:
    """Graceful stop: flag the run (the trainer polls it) and SIGTERM a local live process."""
    from nawt_core.errors import NawtError
    from nawt_core.run_control import stop_run as request_stop

    try:
        return request_stop(store, run_id, host, now)
    except NawtError as e:
        return str(e)


def delete_run(store: Any, run_id: int, host: str, data_dir: str, now: datetime | None = None) -> str:
    """Deletes the run's records and its folder; refuses a live run."""
    from nawt_core.run_control import remove_run

    return remove_run(store, run_id, data_dir, files=True, host=host, now=now)


def train_args(values: dict[str, Any]) -> list[str]:
    """`nawt train` arguments from validated form values (None/'' means: CLI default)."""
    from nawt_core import spec
    from nawt_core.spec import OPTIONS

    flags = [
        ("method", "--method"), ("arch", "--arch"), ("epochs", "--epochs"), ("batch_size", "--batch-size"),
        ("lr", "--lr"), ("schedule", "--schedule"), ("seed", "--seed"),
        ("device", "--device"), ("precision", "--precision"), ("dataset", "--dataset"),
        ("train_subset", "--train-subset"), ("test_subset", "--test-subset"), ("name", "--name"),
    ]
    args = ["train"]
    for key, flag in flags:
        v = values.get(key)
        if v is None or v == "":
            continue
        args += [flag, str(v)]
    for o in OPTIONS.values():  # the method options, as the spec names them
        v = values.get(o.name)
        if o.kind is bool:  # only a change from the default, and only for a method that uses it
            if v is not None and bool(v) != o.default and values.get("method") in spec.uses(o.name):
                args.append(o.flag if v else o.off_flag)
        elif o.kind is list:
            args += [o.flag, _list(v)] if v else []
        elif v is not None and v != "":
            args += [o.flag, str(v)]
    return args


def _list(values: list[Any]) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def eval_args(kind: str, run_ids: list[int], options: dict[str, Any]) -> list[str]:
    """`nawt eval KIND ID...` arguments from validated dialog values (the spec's options, in its order)."""
    from nawt_core import evalspec
    from nawt_core.errors import NawtError

    try:
        spec = evalspec.evaluation(kind)
    except NawtError:
        raise ValueError(f"unknown evaluation {kind!r}") from None
    args = ["eval", kind, *map(str, run_ids)]
    for o in spec.options:
        v = options.get(o.name)
        if o.kind is bool:
            args += [o.flag] if v else []
        elif o.kind is list:
            args += [o.flag, _list(v)] if v else []
        elif v is not None and v != "":
            args += [o.flag, str(v)]
    if options.get("precision"):
        args += ["--precision", str(options["precision"])]
    if options.get("device"):
        args += ["--device", str(options["device"])]
    return args


def common_args(db_url: str, data_dir: str, cifar_dir: str | None = None) -> list[str]:
    """The store and data places every `nawt` command takes (CIFAR-10 from cifar_dir when set).
    A URL with a password goes to the children through NAWT_DB (inherited by
    cli_env), never on a command line that `ps` and the logs show."""
    from nawt_core.store import mask_url

    if mask_url(db_url) != db_url:
        os.environ["NAWT_DB"] = db_url
        args = ["--data-dir", data_dir]
    else:
        args = ["--db", db_url, "--data-dir", data_dir]
    if cifar_dir:
        args += ["--cifar-dir", str(cifar_dir)]
    return args
