"""The run store: SQLModel tables and a small API over short transactions.

SQLite by default (``data/nawt.db``, WAL, busy timeout) so that a headless
training, an evaluation and the TUI can share one file; any SQLAlchemy URL
(``--db`` / ``NAWT_DB``) for PostgreSQL when several machines share runs.
This module must not import torch: the TUI reads the store through it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from sqlalchemy import JSON, Column, event, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

from . import migrate
from .errors import LostClaim, NawtError
from .failures import short
from .status import Status

log = logging.getLogger("nawt.store")

# A running run is stale when its process is gone (same host), or when its
# heartbeat has been silent this long (another host, or a reused pid).
LOST_AFTER_S = 600.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands times back without their zone; every stored time is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    method: str = Field(index=True)
    study: str | None = Field(default=None, index=True)
    config: dict = Field(default_factory=dict, sa_column=Column(JSON))
    config_key: str = Field(default="", index=True)  # hash of the config, for study de-duplication
    seed: int = 0
    status: str = Field(default=Status.QUEUED.value, index=True)
    dataset: str = ""
    device: str = ""
    precision: str | None = None  # fp32 or bf16 as used (config's may say auto); set when training starts
    precision_reason: str | None = None  # why, e.g. "auto: this CPU (…) runs bf16 natively (avx512_bf16)"
    # CUDA's TF32 math for fp32 convolutions / matmuls as the run trained (None on a CPU)
    tf32_conv: bool | None = None
    tf32_matmul: bool | None = None
    torch_version: str = ""
    nawt_version: str = ""
    git_commit: str | None = None
    host: str = ""
    pid: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    stop_requested: bool = False
    # live progress, written at epoch ends and by the throttled heartbeat
    epoch: int = 0  # completed epochs
    epochs: int = 0
    batch: int = 0  # batches done in the current epoch
    batches: int = 0  # batches per epoch
    train_loss: float | None = None
    train_acc: float | None = None
    test_acc: float | None = None
    best_test_acc: float | None = None
    final_test_acc: float | None = None  # final.pt's weights: after the last epoch's end change (naive noise)
    # the last epoch's trained weights, before the method's end-of-epoch change (naive noise's noise);
    # equal to final_test_acc where nothing changes at the end; None in runs from before it was recorded
    final_trained_test_acc: float | None = None
    images_per_sec: float | None = None
    train_seconds: float = 0.0  # training wall time, evaluation excluded
    compile_seconds: float | None = None  # --compile: the compiled step's warm-up, not in train_seconds
    run_dir: str = ""
    checkpoint_last: str | None = None
    checkpoint_final: str | None = None
    log_path: str | None = None
    error: str | None = None
    notes: str = ""
    tags: list = Field(default_factory=list, sa_column=Column(JSON))  # None in rows older than tags
    # the run queue (queue.py): a place in the queue while queued or claimed, else None
    queue_pos: float | None = Field(default=None, index=True)
    worker_id: str | None = None  # the worker that claimed it (its host, pid and device are host/pid/device)
    claimed_at: datetime | None = None
    attempts: int = 0  # claims so far; a run re-queued after its worker vanished counts again
    # the one process that may train the run (claims.py): a new token at every claim; a trainer
    # whose token is no longer here lost the run to another process and stops without writing
    claim: str | None = None


class Epoch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    # the weights the epoch ends with (checkpointed; final.pt after the last epoch); None: not evaluated
    test_loss: float | None = None
    test_acc: float | None = None
    # the weights as the epoch's steps left them, before the method's end-of-epoch change (naive noise's
    # noise): evaluated apart only when there is such a change, else the same numbers as test_loss/test_acc
    trained_test_loss: float | None = None
    trained_test_acc: float | None = None
    lr: float = 0.0
    rho: float | None = None
    epoch_seconds: float = 0.0  # training only
    eval_seconds: float = 0.0  # 0 in an epoch that did not evaluate (--eval-every)
    checkpoint_seconds: float | None = None  # writing last.pt; None: no checkpoint that epoch (or an old row)
    images_per_sec: float = 0.0
    # the epoch's wall time (training + evaluation) and how busy the machine was meanwhile
    wall_seconds: float | None = None
    load_avg: float | None = None  # 1-minute load average at the epoch's end
    cpu_util: float | None = None  # whole-machine CPU busy fraction over the epoch (Linux)
    gpu_util: float | None = None  # GPU busy fraction at the end (CUDA with nvidia-ml-py), else None
    gpu_others: int | None = None  # other processes computing on the GPU at the end (NVML), else None
    # epochs of one cost class take the same work per step by design (spec.MethodSpec.cost_class,
    # e.g. "1 pass" / "2 passes"): the training-cost estimate (cost.py) takes a median per class
    cost_class: str | None = None
    # per conv/linear weight of the weights the epoch ends with: {name: {"l2", "max", "std"}}
    weight_stats: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class Evaluation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    kind: str = Field(index=True)  # an evaluation's name (nawt_core/evalspec.py)
    config: dict = Field(default_factory=dict, sa_column=Column(JSON))
    seed: int = 0
    status: str = Status.RUNNING.value  # queued | running | completed | failed
    device: str = ""
    # CUDA's TF32 math for fp32 convolutions / matmuls as the sweep ran (None on a CPU)
    tf32_conv: bool | None = None
    tf32_matmul: bool | None = None
    host: str = ""  # where the evaluating process runs (with pid: tells a dead one)
    pid: int | None = None
    clean_acc: float | None = None
    seconds: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    error: str | None = None
    progress: float | None = None  # fraction done, written by the sweep now and then
    log_path: str | None = None  # where the evaluating process writes its output


class EvalPoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    param: float  # the swept value (its EvalSpec.param), or a metric's index for per-run scalars
    trial: int = 0
    accuracy: float
    loss: float | None = None


class Study(SQLModel, table=True):
    name: str = Field(primary_key=True)
    preset: str = ""
    config: dict = Field(default_factory=dict, sa_column=Column(JSON))
    out_dir: str = ""
    status: str = Status.RUNNING.value
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    # the one `nawt study` process running it now (claims.py): two at once would train every run twice
    holder: str | None = None
    holder_host: str | None = None
    holder_pid: int | None = None
    heartbeat_at: datetime | None = None


class Worker(SQLModel, table=True):
    """A process that executes queued runs (``nawt worker``), for the workers view."""

    id: str = Field(primary_key=True)  # host-pid-random
    host: str = ""
    pid: int | None = None
    device: str = ""  # what it was asked for: cpu, cuda:N, or auto
    threads: int | None = None
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime | None = None
    run_id: int | None = None  # the run it executes now
    status: str = "idle"  # idle | running | stopped
    runs_done: int = 0


def default_url(data_dir: str | os.PathLike = "data") -> str:
    """``--db`` beats ``NAWT_DB`` beats ``<data_dir>/nawt.db``."""
    env = os.environ.get("NAWT_DB")
    if env:
        return as_url(env)
    return f"sqlite:///{Path(data_dir) / 'nawt.db'}"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def as_url(value: str) -> str:
    """A ``--db`` value as a URL: one without a scheme (``name:``) is the path of a SQLite file
    (what people type first: ``--db runs.db``, ``--db ~/nawt/nawt.db``)."""
    if _SCHEME.match(value):  # a URL, or a mistyped one (``sqlite:/x``): its own error line
        return value
    return f"sqlite:///{Path(value).expanduser()}"


_SECRET_PARAM = re.compile(r"pass|pwd|secret|token", re.I)  # query parameters that carry a secret


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries: its password and the values of query parameters like
    ``password=`` or ``sslpassword=`` (libpq takes a password in either place)."""
    try:
        u = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        return []
    found = [u.password] if u.password else []
    for k, v in u.query.items():
        if _SECRET_PARAM.search(k):
            found += [x for x in ((v,) if isinstance(v, str) else v) if x]
    return [str(x) for x in found]


