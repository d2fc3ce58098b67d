"""How `nawt train` shows progress: Rich bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from nawt_core.records import Progress as TrainProgress
from nawt_core.records import Reporter
from nawt_core.runview import end_label, weights_note
from nawt_core.status import Status
from nawt_core.textsafe import markup as escape
from nawt_core.textsafe import printable


def epoch_line(row: dict, epochs: int, change: str = "") -> str:
    """One epoch as a line; ``change``: what the method does to the weights at an epoch's end
    (naive noise: "noise"), whose accuracy before it is shown too."""
    rho = f"  rho {row['rho']:g}" if row.get("rho") is not None else ""
    test = ("  test -  (--eval-every)" if row.get("test_acc") is None
            else f"  test loss {row['test_loss']:.4f} acc {100 * row['test_acc']:5.2f}%")
    trained = row.get("trained_test_acc")
    if change and trained is not None and row.get("trained_test_loss") != row.get("test_loss"):  # two evaluations
        test = test.replace(" acc ", f" acc after {change} ") + f", before {100 * trained:.2f}%"
    return (f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} acc {100 * row['train_acc']:5.2f}%"
            f"{test}  lr {row['lr']:.4g}{rho}"
            f"  {row['epoch_seconds']:.1f}s  {row['images_per_sec']:.0f} img/s")


def _precision(run) -> str:
    return f"precision {run.precision} ({run.precision_reason})" if run.precision else "precision -"


class RichReporter(Reporter):
    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=None), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=console, transient=False, refresh_per_second=4,
        )

    def start(self, run, start_epoch):
        self.epochs, self.change = run.epochs, end_label(run.method)
        where = f"resuming after epoch {start_epoch}" if start_epoch else "starting"
        self.console.print(f"[bold]run {run.id}[/] {escape(run.name)}: {run.method}, {where}; device {escape(run.device)}; "
                           f"data {escape(run.dataset)}"
                           f"; {escape(_precision(run))}")
        self.progress.start()
        self.ep_task = self.progress.add_task("epochs", total=run.epochs, completed=start_epoch, stats="")
        self.b_task = self.progress.add_task("batches", total=run.batches, stats="")

    def batch(self, batch):
        self.progress.update(self.b_task, completed=batch)

    def heartbeat(self, p: TrainProgress):
        rho = f" rho {p.rho:g}" if p.rho is not None else ""
        self.progress.update(self.b_task, stats=f"loss {p.loss:.3f} acc {100 * p.acc:5.1f}% {p.images_per_sec:5.0f} img/s{rho}")

    def epoch(self, row):
        self.progress.console.print(epoch_line(row, self.epochs, self.change), highlight=False)
        test = "-" if row.get("test_acc") is None else f"{100 * row['test_acc']:.2f}%"  # --eval-every N: not every epoch
        self.progress.update(self.ep_task, completed=row["epoch"], stats=f"test acc {test}")
        self.progress.reset(self.b_task, stats="")

    def finish(self, run):
        self.progress.stop()
        if run.status == Status.COMPLETED:
            note = weights_note(run)
            if note:
                self.console.print(note, markup=False, highlight=False)
            self.console.print(f"[green]run {run.id} completed[/]: test accuracy {100 * (run.final_test_acc or 0):.2f}% "
                               f"(best {100 * (run.best_test_acc or 0):.2f}%), {run.train_seconds:.0f}s training; "
                               f"checkpoint {escape(str(run.checkpoint_final))}")


class PlainReporter(Reporter):
    """For logs and pipes: a line per epoch and one every 30 s within an epoch."""

    EVERY_S = 30.0

    def start(self, run, start_epoch):
        self.epochs, self.last, self.change = run.epochs, time.monotonic(), end_label(run.method)
        where = f"resuming after epoch {start_epoch}" if start_epoch else "starting"
        print(f"run {run.id} {printable(run.name)}: {run.method}, {where}; device {run.device}; data {run.dataset}; "
              f"{_precision(run)}", flush=True)

    def heartbeat(self, p: TrainProgress):
        if time.monotonic() - self.last >= self.EVERY_S:
            self.last = time.monotonic()
            print(f"  epoch {p.epoch + 1}/{p.epochs} batch {p.batch}/{p.batches}  loss {p.loss:.4f} "
                  f"acc {100 * p.acc:.2f}%  {p.images_per_sec:.0f} img/s", flush=True)

    def epoch(self, row):
        print(epoch_line(row, self.epochs, self.change), flush=True)

    def finish(self, run):
        print(f"run {run.id} {run.status}"
              + (f": test accuracy {100 * (run.final_test_acc or 0):.2f}%" if run.status == Status.COMPLETED else ""),
              flush=True)
        if run.status == Status.COMPLETED and weights_note(run):
            print(weights_note(run), flush=True)


def make_reporter(console: Console) -> Reporter:
    return RichReporter(console) if console.is_terminal else PlainReporter()
