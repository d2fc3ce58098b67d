"""Data: on-device augmentation, the synthetic set, the real CIFAR-10 loader and its errors."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from nawt_core.data import DeviceData, load_cifar10, norm_affine, subset, synthetic
from nawt_core.errors import NawtError

from helpers import SHARED_CIFAR


def _device_data(n=16):
    arrays = synthetic(n, 10, seed=0)
    return arrays, DeviceData(arrays, torch.device("cpu"), channels_last=False)


def test_augmentation_is_a_crop_inside_the_padding_or_its_exact_mirror():
    arrays, data = _device_data()
    gen = torch.Generator().manual_seed(3)
    idx = torch.arange(16)
    out = data.augment(idx, gen)
    assert out.shape == (16, 3, 32, 32) and out.dtype == torch.float32
    scale, bias = norm_affine(torch.device("cpu"))
    raw = torch.round((out - bias) / scale).to(torch.int16)  # back to pixel values
    padded = torch.nn.functional.pad(torch.from_numpy(arrays.x_train).to(torch.int16), (4, 4, 4, 4))
    flips = 0
    for i in range(16):
        crops = [(dy, dx, padded[i, :, dy:dy + 32, dx:dx + 32]) for dy in range(9) for dx in range(9)]
        matches = [(dy, dx, f) for dy, dx, c in crops for f in (0, 1)
                   if torch.equal(raw[i], c.flip(2) if f else c)]
        assert matches, f"image {i} is not a crop of its padded source"
        flips += all(f for _, _, f in matches)
    assert 0 < flips < 16  # both flipped and unflipped occur


def test_synthetic_is_deterministic_balanced_and_cifar_shaped():
    a, b = synthetic(200, 50, seed=0), synthetic(200, 50, seed=0)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert a.x_train.shape == (200, 3, 32, 32) and a.x_train.dtype == np.uint8
    assert np.bincount(a.y_train, minlength=10).tolist() == [20] * 10


def test_subset_keeps_the_first_images():
    a = synthetic(100, 50)
    s = subset(a, 30, 20)
    assert np.array_equal(s.x_train, a.x_train[:30]) and len(s.y_test) == 20


def test_train_batches_cover_an_epoch_without_repeats():
    arrays, data = _device_data(64)
    seen = []
    for x, y in data.train_batches(16, torch.Generator().manual_seed(0)):
        assert x.shape == (16, 3, 32, 32)
        seen.append(y)
    assert sorted(torch.cat(seen).tolist()) == sorted(arrays.y_train.tolist())


needs_cifar = pytest.mark.skipif(not (SHARED_CIFAR / "cifar-10-batches-py").exists(), reason="no shared CIFAR-10")


@needs_cifar
def test_real_cifar10_loads_with_a_checksum_warning(caplog):
    from nawt_core import data

    data._CACHE.clear()  # the warning comes with the first read of a folder
    with caplog.at_level("WARNING", logger="nawt.data"):
        d = load_cifar10(SHARED_CIFAR, download=False)
    assert "checksum" in caplog.text
    assert d.x_train.shape == (50000, 3, 32, 32) and d.x_test.shape == (10000, 3, 32, 32)
    assert np.bincount(d.y_train).tolist() == [5000] * 10
    assert np.bincount(d.y_test).tolist() == [1000] * 10
    assert d.y_test[:5].tolist() == [3, 8, 8, 0, 6]
    assert d.x_test[0, :, 0, 0].tolist() == [158, 112, 49]  # R, G, B of test image 0's first pixel


@needs_cifar
def test_truncated_batch_file_is_a_clear_error(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for f in (SHARED_CIFAR / "cifar-10-batches-py").iterdir():
        (folder / f.name).symlink_to(f)
    (folder / "data_batch_3").unlink()
    with open(SHARED_CIFAR / "cifar-10-batches-py" / "data_batch_3", "rb") as src:
        (folder / "data_batch_3").write_bytes(src.read(1_000_000))
    with pytest.raises(NawtError, match="truncated or corrupt"):
        load_cifar10(tmp_path, download=False)


def test_missing_cifar_without_network_says_where_and_suggests_synthetic(tmp_path):
    with pytest.raises(NawtError, match="--dataset synthetic"):
        load_cifar10(tmp_path, download=False)


def test_wrong_shapes_are_rejected():
    from nawt_core.data import _validate_split

    with pytest.raises(NawtError, match="expected"):
        _validate_split(np.zeros((10, 32, 32, 4), np.uint8), np.zeros(10, np.int64), 10, "x", "test")
    with pytest.raises(NawtError, match="class counts"):
        _validate_split(np.zeros((20, 32, 32, 3), np.uint8), np.zeros(20, np.int64), 20, "x", "test")
