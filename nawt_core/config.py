"""Training configuration: one dataclass, validated without importing torch.

The CLI, the TUI's launch form and ``nawt study`` all build a TrainConfig and
call ``validate()`` before anything is written, so bad input never reaches the
store or the disk. The methods and their options (names, bounds) come from
spec.py; the fields below carry the options' values.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace

from . import spec
from .errors import NawtError
from .hardware import PRECISIONS  # auto, fp32, bf16; re-exported for the CLI and the TUI

ARCHS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
DATASETS = ("cifar10", "synthetic")
SCHEDULES = ("cosine", "step")
# CIFAR-10's split sizes: larger subsets (and batches) only waste memory
MAX_TRAIN, MAX_TEST = 50_000, 10_000
# Activations grow with the batch: past this, a step's memory (tens of GB) sets off the kernel's
# out-of-memory killer on a CPU host long before a number comes out
MAX_BATCH = 8192
# torch's CPU generator keeps 32 bits of a seed: 2**32 (or -2**63) would train exactly as seed 0
MAX_SEED = 2**32 - 1

# Names a user gives (a study, a run in the TUI's form): letters, digits, '.', '_', '-'
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is one (see NAME_RE); else one error line."""
    if not NAME_RE.match(name or ""):
        raise NawtError(f"{what} {name!r} must be letters, digits, '.', '_' or '-' (up to 64, no leading dot)")
    return name


# The keys that are not settings of an experiment, the one list: what a run is called and
# filed under, where its data is read, and how often it is evaluated and saved while it trains.
BOOKKEEPING_KEYS = ("name", "study", "data_dir", "eval_every", "checkpoint_every")
# Keys that do not change what is trained: runs that differ only in these are
# the same experiment (used by `nawt study` to skip or resume finished work).
NON_IDENTITY_KEYS = (*BOOKKEEPING_KEYS, "device", "compile")


