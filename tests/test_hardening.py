"""Issue 7: untrusted files never run code, every failure leaves an honest
status, bounded resources, one-line errors everywhere.

The bad-input matrix runs `nawt` as a user would on a fresh copy of a small
store (two trained runs) and checks: the exit status, exactly one `error:`
line on stderr, no traceback, and the store rows and every checkpoint left as
they were."""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli

MARKER = "nawt-pwned-marker"


class _Evil:
    """A pickle that runs a shell command when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------ the fixture
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A data dir with run 1 (completed) and run 2 (interrupted, with last.pt)."""
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.runner import execute
    from nawt_core.store import Store

    d = tmp_path_factory.mktemp("prepared") / "data"
    d.mkdir()
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    cfg = dict(dataset="synthetic", train_subset=128, test_subset=50, epochs=1, batch_size=64, lr=0.05,
               device="cpu", data_dir=str(d))
    for name in ("done", "halfway"):
        execute(store, create_run(store, TrainConfig(**cfg, name=name).validate(), d).id)
    store.update_run(2, status="interrupted", final_test_acc=None, checkpoint_final=None)
    (d / "runs" / "2" / "final.pt").unlink()
    store.engine.dispose()
    return d


@pytest.fixture
def home(prepared, tmp_path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(prepared, d)
    con = sqlite3.connect(d / "nawt.db")  # the copy's runs live in the copy's folders
    for col in ("run_dir", "checkpoint_last", "checkpoint_final"):
        con.execute(f"update run set {col} = replace({col}, ?, ?)", (str(prepared), str(d)))
    con.commit()
    con.close()
    return d


def _rows(db: Path):
    con = sqlite3.connect(db)
    try:
        return (con.execute("select id, status, epoch, error, pid from run order by id").fetchall(),
                con.execute("select count(*) from epoch").fetchone(),
                con.execute("select count(*) from evaluation").fetchone())
    finally:
        con.close()


def _files(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted((d / "runs").rglob("*")) if p.is_file()}


# -------------------------------------------------------------- the setups
def _old_schema_without(column: str):
    def setup(d: Path) -> None:
        con = sqlite3.connect(d / "nawt.db")
        con.execute("drop index if exists ix_run_" + column)
        con.execute(f"alter table run drop column {column}")
        con.commit()
        con.close()
    return setup


def _evil_cifar(d: Path) -> None:
    folder = d / "evil" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({"data": _Evil(d / MARKER), "labels": [0]}))


def _corrupt_cifar(d: Path) -> None:
    folder = d / "junk" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"\x80\x04not a pickle at all")


def _evil_checkpoint(d: Path) -> None:
    import torch

    torch.save({"model": _Evil(d / MARKER)}, d / "runs" / "2" / "last.pt")


def _corrupt_checkpoint(d: Path) -> None:
    (d / "runs" / "2" / "last.pt").write_bytes(b"this is not a checkpoint")


def _delete_folder(d: Path) -> None:
    shutil.rmtree(d / "runs" / "2")


def _set_run(**fields):
    def setup(d: Path) -> None:
        con = sqlite3.connect(d / "nawt.db")
        con.execute("update run set " + ", ".join(f"{k} = ?" for k in fields) + " where id = 2",
                    list(fields.values()))
        con.commit()
        con.close()
    return setup


def _running_here(d: Path) -> None:
    import socket

    _set_run(status="running", pid=os.getpid(), host=socket.gethostname())(d)


T = ["train", "--dataset", "synthetic", "--train-subset", "64", "--test-subset", "20", "--epochs", "1",
     "--device", "cpu"]