def mask_url(url: str) -> str:
    """The URL with its password hidden, for anything printed, logged or stored."""
    try:
        u = make_url(url)
        secret_keys = [k for k in u.query if _SECRET_PARAM.search(k)]
        if secret_keys:
            u = u.update_query_dict({k: "***" for k in secret_keys})
        return u.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
    except (ArgumentError, ValueError, TypeError):
        masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))
        return re.sub(r"((?:pass|pwd|secret|token)[^=&]*=)[^&]*", r"\1***", masked, flags=re.I)


def hide_secrets(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with every secret of ``url`` replaced by ***."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def _sqlite_folder(url: str) -> Path | None:
    path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else ""
    if not path or path.startswith(":memory:") or path.startswith("file:"):
        return None
    return Path(path).parent


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_read_only_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _prepare_sqlite_path(url: str, create: bool) -> str | None:
    """Checks (and makes) the SQLite file's folder. Returns a read-only URL for a store that
    is opened only to be read (``create=False``) and cannot be written: a read-only mount,
    a shared copy without write permission. Its listings work; a write says it is read-only."""
    path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else ""
    if not path or path.startswith(":memory:") or path.startswith("file:"):
        return None
    db = Path(path)
    if not create and not db.exists():
        raise NawtError(f"no database at {db} (train a run first, or pass --db URL)")
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NawtError(f"cannot create the data directory {db.parent}: {e.strerror}") from None
    folder_ok = os.access(db.parent, os.W_OK) and not _read_only_mount(db.parent)
    if folder_ok and (not db.exists() or os.access(db, os.W_OK)):
        return None
    if create:
        raise NawtError(f"the database {db} is not writable (check the permissions of {db.parent})")
    # a WAL database in a folder nobody can write has no -shm file to share: read it as immutable
    flags = "mode=ro" if folder_ok else "mode=ro&immutable=1"
    return f"sqlite:///file:{quote(str(db.resolve()))}?{flags}&uri=true"


def _read_only_mount(folder: Path) -> bool:
    """The folder is on a file system mounted read-only (root's os.access says writable there)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _engine(url: str, create: bool):
    """An engine for ``url`` (and whether it is read-only); a malformed URL or a missing
    driver is one clear line."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise NawtError(f"--db {mask_url(url)!r} is not a database URL; use a SQLite file's path (data/nawt.db) "
                        "or a URL such as postgresql+psycopg://user@host/db") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            read_only = _prepare_sqlite_path(url, create)
            engine = create_engine(read_only or url, connect_args={"check_same_thread": False, "timeout": 10})
            event.listen(engine, "connect", _sqlite_read_only_pragmas if read_only else _sqlite_pragmas)
            return engine, bool(read_only)
        return create_engine(url, pool_pre_ping=True), False
    except NoSuchModuleError:
        raise NawtError(f"unknown database kind {parsed.drivername!r} in --db {mask_url(url)}; "
                        "use sqlite:///… or postgresql+psycopg://…") from None
    except ImportError as e:
        hint = " (pip install 'nawt[postgres]')" if parsed.get_backend_name() == "postgresql" else ""
        raise NawtError(f"the database driver for {parsed.drivername} is not installed{hint}: {e}") from None


