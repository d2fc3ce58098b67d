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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """A store URL, once on SQLite and once on PostgreSQL (a fresh database on pg_server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nawt.db'}"
    return request.getfixturevalue("pg_url")


def pytest_configure(config):
    """Under pytest-xdist (-n 2) each worker, and every nawt process a test starts, computes on one
    thread: two workers with two threads each on two cores only contend."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)
