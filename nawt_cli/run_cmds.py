"""`nawt runs`, `nawt diff`, `nawt tag`, `nawt note`, `nawt stop`, `nawt rm`, `nawt logs`.

Torch-free: these read and change the store only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from nawt_core import spec
from nawt_core.errors import NawtError
from nawt_core.runview import check_tag, config_diff, end_label, fmt_num, fmt_value, run_tags, varying_settings
from nawt_core.runview import pct as _pct
from nawt_core.status import Status
from nawt_core.textsafe import printable

from .app import DataDirOpt, DbOpt, JsonOpt, app, console, open_store, print_json

RunId = Annotated[int, typer.Argument(help="the run's id (see `nawt runs`)", show_default=False)]
STATUS_CHOICES = tuple(Status)
COLORS = {Status.COMPLETED: "green", Status.RUNNING: "cyan", Status.FAILED: "red", Status.STALE: "red",
          Status.INTERRUPTED: "yellow"}
# key, header, right-aligned; listed most useful first: a narrow terminal keeps the head of this list
RUN_COLUMNS = [
    ("id", "id", True), ("name", "name", False), ("method", "method", False), ("status", "status", False),
    ("test", "test %", True), ("settings", "differs", False), ("epoch", "epoch", True),
    ("study", "study", False), ("tags", "tags", False), ("best", "best %", True),
    ("train_s", "train s", True), ("ips", "img/s", True), ("device", "device", False),
]
CAPS = {"name": 24, "settings": 30, "tags": 16, "study": 14}  # widths past which a column wraps
MIN_WRAP = 10


def _test_cell(r: dict) -> str:
    """final.pt's test accuracy; ``a/b`` where the last epoch changed the weights after training
    (naive noise): a after the change (final.pt, the sweeps' start), b the trained weights before it."""
    final, trained = r["final_test_acc"], r.get("final_trained_test_acc")
    if final is None:
        return _pct(r["test_acc"])
    return _pct(final) if trained is None or trained == final else f"{_pct(final)}/{_pct(trained)}"


def _cells(r: dict) -> dict[str, str]:
    """A run's cells as plain text; what a user or a stored row gave is printed with its control characters escaped."""
    return {
        "id": str(r["id"]), "name": printable(r["name"] or "-"), "method": printable(r["method"]),
        "status": r["status"], "test": _test_cell(r),
        "settings": printable(r["settings"] or "-"), "epoch": f"{r['epoch']}/{r['epochs']}",
        "study": printable(r["study"] or "-"), "tags": printable(" ".join(r["tags"]) or "-"),
        "best": _pct(r["best_test_acc"]), "train_s": f"{r['train_seconds']:.0f}",
        "ips": "-" if r["images_per_sec"] is None else f"{r['images_per_sec']:.0f}",
        "device": printable(r["device"] or "-"),
    }


def fit_columns(cells: list[dict[str, str]], width: int) -> list[str]:
    """The columns that fit `width` (most useful first), shown in table order; a text
    column that does not fit whole still comes when MIN_WRAP of it does (it wraps)."""
    chosen, used = [], 4  # the table's outer border
    for key, label, _right in RUN_COLUMNS:
        natural = max([len(label)] + [len(c[key]) for c in cells])
        need = min(natural, CAPS.get(key, natural)) + 3  # padding and separator
        if key in CAPS and used + need > width:
            need = min(need, MIN_WRAP + 3)
        if used + need <= width or not chosen:
            chosen.append(key)
            used += need
    return [k for k, _l, _r in RUN_COLUMNS if k in chosen]


def wide_chunks(cells: list[dict[str, str]], width: int) -> list[list[str]]:
    """--wide: every column, in as many tables as it takes, each whole within `width` and
    led by the id (13 columns squeezed into 80 wrapped letter by letter: 77 lines for 8 runs)."""
    chunks, cur, used = [], ["id"], 4 + max([2] + [len(c["id"]) for c in cells]) + 3
    for key, label, _right in RUN_COLUMNS[1:]:
        need = min(max([len(label)] + [len(c[key]) for c in cells]), CAPS.get(key, 10**6)) + 3
        if used + need > width and len(cur) > 1:
            chunks.append(cur)
            cur, used = ["id"], 4 + max([2] + [len(c["id"]) for c in cells]) + 3
        cur.append(key)
        used += need
    return chunks + [cur]


def runs_tables(rows: list[dict], width: int, wide: bool = False) -> tuple[list[Table], list[str]]:
    """The runs as Rich tables within `width`: one with the columns that fit, or with `wide`
    every column over as many tables as it takes; and the columns left out."""
    if not wide:
        table, hidden = runs_table(rows, width)
        return [table], hidden
    chunks = wide_chunks([_cells(r) for r in rows], width)
    tables = [runs_table(rows, width, keys=keys)[0] for keys in chunks]
    for i, t in enumerate(tables[1:], 2):
        t.title = f"runs ({len(rows)}), columns {i}/{len(tables)}"
    return tables, []


def runs_table(rows: list[dict], width: int, wide: bool = False, keys: list[str] | None = None) -> tuple[Table, list[str]]:
    """The runs as a Rich table sized to `width` (every column with `wide`, or `keys`), and the columns left out."""
    cells = [_cells(r) for r in rows]
    keys = keys or ([k for k, _l, _r in RUN_COLUMNS] if wide else fit_columns(cells, width))
    t = Table(title=f"runs ({len(rows)})", header_style="bold")
    for key, label, right in RUN_COLUMNS:
        if key in keys:
            t.add_column(label, justify="right" if right else "left", overflow="fold",
                         no_wrap=key in ("id", "status", "test", "epoch", "best"))
    for c in cells:
        t.add_row(*(Text(c[k], style=COLORS.get(c[k], "") if k == "status" else "") for k in keys))
    return t, [label for key, label, _r in RUN_COLUMNS if key not in keys]


@app.command()
def runs(
    method: Annotated[Optional[str], typer.Option(help="only this method")] = None,
    status: Annotated[Optional[str], typer.Option(help="only this status (stale: running, process gone)")] = None,
    study: Annotated[Optional[str], typer.Option(help="only this study's runs")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", "-t", help="only runs with this tag (repeatable: all of them)")] = None,
    wide: Annotated[bool, typer.Option("--wide", "-w", help="every column, wrapped to the terminal")] = False,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """List runs, with the settings that differ between them."""
    if method is not None:
        spec.method(method)  # unknown: NawtError naming the registered methods
    if status is not None and status not in STATUS_CHOICES:
        raise NawtError(f"unknown status {status!r}; choose one of: {', '.join(STATUS_CHOICES)}")
    store = open_store(db, data_dir, create=False)
    from nawt_core.compare import run_summary  # the store (sqlmodel): not imported for --help

    found = [r for r in store.list_runs(method=method, study=study) if set(tag or ()) <= set(run_tags(r))]
    rows = [run_summary(r) for r in found]
    if status:
        keep = {row["id"] for row in rows if row["status"] == status}
        found, rows = [r for r in found if r.id in keep], [row for row in rows if row["id"] in keep]
    differs = varying_settings(found)
    for row, r in zip(rows, found):
        row.update(settings=differs.get(r.id, ""), tags=run_tags(r), notes=r.notes or "")
    if json_out:
        print_json(rows)
        return
    tables, hidden = runs_tables(rows, console.width, wide)
    for table in tables:
        console.print(table)
    changed = sorted({end_label(r["method"]) for r in rows if "/" in _test_cell(r)})
    if changed and "test" not in hidden:
        console.print(f"test % a/b: a = the weights after the last epoch's {' or '.join(changed)} (final.pt, where "
                      "the sweeps start), b = the trained weights before it", markup=False, highlight=False)
    if hidden:
        console.print(f"[dim]{len(hidden)} more columns ({', '.join(hidden)}): --wide shows them, "
                      "--json gives everything[/]", highlight=False)


# --------------------------------------------------------------------- diff
def _results(run) -> dict[str, str]:
    from nawt_core.compare import run_summary

    s = run_summary(run)
    return {"status": s["status"], "final test %": _pct(run.final_test_acc), "best test %": _pct(run.best_test_acc),
            "epochs": f"{run.epoch}/{run.epochs}", "train seconds": fmt_num(round(run.train_seconds or 0, 1)),
            "img/s": "-" if run.images_per_sec is None else f"{run.images_per_sec:.0f}",
            "device": printable(run.device or "-"), "tags": printable(" ".join(run_tags(run)) or "-")}


@app.command()
def diff(
    a: RunId,
    b: RunId,
    show_all: Annotated[bool, typer.Option("--all", "-a", help="also the settings that are equal")] = False,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Two runs' configs side by side, the differences highlighted, and their results."""
    if a == b:
        raise NawtError(f"give two different runs (got {a} twice)")
    store = open_store(db, data_dir, create=False)
    ra, rb = store.get_run(a), store.get_run(b)
    rows = config_diff(ra.config or {}, rb.config or {})
    ea, eb = _results(ra), _results(rb)
    if json_out:
        print_json({"a": a, "b": b, "config": [{"key": k, "a": va, "b": vb, "differs": d} for k, va, vb, d in rows],
                    "results": {k: {"a": ea[k], "b": eb[k]} for k in ea}})
        return
    shown = [row for row in rows if show_all or row[3]]
    t = Table(title=f"run {a} vs run {b}", header_style="bold")
    t.add_column("setting")
    t.add_column(Text(f"{a} {printable(ra.name or ra.method)}"), overflow="fold")  # Text: a name is never markup
    t.add_column(Text(f"{b} {printable(rb.name or rb.method)}"), overflow="fold")
    for k, va, vb, differs in shown:
        style = "bold yellow" if differs else "dim"
        t.add_row(Text(("* " if differs else "  ") + printable(k), style=style),
                  Text(printable(fmt_value(va)), style=style), Text(printable(fmt_value(vb)), style=style))
    if not shown:
        t.add_row("(identical settings)", "", "")
    t.add_section()
    for k in ea:
        style = "bold" if ea[k] != eb[k] else ""
        t.add_row(Text(k, style="italic"), Text(ea[k], style=style), Text(eb[k], style=style))
    console.print(t)
    equal = sum(1 for row in rows if not row[3])
    if equal and not show_all:
        console.print(f"[dim]{equal} equal settings not shown (--all shows them)[/]", highlight=False)


# --------------------------------------------------------------------- tags and notes
@app.command()
def tag(
    run_id: RunId,
    tags: Annotated[list[str], typer.Argument(help="tags to add (or remove)", show_default=False)],
    remove: Annotated[bool, typer.Option("--remove", "-r", help="remove these tags instead")] = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Add tags to a run (`nawt runs --tag T` lists runs by tag)."""
    try:
        wanted = [check_tag(t) for t in tags]
    except ValueError as e:
        raise NawtError(str(e)) from None
    store = open_store(db, data_dir, create=False)
    current = run_tags(store.get_run(run_id))
    if remove:
        new = [t for t in current if t not in wanted]
    else:
        new = current + [t for t in dict.fromkeys(wanted) if t not in current]
    store.update_run(run_id, tags=new)
    console.print(f"run {run_id} tags: {printable(' '.join(new)) or '(none)'}", markup=False, highlight=False)


@app.command()
def note(
    run_id: RunId,
    text: Annotated[str, typer.Argument(help='the note ("" clears it)', show_default=False)],
    append: Annotated[bool, typer.Option("--append", help="add a line to the note instead of replacing it")] = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Write a note on a run (shown by `nawt show` and in the TUI)."""
    if len(text) > 10000:
        raise NawtError("a note is at most 10000 characters")
    store = open_store(db, data_dir, create=False)
    run = store.get_run(run_id)
    notes = f"{run.notes}\n{text}" if append and run.notes else text
    store.update_run(run_id, notes=notes)
    console.print(f"run {run_id} note: {printable(notes, newlines=True) or '(cleared)'}", markup=False,
                  highlight=False)


# --------------------------------------------------------------------- stop, rm, logs
@app.command()
def stop(run_id: RunId, db: DbOpt = None, data_dir: DataDirOpt = Path("data")) -> None:
    """Stop a running run: it saves a checkpoint and becomes interrupted (resumable)."""
    from nawt_core.run_control import stop_run

    console.print(stop_run(open_store(db, data_dir, create=False), run_id), markup=False, highlight=False)


@app.command()
def rm(
    run_ids: Annotated[list[int], typer.Argument(help="run ids", show_default=False)],
    files: Annotated[bool, typer.Option("--files", help="also delete each run's folder (checkpoints, logs)")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask (needed without a terminal)")] = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Remove runs and everything recorded about them (their folders too with --files)."""
    from nawt_core.run_control import check_removable, remove_run

    store = open_store(db, data_dir, create=False)
    found = [check_removable(store, rid) for rid in dict.fromkeys(run_ids)]  # all or nothing
    if not yes:
        if not sys.stdin.isatty():
            raise NawtError("nawt rm asks for confirmation; without a terminal pass --yes")
        what = ", ".join(f"{r.id} ({printable(r.name or r.method)}, {r.status})" for r in found)
        if not typer.confirm(f"remove run{'s' if len(found) > 1 else ''} {what}"
                             + (" and their folders" if files else "") + "?", default=False):
            raise typer.Exit(1)
    for r in found:
        console.print(remove_run(store, r.id, data_dir, files=files), markup=False, highlight=False, soft_wrap=True)


def _log_path(store, run) -> Path:
    folder = store.folder(run)
    path = store.path(run.log_path) or (folder / "train.log" if folder else None)
    if path is None or not path.is_file():
        raise NawtError(f"run {run.id} has no log file (trained in the foreground, its output went to "
                        "that terminal; `nawt train --detach` writes one)")
    return Path(path)


@app.command()
def logs(
    run_id: RunId,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the run ends")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="print the last N lines (0: all)")] = 0,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Print a detached run's log (train.log in its folder); -f follows it."""
    from nawt_core.store import effective_status

    if lines < 0:
        raise NawtError(f"--lines must not be negative (got {lines})")
    store = open_store(db, data_dir, create=False)
    path = _log_path(store, store.get_run(run_id))
    out = sys.stdout
    with open(path, errors="replace") as fh:
        text = fh.read()
        out.write("".join(text.splitlines(keepends=True)[-lines:]) if lines else text)
        out.flush()
        while follow:
            chunk = fh.read()
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            if effective_status(store.get_run(run_id)) not in (Status.RUNNING, Status.QUEUED):
                out.write(fh.read())
                break
            time.sleep(0.5)
