"""Shared fixtures: a temporary store and data folder, tiny synthetic configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import pg_server, pg_url  # noqa: F401  (a throwaway PostgreSQL server, see pg.py)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def store(data_dir: Path):
    from nawt_core.store import Store

    return Store(f"sqlite:///{data_dir / 'nawt.db'}")


@pytest.fixture
def tiny_cfg(data_dir: Path):
    """A config that trains in a second or two on the CPU."""
    from nawt_core.config import TrainConfig

    def make(**kw):
        base = dict(dataset="synthetic", train_subset=512, test_subset=200, epochs=2, batch_size=64,
                    lr=0.05, device="cpu", data_dir=str(data_dir))
        base.update(kw)
        return TrainConfig(**base).validate()

    return make
