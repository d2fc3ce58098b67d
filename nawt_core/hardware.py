"""What the hardware can do, and the precision that fits it. No torch here.

``HardwareFacts`` holds the few facts the choice depends on: the CPU model
and its flags (read from /proc/cpuinfo), or the GPU name and compute
capability (filled in by ``device.hardware_facts``, which asks torch).
``choose_precision`` turns a requested precision (auto, fp32, bf16) and
the facts into the precision used and the reason, as a pure function, so
tests inject facts instead of needing the hardware.

Native bf16 means: a CUDA device of compute capability 8.0 or newer, or a
CPU with the avx512_bf16 or amx_bf16 instructions. Elsewhere bf16 autocast
is emulated and slower than fp32 (2.4x slower measured on an AVX-512 Xeon
without avx512_bf16), so auto picks fp32 there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NawtError

PRECISIONS = ("auto", "fp32", "bf16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# the flags a device label shows: what decides bf16 speed, and the vector width
LABEL_FLAGS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")
MIN_BF16_CAPABILITY = (8, 0)  # Ampere


@dataclass(frozen=True)
class HardwareFacts:
    kind: str  # "cpu" or "cuda"
    cpu_model: str = ""
    cpu_flags: frozenset[str] = field(default_factory=frozenset)
    threads: int | None = None
    gpu_name: str = ""
    capability: tuple[int, int] | None = None  # CUDA compute capability
    index: int | None = None  # CUDA device index (as this process sees it: CUDA_VISIBLE_DEVICES renumbers)
    uuid: str = ""  # 'GPU-…', the same for every process and in nvidia-smi

    @property
    def native_bf16(self) -> bool:
        if self.kind == "cuda":
            return self.capability is not None and tuple(self.capability) >= MIN_BF16_CAPABILITY
        return any(f in self.cpu_flags for f in BF16_CPU_FLAGS)

    @property
    def sm(self) -> str:
        return f"sm_{self.capability[0]}{self.capability[1]}" if self.capability else "sm_?"

    def what(self) -> str:
        """'this CPU (AMD EPYC)' / 'this GPU (NVIDIA A100, sm_80)', for messages."""
        if self.kind == "cuda":
            return f"this GPU ({self.gpu_name or 'unknown'}, {self.sm})"
        return f"this CPU ({self.cpu_model or 'unknown model'})"

    def label(self) -> str:
        """The stored device label: 'AMD EPYC · 2 threads · avx512_bf16 avx512f avx2',
        'NVIDIA H100 80GB HBM3 · sm_90 · cuda:0 · GPU-5d5a4b0e-…' (the UUID names
        the card where the index depends on CUDA_VISIBLE_DEVICES)."""
        if self.kind == "cuda":
            parts = [self.gpu_name or "CUDA device", self.sm, f"cuda:{self.index or 0}"]
            return " · ".join(parts + ([self.uuid] if self.uuid else []))
        flags = [f for f in LABEL_FLAGS if f in self.cpu_flags]
        parts = [self.cpu_model or "cpu"]
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        if self.cpu_flags:  # unknown flags (no /proc/cpuinfo): say nothing rather than 'none'
            parts.append(" ".join(flags) if self.native_bf16 else " ".join([*flags, "(no native bf16)"]))
        return " · ".join(parts)

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "native_bf16": self.native_bf16}
        if self.kind == "cuda":
            d.update(gpu=self.gpu_name, capability=self.sm, index=self.index or 0, uuid=self.uuid or None)
        else:
            d.update(cpu=self.cpu_model, threads=self.threads,
                     flags=[f for f in LABEL_FLAGS if f in self.cpu_flags])
        return d


def device_kind(label: str) -> str:
    """cpu or cuda, from a stored device label: today's ('… · sm_90 · cuda:0' or
    'AMD EPYC · 2 threads · …') and older ones ('cpu (2 threads, AVX512)', or a
    GPU's bare model name). '' when there is no label."""
    label = (label or "").strip()
    if not label:
        return ""
    if " · cuda:" in label or label.startswith("cuda"):
        return "cuda"
    if label.startswith("cpu") or " thread" in label:
        return "cpu"
    return "cuda"  # an older GPU label: the model name alone


def read_cpu_info(path: str | os.PathLike = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first processor in ``path``; ('', {}) where it
    cannot be read (not Linux): then auto keeps fp32 on the CPU."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "", frozenset()
    model, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = " ".join(value.split())
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
        if model and flags:
            break
    return model, flags


def cpu_facts(threads: int | None = None, path: str | os.PathLike = "/proc/cpuinfo") -> HardwareFacts:
    model, flags = read_cpu_info(path)
    return HardwareFacts("cpu", cpu_model=model, cpu_flags=flags, threads=threads)


def check_precision(requested: str) -> str:
    if requested not in PRECISIONS:
        raise NawtError(f"unknown precision {requested!r}; choose auto, fp32 or bf16")
    return requested


def choose_precision(requested: str, facts: HardwareFacts) -> tuple[str, str]:
    """(precision used, why) for ``requested`` (auto, fp32 or bf16) on this hardware."""
    check_precision(requested)
    hw = facts.what()
    if facts.kind == "cuda":
        cc = facts.capability
        has = f"compute capability {f'{cc[0]}.{cc[1]}' if cc else 'unknown'}"
        native = f"{hw} runs bf16 natively ({has} ≥ 8.0)"
        missing = f"{hw} has no native bf16 ({has} < 8.0)"
    else:
        have = [f for f in BF16_CPU_FLAGS if f in facts.cpu_flags]
        native = f"{hw} runs bf16 natively ({' and '.join(have)})"
        missing = f"{hw} has no native bf16 (neither avx512_bf16 nor amx_bf16)"
    if requested == "auto":
        return ("bf16", f"auto: {native}") if facts.native_bf16 else ("fp32", f"auto: {missing}")
    if requested == "fp32":
        return "fp32", "fp32 as asked"
    return "bf16", "bf16 as asked" if facts.native_bf16 else f"bf16 as asked; {missing}: slower than fp32"


def slow_bf16_warning(precision: str, facts: HardwareFacts) -> str | None:
    """One line for bf16 on hardware without native bf16; None otherwise."""
    if precision != "bf16" or facts.native_bf16:
        return None
    _, why = choose_precision("auto", facts)
    return (f"{why.removeprefix('auto: ')}: bf16 will run emulated, likely slower than fp32 "
            f"(--precision auto would pick fp32)")


# ------------------------------------------------------------------ GPUs, without torch
NVIDIA_SMI_QUERY = "index,name,uuid,memory.used,memory.total,utilization.gpu"


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as nvidia-smi or NVML reports it; ``index`` as torch numbers it
    in this process (CUDA_VISIBLE_DEVICES applied)."""

    index: int
    name: str
    uuid: str = ""
    memory_used_mib: float | None = None
    memory_total_mib: float | None = None
    utilization: float | None = None  # percent

    @property
    def device(self) -> str:
        return f"cuda:{self.index}"

    def describe(self) -> str:
        """'cuda:0 · NVIDIA H100 80GB HBM3 · 1.2/80 GiB · 35%'."""
        parts = [self.device, self.name]
        if self.memory_total_mib:  # used unknown ([N/A]): the total alone, not a made-up 0.0 used
            used = "" if self.memory_used_mib is None else f"{self.memory_used_mib / 1024:.1f}/"
            parts.append(f"{used}{self.memory_total_mib / 1024:.0f} GiB")
        if self.utilization is not None:
            parts.append(f"{self.utilization:.0f}%")
        return " · ".join(parts)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # '[N/A]', '[Not Supported]'
        return None


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """GPUs from ``nvidia-smi --query-gpu=NVIDIA_SMI_QUERY --format=csv,noheader,nounits``;
    lines that do not parse are skipped."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 6 or not cells[0].isdigit():
            continue
        out.append(GpuInfo(int(cells[0]), cells[1], cells[2], _number(cells[3]), _number(cells[4]),
                           _number(cells[5])))
    return out


def _from_nvidia_smi(timeout: float) -> list[GpuInfo] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, f"--query-gpu={NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi(done.stdout) if done.returncode == 0 else None


def _from_nvml() -> list[GpuInfo] | None:
    try:
        import pynvml  # nvidia-ml-py, the gpu-stats extra

        pynvml.nvmlInit()
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name, uuid = pynvml.nvmlDeviceGetName(h), pynvml.nvmlDeviceGetUUID(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            util = pynvml.nvmlDeviceGetUtilizationRates(h).gpu
            out.append(GpuInfo(i, name.decode() if isinstance(name, bytes) else name,
                               uuid.decode() if isinstance(uuid, bytes) else uuid,
                               mem.used / 2**20, mem.total / 2**20, float(util)))
        return out
    except Exception:  # noqa: BLE001 - not installed, no driver: no answer
        return None


def visible(gpus: list[GpuInfo], env: str | None) -> list[GpuInfo]:
    """The GPUs a CUDA process sees under CUDA_VISIBLE_DEVICES=``env`` (None: all),
    renumbered in that order as torch numbers them: '1,0', 'GPU-5d5a…' and '' work."""
    if env is None:
        return gpus
    out = []
    for item in (p.strip() for p in env.split(",")):
        if not item:
            break
        match = [g for g in gpus if (item.isdigit() and g.index == int(item))
                 or (not item.isdigit() and g.uuid.startswith(item if item.startswith("GPU-") else f"GPU-{item}"))]
        if len(match) != 1:
            break  # CUDA stops at the first entry it cannot match
        out.append(GpuInfo(len(out), *[getattr(match[0], f) for f in
                                       ("name", "uuid", "memory_used_mib", "memory_total_mib", "utilization")]))
    return out


def list_gpus(timeout: float = 3.0) -> list[GpuInfo]:
    """The GPUs this host offers to a CUDA process started from here, without
    torch: nvidia-smi, else NVML (nvidia-ml-py); [] when neither answers."""
    gpus = _from_nvidia_smi(timeout)
    if gpus is None:
        gpus = _from_nvml() or []
    return visible(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))


# the oldest Linux driver each CUDA major runs on (NVIDIA's minor-version compatibility table)
CUDA_MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}


def driver_version(timeout: float = 3.0) -> str:
    """The NVIDIA driver's version ('535.104.05') from nvidia-smi, else NVML; '' when neither answers."""
    exe = shutil.which("nvidia-smi")
    if exe is not None:
        try:
            done = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"],
                                  capture_output=True, text=True, timeout=timeout)
            lines = done.stdout.split() if done.returncode == 0 else []
            if lines and lines[0][:1].isdigit():
                return lines[0]
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        import pynvml

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # noqa: BLE001 - not installed, no driver
        return ""