class Store:
    """All reads and writes of runs, epochs and evaluations; one short session each."""

    def __init__(self, url: str | None = None, *, create: bool = True, upgrade: bool = True,
                 home: str | os.PathLike | None = None):
        """``upgrade=False`` opens the database as it is (``nawt db current``). ``home`` is the
        data dir that run folders are recorded relative to (default: the SQLite file's folder)."""
        self.url = as_url(url) if url else default_url()
        self.home = Path(home) if home is not None else _sqlite_folder(self.url)
        where = mask_url(self.url)
        self.engine, self.read_only = _engine(self.url, create)
        try:
            notice = migrate.upgrade(self.engine, read_only=self.read_only) if upgrade else None
        except NawtError:
            self.engine.dispose()
            raise
        except SQLAlchemyError as e:
            self.engine.dispose()
            raise NawtError(f"cannot open the database {where}: {hide_secrets(short(e), self.url)}") from None
        if notice:
            log.info("%s", notice)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # ------------------------------------------------------------- paths
    def path(self, stored: str | None) -> Path | None:
        """A file or folder as a run records it: relative to the data dir (``runs/7``), so a
        copied or moved data dir keeps its own runs; absolute in rows made before that. A
        relative row of an older nawt (relative to the folder it ran in) is read as it was
        when the data dir has no such path."""
        if not stored:
            return None
        p = Path(stored)
        if p.is_absolute() or self.home is None:
            return p
        here = self.home / p
        return p if not here.exists() and p.exists() else here

    def folder(self, run: Run) -> Path | None:
        return self.path(run.run_dir)

    def stored(self, path: str | os.PathLike) -> str:
        """How ``path`` is recorded on a run: relative to the data dir when inside it."""
        if self.home is not None:
            rel = os.path.relpath(os.path.abspath(path), os.path.abspath(self.home))
            if rel != ".." and not rel.startswith(".." + os.sep):
                return rel
        return str(path)

    # ---------------------------------------------------------------- runs
    def create_run(self, **fields: Any) -> Run:
        run = Run(**fields)
        with self._session() as s:
            s.add(run)
            s.commit()
            s.refresh(run)
        return run

    def get_run(self, run_id: int) -> Run:
        with self._session() as s:
            run = s.get(Run, run_id)
        if run is None:
            raise NawtError(f"no run with id {run_id} (see `nawt runs`)")
        return run

    def update_run(self, run_id: int, *, holding: str | None = None, **fields: Any) -> Run:
        """Sets ``fields`` on the run; with ``holding`` (a claim token, claims.py) only while the
        run's claim is still that token, else LostClaim and nothing is written."""
        with self._session() as s:
            if holding is not None and not s.exec(update(Run).where(Run.id == run_id, Run.claim == holding)
                                                  .values(**fields)).rowcount:
                s.rollback()
                raise LostClaim(f"run {run_id} was taken over by another process; this one stopped without writing")
            run = s.get(Run, run_id)
            if run is None:
                raise NawtError(f"no run with id {run_id} (see `nawt runs`)")
            for k, v in fields.items():
                setattr(run, k, v)
            s.add(run)
            s.commit()
            s.refresh(run)
        return run

    def list_runs(
        self,
        *,
        ids: Iterable[int] | None = None,
        study: str | None = None,
        method: str | None = None,
        status: str | None = None,
    ) -> list[Run]:
        q = select(Run).order_by(Run.id)
        if ids is not None:
            q = q.where(Run.id.in_(list(ids)))
        if study is not None:
            q = q.where(Run.study == study)
        if method is not None:
            q = q.where(Run.method == method)
        if status is not None:
            q = q.where(Run.status == status)
        with self._session() as s:
            return list(s.exec(q).all())

    def find_runs(self, config_key: str) -> list[Run]:
        """Runs trained with the same config (a study's skip/resume test)."""
        with self._session() as s:
            q = select(Run).where(Run.config_key == config_key).order_by(Run.id)
            return list(s.exec(q).all())

    def delete_run(self, run_id: int) -> Run:
        """Removes the run and everything recorded about it (not its files)."""
        run = self.get_run(run_id)
        with self._session() as s:
            eval_ids = list(s.exec(select(Evaluation.id).where(Evaluation.run_id == run_id)).all())
            if eval_ids:
                s.exec(delete(EvalPoint).where(EvalPoint.evaluation_id.in_(eval_ids)))
            s.exec(delete(Evaluation).where(Evaluation.run_id == run_id))
            s.exec(delete(Epoch).where(Epoch.run_id == run_id))
            s.exec(delete(Run).where(Run.id == run_id))
            s.commit()
        return run

    def settle_stale(self, host: str | None = None) -> list[str]:
        """Records how runs and evaluations whose process died on this host ended
        (killed, out of memory, the database full when it tried to say so):
        runs become interrupted (resumable), evaluations failed. Returns what changed."""
        changed = []
        for run in self.list_runs(status=Status.RUNNING) + self.list_runs(status=Status.QUEUED):
            if run.queue_pos is not None:
                continue  # in the run queue: its reaper re-queues it and counts the attempt (queue.py)
            if _gone(run, host):
                why = "started" if run.status == Status.QUEUED else "finished"
                self.update_run(run.id, status=Status.INTERRUPTED, finished_at=utcnow(),
                                error=f"its process (pid {run.pid}) ended before the run {why}")
                changed.append(f"run {run.id}")
        for ev in self.evaluations(status=Status.RUNNING) + self.evaluations(status=Status.QUEUED):
            if _gone(ev, host):
                self.update_evaluation(ev.id, status=Status.FAILED, finished_at=utcnow(),
                                       error=f"its process (pid {ev.pid}) ended before the evaluation finished")
                changed.append(f"evaluation {ev.id}")
        return changed

    # -------------------------------------------------------------- epochs
    def add_epoch(self, run_id: int, run_fields: dict[str, Any] | None = None, holding: str | None = None,
                  **metrics: Any) -> Epoch:
        """One epoch row and the run's summary fields, in one transaction; with ``holding``
        only while the run's claim is that token (else LostClaim, nothing written)."""
        row = Epoch(run_id=run_id, **metrics)
        with self._session() as s:
            if holding is not None and not s.exec(update(Run).where(Run.id == run_id, Run.claim == holding)
                                                  .values(claim=holding)).rowcount:
                s.rollback()
                raise LostClaim(f"run {run_id} was taken over by another process; this one stopped without writing")
            s.exec(delete(Epoch).where(Epoch.run_id == run_id, Epoch.epoch == row.epoch))
            s.add(row)
            run = s.get(Run, run_id)
            for k, v in (run_fields or {}).items():
                setattr(run, k, v)
            s.add(run)
            s.commit()
            s.refresh(row)
        return row

    def epochs(self, run_id: int) -> list[Epoch]:
        with self._session() as s:
            q = select(Epoch).where(Epoch.run_id == run_id).order_by(Epoch.epoch)
            return list(s.exec(q).all())

    def truncate_epochs(self, run_id: int, after: int) -> None:
        """Drops epoch rows past ``after`` (a resumed run redoes them)."""
        with self._session() as s:
            s.exec(delete(Epoch).where(Epoch.run_id == run_id, Epoch.epoch > after))
            s.commit()

    # --------------------------------------------------------- evaluations
    def create_evaluation(self, **fields: Any) -> Evaluation:
        ev = Evaluation(**fields)
        with self._session() as s:
            s.add(ev)
            s.commit()
            s.refresh(ev)
        return ev

    def update_evaluation(self, eval_id: int, **fields: Any) -> Evaluation:
        with self._session() as s:
            ev = s.get(Evaluation, eval_id)
            for k, v in fields.items():
                setattr(ev, k, v)
            s.add(ev)
            s.commit()
            s.refresh(ev)
        return ev

    def add_points(self, eval_id: int, points: Iterable[dict[str, Any]]) -> None:
        with self._session() as s:
            s.add_all([EvalPoint(evaluation_id=eval_id, **p) for p in points])
            s.commit()

    def evaluations(
        self, run_id: int | None = None, kind: str | None = None, *, completed_only: bool = False,
        status: str | None = None,
    ) -> list[Evaluation]:
        q = select(Evaluation).order_by(Evaluation.id)
        if status is not None:
            q = q.where(Evaluation.status == status)
        if run_id is not None:
            q = q.where(Evaluation.run_id == run_id)
        if kind is not None:
            q = q.where(Evaluation.kind == kind)
        if completed_only:
            q = q.where(Evaluation.status == Status.COMPLETED)
        with self._session() as s:
            return list(s.exec(q).all())

    def points(self, eval_id: int) -> list[EvalPoint]:
        with self._session() as s:
            q = select(EvalPoint).where(EvalPoint.evaluation_id == eval_id)
            return list(s.exec(q.order_by(EvalPoint.param, EvalPoint.trial)).all())

    # ------------------------------------------------------------- studies
    def upsert_study(self, name: str, **fields: Any) -> Study:
        with self._session() as s:
            st = s.get(Study, name) or Study(name=name)
            for k, v in fields.items():
                setattr(st, k, v)
            s.add(st)
            s.commit()
            s.refresh(st)
        return st

    def get_study(self, name: str) -> Study:
        with self._session() as s:
            st = s.get(Study, name)
        if st is None:
            raise NawtError(f"no study named {name!r}")
        return st

    def list_studies(self) -> list[Study]:
        with self._session() as s:
            return list(s.exec(select(Study).order_by(Study.created_at)).all())


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _gone(row, host: str | None) -> bool:
    """The row names a process on this host, and that process no longer exists."""
    return bool(row.pid) and row.host == (host or socket.gethostname()) and not pid_alive(row.pid)