# (case id, arguments (DATA is replaced by the data dir), setup, what the error line says)
CASES = [
    # --- the store
    ("db-not-a-url", ["runs", "--db", "sqlite:/x.db"], None, "is not a database URL"),
    ("db-path-missing", ["runs", "--db", "DATA/none.db"], None, "no database at"),
    ("db-unknown-kind", ["runs", "--db", "nosuchdb://x/y"], None, "unknown database kind"),
    ("db-no-driver", ["runs", "--db", "postgresql+pg8000://bob:s3cret@localhost/nawt"], None,
     "pip install 'nawt[postgres]'"),
    ("db-password-masked", ["runs", "--db", "postgresql+psycopg://bob:s3cret@127.0.0.1:9/nawt"], None,
     "bob:***@127.0.0.1:9/nawt"),
    ("db-missing", ["runs", "--db", "sqlite:///DATA/nope/nawt.db"], None, "no database at"),
    ("db-old-schema", ["runs", "--data-dir", "DATA"], _old_schema_without("created_at"),
     "column run.created_at is missing"),
    # --- training options (validated before anything is recorded)
    ("method", [*T, "--method", "sgd", "--data-dir", "DATA"], None, "unknown method"),
    ("epochs-0", [*T, "--epochs", "0", "--data-dir", "DATA"], None, "epochs must be positive"),
    ("lr-inf", [*T, "--lr", "inf", "--data-dir", "DATA"], None, "lr must be a finite number"),
    ("lr-nan", [*T, "--lr", "nan", "--data-dir", "DATA"], None, "lr must be a finite number"),
    ("wd-inf", [*T, "--weight-decay", "inf", "--data-dir", "DATA"], None, "weight decay must be a finite"),
    ("rho-stages-inf", [*T, "--rho-stages", "0,inf", "--data-dir", "DATA"], None, "rho stages must be finite"),
    ("subset-huge", [*T, "--train-subset", "1000000000000", "--data-dir", "DATA"], None, "at most 50000"),
    ("batch-huge", [*T, "--batch-size", "1000000000", "--data-dir", "DATA"], None, "batch size must be at most"),
    ("asam-without-adaptive", [*T, "--method", "sam", "--asam", "kwon", "--data-dir", "DATA"], None,
     "needs ASAM switched on (--adaptive)"),
    ("device-missing", [*T, "--device", "cuda:7", "--data-dir", "DATA"], None, "cuda:7"),
    ("device-unknown", [*T, "--device", "tpu", "--data-dir", "DATA"], None, "unknown device"),
    ("restart-alone", [*T, "--restart", "--data-dir", "DATA"], None, "--restart goes with --resume"),
    # --- data files are data, never code
    ("cifar-crafted-pickle", ["train", "--epochs", "1", "--cifar-dir", "DATA/evil", "--data-dir", "DATA"],
     _evil_cifar, "refusing to load"),
    ("cifar-corrupt", ["train", "--epochs", "1", "--cifar-dir", "DATA/junk", "--data-dir", "DATA"],
     _corrupt_cifar, "truncated or corrupt"),
    # --- resuming
    ("resume-unknown", ["train", "--resume", "42", "--data-dir", "DATA"], None, "no run with id 42"),
    ("resume-completed", ["train", "--resume", "1", "--data-dir", "DATA"], None, "already completed"),
    ("resume-running", ["train", "--resume", "2", "--data-dir", "DATA"], _running_here, "still running"),
    ("resume-deleted-folder", ["train", "--resume", "2", "--data-dir", "DATA"], _delete_folder, "--restart"),
    ("resume-crafted-checkpoint", ["train", "--resume", "2", "--data-dir", "DATA"], _evil_checkpoint,
     "is not a plain tensor checkpoint; refusing to load it"),
    ("resume-corrupt-checkpoint", ["train", "--resume", "2", "--data-dir", "DATA"], _corrupt_checkpoint,
     "unreadable or corrupt"),
    # --- sweeps: bounded
    ("trials-huge", ["eval", "robustness", "1", "--trials", "1000000000", "--data-dir", "DATA"], None,
     "trials must be at most 10000"),
    ("trials-0", ["eval", "robustness", "1", "--trials", "0", "--data-dir", "DATA"], None, "at least 1"),
    ("strengths-too-many", ["eval", "robustness", "1", "-s", ",".join(str(i / 1e4) for i in range(1001)),
                            "--data-dir", "DATA"], None, "at most 1000 perturbation strengths"),
    ("strength-inf", ["eval", "robustness", "1", "-s", "0,inf", "--data-dir", "DATA"], None, "finite"),
    ("bits-17", ["eval", "quantization", "1", "--bits", "8,17", "--data-dir", "DATA"], None, "1 to 16"),
    ("eval-unfinished", ["eval", "quantization", "2", "--data-dir", "DATA"], None, "has not finished"),
    # --- the other commands
    ("show-unknown", ["show", "42", "--data-dir", "DATA"], None, "no run with id 42"),
    ("export-unknown-table", ["export", "nope", "--data-dir", "DATA"], None, "unknown table"),
]


