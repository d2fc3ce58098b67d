"""CIFAR-10 (through torchvision) and a synthetic look-alike, held on the
training device as uint8 and augmented a whole batch at a time there.

No per-image Python and no DataLoader workers: ResNet-20 is small enough that
the classic PIL pipeline, not the network, limits the speed.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import NawtError
from .runview import find_cifar_batches  # torch-free: the TUI's new-run form checks the same way

log = logging.getLogger("nawt.data")

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
BATCH_FOLDER = "cifar-10-batches-py"
DOWNLOAD_TIMEOUT_S = 30


@dataclass
class ArrayData:
    """A dataset split pair as numpy: uint8 NCHW images and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "cifar10", "cifar10 (unofficial checksums)" or "synthetic"


# ------------------------------------------------------------------ CIFAR-10
def _tv_split(root: Path, train: bool):
    """torchvision's CIFAR10 for one split (md5-verified files only: it unpickles them)."""
    from torchvision.datasets import CIFAR10  # torchvision is slow to import: only CIFAR-10's files need it

    return CIFAR10(str(root), train=train, download=False)


# What a CIFAR-10 batch pickle may reference: numpy arrays and dtypes. Dicts,
# lists, bytes, str and ints need no global at all.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles data, never code: any other global (os.system, builtins.eval, ...) is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it references {module}.{name}")
        if module == "numpy.core.multiarray":  # numpy 2 moved it; skip the deprecated alias
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[np.ndarray, list]:
    """One batch file as (data uint8 (N, 3072), labels), through the restricted unpickler."""
    try:
        with open(path, "rb") as fh:
            entry = _BatchUnpickler(fh, encoding="latin1").load()
    except pickle.UnpicklingError as e:
        if str(e).startswith("it references"):
            raise NawtError(f"refusing to load {path}: not a plain CIFAR-10 batch ({e})") from None
        raise NawtError(f"cannot read CIFAR-10 batch {path}: the file is truncated or corrupt ({e})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, OSError, MemoryError) as e:
        raise NawtError(f"cannot read CIFAR-10 batch {path}: the file is truncated or corrupt "
                        f"({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(entry, dict) or "data" not in entry or not isinstance(entry["data"], np.ndarray):
        raise NawtError(f"cannot read CIFAR-10 batch {path}: it holds no 'data' array")
    labels = entry.get("labels", entry.get("fine_labels"))
    if not isinstance(labels, (list, np.ndarray)):
        raise NawtError(f"cannot read CIFAR-10 batch {path}: it holds no 'labels' list")
    return entry["data"], list(labels)


def _read_split(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """A split as NHWC uint8 images and int64 labels (torchvision's layout)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    parts = [read_batch(folder / n) for n in names]
    try:
        x = np.concatenate([d for d, _ in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.asarray([v for _, lab in parts for v in lab], dtype=np.int64)
    except (ValueError, TypeError) as e:
        raise NawtError(f"CIFAR-10 batches in {folder} do not hold 32x32 RGB images and integer labels ({e})") from None
    return x, y


def _official_checksums_ok(root: Path) -> bool:
    from torchvision.datasets import CIFAR10

    probe = CIFAR10.__new__(CIFAR10)
    probe.root = str(root)
    return probe._check_integrity()


def _validate_split(x: np.ndarray, y: np.ndarray, n: int, where: Path, split: str) -> None:
    if x.shape != (n, 32, 32, 3) or x.dtype != np.uint8:
        raise NawtError(f"CIFAR-10 {split} images in {where} have shape {x.shape} {x.dtype}, expected ({n}, 32, 32, 3) uint8")
    if y.shape != (n,) or y.min() < 0 or y.max() > 9:
        raise NawtError(f"CIFAR-10 {split} labels in {where} are not {n} labels in 0..9")
    counts = np.bincount(y, minlength=10)
    if not (counts == n // 10).all():
        raise NawtError(f"CIFAR-10 {split} set in {where} has class counts {counts.tolist()}, expected {n // 10} each")


def _read_cifar(root: Path) -> ArrayData:
    """Loads a local copy: torchvision when the official checksums match; else a
    restricted unpickler (numpy arrays and plain containers only), after which
    shapes, counts and labels are validated."""
    official = _official_checksums_ok(root)
    where = root / BATCH_FOLDER
    if official:
        try:
            tr, te = _tv_split(root, True), _tv_split(root, False)
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError, OSError, RuntimeError) as e:
            raise NawtError(f"cannot read CIFAR-10 in {where}: a batch file is truncated or corrupt ({type(e).__name__}: {e})") from None
        x_tr, y_tr = tr.data, np.asarray(tr.targets, dtype=np.int64)
        x_te, y_te = te.data, np.asarray(te.targets, dtype=np.int64)
    else:  # unverified files are data to check, never code to run
        x_tr, y_tr = _read_split(where, True)
        x_te, y_te = _read_split(where, False)
    _validate_split(x_tr, y_tr, 50000, where, "training")
    _validate_split(x_te, y_te, 10000, where, "test")
    source = "cifar10"
    if not official:
        log.warning(
            "CIFAR-10 in %s does not match the official md5 checksums; loaded after validating "
            "shapes, class counts and labels", where,
        )
        source = "cifar10 (unofficial checksums)"
    to_nchw = lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2))  # noqa: E731
    return ArrayData(to_nchw(x_tr), y_tr, to_nchw(x_te), y_te, source)


def _download(data_dir: Path) -> None:
    from torchvision.datasets import CIFAR10

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(data_dir), train=True, download=True)  # verifies the archive's md5
    except Exception as e:  # noqa: BLE001 - any network or disk failure means "not available"
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NawtError(
            f"CIFAR-10 is not in {data_dir} and could not be downloaded ({reason}); put the "
            f"'{BATCH_FOLDER}' folder there (or pass --cifar-dir), or use --dataset synthetic offline"
        ) from None
    finally:
        socket.setdefaulttimeout(old)


def ensure_cifar10(data_dir: str | Path = "data", *, download: bool = True) -> Path:
    """The folder holding the batches: found, or downloaded and md5-verified by
    torchvision. ``NAWT_OFFLINE=1`` skips the download attempt."""
    data_dir = Path(data_dir)
    folder = find_cifar_batches(data_dir)
    if folder is None:
        if not download or os.environ.get("NAWT_OFFLINE"):
            raise NawtError(
                f"CIFAR-10 not found in {data_dir}; put the '{BATCH_FOLDER}' folder there "
                "(or pass --cifar-dir), or use --dataset synthetic offline"
            )
        _download(data_dir)
        folder = find_cifar_batches(data_dir)
    return folder


def load_cifar10(data_dir: str | Path = "data", *, download: bool = True) -> ArrayData:
    """CIFAR-10 as numpy; read once per process and folder (a study trains and
    evaluates many models on it; the arrays are never modified)."""
    folder = ensure_cifar10(data_dir, download=download).resolve()
    if folder not in _CACHE:
        _CACHE.clear()
        _CACHE[folder] = _read_cifar(folder.parent if folder.name == BATCH_FOLDER else _as_root(folder))
    return _CACHE[folder]


_CACHE: dict[Path, ArrayData] = {}


def _as_root(folder: Path) -> Path:
    """torchvision wants the parent of ``cifar-10-batches-py``; a folder with
    another name is exposed through a temporary link with the expected one."""
    tmp = Path(tempfile.mkdtemp(prefix="nawt-cifar-"))
    (tmp / BATCH_FOLDER).symlink_to(folder.resolve(), target_is_directory=True)
    return tmp


# ----------------------------------------------------------------- synthetic
def synthetic(n_train: int = 5000, n_test: int = 1000, seed: int = 0) -> ArrayData:
    """A deterministic, learnable CIFAR-shaped dataset: each class is a smooth
    colour template, each image that template shifted a little plus pixel noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(10, 3, 4, 4))
    templates = coarse.repeat(8, axis=2).repeat(8, axis=3)  # (10, 3, 32, 32), blocky but smooth

    def make(n: int, rng: np.random.Generator):
        y = np.arange(n, dtype=np.int64) % 10
        rng.shuffle(y)
        shifts = rng.integers(-2, 3, size=(n, 2))
        x = np.empty((n, 3, 32, 32), dtype=np.float32)
        for c in range(10):  # per class, not per image: the shift is one roll per unique value
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    sel = (y == c) & (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
                    x[sel] = np.roll(templates[c], (dy, dx), axis=(1, 2))
        x = 128 + 45 * x + rng.normal(0, 40, size=x.shape)
        return np.clip(x, 0, 255).astype(np.uint8), y

    x_tr, y_tr = make(n_train, np.random.default_rng(seed + 1))
    x_te, y_te = make(n_test, np.random.default_rng(seed + 2))
    return ArrayData(x_tr, y_tr, x_te, y_te, "synthetic")


def load_arrays(dataset: str, data_dir: str | Path = "data", *, train_subset=None, test_subset=None) -> ArrayData:
    if dataset == "synthetic":  # one fixed data set: the training seed changes the model, not the data
        data = synthetic(train_subset or 5000, test_subset or 1000, seed=0)
    else:
        data = load_cifar10(data_dir)
    return subset(data, train_subset, test_subset)


def subset(data: ArrayData, n_train: int | None, n_test: int | None) -> ArrayData:
    """The first N images of each split (CIFAR-10's order is well mixed, so classes stay near-balanced)."""
    x_tr, y_tr = data.x_train[:n_train], data.y_train[:n_train]
    x_te, y_te = data.x_test[:n_test], data.y_test[:n_test]
    for y, split in ((y_tr, "training"), (y_te, "test")):
        missing = sorted(set(range(10)) - set(np.unique(y).tolist()))
        if missing:
            log.warning("the %s subset lacks classes %s", split, missing)
    return ArrayData(x_tr, y_tr, x_te, y_te, data.source)


# ------------------------------------------------------- on-device batches
def norm_affine(device) -> tuple[torch.Tensor, torch.Tensor]:
    """scale, bias with ``uint8 * scale + bias == (x / 255 - mean) / std``."""
    mean = torch.tensor(CIFAR_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1)
    return 1.0 / (255.0 * std), -mean / std


def to_input(x_u8: torch.Tensor, *, channels_last: bool = True, affine=None) -> torch.Tensor:
    """uint8 images (on any device) as the normalised float input the models take.
    ``affine``: norm_affine's (scale, bias) already on the device; without it they
    are built here, a host-to-device copy that a per-step caller must avoid."""
    scale, bias = affine if affine is not None else norm_affine(x_u8.device)
    x = torch.addcmul(bias, x_u8.float(), scale)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class DeviceData:
    """The dataset as uint8 tensors on the training device, with batched augmentation."""

    def __init__(self, arrays: ArrayData, device: torch.device, *, channels_last: bool = True, pad: int = 4):
        self.device = device
        self.source = arrays.source
        self.channels_last = channels_last
        self.pad = pad
        self.affine = norm_affine(device)  # on the device once: per batch it would be two blocking copies
        x_tr = torch.from_numpy(arrays.x_train).to(device)
        self.padded = torch.nn.functional.pad(x_tr, (pad, pad, pad, pad))  # zero fill, like RandomCrop
        self.y_train = torch.from_numpy(arrays.y_train).to(device)
        self.x_test = self.normalize(torch.from_numpy(arrays.x_test).to(device))
        self.y_test = torch.from_numpy(arrays.y_test).to(device)
        self._ar = torch.arange(32, device=device)
        self._ch = torch.arange(3, device=device).view(1, 3, 1, 1)

    @property
    def n_train(self) -> int:
        return self.y_train.numel()

    @property
    def n_test(self) -> int:
        return self.y_test.numel()

    def normalize(self, x_u8: torch.Tensor) -> torch.Tensor:
        return to_input(x_u8, channels_last=self.channels_last, affine=self.affine)

    def augment(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Random 32x32 crop of the zero-padded image and a random horizontal flip,
        for a whole batch in one gather."""
        b = idx.numel()
        off = torch.randint(0, 2 * self.pad + 1, (b, 2), generator=gen, device=self.device)
        rows = (off[:, 0:1] + self._ar).view(b, 1, 32, 1)
        cols = (off[:, 1:2] + self._ar).view(b, 1, 1, 32)
        flip = torch.rand(b, generator=gen, device=self.device) < 0.5
        cols = torch.where(flip.view(b, 1, 1, 1), cols.flip(3), cols)  # a mirrored crop is a reversed column index
        x = self.padded[idx.view(b, 1, 1, 1), self._ch, rows, cols]
        return self.normalize(x)

    def train_batches(self, batch_size: int, gen: torch.Generator):
        """One epoch of (images, labels), shuffled; the ragged last batch is dropped
        unless it is the only one."""
        n = self.n_train
        perm = torch.randperm(n, generator=gen, device=self.device)
        steps = max(1, n // batch_size)
        for i in range(steps):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            yield self.augment(idx, gen), self.y_train[idx]

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, self.n_train // batch_size)
