"""`nawt runs` (what differs, sized to the terminal), diff, tag, note, stop, rm, logs, and the
evaluation recorder; on the torch-free demo database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from helpers import run_cli


@pytest.fixture
def demo(data_dir: Path):
    from tui_demo import fill_demo, make_run_dirs

    fill_demo(f"sqlite:///{data_dir / 'nawt.db'}", run_dirs=str(data_dir / "runs"))
    make_run_dirs(str(data_dir / "runs"))
    from nawt_core.store import Store

    return Store(f"sqlite:///{data_dir / 'nawt.db'}")


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


# ------------------------------------------------------------------ formatting and settings
def test_numbers_print_with_sensible_precision():
    from nawt_core.runview import fmt_num, fmt_value

    assert fmt_num(0.07612345) == "0.07612"
    assert fmt_num(0.1 + 0.2) == "0.3"  # no binary noise
    assert fmt_num(5e-4) == "0.0005" and fmt_num(1e-5) == "1e-05"
    assert fmt_num(200.0) == "200" and fmt_num(3) == "3" and fmt_num(True) == "True"
    assert fmt_value([0.0, 0.025, 0.05]) == "0,0.025,0.05" and fmt_value(None) == "-"


def test_varying_settings_name_only_what_differs():
    from nawt_core.config import TrainConfig
    from nawt_core.runview import config_diff, varying_keys, varying_settings
    from nawt_core.store import Run

    def run(i, **kw):
        cfg = TrainConfig(**kw)
        return Run(id=i, method=cfg.method, name=f"r{i}", config=cfg.to_dict())

    runs = [run(1, train_subset=4000, precision="fp32"), run(2, train_subset=4000, precision="bf16"),
            run(3, method="sam", rho=0.1, precision="fp32"),
            run(4, method="sam", rho=0.05, name="x", study="s", precision="fp32")]
    # name and study never count; rho only among the SAM runs, where it differs
    assert varying_keys(runs) == ["rho", "train_subset", "precision"]
    texts = varying_settings(runs)
    assert texts[1] == "subset 4000 fp32" and texts[2] == "subset 4000 bf16"
    assert texts[3] == "rho 0.1 subset all fp32" and texts[4] == "rho 0.05 subset all fp32"
    assert varying_settings(runs[:1]) == {1: ""}  # one run: nothing differs
    # once started, a run shows the precision that auto resolved to, not "auto"
    started = run(5, train_subset=4000)
    started.precision = "bf16"
    assert varying_settings([runs[0], started])[5] == "bf16"
    diff = {k: (a, b, d) for k, a, b, d in config_diff(runs[2].config, runs[3].config)}
    assert diff["rho"] == (0.1, 0.05, True) and diff["epochs"][2] is False


def test_runs_table_fits_the_terminal_and_says_what_it_left_out(demo):
    from nawt_cli.run_cmds import runs_table
    from nawt_core.compare import run_summary
    from nawt_core.runview import varying_settings

    found = demo.list_runs()
    differs = varying_settings(found)
    rows = [{**run_summary(r), "settings": differs[r.id], "tags": [], "notes": ""} for r in found]
    for width in (80, 120, 200):
        table, hidden = runs_table(rows, width)
        con = Console(width=width, record=True)
        con.print(table)
        text = con.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        assert "differs" in text and "poster-sam" in text and "synthetic" in text  # names whole, not cut
        assert (hidden == []) == (width == 200)
    assert runs_table(rows, 80, wide=True)[1] == []


# ------------------------------------------------------------------ CLI commands
def test_tag_note_filter_and_diff(demo, data_dir):
    d = ["--data-dir", str(data_dir)]
    assert run_cli("tag", "3", "best", "poster", *d).returncode == 0
    assert run_cli("tag", "1", "poster", *d).returncode == 0
    assert run_cli("tag", "1", "poster", "--remove", *d).returncode == 0
    assert "1-40 characters" in _one_error_line(run_cli("tag", "3", "two words", *d))
    assert run_cli("note", "3", "rho 0.05 reference", *d).returncode == 0
    listed = json.loads(run_cli("runs", "--json", "--tag", "poster", *d).stdout)
    assert [r["id"] for r in listed] == [3] and listed[0]["tags"] == ["best", "poster"]
    assert listed[0]["notes"] == "rho 0.05 reference"
    stale = json.loads(run_cli("runs", "--json", "--status", "stale", "--method", "multistep-sam", *d).stdout)
    assert [r["id"] for r in stale] == [4]
    assert "unknown status" in _one_error_line(run_cli("runs", "--status", "done", *d))
    diff = json.loads(run_cli("diff", "1", "8", "--json", *d).stdout)
    differs = {row["key"] for row in diff["config"] if row["differs"]}
    assert {"epochs", "dataset", "device", "seed"} <= differs and "lr" not in differs
    assert diff["results"]["final test %"] == {"a": "89.74", "b": "-"}
    table = run_cli("diff", "1", "8", *d, env={"COLUMNS": "100"}).stdout
    assert "* epochs" in table and "200" in table and "equal settings not shown" in table
    assert "lr" not in table.split("equal settings")[0] and "lr" in run_cli("diff", "1", "8", "--all", *d).stdout
    assert "two different runs" in _one_error_line(run_cli("diff", "2", "2", *d))
    assert "no run with id 99" in _one_error_line(run_cli("diff", "1", "99", *d))


def test_stop_rm_and_logs(demo, data_dir):
    from nawt_core.store import Store, utcnow

    d = ["--data-dir", str(data_dir)]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        demo.update_run(4, host=socket.gethostname(), pid=sleeper.pid, heartbeat_at=utcnow())  # a live trainer
        out = run_cli("stop", "4", *d)
        assert out.returncode == 0 and f"SIGTERM sent to pid {sleeper.pid}" in out.stdout
        assert sleeper.wait(timeout=10) == -signal.SIGTERM
    finally:
        sleeper.kill()
    assert Store(demo.url).get_run(4).stop_requested
    assert "only a running or queued run" in _one_error_line(run_cli("stop", "1", *d))
    assert "stale" in _one_error_line(run_cli("stop", "5", *d))
    # rm: asks without --yes, refuses without a terminal, keeps the folder unless --files
    assert "--yes" in _one_error_line(run_cli("rm", "7", *d))
    folder = Path(demo.get_run(7).run_dir)
    assert run_cli("rm", "7", "--yes", *d).returncode == 0 and folder.is_dir()
    assert run_cli("rm", "2", "--yes", "--files", *d).returncode == 0
    assert not (data_dir / "runs" / "0002-poster-naive").exists()
    assert [r.id for r in Store(demo.url).list_runs()] == [1, 3, 4, 5, 6, 8]
    demo.update_run(1, status="running", host=socket.gethostname(), pid=os.getpid(), heartbeat_at=utcnow())
    assert "stop it first" in _one_error_line(run_cli("rm", "1", "3", "--yes", *d))
    assert len(Store(demo.url).list_runs()) == 6  # all or nothing
    # logs
    out = run_cli("logs", "6", *d)
    assert out.returncode == 0 and "CUDA out of memory" in out.stdout
    assert run_cli("logs", "6", "-n", "1", *d).stdout.strip().startswith("RuntimeError")
    assert run_cli("logs", "3", "-f", *d, timeout=20).returncode == 0  # a finished run: no waiting
    demo.update_run(3, log_path=None, run_dir="")
    assert "no log file" in _one_error_line(run_cli("logs", "3", *d))


def test_logs_follow_until_the_run_ends(demo, data_dir):
    from nawt_core.store import utcnow

    log = Path(demo.get_run(8).run_dir) / "train.log"
    demo.update_run(8, status="running", host=socket.gethostname(), pid=os.getpid(), log_path=str(log),
                    heartbeat_at=utcnow())
    proc = subprocess.Popen([sys.executable, "-m", "nawt_cli", "logs", "8", "-f", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    time.sleep(1.5)
    with open(log, "a") as fh:
        fh.write("epoch 6: late line\n")
    time.sleep(1.0)
    assert proc.poll() is None  # still following a running run
    demo.update_run(8, status="completed")
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and out.rstrip().endswith("epoch 6: late line")


# ------------------------------------------------------------------ evaluations
def test_eval_recorder_queues_logs_and_records_progress(demo):
    from nawt_core.recorder import EvalRecorder

    rec = EvalRecorder(demo, [1, 3], "robustness", {"mode": "absolute"})
    assert [e.status for e in demo.evaluations(kind="robustness") if e.id in
            {ev.id for ev in rec.rows.values()}] == ["queued", "queued"]

    def sweep(evaluation, progress):
        demo.update_evaluation(evaluation.id, status="running")
        for i in range(1, 5):
            progress(i, 4)
        return demo.update_evaluation(evaluation.id, status="completed", clean_acc=0.9)

    with rec:
        ev = rec.run(1, sweep, lambda d, t: None)
        with pytest.raises(RuntimeError):
            rec.run(3, lambda **kw: (_ for _ in ()).throw(RuntimeError("checkpoint missing")), lambda d, t: None)
    done = next(e for e in demo.evaluations(1) if e.id == ev.id)
    assert done.status == "completed" and done.progress == 1.0
    text = demo.path(done.log_path).read_text()
    assert demo.path(done.log_path).parent == demo.folder(demo.get_run(1)) and "4/4 done" in text
    assert "completed" in text
    failed = next(e for e in demo.evaluations(3) if e.id == rec.rows[3].id)
    assert failed.status == "failed" and "checkpoint missing" in failed.error
    assert "checkpoint missing" in demo.path(failed.log_path).read_text()


def test_at_80_columns_wide_runs_help_and_version(demo, data_dir):
    """`nawt runs --wide` at 80 columns: every column, whole, in tables that fit (it wrapped
    letter by letter); `--arch`'s choices whole in `--help`; `nawt --version`."""
    env = {"COLUMNS": "80"}
    out = run_cli("runs", "--wide", "--data-dir", str(data_dir), env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    for head in ("differs", "study", "tags", "best %", "train s", "img/s", "device"):
        assert head in out.stdout, head
    n = len(demo.list_runs())
    assert len(lines) < 4 * (n + 5), out.stdout  # a few tables of one line a run, not a column of letters
    assert "poster-sam" in out.stdout  # names whole
    help_text = run_cli("train", "--help", env=env).stdout
    assert "resnet110" in help_text and "…" not in help_text.split("--arch")[1].split("--")[0], help_text
    ver = run_cli("--version")
    assert ver.returncode == 0 and ver.stdout.strip().startswith("nawt 0."), ver