def unseen_gpus_note(gpus: list[GpuInfo], torch_cuda: str | None, driver: str) -> str | None:
    """Why torch sees no CUDA device although the host lists ``gpus`` (None
    when it lists none): the wheel's CUDA (``torch.version.cuda``, None for a
    CPU-only build) against the driver. One line, for a warning or an error."""
    if not gpus:
        return None
    have = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''} ({gpus[0].name}" + (
        f", driver {driver})" if driver else ")")
    if torch_cuda is None:
        why = "this torch is a CPU-only build (torch.version.cuda is None); install a CUDA wheel of torch"
    else:
        need = CUDA_MIN_DRIVER.get(int(torch_cuda.split(".")[0]) if torch_cuda.split(".")[0].isdigit() else -1)
        old = bool(driver and need) and _version(driver) < _version(need)
        why = (f"this torch is built for CUDA {torch_cuda} (torch.version.cuda)"
               + (f", which needs driver ≥ {need}: update the driver or install the torch wheel for your driver's CUDA"
                  if old else f"{f', which needs driver ≥ {need}' if need else ''}; check the driver "
                              "(nvidia-smi) and CUDA_VISIBLE_DEVICES"))
    return f"this host lists {have} but torch sees no CUDA device: {why}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def cuda_slot(label: str) -> str:
    """'cuda:1' from a stored device label ('NVIDIA … · sm_90 · cuda:1 · GPU-…'), '' if none."""
    for part in (label or "").split(" · "):
        if part.startswith("cuda:") and part[5:].isdigit():
            return part
    return ""


def short_device(label: str) -> str:
    """A stored device label with the GPU slot first, for a narrow table column:
    'cuda:1 NVIDIA H100 80GB HBM3' (the UUID and sm dropped); other labels as they are."""
    slot = cuda_slot(label)
    if not slot or " · " not in label:
        return label or ""
    return f"{slot} {label.split(' · ')[0]}"
