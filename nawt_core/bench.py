"""`nawt bench`: training and evaluation throughput, with ratios against a plain
reference measured in the same run (absolute numbers drift; ratios hold).

The reference is the classic CIFAR-10 training pipeline, built here
(``_PILDataset``, ``time_reference``): PIL images, torchvision RandomCrop/
Flip/ToTensor/Normalize, a DataLoader with worker processes, plain fp32 SGD.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .config import TrainConfig
from .data import CIFAR_MEAN, CIFAR_STD, DeviceData, load_arrays, synthetic
from .device import (autocast_dtype, hardware_facts, keep_freed_memory, resolve_device, resolve_precision,
                     synchronize)
from .evaluate import evaluate
from .hardware import check_precision
from .methods import make_method, make_optimizer
from .models import build_model
from .sweeps import bench_sweep


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, x_nchw: np.ndarray, y: np.ndarray):
        import torchvision.transforms as T

        self.data = np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))
        self.targets = [int(t) for t in y]
        self.tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                             T.Normalize(CIFAR_MEAN, CIFAR_STD)])

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        from PIL import Image

        return self.tf(Image.fromarray(self.data[i])), self.targets[i]


def time_reference(arrays, dev, *, steps: int, warmup: int, batch_size: int, workers: int) -> float:
    """img/s of the classic torchvision pipeline with a plain fp32 SGD step."""
    loader = torch.utils.data.DataLoader(_PILDataset(arrays.x_train, arrays.y_train), batch_size=batch_size,
                                         shuffle=True, num_workers=workers, drop_last=True)
    model = build_model().to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def batches():
        while True:
            yield from loader

    it = batches()
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            synchronize(dev)
            t0 = time.perf_counter()
        x, y = next(it)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    synchronize(dev)
    return steps * batch_size / (time.perf_counter() - t0)


def time_reference_process(dataset: str, data_dir, *, steps, warmup, batch_size, workers, device) -> float:
    """The reference in a fresh process, so that it runs as a user would run it:
    without the allocator tuning this process applied to itself."""
    args = json.dumps(dict(dataset=dataset, data_dir=str(data_dir), steps=steps, warmup=warmup,
                           batch_size=batch_size, workers=workers, device=device))
    out = subprocess.run([sys.executable, "-m", "nawt_core.bench", args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"reference benchmark failed: {out.stderr.strip().splitlines()[-1:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _reference_main(spec: str) -> None:
    a = __import__("json").loads(spec)
    dev = resolve_device(a["device"])
    arrays = _bench_arrays(a["dataset"], a["data_dir"], a["batch_size"], a["steps"], a["warmup"])
    print(time_reference(arrays, dev, steps=a["steps"], warmup=a["warmup"], batch_size=a["batch_size"],
                         workers=a["workers"]))


def _bench_arrays(dataset, data_dir, batch_size, steps, warmup):
    if dataset == "synthetic":
        return synthetic(min(max(batch_size * (steps + warmup) * 2, 10000), 50000), 10000)
    return load_arrays(dataset, data_dir)


def time_method(method_name: str, data: DeviceData, dev, *, steps: int, warmup: int, batch_size: int,
                precision: str, compile: bool = False, min_seconds: float = 0.0) -> float:
    """img/s of nawt's own step for one method; multistep-sam walks its whole rho schedule.
    ``min_seconds``: after ``steps``, keeps timing (in blocks of ``steps``) until at least
    this long has passed, so a fast GPU is not timed over a fraction of a second."""
    cfg = TrainConfig(method=method_name, epochs=steps, batch_size=batch_size, precision=precision)
    model = build_model().to(dev, memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    gen = torch.Generator(device=dev).manual_seed(0)
    method = make_method(model, opt, cfg, gen=gen, autocast_dtype=autocast_dtype(precision, dev),
                         forward=torch.compile(model) if compile else None)

    def batches():
        while True:
            yield from data.train_batches(batch_size, gen)

    it = batches()
    method.on_epoch_start(steps - 1)
    for _ in range(warmup):
        method.step(*next(it))
    synchronize(dev)
    t0, done = time.perf_counter(), 0
    while True:
        for i in range(steps):
            method.on_epoch_start(i)  # one "epoch" per step: the rho schedule in miniature
            method.step(*next(it))
        done += steps
        synchronize(dev)  # the clock stops when the device has finished, not when the CPU queued the work
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return done * batch_size / elapsed


def time_eval(data: DeviceData, dev, precision: str, reps: int = 2, min_seconds: float = 0.0) -> float:
    """Best img/s of evaluating the test set, over ``reps`` passes or more until ``min_seconds`` passed
    (evaluate reads its result on the host, so each pass ends synchronised)."""
    model = build_model().to(dev, memory_format=torch.channels_last)
    amp = autocast_dtype(precision, dev)
    evaluate(model, data.x_test[:1000], data.y_test[:1000], autocast_dtype=amp)
    best, start, n = 0.0, time.perf_counter(), 0
    while n < reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        evaluate(model, data.x_test, data.y_test, autocast_dtype=amp)
        best = max(best, data.n_test / (time.perf_counter() - t0))
        n += 1
    return best


def run_bench(*, methods: list[str], steps: int = 40, warmup: int = 5, batch_size: int = 128,
              precision: str = "auto", device: str = "auto", dataset: str = "synthetic",
              data_dir: str | Path = "data", reference: bool = True, workers: int = 2, sweep: bool = False,
              log: Callable[[str], None] | None = None, min_seconds: float | None = None) -> dict:
    """``min_seconds`` (default: 2 on CUDA, 0 on a CPU, whose 40 steps already take seconds):
    each method and the evaluation are timed for at least this long."""
    log = log or (lambda msg: None)
    requested = check_precision(precision)
    dev = resolve_device(device)
    precision, reason = resolve_precision(requested, dev)
    facts = hardware_facts(dev)
    if dev.type == "cpu":
        keep_freed_memory()
    else:
        torch.backends.cudnn.benchmark = True  # as training sets it
    if min_seconds is None:
        min_seconds = 2.0 if dev.type == "cuda" else 0.0
    arrays = _bench_arrays(dataset, data_dir, batch_size, steps, warmup)
    data = DeviceData(arrays, dev)
    result = {"device": facts.label(), "hardware": facts.to_dict(), "torch": torch.__version__,
              "precision": precision, "precision_requested": requested, "precision_reason": reason,
              "batch_size": batch_size, "steps": steps, "min_seconds": min_seconds, "dataset": arrays.source, "train": {}, "reference": None}
    refs = []
    if reference:
        log(f"timing the reference pipeline (PIL + DataLoader, {workers} workers)...")
        refs.append(time_reference_process(dataset, data_dir, steps=steps, warmup=warmup, batch_size=batch_size,
                                           workers=workers, device=device))
    for m in methods:
        log(f"timing {m}...")
        result["train"][m] = {"img_s": time_method(m, data, dev, steps=steps, warmup=warmup, batch_size=batch_size,
                                                   precision=precision, min_seconds=min_seconds)}
    if reference:  # again after the methods: the machine drifts, the mean is fairer
        log("timing the reference pipeline again...")
        refs.append(time_reference_process(dataset, data_dir, steps=steps, warmup=warmup, batch_size=batch_size,
                                           workers=workers, device=device))
        result["reference"] = {"img_s": sum(refs) / len(refs), "runs": refs, "workers": workers}
    std = result["train"].get("standard", {}).get("img_s")
    for r in result["train"].values():
        r["vs_reference"] = r["img_s"] / result["reference"]["img_s"] if reference else None
        r["vs_standard"] = r["img_s"] / std if std else None
    log("timing evaluation...")
    result["eval"] = {"img_s": time_eval(data, dev, precision, min_seconds=min_seconds)}
    if sweep:
        log("timing a perturbation sweep...")
        # 16 copies x 2,000 images: about a minute on 2 cores
        result["sweep"] = bench_sweep(device=str(dev), precision=precision)
    return result


if __name__ == "__main__":  # the reference pipeline, run by time_reference_process
    _reference_main(sys.argv[1])
