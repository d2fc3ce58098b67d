"""The analysis commands as a user runs them: tables, JSON, CSV, and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from helpers import run_cli
from nawt_core.config import TrainConfig
from nawt_core.records import create_run
from nawt_core.runner import execute
from nawt_core.store import Store


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    cfg = TrainConfig(dataset="synthetic", train_subset=256, test_subset=100, epochs=1, batch_size=64, lr=0.05,
                      device="cpu", data_dir=str(d), name="=evil()")
    run = execute(store, create_run(store, cfg, d).id, data_dir=d)
    pending = store.create_run(method="sam", status="running", config=cfg.to_dict())
    return store, run, pending, ["--db", f"sqlite:///{d / 'nawt.db'}", "--data-dir", str(d)], d


def test_analysis_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, nawt_cli.main; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_eval_compare_export_round_trip(env):
    store, run, _, opts, d = env
    r = run_cli("eval", "robustness", str(run.id), "--strengths", "0,0.1", "--trials", "2", "--device", "cpu",
                "--json", *opts)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out[0]["run_id"] == run.id and set(out[0]["points"]) == {"0.0", "0.1"}
    assert out[0]["points"]["0.1"]["n"] == 2
    r = run_cli("eval", "quantization", str(run.id), "--bits", "8,4", "--device", "cpu", *opts)
    assert r.returncode == 0, r.stderr
    assert "4" in r.stdout and "unquantized" in r.stdout
    shown = run_cli("show", str(run.id), *opts, env={"COLUMNS": "80"}).stdout  # settings a line each, no dict repr
    assert "strengths 0, 0.1" in shown and "bits 8, 4" in shown and "{'" not in shown
    r = run_cli("compare", *opts)
    assert r.returncode == 0, r.stderr
    for title in ("Clean test accuracy", "Training time", "weight perturbation", "quantized weights"):
        assert title in r.stdout
    r = run_cli("compare", "--json", str(run.id), *opts)
    comp = json.loads(r.stdout)
    assert comp["bits"] == [8, 4] and comp["strengths"] == [0.0, 0.1]
    r = run_cli("export", "runs", *opts)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0]["name"] == "'=evil()"  # a spreadsheet will not run it
    target = d / "q.json"
    r = run_cli("export", "quantization", "-o", str(target), *opts)
    assert r.returncode == 0 and {q["bits"] for q in json.loads(target.read_text())} == {8, 4}


@pytest.mark.parametrize("args,msg", [
    (["eval", "robustness", "999"], "no run with id 999"),
    (["eval", "robustness", "{pending}"], "has not finished"),
    (["eval", "robustness", "{run}", "--strengths", "-0.1"], ">= 0"),
    (["eval", "robustness", "{run}", "--trials", "0"], "at least 1"),
    (["eval", "quantization", "{run}", "--bits", "8,17"], "1 to 16"),
    (["eval", "sharpness", "{run}", "--threads", "0"], "--threads must be from 1 to 1024"),
    (["study", "--threads", "2", "--jobs", "2"], "--threads is for a study trained in this process"),
    (["export", "bogus"], "unknown table"),
    (["export", "runs", "-o", "/nonexistent-dir/x.csv"], "cannot write"),
    (["compare", "--png", "/nonexistent-dir/x.png"], "cannot write"),
    (["study", "--preset", "huge"], "unknown preset"),
])
def test_bad_input_is_one_line_and_exit_2(env, args, msg):
    store, run, pending, opts, _ = env
    n = len(store.evaluations())
    args = [a.format(run=run.id, pending=pending.id) for a in args]
    r = run_cli(*args, *opts)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and msg in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert len(store.evaluations()) == n  # nothing recorded
