"""scripts/gpu-check end to end on the CPU with tiny synthetic settings: every
section runs (or says why not) and both summaries name every section."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO

SECTIONS = ("env", "sync", "bench", "train", "resume", "determinism", "sweeps", "concurrency")


def test_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    # about 15 short nawt processes: the slowest test of the suite on 2 cores; the
    # budget is generous so a busy machine slows it down rather than failing it
    out = tmp_path / "gc"
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu-check"), "--device", "cpu", "--tiny",
                        "--out", str(out), "--concurrency", "1,2", "--budget", "900"],
                       capture_output=True, text=True, timeout=1000, cwd=REPO)
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads((out / "gpu-check.json").read_text())
    secs = doc["sections"]
    assert list(secs) == list(SECTIONS)
    for name in ("env", "bench", "train", "resume", "determinism", "sweeps", "concurrency"):
        assert secs[name]["status"] == "ok", (name, secs[name])
    assert secs["sync"]["status"] in ("ok", "skipped") and secs["sync"].get("note")  # the probe needs CUDA
    assert secs["env"]["torch"] and secs["env"]["device"] == "cpu"
    for precision in ("fp32", "bf16"):
        rates = secs["bench"][precision]["train_img_s"]
        assert set(rates) >= {"standard", "sam", "noise-injection"} and all(v > 0 for v in rates.values())
    for method in ("standard", "sam"):
        assert len(secs["train"][method]["epoch_seconds"]) == 2
    res = secs["resume"]
    assert res["first_stop"]["status"] == "interrupted" and res["first_stop"]["returncode"] == 130
    assert res["device_resume"]["status"] in ("interrupted", "completed")
    if res["device_resume"]["status"] == "interrupted":
        assert res["cpu_resume"]["status"] == "completed" and res["cpu_resume"]["epoch"] == res["cpu_resume"]["epochs"]
    assert secs["determinism"]["equal_weights"] is True
    assert secs["sweeps"]["robustness"]["noise"] == "cpu" and secs["sweeps"]["quantization"]["acc"]
    runs = secs["concurrency"]["runs"]
    assert set(runs) == {"1", "2"} and runs["1"]["ratio_wall"] == 1.0 and runs["2"]["ratio_wall"] > 0
    md = (out / "gpu-check.md").read_text()
    for name in SECTIONS:
        assert f"| {name} |" in md
