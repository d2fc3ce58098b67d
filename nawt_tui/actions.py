"""Run actions (stop, resume, evaluate, delete, export, study, tags, launch) that every screen calls.

Each action asks what it must (a confirm or prompt dialog, whose result comes back through
`push_screen(..., callback)`), does the work in a worker thread and posts an `ActionDone` to the
app; the app tells the user and signals `runs_changed`, which the open screens reload on.
Screens never reach into each other: they call these functions with the app and a run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

from .data import CSV_FIELDS, RunView
from .launch import LaunchResult, delete_run, run_detached_cli, spawn_background, stop_run
from .messages import ActionDone
from .screens.dialogs import ConfirmScreen, EvalScreen, PromptScreen, StudyScreen


def _in_thread(app: Any, work: Callable[[], ActionDone]) -> None:
    """Runs `work` in a worker; its ActionDone (or the error) goes to the app."""

    def run() -> None:
        try:
            msg = work()
        except Exception as e:  # never crash the UI over an action
            msg = ActionDone(f"{type(e).__name__}: {e}", ok=False)
        app.post_message(msg)

    app.run_worker(run, thread=True, group="actions", exit_on_error=False)


def stop(app: Any, v: RunView) -> None:
    if v.status not in ("running", "queued"):
        app.notify(f"run {v.id} is {v.status}; only a running or queued run can be stopped", severity="warning")
        return

    def work() -> ActionDone:
        src = app.source
        try:
            return ActionDone(stop_run(src.store(), v.id, src.host, src.now()))
        except Exception as e:
            return ActionDone(f"stop failed: {e}", ok=False)

    app.push_screen(ConfirmScreen(
        "Stop run", f"Stop run #{v.id} ({v.name or v.method})?\nIt finishes its current step, "
        "saves a checkpoint and becomes [b]interrupted[/b]; resume it later with r.", "Stop"),
        lambda ok: _in_thread(app, work) if ok else None)


def resume(app: Any, v: RunView) -> None:
    if v.status not in ("interrupted", "stale", "failed"):
        app.notify(f"run {v.id} is {v.status}; only an interrupted, stale or failed run can be resumed",
                   severity="warning")
        return
    app.notify(f"resuming run {v.id}…")

    def work() -> ActionDone:
        res = run_detached_cli(["train", "--resume", str(v.id), *app.source.cli_args(), "--detach"])
        return ActionDone(f"resumed run {v.id}" if res.ok else res.message, res.ok)

    _in_thread(app, work)


def evaluate(app: Any, ids: list[int], statuses: dict[int, str]) -> None:
    """`statuses`: each run's stored status; `nawt eval` refuses a run that has not finished training."""
    if not ids:
        return
    not_done = [i for i in ids if statuses.get(i) != "completed"]
    if not_done:
        app.notify(f"run {not_done[0]} has not finished training; evaluate it once it has completed",
                   severity="warning")
        return

    def done(choice: dict | None) -> None:
        if choice:
            spawn(app, choice["args"], "eval")

    app.push_screen(EvalScreen(ids), done)


def study(app: Any) -> None:
    def done(choice: dict | None) -> None:
        if choice:
            extra = ["--queue-only"] if choice.get("queue") else ["--jobs", str(choice.get("jobs") or 1)]
            extra += [a for v in choice.get("vary") or () for a in ("--vary", v)]
            spawn(app, ["study", "--preset", choice["preset"], "--name", choice["name"], *extra],
                  f"study-{choice['name']}")

    app.push_screen(StudyScreen(classes="dialog-screen"), done)


def spawn(app: Any, args: list[str], tag: str) -> None:
    """Starts `nawt ARGS` in the background (its output in a log under the data dir)."""
    src = app.source
    full = [*args, *src.cli_args()]

    def work() -> ActionDone:
        res = spawn_background(full, src.data_dir, tag)
        return ActionDone(res.message, res.ok)

    _in_thread(app, work)


def export(app: Any, views: list[RunView]) -> None:
    stamp = app.source.now().strftime("%Y%m%d-%H%M%S")
    default = str(Path(app.source.data_dir) / f"runs-{stamp}.csv")

    def work(path: str) -> ActionDone:
        try:
            p = Path(path).expanduser()
            p.parent.mkdir(parents=True, exist_ok=True)
            write_csv(p, views)
        except OSError as e:
            return ActionDone(f"export failed: {e.strerror or e}: {path}", ok=False)
        return ActionDone(f"exported {len(views)} runs to {p}")

    app.push_screen(PromptScreen("Export the table to CSV", default, "path/to/file.csv"),
                    lambda path: _in_thread(app, lambda: work(path)) if path else None)


def write_csv(path: Path, views: list[RunView]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(CSV_FIELDS))
        w.writeheader()
        for v in views:
            w.writerow(v.csv_row())


def delete(app: Any, v: RunView) -> None:
    if v.status == "running":
        app.notify(f"run {v.id} is running: stop it first (x)", severity="warning")
        return
    where = f"\nIts folder {v.run_dir} is removed too." if v.run_dir else ""

    def work() -> ActionDone:
        src = app.source
        try:
            return ActionDone(delete_run(src.store(), v.id, src.host, src.data_dir, src.now()), deleted=v.id)
        except Exception as e:
            return ActionDone(f"delete failed: {e}", ok=False)

    app.push_screen(ConfirmScreen(
        "Delete run", f"Delete run #{v.id} ({v.name or v.method}, {v.status}) and all its "
        f"metrics and evaluations?{where}\nThis cannot be undone.", "Delete", danger=True),
        lambda ok: _in_thread(app, work) if ok else None)


def tags(app: Any, v: RunView) -> None:
    def work(text: str) -> ActionDone:
        from nawt_core.runview import check_tag

        try:
            new = list(dict.fromkeys(check_tag(t) for t in text.split()))
            app.source.set_tags(v.id, new)
        except Exception as e:
            return ActionDone(f"tags not changed: {e}", ok=False)
        return ActionDone(f"run {v.id} tags: {' '.join(new) or '(none)'}")

    app.push_screen(PromptScreen(f"Tags of run #{v.id} (space-separated; empty clears)",
                                 " ".join(v.tags), "e.g. baseline poster", allow_empty=True),
                    lambda text: _in_thread(app, lambda: work(text)) if text is not None else None)


def launch(app: Any, args: list[str], done: Callable[[LaunchResult], None]) -> None:
    """Runs `nawt train ... --detach` in a worker; `done(result)` runs on the UI thread after.
    A started run is announced to the app (the runs table then moves to it)."""

    def run() -> None:
        res = run_detached_cli(args)
        if res.ok:
            verb = "queued" if "--queue" in args else "started"
            app.post_message(ActionDone(f"{verb} run {res.run_id}: {res.message}"
                                        if res.run_id is not None else res.message, True, res.run_id))
        app.call_from_thread(done, res)

    app.run_worker(run, thread=True, group="launch", exit_on_error=False)
