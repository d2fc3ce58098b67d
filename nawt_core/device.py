"""Where and how tensors run: device choice, precision, allocator tuning."""

from __future__ import annotations

import ctypes
import logging
import os

# cuBLAS reads its workspace setting once, when the first cuBLAS handle of the
# process is made; deterministic cuBLAS needs ':4096:8' (or ':16:8'). Set here,
# before torch touches CUDA, whether or not this run asks for determinism: a
# study or a test may train a deterministic run after a non-deterministic one
# in the same process, and by then it is too late to set. The cost is a cuBLAS
# workspace capped at 8 x 4 MiB, which only GEMMs feel: ResNet's one GEMM is
# its 64 -> 10 linear layer (convolutions go through cuDNN). A value the user
# set is kept.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402 - after the environment above

from .errors import NawtError
from .hardware import (HardwareFacts, choose_precision, cpu_facts, device_kind, driver_version, list_gpus,
                       slow_bf16_warning, unseen_gpus_note)

log = logging.getLogger("nawt.device")

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_UNSEEN: str | None | bool = False  # unseen_gpus()'s answer; False: not asked yet
_WARNED: set[str] = set()  # each warning once per process (a study resolves once per run and sweep)


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``name`` means here, with its index (``auto`` and ``cuda`` are
    the current CUDA device, which CUDA_VISIBLE_DEVICES decides), made the
    process's current CUDA device so that nothing (torch.compile, cuDNN, a
    library's scratch tensor) creates a context or allocates on GPU 0 instead."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
        if name == "cpu":
            _warn_once(unseen_gpus())
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise NawtError(f"device {name!r} asked for, but CUDA is not available here (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise NawtError(f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


def unseen_gpus() -> str | None:
    """Why torch sees no CUDA device on a host whose nvidia-smi/NVML lists GPUs
    (a cu130 wheel on an older driver, a CPU-only wheel); None when torch sees
    CUDA or the host lists no GPU. Asked once per process."""
    global _UNSEEN
    if _UNSEEN is False:
        _UNSEEN = None if torch.cuda.is_available() else unseen_gpus_note(list_gpus(), torch.version.cuda,
                                                                           driver_version())
    return _UNSEEN


def _warn_once(note: str | None) -> None:
    if note and note not in _WARNED:
        _WARNED.add(note)
        log.warning(f"{note}; using the CPU")


def check_device(name: str = "auto") -> None:
    """NawtError unless ``name`` exists here; unlike resolve_device it starts no CUDA context
    (a study that only launches workers must not hold memory on their GPUs)."""
    dev = torch.device("cpu" if name == "auto" else name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise NawtError(f"device {name!r} asked for, but CUDA is not available here (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise NawtError(f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here")


def _fallback(wanted: str, why: str, to: str) -> torch.device:
    note = f"{wanted} is not available here ({why}); using {to} instead"
    if note not in _WARNED:
        _WARNED.add(note)
        log.warning(note)
    return resolve_device(to)


def resume_device(stored: str, override: str | None = None) -> torch.device:
    """Where a stored run resumes: ``override`` (--device) when given, exactly;
    else the stored device, or, where it does not exist on this host (a run
    from cuda:3 on a host with two GPUs, a GPU run on a CPU host), the nearest
    that does, with a one-line warning: the current CUDA device, else the CPU."""
    if override:
        return resolve_device(override)
    dev = torch.device("cuda" if stored == "auto" and torch.cuda.is_available() else
                       "cpu" if stored == "auto" else stored)
    if dev.type == "cuda" and not torch.cuda.is_available():
        return _fallback(stored, "CUDA is not available", "cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        return _fallback(stored, f"{torch.cuda.device_count()} CUDA device(s) here", "cuda")
    return resolve_device(str(dev))


def device_for_label(label: str) -> str:
    """The device an evaluation of a run uses by default: the family the run
    trained on (a device label as stored, see hardware.device_kind). A CUDA
    run on a host without CUDA is evaluated on the CPU, with a one-line note."""
    if device_kind(label) != "cuda":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    note = "the run trained on CUDA, which is not available here; evaluating on the CPU"
    if note not in _WARNED:
        _WARNED.add(note)
        log.warning(note)
    return "cpu"


def tf32_flags(dev: torch.device) -> dict[str, bool | None]:
    """Whether CUDA computes "fp32" convolutions and matmuls in TF32, as stored
    with runs and evaluations (None on a CPU, where there is no TF32). nawt keeps
    torch's defaults (convolutions TF32, matmuls IEEE fp32): TF32 convolutions
    are the speed of fp32 training on Ampere and newer and do not move ResNet's
    accuracy, and recording the flags keeps an fp32 number from hiding them."""
    if dev.type != "cuda":
        return {"tf32_conv": None, "tf32_matmul": None}
    return {"tf32_conv": bool(torch.backends.cudnn.allow_tf32),
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32)}


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
        props = torch.cuda.get_device_properties(index)
        uuid = getattr(props, "uuid", None)  # torch >= 2.1; NVML's form: 'GPU-' + the UUID
        return HardwareFacts("cuda", gpu_name=props.name, capability=(props.major, props.minor), index=index,
                             uuid=f"GPU-{uuid}" if uuid else "")
    return cpu_facts(threads=torch.get_num_threads())


def device_name(dev: torch.device) -> str:
    """The stored device label: CPU model, threads and bf16-relevant flags, or GPU, sm_XY and index."""
    return hardware_facts(dev).label()


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
    # no warn_only: an op without a deterministic kernel fails the run rather
    # than silently breaking the promise. Training needs none (the model's
    # global pool is a mean, not adaptive_avg_pool2d, whose CUDA backward has
    # no deterministic kernel); CUBLAS_WORKSPACE_CONFIG is set at import above.
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic


class deterministic_mode:
    """Restores torch's process-wide determinism flags on exit."""

    def __enter__(self):
        self.saved = (torch.are_deterministic_algorithms_enabled(),
                      torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.benchmark)
        return self

    def __exit__(self, *exc):
        torch.use_deterministic_algorithms(self.saved[0], warn_only=self.saved[1])
        torch.backends.cudnn.benchmark = self.saved[2]
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
