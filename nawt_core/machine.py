"""How busy the machine is while an epoch runs, so time ratios can be judged.

Torch-free and dependency-free: the load average from ``os.getloadavg``, the
whole-machine CPU busy fraction from ``/proc/stat`` (Linux; None elsewhere),
and the GPU utilisation through nvidia-ml-py when it is installed (the
``gpu-stats`` extra; None otherwise).
"""

from __future__ import annotations

import os
import time


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    vals = [int(v) for v in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    total = sum(vals[:8])  # guest time is already counted in user
    return total - idle, total


def load_avg() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def _gpu_use(gpu: int | str) -> tuple[float | None, int | None]:
    """The GPU's utilisation (0-1) and how many other processes compute on it (a shared GPU
    inflates a run's times): ``gpu`` is NVML's 'GPU-<uuid>' (right under CUDA_VISIBLE_DEVICES,
    where torch's cuda:0 need not be NVML's index 0) or, without one, an NVML index."""
    try:
        import pynvml  # nvidia-ml-py, optional

        pynvml.nvmlInit()
        handle = (pynvml.nvmlDeviceGetHandleByUUID(gpu) if isinstance(gpu, str)
                  else pynvml.nvmlDeviceGetHandleByIndex(gpu))
        util = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100.0
    except Exception:  # noqa: BLE001 - not installed, no driver, no such GPU: unknown
        return None, None
    return util, _others(pynvml, handle)


def _others(pynvml, handle) -> int | None:
    """Processes other than this one with a compute context on the GPU (None when NVML cannot
    say, e.g. inside a container that hides other pids)."""
    try:
        pids = {p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)}
    except Exception:  # noqa: BLE001
        return None
    return len(pids - {os.getpid()})


class LoadMeter:
    """Started at an epoch's start; ``read()`` at its end gives the epoch's
    wall seconds and the machine's load meanwhile."""

    def __init__(self, gpu: int | str | None = None):
        self.gpu = gpu  # see _gpu_util; None: no GPU to watch
        self.t0 = time.perf_counter()
        self.cpu0 = _cpu_times()

    def read(self) -> dict[str, float | None]:
        wall = time.perf_counter() - self.t0
        cpu1, util = _cpu_times(), None
        if self.cpu0 is not None and cpu1 is not None and cpu1[1] > self.cpu0[1]:
            util = (cpu1[0] - self.cpu0[0]) / (cpu1[1] - self.cpu0[1])
        gpu, others = _gpu_use(self.gpu) if self.gpu is not None else (None, None)
        return {"wall_seconds": wall, "load_avg": load_avg(), "cpu_util": util, "gpu_util": gpu,
                "gpu_others": others}


__all__ = ["LoadMeter", "load_avg"]
