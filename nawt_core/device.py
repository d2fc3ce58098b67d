"""Where and how tensors run: device choice, precision, allocator tuning."""

from __future__ import annotations

import ctypes
import logging
import os

import torch

from .errors import NawtError
from .hardware import HardwareFacts, choose_precision, cpu_facts, slow_bf16_warning

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


def hardware_facts(dev: torch.device) -> HardwareFacts:
    """What ``dev`` is, for the precision choice and the device label.

    On the CPU the flags of /proc/cpuinfo decide. torch's own answers do not
    tell native bf16 apart from emulated: ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``
    is True on any AVX-512 CPU (oneDNN emulates bf16 there), and
    ``torch.backends.cpu.get_cpu_capability()`` says plain "AVX512" both on an
    AMD EPYC with avx512_bf16 and on a Xeon without it (torch 2.14)."""
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        return HardwareFacts("cuda", gpu_name=torch.cuda.get_device_name(index),
                             capability=tuple(torch.cuda.get_device_capability(index)), index=index)
    return cpu_facts(threads=torch.get_num_threads())


def device_name(dev: torch.device) -> str:
    """The stored device label: CPU model, threads and bf16-relevant flags, or GPU, sm_XY and index."""
    return hardware_facts(dev).label()


_WARNED: set[str] = set()  # each warning once per process (a study resolves once per run and sweep)


def resolve_precision(requested: str, dev: torch.device) -> tuple[str, str]:
    """(precision, reason) for ``requested`` on ``dev``; logs one warning line when
    bf16 runs on hardware without native bf16."""
    facts = hardware_facts(dev)
    precision, reason = choose_precision(requested, facts)
    note = slow_bf16_warning(precision, facts)
    if note and note not in _WARNED:
        _WARNED.add(note)
        log.warning(note)
    return precision, reason


def autocast_dtype(precision: str, dev: torch.device) -> torch.dtype | None:
    """The autocast dtype of a resolved precision: bf16, or None for fp32
    ("auto" is resolved here first, for callers that did not)."""
    if precision == "auto":
        precision, _ = resolve_precision(precision, dev)
    return torch.bfloat16 if precision == "bf16" else None


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
    every operation (each large activation buffer then page-faults afresh): CPU
    evaluation at batch 1000 runs about twice as fast. No effect elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        big = 2**31 - 1  # mallopt takes a C int
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, big)) & bool(libc.mallopt(_M_TRIM_THRESHOLD, big))
    except (OSError, AttributeError):
        return False