def _nawt_in_process(args: list[str], capsys) -> tuple[int, str, str]:
    """`nawt ARGS` through the real entry point, in this process (torch is imported once)."""
    import logging

    from nawt_cli.main import main

    saved, logger = sys.argv, logging.getLogger("nawt")
    handlers, propagate = logger.handlers[:], logger.propagate
    sys.argv = ["nawt", *args]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = saved
        logger.handlers[:], logger.propagate = handlers, propagate
    out = capsys.readouterr()
    return code, out.out, out.err


def _check_bad_input(home, args, setup, needle, invoke) -> None:
    if setup is not None:
        setup(home)
    before_rows, before_files = _rows(home / "nawt.db"), _files(home)
    code, out, err = invoke([a.replace("DATA", str(home)) for a in args])
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], lines[0]
    assert "s3cret" not in err + out
    assert not (home / MARKER).exists(), "a crafted file ran code"
    assert _rows(home / "nawt.db") == before_rows
    assert _files(home) == before_files


@pytest.mark.parametrize("args,setup,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_matrix(home, args, setup, needle, capsys, monkeypatch):
    monkeypatch.setenv("NAWT_OFFLINE", "1")
    monkeypatch.delenv("NAWT_DB", raising=False)
    _check_bad_input(home, args, setup, needle, lambda a: _nawt_in_process(a, capsys))


@pytest.mark.parametrize("case", ["db-password-masked", "cifar-crafted-pickle", "resume-crafted-checkpoint"])
def test_bad_input_matrix_as_a_user_runs_it(home, case):
    """A few of the cases in a fresh `nawt` process, exactly as a user meets them."""
    _, args, setup, needle = next(c for c in CASES if c[0] == case)

    def invoke(a):
        proc = run_cli(*a, timeout=120, env={"NAWT_OFFLINE": "1"})
        return proc.returncode, proc.stdout, proc.stderr

    _check_bad_input(home, args, setup, needle, invoke)


def test_matrix_size():
    """Reported in the issue's note; keeps the count honest if cases are dropped."""
    assert len(CASES) >= 33


# ------------------------------------------------------ names are not markup
def test_names_with_markup_are_shown_literally(home):
    con = sqlite3.connect(home / "nawt.db")
    con.execute("update run set name = '[/bad]' where id = 1")
    con.execute("update run set name = '[link=http://evil.example]click[/link]', error = '[/oops]' where id = 2")
    con.commit()
    con.close()
    table = run_cli("runs", "--data-dir", str(home), env={"COLUMNS": "160"})
    assert table.returncode == 0, table.stderr
    assert "[/bad]" in table.stdout and "[link=http://evil" in table.stdout
    for rid in ("1", "2"):
        shown = run_cli("show", rid, "--data-dir", str(home))
        assert shown.returncode == 0, shown.stderr
    assert "[link=http://evil.example]click[/link]" in shown.stdout and "[/oops]" in shown.stdout


# ----------------------------------------------------------- schema upgrade
# (more in test_migrations.py)
def test_upgrade_notice_is_one_line_on_the_cli(tmp_path):
    import shutil

    from nawt_core import migrate

    db = tmp_path / "nawt.db"
    shutil.copy(Path(__file__).parent / "data" / "nawt-pre-alembic.db", db)
    con = sqlite3.connect(db)
    con.execute("alter table run drop column notes")
    con.commit()
    con.close()
    proc = run_cli("runs", "--json", "--data-dir", str(tmp_path))
    assert proc.returncode == 0
    later = "".join(f"; {msg.split(':')[0]}" for _, msg in migrate.revisions()[1:])
    assert proc.stderr.strip() == f"info: upgraded the database schema unversioned → {migrate.head()}: " \
        f"baseline (added run.notes){later}"


# --------------------------------------------------------- failure reasons
def test_failure_reasons_are_one_readable_line():
    from nawt_core.failures import describe

    e = OSError(errno.ENOSPC, "No space left on device", "/x/runs/3/.last.pt.tmp-1")
    assert describe(e, "writing last.pt") == "disk full while writing last.pt (/x/runs/3/.last.pt.tmp-1: No space left on device)"
    assert describe(MemoryError(), "preparing the run").startswith("out of memory while preparing the run")
    oom = RuntimeError("[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: can't allocate memory: you tried 8 GB")
    assert describe(oom).startswith("out of memory (data. DefaultCPUAllocator")
    enforce = RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: file write failed")
    line = describe(enforce, "writing last.pt")
    assert "enforce fail" not in line and "while writing last.pt" in line and "file write failed" in line
    from sqlalchemy.exc import OperationalError

    full = OperationalError("UPDATE run", {}, sqlite3.OperationalError("database or disk is full"))
    assert describe(full).startswith("disk full: the database cannot be written")


def _trained(store, tiny_cfg, data_dir, **kw):
    from nawt_core.records import create_run

    return create_run(store, tiny_cfg(**{"train_subset": 128, "test_subset": 50, **kw}), data_dir)


def test_disk_full_while_saving_fails_the_run_with_a_reason(store, tiny_cfg, data_dir, monkeypatch):

    from nawt_core import checkpoint
    from nawt_core.errors import NawtError
    from nawt_core.runner import execute

    run = _trained(store, tiny_cfg, data_dir, epochs=1)

    def full(state, path):
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint.torch, "save", full)
    with pytest.raises(NawtError, match="disk full while writing last.pt"):
        execute(store, run.id)
    after = store.get_run(run.id)
    assert after.status == "failed" and after.error.startswith("disk full while writing last.pt")
    assert not list(store.folder(after).glob(".*tmp*")) and not (store.folder(after) / "last.pt").exists()
    monkeypatch.undo()
    assert execute(store, run.id).status == "completed"  # and it can be resumed


