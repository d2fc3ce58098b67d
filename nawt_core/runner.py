"""One training run, from config to checkpoint, recorded in the store: the
trainer (torch). The run's queued row, resume checks and the reporter
interface live in records.py, without torch; ``execute`` trains a recorded
run, resuming from ``last.pt`` when it was interrupted or its process died.

The store is written at epoch ends and by a heartbeat at most every
HEARTBEAT_S seconds, never per step; the host syncs with the device only at
those moments too.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import signal
import socket
import time
from pathlib import Path

import torch
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from .checkpoint import clean_temporaries, load, save_atomic
from .config import TrainConfig
from .data import DeviceData, load_arrays
from .device import (autocast_dtype, deterministic_mode, device_name, hardware_facts, keep_freed_memory,
                     resolve_device, resolve_precision, resume_device, seed_everything, synchronize, tf32_flags)
from .claims import check, lost, take
from .errors import Failed, LostClaim, NawtError
from .evaluate import evaluate
from .failures import describe
from .machine import LoadMeter
from .methods import make_method, make_optimizer
from .models import build_model, weight_stats
from .records import HEARTBEAT_S, Progress, Reporter, check_resumable, lr_at, note_training_code, restart_run
from .status import Status
from .store import Run, Store, utcnow

log = logging.getLogger("nawt.runner")
HEARTBEAT_TRIES = 4  # a heartbeat write retried with backoff (0.05, 0.1, 0.2 s), then skipped


class Interrupted(Exception):
    """A stop was asked for (Ctrl-C, SIGTERM, or stop_requested in the store)."""


class Diverged(Exception):
    """The loss became NaN or infinite."""


# ------------------------------------------------------------------ training
class Trainer:
    """Builds everything a run needs and trains it epoch by epoch."""

    def __init__(self, store: Store, run: Run, reporter: Reporter | None = None, *, data_dir: str | Path | None = None,
                 device: torch.device | None = None, claim: str | None = None):
        self.store, self.run, self.reporter = store, run, reporter or Reporter()
        self.claim = claim  # this process's claim on the run (claims.py): every write checks it is still ours
        self.cfg = cfg = TrainConfig.from_dict(run.config)
        self.run_dir = store.folder(run)
        self.device = device if device is not None else resolve_device(cfg.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        seed_everything(cfg.seed, cfg.deterministic)
        arrays = load_arrays(cfg.dataset, data_dir or cfg.data_dir, train_subset=cfg.train_subset,
                             test_subset=cfg.test_subset)
        self.data = DeviceData(arrays, self.device, channels_last=True)
        self.model = build_model(cfg.arch).to(self.device, memory_format=torch.channels_last)
        self.opt = make_optimizer(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                  nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=cfg.weight_decay)
        self.data_gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.method_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        if run.precision:  # a resumed run keeps the precision it started with
            self.precision, self.precision_reason = run.precision, run.precision_reason
            resolve_precision(run.precision, self.device)  # warns if this hardware runs it slowly
        else:
            self.precision, self.precision_reason = resolve_precision(cfg.precision, self.device)
        self.amp = autocast_dtype(self.precision, self.device)
        forward = torch.compile(self.model) if cfg.compile else None
        self.compile_seconds = 0.0  # warm-up of the compiled step, kept out of train_seconds
        self.method = make_method(self.model, self.opt, cfg, gen=self.method_gen,
                                  autocast_dtype=self.amp, forward=forward)
        self.steps = self.data.steps_per_epoch(cfg.batch_size)
        self.epoch_images = min(self.data.n_train, self.steps * cfg.batch_size)  # train_batches drops the ragged end
        self.device_label = device_name(self.device)
        # the GPU for the load meter by UUID: under CUDA_VISIBLE_DEVICES=2, cuda:0 is NVML's GPU 2
        self.gpu_id = (hardware_facts(self.device).uuid or self.device.index or 0) \
            if self.device.type == "cuda" else None
        self.start_epoch, self.train_seconds, self.best = 0, 0.0, None
        self.stop_flag = False

    # ------------------------------------------------------------ state
    def state(self, epoch: int) -> dict:
        return {
            "format": 1, "epoch": epoch, "config": self.cfg.to_dict(), "owner": self.owner(),
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "data": self.data_gen.get_state(),
                    "method": self.method_gen.get_state(), **self._cuda_rng()},
            "rng_device": self.device.type,  # the generators' kind: their states fit no other
            "train_seconds": self.train_seconds, "best_test_acc": self.best,
        }

    def owner(self) -> str:
        """Ties a checkpoint to this run of this store (run ids repeat across databases)."""
        return f"{self.run.id}@{self.run.created_at.isoformat()}"

    def restore(self, path: Path) -> None:
        state = load(path, map_location=self.device)
        if state.get("owner") != self.owner():
            raise NawtError(f"checkpoint {path} belongs to another run (not run {self.run.id} of this database)")
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"]["torch"].cpu())
        except (KeyError, RuntimeError, ValueError) as e:
            raise NawtError(f"checkpoint {path} does not match run {self.run.id}: {str(e).splitlines()[0][:160]}") from None
        self._restore_device_rng(state, int(state["epoch"]))
        self.start_epoch = int(state["epoch"])
        self.train_seconds = float(state["train_seconds"])
        self.best = state.get("best_test_acc")

    def _cuda_rng(self) -> dict:
        return {"cuda": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {}

    def _restore_device_rng(self, state: dict, epoch: int) -> None:
        """The data-order and method generators live on the training device, and a
        state saved on one device type does not fit a generator of another. Same
        type: restored exactly. Another (the run moved between a GPU and a CPU
        host): both reseeded from (seed, epoch), so a moved run is still
        reproducible, though not the same numbers it would have had unmoved."""
        rng = state["rng"]
        came_from = state.get("rng_device")  # absent in older checkpoints: try, and reseed if it does not fit
        if came_from in (None, self.device.type):
            try:
                self.data_gen.set_state(rng["data"].cpu())
                self.method_gen.set_state(rng["method"].cpu())
                if self.device.type == "cuda" and "cuda" in rng:
                    torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)
                return
            except (KeyError, RuntimeError, ValueError):
                pass
        self.data_gen.manual_seed(_stream_seed(self.cfg.seed, epoch, "data"))
        self.method_gen.manual_seed(_stream_seed(self.cfg.seed, epoch, "method"))
        log.warning("run %s resumes on %s but its random state was saved on %s: data order and method noise "
                    "reseeded from (seed %s, epoch %s)", self.run.id, self.device.type, came_from or "another device",
                    self.cfg.seed, epoch)

    # ------------------------------------------------------------ loop
    def prepare(self) -> None:
        """Reads last.pt, where the run resumes. A checkpoint that cannot be used is refused
        here, before training touches the run (execute puts its status back)."""
        clean_temporaries(self.run_dir)  # left by a kill during a checkpoint write
        last = self.run_dir / "last.pt"
        if last.exists():
            self.restore(last)
        self.prepared = True

    def train(self) -> Run:
        if not getattr(self, "prepared", False):
            self.prepare()
        # epochs after the checkpoint (--checkpoint-every > 1; all of them without one) are trained again
        self.store.truncate_epochs(self.run.id, self.start_epoch)
        self.run = self.store.update_run(
            self.run.id, holding=self.claim, status=Status.RUNNING, pid=os.getpid(), host=socket.gethostname(),
            started_at=self.run.started_at or utcnow(), heartbeat_at=utcnow(), finished_at=None,
            error=None, stop_requested=False, device=self.device_label, dataset=self.data.source,
            precision=self.precision, precision_reason=self.precision_reason,
            torch_version=torch.__version__, epochs=self.cfg.epochs, batches=self.steps,
            epoch=self.start_epoch, batch=0,
        )
        self.reporter.start(self.run, self.start_epoch)
        try:
            if self.cfg.compile:
                self._warm_up()
            with _stop_signals(self):
                for epoch in range(self.start_epoch, self.cfg.epochs):
                    self._epoch(epoch)
            final = self.run_dir / "final.pt"
            save_atomic(self.state(self.cfg.epochs), final, check=self._still_holding)
        except LostClaim:  # another process trains the run now: nothing more is written here
            self.reporter.finish(self.store.get_run(self.run.id))
            raise
        except Interrupted:
            return self._end(Status.INTERRUPTED, None)
        except Diverged as e:
            return self._end(Status.FAILED, str(e))
        except KeyboardInterrupt:
            self._end(Status.INTERRUPTED, None)
            raise
        except Exception as e:  # disk full, out of memory, the folder deleted, ...
            reason = describe(e)
            self._end(Status.FAILED, reason)
            raise Failed(reason) from None
        return self._end(Status.COMPLETED, None, checkpoint_final=self.store.stored(final),
                         final_test_acc=self.run.test_acc)

    def _end(self, status: str, error: str | None, **fields) -> Run:
        try:
            self.run = self.store.update_run(self.run.id, holding=self.claim, status=status, error=error,
                                             finished_at=utcnow(), heartbeat_at=utcnow(), **fields)
        except LostClaim:
            if status == Status.FAILED:  # failed while another process took it over: that one goes on
                raise self._lost() from None
            raise
        except SQLAlchemyError as e:  # e.g. the database's disk is full: say so, the next start repairs it

            raise Failed(f"run {self.run.id} ended {status}{f' ({error})' if error else ''}, but the database "
                            f"could not record it: {describe(e)}; the next nawt train/eval/study records it") from None
        self.reporter.finish(self.run)
        return self.run

    def _check_stop(self) -> None:
        if self.stop_flag:
            raise Interrupted()

    def _still_holding(self) -> None:
        """LostClaim (nothing written) when another process took the run over meanwhile."""
        check(self.store, self.run.id, self.claim)

    def _lost(self) -> LostClaim:
        return lost(self.store.get_run(self.run.id))

    def _epoch(self, epoch: int) -> None:
        dev = self.device
        self.meter = LoadMeter(self.gpu_id)
        self.model.train()
        self.method.on_epoch_start(epoch)
        t0 = time.perf_counter()
        loss_sum, correct, seen, lr = self.train_steps(epoch, t0)
        mean_loss = loss_sum.item() / seen  # the epoch's sync: the steps above never wait for the device
        synchronize(dev)
        secs = time.perf_counter() - t0
        if not math.isfinite(mean_loss):
            raise Diverged(f"training loss became {mean_loss} in epoch {epoch + 1}")
        self.train_seconds += secs
        # a method that changes the weights at the epoch's end (naive noise): the trained weights are
        # evaluated before the change too; for the others the one evaluation below gives both numbers
        trained = self._evaluate(epoch) if self.method.changes_at_end(epoch) else None
        self.method.on_epoch_end(epoch)
        self._finish_epoch(epoch, mean_loss, correct.item() / seen, lr, secs, seen / secs, trained)

    def train_steps(self, epoch: int, t0: float):
        """One epoch's steps: (loss sum, correct, images, last lr), the sums as device
        tensors. No host-device sync here but at a heartbeat (tests/test_sync.py)."""
        cfg, dev = self.cfg, self.device
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        seen, last_beat, lr = 0, t0, cfg.lr
        for i, (x, y) in enumerate(self.data.train_batches(cfg.batch_size, self.data_gen)):
            lr = lr_at(cfg, epoch * self.steps + i, self.steps)
            for g in self.opt.param_groups:
                g["lr"] = lr
            loss, corr = self.method.step(x, y)
            loss_sum += loss * y.numel()
            correct += corr
            seen += y.numel()
            self.reporter.batch(i + 1)
            self._check_stop()
            now = time.perf_counter()
            if now - last_beat >= HEARTBEAT_S:
                last_beat = now
                self._heartbeat(epoch, i + 1, loss_sum, correct, seen, now - t0)
        return loss_sum, correct, seen, lr

    def _heartbeat(self, epoch, batch, loss_sum, correct, seen, elapsed) -> None:
        loss = loss_sum.item() / seen
        if not math.isfinite(loss):
            raise Diverged(f"training loss became {loss} in epoch {epoch + 1}, batch {batch}")
        p = Progress(epoch, self.cfg.epochs, batch, self.steps, loss, correct.item() / seen,
                     seen / elapsed, self.method.rho)
        run = self._beat(heartbeat_at=utcnow(), batch=batch, train_loss=loss, train_acc=p.acc,
                         images_per_sec=self._run_rate(epoch * self.epoch_images + seen, elapsed))
        if run is not None and run.stop_requested:
            self.stop_flag = True
        self.reporter.heartbeat(p)

    def _beat(self, **fields) -> Run | None:
        """The heartbeat's store write: a locked or briefly unreachable database
        (OperationalError) is retried with backoff, then skipped with a warning;
        a missed heartbeat must not fail the run (the epoch's write still counts)."""
        for attempt in range(HEARTBEAT_TRIES):
            try:
                return self.store.update_run(self.run.id, holding=self.claim, **fields)
            except OperationalError as e:
                if attempt == HEARTBEAT_TRIES - 1:
                    log.warning("heartbeat of run %s not recorded (database: %s); training goes on",
                                self.run.id, describe(e))
                    return None
                time.sleep(0.05 * 2**attempt)
        return None

    def _run_rate(self, images: int, running_s: float = 0.0) -> float:
        """The run's img/s: every image it trained over its training seconds (the
        epoch in progress included), not the last epoch's rate, which a machine
        idle for a moment inflates."""
        return images / max(self.train_seconds + running_s, 1e-9)

    def _evaluates(self, epoch: int) -> bool:
        done = epoch + 1
        return done == self.cfg.epochs or done % self.cfg.eval_every == 0

    def _evaluate(self, epoch: int) -> tuple[float, float, float] | None:
        """(test loss, test accuracy, seconds) of the weights as they are, in an epoch
        that evaluates (--eval-every; the last always); None in the others."""
        if not self._evaluates(epoch):
            return None
        te = time.perf_counter()
        loss, acc = evaluate(self.model, self.data.x_test, self.data.y_test, autocast_dtype=self.amp)
        return loss, acc, time.perf_counter() - te

    def _finish_epoch(self, epoch, train_loss, train_acc, lr, secs, ips, trained=None) -> None:
        """Evaluates and checkpoints every --eval-every / --checkpoint-every epochs
        (the last epoch always), records the epoch, and stops here if asked to.
        ``trained``: the evaluation before the method's end-of-epoch change, if it made one."""
        cfg, done = self.cfg, epoch + 1
        last = done == cfg.epochs
        test_loss = test_acc = None
        eval_s = 0.0
        ended = self._evaluate(epoch)
        if ended is not None:
            test_loss, test_acc, eval_s = ended
            self.best = test_acc if self.best is None else max(self.best, test_acc)
        trained_loss, trained_acc, trained_s = trained or (test_loss, test_acc, 0.0)
        eval_s += trained_s
        # checkpoint before the row: if we die between the two, resume redoes this epoch;
        # a stop already asked for (signal, heartbeat) also checkpoints, so it loses no epoch
        ckpt_s = self._checkpoint(done) if last or done % cfg.checkpoint_every == 0 or self.stop_flag else None
        row = dict(epoch=done, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss,
                   test_acc=test_acc, trained_test_loss=trained_loss, trained_test_acc=trained_acc, lr=lr,
                   rho=self.method.rho, epoch_seconds=secs, eval_seconds=eval_s, checkpoint_seconds=ckpt_s,
                   images_per_sec=ips, cost_class=self.method.spec.cost_class(cfg, epoch),
                   weight_stats=weight_stats(self.model), **self.meter.read())
        fields = dict(epoch=done, batch=0, train_loss=train_loss, train_acc=train_acc, best_test_acc=self.best,
                      images_per_sec=self._run_rate(done * self.epoch_images), train_seconds=self.train_seconds,
                      heartbeat_at=utcnow())
        if last:  # final.pt holds the weights test_acc measures; these are the trained ones before the change
            fields["final_trained_test_acc"] = trained_acc
        if test_acc is not None:
            fields["test_acc"] = test_acc
        if ckpt_s is not None:
            fields["checkpoint_last"] = self.store.stored(self.run_dir / "last.pt")
        self.store.add_epoch(self.run.id, run_fields=fields, holding=self.claim, **row)
        self.run = self.store.get_run(self.run.id)
        if self.run.stop_requested:
            self.stop_flag = True
        self.reporter.epoch(row)
        self._check_stop()

    def _checkpoint(self, done: int) -> float:
        """Writes last.pt after ``done`` epochs; returns the seconds it took."""
        t0 = time.perf_counter()
        self._still_holding()
        save_atomic(self.state(done), self.run_dir / "last.pt", check=self._still_holding)
        return time.perf_counter() - t0

    def _warm_up(self) -> None:
        """Runs the compiled step once for each distinct rho of the schedule (torch.compile
        compiles on first use) and puts every weight, optimiser state and generator back:
        the compile time is recorded as compile_seconds, not as training time."""
        t0 = time.perf_counter()
        saved = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.opt.state_dict()),
                 self.method_gen.get_state(), self.method.rho)
        n = self.data.n_train
        idx = torch.arange(self.cfg.batch_size, device=self.device) % n
        x, y = self.data.augment(idx, torch.Generator(device=self.device).manual_seed(0)), self.data.y_train[idx]
        rhos = {self.cfg.rho_at(e): e for e in range(self.cfg.epochs)}
        for epoch in rhos.values():
            self.method.on_epoch_start(epoch)
            self.method.step(x, y)
        synchronize(self.device)
        self.model.load_state_dict(saved[0])
        self.opt.load_state_dict(saved[1])
        self.method_gen.set_state(saved[2])
        self.method.rho = saved[3]
        self.compile_seconds += time.perf_counter() - t0
        log.info("compiled step warmed up in %.1f s (not counted as training time)", self.compile_seconds)
        self.store.update_run(self.run.id, holding=self.claim,
                              compile_seconds=(self.run.compile_seconds or 0.0) + self.compile_seconds)