def effective_status(row: Run | Evaluation, now: datetime | None = None, host: str | None = None) -> str:
    """The one status to show for a run or an evaluation (CLI, JSON, exports, TUI).

    It is the stored status, except ``stale`` when nothing will ever finish it:
    - a running run whose process (pid, on this host) is gone, or whose
      heartbeat has been silent for LOST_AFTER_S (another host, a reused pid);
    - a queued run that recorded a process (its creator, or the --detach child
      that trains it) and that process is gone from this host. A queued run
      without a pid is waiting for someone to claim it and stays queued;
    - a queued or running evaluation whose process is gone from this host.
    """
    if isinstance(row, Evaluation):
        return Status.STALE if row.status in (Status.QUEUED, Status.RUNNING) and _gone(row, host) else row.status
    if row.status == Status.QUEUED:
        return Status.STALE if _gone(row, host) else Status.QUEUED
    if row.status != Status.RUNNING:
        return row.status
    if _gone(row, host):
        return Status.STALE  # its process is gone: nothing will ever finish it
    now = now or utcnow()
    beat = row.heartbeat_at or row.started_at or row.created_at
    silent = (as_utc(now) - as_utc(beat)).total_seconds()
    return Status.STALE if silent > LOST_AFTER_S else Status.RUNNING


__all__ = [
    "Epoch",
    "EvalPoint",
    "Evaluation",
    "NawtError",
    "OperationalError",
    "Run",
    "Store",
    "Study",
    "Worker",
    "default_url",
    "effective_status",
    "hide_secrets",
    "mask_url",
    "pid_alive",
    "as_utc",
    "utcnow",
]
