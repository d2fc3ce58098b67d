"""Where and how tensors run: device choice, precision, allocator tuning."""

from __future__ import annotations

import ctypes
import logging
import os

import torch

from .errors import NawtError

log = logging.getLogger("nawt.device")

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise NawtError(f"device {name!r} asked for, but CUDA is not available here (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise NawtError(f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here")
    return dev


def synchronize(dev: torch.device) -> None:
    """Waits for queued device work (for honest timings); a no-op on the CPU."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()})"


def autocast_dtype(precision: str, dev: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA and on CPUs with native bf16; fp32 means none."""
    if precision != "bf16":
        return None
    if dev.type == "cpu" and torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AMX"):
        log.warning("this CPU has no fast bf16; bf16 autocast will be slow")
    return torch.bfloat16


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seeds torch; with ``deterministic`` picks deterministic kernels. Process-wide:
    callers that train in-process restore it with ``deterministic_mode``."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class deterministic_mode:
    """Restores torch's process-wide determinism flags on exit."""

    def __enter__(self):
        self.saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
        return self

    def __exit__(self, *exc):
        torch.use_deterministic_algorithms(self.saved[0], warn_only=True)
        torch.backends.cudnn.benchmark = self.saved[1]
        return False


def keep_freed_memory() -> bool:
    """Stops glibc from handing large activation buffers back to the OS after
    every operation (the page-fault cost in ../shared/bench/README.md): CPU
    evaluation at batch 1000 runs about twice as fast. No effect elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        big = 2**31 - 1  # mallopt takes a C int
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, big)) & bool(libc.mallopt(_M_TRIM_THRESHOLD, big))
    except (OSError, AttributeError):
        return False