def check_seed(seed, what: str = "seed") -> int:
    """A seed the generators take whole: 0 … 2**32 - 1 (larger ones wrap around to smaller ones)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise NawtError(f"{what} must be a whole number from 0 to {MAX_SEED} (got {seed})")
    return seed


@dataclass
class TrainConfig:
    method: str = "standard"
    arch: str = "resnet20"
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    # SAM family
    rho: float = 0.05
    rho_stages: list[float] = field(default_factory=list)  # multistep-sam; empty = derived from rho
    stages: int = 3  # multistep-sam: 0 -> rho in this many equal stages
    adaptive: bool = False
    asam: str = "davda54"  # ASAM variant (spec.py); stored configs without it are davda54
    ascent_steps: int = 1
    # noise methods
    noise_sigma: float = 0.1  # naive-noise: absolute std added to weights once per epoch
    noise_last_epoch: bool = True  # naive-noise: the last epoch adds noise too (stored configs without it did)
    noise_eta: float = 0.05  # noise-injection: std relative to max|W| per layer, per batch
    # data and execution
    dataset: str = "cifar10"
    data_dir: str = "data"
    train_subset: int | None = None
    test_subset: int | None = None
    device: str = "auto"
    # as asked: auto picks bf16 where the hardware runs it natively (see hardware.py);
    # the precision a run actually used is Run.precision, resolved when it starts
    precision: str = "auto"
    compile: bool = False
    eval_every: int = 1  # evaluate every N epochs (the last epoch always)
    checkpoint_every: int = 1  # write last.pt every N epochs (the last always); resume retrains the rest
    seed: int = 0
    deterministic: bool = False
    name: str = ""
    study: str | None = None

    def validate(self) -> "TrainConfig":
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise NawtError(msg)

        spec.method(self.method)  # unknown method: NawtError naming the registered ones
        need(self.arch in ARCHS, f"unknown arch {self.arch!r}; choose one of: {', '.join(ARCHS)}")
        need(self.dataset in DATASETS, f"unknown dataset {self.dataset!r}; choose one of: {', '.join(DATASETS)}")
        need(self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r}; choose cosine or step")
        need(self.precision in PRECISIONS, f"unknown precision {self.precision!r}; choose auto, fp32 or bf16")
        for key in ("lr", "momentum", "weight_decay"):
            v = getattr(self, key)
            need(math.isfinite(v), f"{key.replace('_', ' ')} must be a finite number (got {v})")
        for opt in spec.OPTIONS.values():  # every option, used or not: a stored config stays sane
            problem = opt.check(getattr(self, opt.name))
            need(problem is None, problem or "")
        need(self.asam == spec.OPTIONS["asam"].default or self.adaptive,
             f"the ASAM variant {self.asam!r} needs ASAM switched on (--adaptive)")
        need(self.epochs > 0, f"epochs must be positive (got {self.epochs})")
        for key in ("eval_every", "checkpoint_every"):
            v = getattr(self, key)
            need(isinstance(v, int) and v > 0, f"{key.replace('_', ' ')} must be a positive number of epochs (got {v})")
        need(self.batch_size > 0, f"batch size must be positive (got {self.batch_size})")
        need(self.batch_size <= MAX_BATCH, f"batch size must be at most {MAX_BATCH} (got {self.batch_size})")
        check_seed(self.seed)
        need(self.lr > 0, f"learning rate must be positive (got {self.lr})")
        need(0 <= self.momentum < 1, f"momentum must be in [0, 1) (got {self.momentum})")
        need(self.weight_decay >= 0, f"weight decay must not be negative (got {self.weight_decay})")
        for key, most in (("train_subset", MAX_TRAIN), ("test_subset", MAX_TEST)):
            v = getattr(self, key)
            need(v is None or v > 0, f"{key.replace('_', ' ')} must be positive (got {v})")
            need(v is None or v <= most, f"{key.replace('_', ' ')} must be at most {most}, "
                 f"the size of CIFAR-10's split (got {v})")
        dev = self.device
        need(
            dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit()),
            f"unknown device {dev!r}; use auto, cpu, cuda or cuda:N",
        )
        return self

    def rho_schedule(self) -> list[float]:
        """multistep-sam's rho per stage: given, or 0 -> rho in equal steps."""
        if self.rho_stages:
            return list(self.rho_stages)
        if self.stages == 1:
            return [self.rho]
        return [self.rho * i / (self.stages - 1) for i in range(self.stages)]

    def plain_sgd_note(self) -> str | None:
        """One line when a SAM method's every epoch has rho = 0 (multistep-sam
        whose epochs all fall in its first stage, e.g. --epochs 1): it then
        trains plain SGD, like standard. None otherwise."""
        if spec.method(self.method).rho is None or any(self.rho_at(e) for e in range(self.epochs)):
            return None
        more = next((n for n in range(self.epochs + 1, self.epochs + 64)
                     if any(replace(self, epochs=n).rho_at(e) for e in range(n))), None)
        n = f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"
        why = (f"every one of its {n} falls in a stage with rho = 0 (rho per stage "
               f"{', '.join(f'{r:g}' for r in self.rho_schedule())})" if self.method in spec.uses("rho_stages") else "rho is 0")
        fix = f"give it at least {more} epochs" if more else "give it a rho above 0"
        return f"{self.method}: {why}, so it trains plain SGD, like standard; {fix}"

    def rho_at(self, epoch: int) -> float:
        """rho used in 0-based ``epoch``: the method's schedule (spec.py); 0 for a method without SAM."""
        rho = spec.method(self.method).rho_at(self, epoch)
        return 0.0 if rho is None else rho

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def key(self) -> str:
        """A stable hash of what is trained (names and placement excluded)."""
        d = {k: v for k, v in self.to_dict().items() if k not in NON_IDENTITY_KEYS}
        if d.pop("asam") != "davda54" and self.adaptive:  # the variant counts only where ASAM runs;
            d["asam"] = self.asam  # davda54 left out, so keys from before the option stay the same
        if not d.pop("noise_last_epoch") and self.method in spec.uses("noise_last_epoch"):
            d["noise_last_epoch"] = False  # likewise: only the non-default value, only where it is used
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def label(self) -> str:
        return self.name or f"{self.method}-{self.arch}-e{self.epochs}-s{self.seed}"
