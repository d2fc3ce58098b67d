"""`nawt train`, `runs`, `show` as a user runs them: bad input is one line, nothing is damaged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO, run_cli


def _one_error_line(proc):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("cmd", [["--help"], ["train", "--help"], ["runs", "--help"]])
def test_help_does_not_import_torch(cmd):
    code = (f"import sys; sys.argv = ['nawt', *{cmd!r}]\n"
            "from nawt_cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip().endswith("NO-TORCH"), out.stdout[-300:] + out.stderr[-300:]


@pytest.mark.parametrize("cmd", [["--help"], ["eval", "robustness", "--help"], ["study", "--help"]])
def test_help_does_not_import_the_store_either(cmd):
    """`nawt --help` loads neither SQLModel, SQLAlchemy nor Alembic (db_cmds imported migrate at the
    top: about half of the start-up)."""
    code = (f"import sys; sys.argv = ['nawt', *{cmd!r}]\n"
            "from nawt_cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'sqlmodel', 'sqlalchemy', 'alembic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip().endswith("[]"), out.stdout[-300:] + out.stderr[-300:]


@pytest.mark.parametrize("args,needle", [
    (["--method", "sgd"], "choose one of: standard, naive-noise, noise-injection, sam, multistep-sam"),
    (["--epochs", "0"], "epochs must be positive"),
    (["--batch-size", "-4"], "batch size must be positive"),
    (["--rho", "-0.1"], "rho must not be negative"),
    (["--noise-sigma", "-1"], "noise sigma must not be negative"),
    (["--noise-eta", "-1"], "noise eta must not be negative"),
    (["--rho-stages", "0,x"], "--rho-stages must be numbers"),
    (["--device", "tpu"], "unknown device"),
])
def test_bad_train_options_get_one_line_and_write_nothing(args, needle, data_dir):
    proc = run_cli("train", "--dataset", "synthetic", "--data-dir", str(data_dir), *args)
    assert needle in _one_error_line(proc)
    assert not (data_dir / "runs").exists() or not any((data_dir / "runs").iterdir())
    runs = run_cli("runs", "--json", "--data-dir", str(data_dir))
    assert runs.returncode != 0 or json.loads(runs.stdout) == []


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run_cli("train", "--dataset", "synthetic", "--data-dir", str(blocker / "data"))
    assert "data directory" in _one_error_line(proc)


def test_unknown_run_ids(store, data_dir):
    for args in (["show", "42"], ["train", "--resume", "42"]):
        assert "no run with id 42" in _one_error_line(run_cli(*args, "--data-dir", str(data_dir)))


def test_missing_cifar_offline_suggests_synthetic(data_dir):
    proc = run_cli("train", "--epochs", "1", "--data-dir", str(data_dir), env={"NAWT_OFFLINE": "1"})
    line = _one_error_line(proc)
    assert "CIFAR-10" in line and "--dataset synthetic" in line


def test_train_runs_show_and_corrupt_checkpoint_on_resume(data_dir):
    proc = run_cli("train", "--dataset", "synthetic", "--train-subset", "256", "--test-subset", "100",
                   "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--data-dir", str(data_dir),
                   "--name", "=cmd|calc")
    assert proc.returncode == 0, proc.stderr
    assert "epoch   1/1" in proc.stdout and "completed" in proc.stdout
    runs = json.loads(run_cli("runs", "--json", "--data-dir", str(data_dir)).stdout)
    assert [(r["id"], r["status"], r["epoch"]) for r in runs] == [(1, "completed", 1)]
    shown = json.loads(run_cli("show", "1", "--json", "--data-dir", str(data_dir)).stdout)
    assert len(shown["epochs"]) == 1 and any(f.endswith("final.pt") for f in shown["files"])
    human = run_cli("show", "1", "--data-dir", str(data_dir), env={"COLUMNS": "80"}).stdout
    lines = human.splitlines()
    epochs_table = "\n".join(lines[[ln.strip() for ln in lines].index("epochs"):])
    assert "…" not in epochs_table and f"{shown['epochs'][0]['train_loss']:.4f}" in epochs_table
    table = run_cli("runs", "--data-dir", str(data_dir))
    assert "completed" in table.stdout and table.returncode == 0

    # make it look interrupted, with a corrupt last.pt: resume must refuse and change nothing
    from nawt_core.store import Store

    st = Store(f"sqlite:///{data_dir / 'nawt.db'}")
    st.update_run(1, status="interrupted")
    last = data_dir / "runs" / "1" / "last.pt"
    last.write_bytes(b"this is not a checkpoint")
    line = _one_error_line(run_cli("train", "--resume", "1", "--data-dir", str(data_dir)))
    assert "unreadable or corrupt" in line
    assert last.read_bytes() == b"this is not a checkpoint"
    after = st.get_run(1)
    assert after.status == "interrupted" and len(st.epochs(1)) == 1


def test_completed_run_cannot_be_resumed(data_dir, store, tiny_cfg):
    from nawt_core.records import create_run
    from nawt_core.runner import execute

    run = execute(store, create_run(store, tiny_cfg(epochs=1), data_dir).id)
    assert "already completed" in _one_error_line(run_cli("train", "--resume", str(run.id), "--data-dir", str(data_dir)))


def test_detach_returns_at_once_and_the_run_completes(data_dir, store):
    import time

    # --threads reaches the detached trainer (the tests' own processes run with OMP_NUM_THREADS=1)
    assert _one_error_line(run_cli("train", "--dataset", "synthetic", "--threads", "0", "--detach",
                                   "--data-dir", str(data_dir))) == "error: --threads must be from 1 to 1024 (got 0)"
    assert "--threads does not go with --queue" in _one_error_line(run_cli(
        "train", "--dataset", "synthetic", "--threads", "2", "--queue", "--data-dir", str(data_dir)))
    # refused: nothing recorded (the run below is run 1)
    proc = run_cli("train", "--dataset", "synthetic", "--train-subset", "256", "--test-subset", "100",
                   "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--data-dir", str(data_dir),
                   "--detach", "--threads", "2")
    assert proc.returncode == 0 and "started in the background" in proc.stdout
    deadline = time.time() + 120
    while time.time() < deadline and store.get_run(1).status != "completed":
        time.sleep(0.3)
    run = store.get_run(1)
    assert run.status == "completed" and " · 2 threads" in run.device, run.device
    assert "completed" in (data_dir / "runs" / "1" / "train.log").read_text()
