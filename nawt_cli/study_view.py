"""How `nawt study` shows itself: the device and precision it resolved, and
its runs' progress (Rich bars on a terminal, nawt_core.watch's plain lines in
a pipe or a log; worker processes and Ray tasks print those lines themselves)."""

from __future__ import annotations

from typing import Callable

from rich.console import Console

from nawt_core.watch import EtaClock, LineReporter, epoch_text, planned_left

from .train_view import RichReporter


def resolved_line(study: str, device: str | None, precision: str, backend: str, gpus: str | None) -> str:
    """'study smoke: device AMD EPYC · 2 threads · avx2, precision fp32 (auto: …)': what new runs
    will use here. Asks torch without making a CUDA context (workers make their own)."""
    if backend == "ray":
        return f"study {study}: device and precision chosen by each Ray task on its node (--precision {precision})"
    import torch

    from nawt_core.device import device_name, resolve_device, resolve_precision

    if device in (None, "auto"):
        if not torch.cuda.is_available():
            dev = resolve_device("auto")  # the CPU, with its warning when the host lists GPUs torch cannot use
        else:
            first = int(gpus.replace(",", " ").split()[0]) if gpus else 0  # a fresh process's current GPU
            dev = torch.device("cuda", first)
    else:
        dev = torch.device(device if device != "cuda" else "cuda:0")
    prec, why = resolve_precision(precision, dev)
    where = f"device {device_name(dev)}" + (f" (and GPUs {gpus})" if gpus and dev.type == "cuda" else "")
    return f"study {study}: {where}, precision {prec} ({why}) for new runs"


class StudyRichReporter(RichReporter):
    """A study's run on a terminal: the bars of `nawt train`, epoch lines with the study's ETA."""

    def __init__(self, console: Console, left: Callable):
        super().__init__(console)
        self.clock = EtaClock(left=left)

    def start(self, run, start_epoch):
        self.run_id = run.id
        self.clock.start(start_epoch)
        super().start(run, start_epoch)

    def epoch(self, row):
        line = epoch_text(self.run_id, row, self.epochs, *self.clock.etas(row["epoch"], self.epochs))
        self.progress.console.print(line, highlight=False, markup=False)
        stats = "" if row.get("test_acc") is None else f"test acc {100 * row['test_acc']:.2f}%"
        self.progress.update(self.ep_task, completed=row["epoch"], stats=stats)
        self.progress.reset(self.b_task, stats="")


def study_reporters(console: Console, store, cfgs) -> Callable:
    """The reporter factory of an in-process study of the planned ``cfgs``."""
    left = lambda: planned_left(store, cfgs)  # noqa: E731
    if console.is_terminal:
        return lambda _cfg: StudyRichReporter(console, left)
    say = lambda s: console.print(s, markup=False, soft_wrap=True, highlight=False)  # noqa: E731
    return lambda _cfg: LineReporter(say, left=left)
