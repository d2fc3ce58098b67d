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
    index: int | None = None  # CUDA device index

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
        'NVIDIA H100 80GB HBM3 · sm_90 · cuda:0'."""
        if self.kind == "cuda":
            return f"{self.gpu_name or 'CUDA device'} · {self.sm} · cuda:{self.index or 0}"
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
            d.update(gpu=self.gpu_name, capability=self.sm, index=self.index or 0)
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