def _stream_seed(seed: int, epoch: int, stream: str) -> int:
    """A 63-bit seed for one generator of a resumed run, the same on every machine."""
    digest = hashlib.sha256(f"{int(seed)}:{int(epoch)}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class _stop_signals:
    """SIGINT/SIGTERM set a flag the loop checks after each step: the run stops
    at a safe point, keeps its last completed epoch, and can be resumed."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer

    def _handler(self, signum, frame):
        self.trainer.stop_flag = True

    def __enter__(self):
        self.saved = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: no signal handling there
                pass
        return self

    def __exit__(self, *exc):
        for sig, h in self.saved.items():
            signal.signal(sig, h)
        return False


def execute(store: Store, run_id: int, reporter: Reporter | None = None, *, data_dir=None,
            restart: bool = False, device: str | None = None, claim: str | None = None) -> Run:
    """Trains (or resumes) run ``run_id`` to completion, interruption or failure.
    ``device`` (auto, cpu, cuda, cuda:N) overrides the run's stored device and
    is recorded in its config. ``claim``: the token of the caller's claim from the
    queue (a worker); without one this process takes the run first (claims.take), so
    of two processes resuming one run at once exactly one trains it. Failures that
    are not nawt's own end the run ``failed`` with a one-line reason (see
    failures.describe) and are raised as that NawtError; a trainer that lost its
    claim to another process raises LostClaim, having written nothing more."""
    run = check_resumable(store, run_id, restart=restart, claim=claim)
    before, finished = run.status, run.finished_at
    was = dict(pid=run.pid, host=run.host, heartbeat_at=run.heartbeat_at)  # put back if the checkpoint is refused
    if claim is None:
        run = take(store, run)
        claim = run.claim
    with deterministic_mode():
        try:
            if restart:
                run = restart_run(store, run, holding=claim)
            dev = _run_device(store, run, device)
            if device and run.config.get("device") != device:
                run = store.update_run(run.id, holding=claim, config={**run.config, "device": device})
            trainer = Trainer(store, run, reporter, data_dir=data_dir, device=dev, claim=claim)
        except LostClaim:
            raise
        except Exception as e:  # bad data, out of memory, a missing device ...
            reason = describe(e, "preparing the run")
            # a run that never started records why; others stay as they were (resumable)
            never = before in (Status.QUEUED, Status.RUNNING)
            try:
                store.update_run(run_id, holding=claim, status=Status.FAILED if never else before,
                                 error=reason if never else run.error, finished_at=utcnow())
            except LostClaim:
                pass
            if isinstance(e, NawtError):
                raise
            raise Failed(reason) from None
        try:
            trainer.prepare()
        except NawtError:  # a corrupt or foreign checkpoint: refused, the run left as it was
            store.update_run(run_id, holding=claim, status=before, finished_at=finished, **was)
            raise
        store.update_run(run.id, holding=claim, **tf32_flags(dev))
        note_training_code(store, run)
        return trainer.train()


def _run_device(store: Store, run: Run, override: str | None) -> torch.device:
    """A run resuming from a checkpoint falls back (with a warning) where its
    stored device is missing here; a run starting afresh gets its device exactly."""
    stored = (run.config or {}).get("device", "auto")
    folder = store.folder(run)
    if folder is not None and (folder / "last.pt").exists():
        return resume_device(stored, override)
    return resolve_device(override or stored)
