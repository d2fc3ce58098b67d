"""Issue 18: bounds on what could exhaust memory or processes, values that were silently wrong
(NaN, negative steps, seeds the generator wraps around, `0,,1`), and refused input that left
traces (an evaluation row, a data dir with an empty nawt.db, a queued run). Each case is run
through the real entry point and must end with exit 2, one `error:` line, and nothing changed."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from helpers import run_cli

SYN = ["--dataset", "synthetic"]


def _nawt(args: list[str], capsys) -> tuple[int, str, str]:
    """`nawt ARGS` through the real entry point, in this process (torch is imported once)."""
    from nawt_cli.main import main

    saved, logger = sys.argv, logging.getLogger("nawt")
    handlers, propagate = logger.handlers[:], logger.propagate
    sys.argv = ["nawt", *args]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = saved
        logger.handlers[:], logger.propagate = handlers, propagate
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path) -> Path:
    """A data dir with one completed-looking run (a row and a folder; nothing is trained)."""
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.store import Store

    d = tmp_path / "data"
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    run = create_run(store, TrainConfig(dataset="synthetic", epochs=1, device="cpu").validate(), d)
    store.update_run(run.id, status="completed", pid=None, epoch=1)
    store.engine.dispose()
    return d


def _state(d: Path):
    con = sqlite3.connect(d / "nawt.db")
    try:
        return [con.execute(f"select * from {t} order by 1").fetchall() for t in ("run", "evaluation", "study")]
    finally:
        con.close()


CASES = [  # (id, args, words in the error line)
    ("bench-batch", ["bench", "--batch-size", "100000"], "batch size must be at most 8192"),
    ("bench-steps", ["bench", "--steps", "-1"], "--steps must be from 1"),
    ("bench-workers", ["bench", "--workers", "100000"], "--workers must be from 0"),
    ("train-batch", ["train", *SYN, "--batch-size", "9000"], "batch size must be at most 8192"),
    ("study-seeds", ["study", *SYN, "--seeds", "1000000000"], "seeds must be from 1 to 1000"),
    ("study-jobs", ["study", *SYN, "--jobs", "100000"], "--jobs must be from 1 to 256"),
    ("study-per-gpu", ["study", *SYN, "--gpus", "0", "--per-gpu", "100000"], "--per-gpu must be from 1"),
    ("study-stale-nan", ["study", *SYN, "--stale-after", "nan"], "--stale-after must be a positive number"),
    ("study-stale-inf", ["study", *SYN, "--stale-after", "inf"], "--stale-after must be a positive number"),
    ("worker-stale-nan", ["worker", "--stale-after", "nan"], "--stale-after must be a positive number"),
    ("worker-threads", ["worker", "--threads", "100000"], "--threads must be from 1 to 1024"),
    ("seed-2^32", ["train", *SYN, "--seed", "4294967296"], "seed must be a whole number from 0 to 4294967295"),
    ("seed-negative", ["train", *SYN, "--seed", "-9223372036854775808"], "seed must be a whole number"),
    ("eval-seed", ["eval", "robustness", "1", "--seed", "18446744073709551616"], "--seed must be a whole number"),
    ("strengths-empty-item", ["eval", "robustness", "1", "-s", "0,,1"], "empty item"),
    ("bits-empty-item", ["eval", "quantization", "1", "--bits", "8,"], "empty item"),
    ("methods-empty-item", ["study", *SYN, "-m", "standard,,sam"], "empty item"),
    ("rho-stages-empty-item", ["train", *SYN, "-m", "multistep-sam", "--rho-stages", "0,,0.05"], "empty item"),
    ("gpus-empty-item", ["study", *SYN, "--gpus", "0,,1"], "empty item"),
    ("study-name", ["study", *SYN, "--name", "../../etc"], "study name '../../etc' must be"),
]


@pytest.mark.parametrize("args,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_with_one_line_and_nothing_changed(home, args, needle, capsys, monkeypatch):
    monkeypatch.delenv("NAWT_DB", raising=False)
    before = _state(home)
    files = sorted(str(p) for p in home.rglob("*"))
    code, out, err = _nawt([*args, "--data-dir", str(home)], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (code, err)
    assert _state(home) == before  # no evaluation row, no queued run, no study
    assert sorted(str(p) for p in home.rglob("*") if not p.name.startswith("nawt.db-")) == \
        [f for f in files if not Path(f).name.startswith("nawt.db-")]


@pytest.mark.parametrize("args", [["study", *SYN, "--name", "../../etc"], ["train", *SYN, "--seed", "-1"],
                                  ["study", *SYN, "--stale-after", "nan"]], ids=["name", "seed", "nan"])
def test_refused_input_makes_no_data_dir(tmp_path, args, capsys, monkeypatch):
    monkeypatch.delenv("NAWT_DB", raising=False)
    d = tmp_path / "fresh"
    code, _out, err = _nawt([*args, "--data-dir", str(d)], capsys)
    assert code == 2 and err.startswith("error: ") and not d.exists(), err


def test_a_non_utf8_data_dir_is_refused_before_a_run_is_queued(tmp_path):
    bad = os.fsdecode(bytes(tmp_path) + b"/d\xff")
    out = run_cli("train", "--queue", *SYN, "--epochs", "1", "--data-dir", bad)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "not valid UTF-8" in out.stderr, out.stderr
    assert list(tmp_path.iterdir()) == []


def test_seeds_the_generator_wraps_are_what_make_them_equal():
    """Why the bound: torch's CPU generator keeps 32 bits, so 2**32 draws exactly as 0."""
    import torch

    draw = [torch.randn(3, generator=torch.Generator().manual_seed(s)) for s in (0, 2**32)]
    assert torch.equal(*draw)
    from nawt_core.config import MAX_SEED, TrainConfig

    assert TrainConfig(seed=MAX_SEED).validate().seed == 2**32 - 1


def test_jobs_start_no_more_workers_than_pending_runs(monkeypatch, tmp_path):
    from nawt_core import launchers
    from nawt_core.store import default_url

    started = []
    monkeypatch.setattr(launchers, "usable_cores", lambda: 8)
    monkeypatch.setattr(launchers, "launch_local", lambda slots, *a, **kw: started.append(slots) or False)
    launch = launchers.local_launcher(8, None, 1, None, "s", default_url(tmp_path), tmp_path, None, 120.0)
    launch([5])
    assert len(started[0]) == 1  # one pending run: one worker, not eight
    launch([5, 6, 7])
    assert len(started[1]) == 3