def test_out_of_memory_during_training_fails_the_run(store, tiny_cfg, data_dir):
    from nawt_core.errors import NawtError
    from nawt_core.records import Reporter
    from nawt_core.runner import execute

    class Boom(Reporter):
        def batch(self, batch):
            raise MemoryError()

    run = _trained(store, tiny_cfg, data_dir, epochs=1)
    with pytest.raises(NawtError, match="out of memory"):
        execute(store, run.id, Boom())
    after = store.get_run(run.id)
    assert after.status == "failed" and after.error.startswith("out of memory")


def test_folder_deleted_while_training_fails_with_a_reason(store, tiny_cfg, data_dir):
    from nawt_core.errors import NawtError
    from nawt_core.records import Reporter
    from nawt_core.runner import execute

    class Deleter(Reporter):
        def batch(self, batch):
            shutil.rmtree(store.folder(run), ignore_errors=True)

    run = _trained(store, tiny_cfg, data_dir, epochs=1)
    with pytest.raises(NawtError, match="disappeared while writing last.pt"):
        execute(store, run.id, Deleter())
    assert store.get_run(run.id).status == "failed"
    with pytest.raises(NawtError, match="--restart"):
        execute(store, run.id)
    done = execute(store, run.id, restart=True)
    assert done.status == "completed" and [e.epoch for e in store.epochs(run.id)] == [1]


def test_database_full_at_the_end_is_one_line_and_the_next_start_repairs(store, tiny_cfg, data_dir, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from nawt_core.errors import NawtError
    from nawt_core.runner import execute
    from nawt_core.store import Store, effective_status

    run = _trained(store, tiny_cfg, data_dir, epochs=1)
    real = Store.update_run

    def full(self, run_id, **fields):
        if fields.get("finished_at") is not None:
            raise OperationalError("UPDATE run", {}, sqlite3.OperationalError("database or disk is full"))
        return real(self, run_id, **fields)

    monkeypatch.setattr(Store, "update_run", full)
    with pytest.raises(NawtError, match="could not record it: disk full"):
        execute(store, run.id)
    monkeypatch.setattr(Store, "update_run", real)
    store.update_run(run.id, pid=_dead_pid())  # as if this process had exited
    assert effective_status(store.get_run(run.id)) == "stale"
    assert store.settle_stale() == [f"run {run.id}"]
    after = store.get_run(run.id)
    assert after.status == "interrupted" and "ended before the run finished" in after.error


# ---------------------------------------------------------- one status
def test_queued_and_evaluations_with_a_dead_process_are_stale_everywhere(home):
    import json

    from nawt_core.store import Store

    store = Store(f"sqlite:///{home / 'nawt.db'}")
    dead = _dead_pid()
    store.update_run(2, status="queued", pid=dead)
    ev = store.create_evaluation(run_id=1, kind="robustness", status="running", host=store.list_runs()[0].host,
                                 pid=dead)
    waiting = store.create_evaluation(run_id=1, kind="robustness", status="running")  # no process recorded
    d = str(home)
    runs = json.loads(run_cli("runs", "--json", "--data-dir", d).stdout)
    assert [r["status"] for r in runs] == ["completed", "stale"]
    exported = json.loads(run_cli("export", "runs", "--format", "json", "--data-dir", d).stdout)
    assert [r["status"] for r in exported] == ["completed", "stale"]
    compared = json.loads(run_cli("compare", "--json", "--data-dir", d).stdout)
    assert sorted(r["status"] for r in compared["runs"]) == ["completed", "stale"]
    shown = json.loads(run_cli("show", "1", "--json", "--data-dir", d).stdout)
    assert [e["status"] for e in shown["evaluations"]] == ["stale", "running"]
    assert sorted(store.settle_stale()) == [f"evaluation {ev.id}", "run 2"]
    assert store.get_run(2).status == "interrupted"
    assert [e.status for e in store.evaluations(1)] == ["failed", "running"]
    assert waiting.id != ev.id


def test_tui_sees_the_same_status(home):
    from nawt_core.store import Store
    from nawt_tui.data import DataSource

    Store(f"sqlite:///{home / 'nawt.db'}").update_run(2, status="queued", pid=_dead_pid())
    views = DataSource(f"sqlite:///{home / 'nawt.db'}", str(home)).run_views()
    assert [v.status for v in views] == ["completed", "stale"]


# ------------------------------------------------- temporaries and secrets
def test_stale_checkpoint_temporaries_are_removed_on_resume(home):
    from nawt_core.runner import execute
    from nawt_core.store import Store

    folder = home / "runs" / "2"
    left = folder / f".last.pt.tmp-{_dead_pid()}"
    left.write_bytes(b"half a checkpoint")
    store = Store(f"sqlite:///{home / 'nawt.db'}")
    store.update_run(2, config={**store.get_run(2).config, "epochs": 2}, epochs=2)
    run = execute(store, 2)
    assert run.status == "completed" and not left.exists()


def test_detached_child_gets_the_url_from_the_environment(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from nawt_cli import train_cmds

    seen = {}

    class FakePopen:
        def __init__(self, argv, env=None, **kw):
            seen.update(argv=argv, env=env)
            self.pid = 4242

    class FakeStore:
        def update_run(self, *a, **kw):
            pass

        def folder(self, run):
            return Path(run.run_dir)

        def stored(self, path):
            return str(path)

    url = "postgresql+psycopg://bob:s3cret@db/nawt"
    monkeypatch.setattr(train_cmds.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(train_cmds, "open_store", lambda *a, **kw: FakeStore())
    train_cmds._detach(SimpleNamespace(id=7, run_dir=str(tmp_path)), url, tmp_path, None)
    assert "s3cret" not in " ".join(seen["argv"]) and "--db" not in seen["argv"]
    assert seen["env"]["NAWT_DB"] == url
    assert train_cmds._place_args(url, Path("data"), None) == " --db postgresql+psycopg://bob:***@db/nawt"


# ------------------------------------------------------------ bounded sweeps
def test_sweep_jobs_are_lazy_and_memory_stays_flat():
    import itertools
    import tracemalloc

    from nawt_core.sweeps import count_jobs, sweep_jobs

    tracemalloc.start()
    jobs = sweep_jobs([0.0, 0.1, 0.2], 10**9)
    first = list(itertools.islice(jobs, 5))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert first == [(0.0, 0), (0.1, 0), (0.1, 1), (0.1, 2), (0.1, 3)]
    assert peak < 1_000_000
    assert count_jobs([0.0, 0.1, 0.2], 10**9) == 1 + 2 * 10**9
