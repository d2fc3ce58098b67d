"""Study throughput with local worker slots against one process: a benchmark, not a test.

    python scripts/bench_study.py [--runs 8] [--epochs 2] [--train-subset 1024] [--cores 2]

Runs the same tiny synthetic study (one method, RUNS seeds, the smoke preset's
sweeps) twice in fresh data folders, timing the whole `nawt study` command:
``--jobs 1`` (today's in-process study, torch on all CORES threads) and
``--jobs 2`` (two `nawt worker` processes, CORES // 2 threads each). Prints both
wall times, runs per minute and the ratio, with the load average before and
after (a busy machine skews both).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def study(jobs: int, args, cores: int) -> float:
    with tempfile.TemporaryDirectory(prefix=f"nawt-bench-j{jobs}-") as d:
        cmd = [sys.executable, "-m", "nawt_cli", "study", "--data-dir", d, "--dataset", "synthetic",
               "--device", "cpu", "-m", "standard", "--seeds", str(args.runs), "--epochs", str(args.epochs),
               "--train-subset", str(args.train_subset), "--test-subset", str(args.test_subset),
               "--name", f"bench-j{jobs}", "--jobs", str(jobs)]
        env = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
        env.update(OMP_NUM_THREADS=str(cores))  # jobs 1 trains in-process on all cores; workers get --threads
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        secs = time.perf_counter() - t0
        if out.returncode:
            sys.exit(f"error: --jobs {jobs} failed: {out.stderr.strip().splitlines()[-1:]}")
    return secs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-subset", type=int, default=1024)
    p.add_argument("--test-subset", type=int, default=200)
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = p.parse_args()
    load0 = os.getloadavg()
    times = {jobs: study(jobs, args, args.cores) for jobs in (1, 2)}
    load1 = os.getloadavg()
    for jobs, secs in times.items():
        threads = args.cores if jobs == 1 else max(1, args.cores // jobs)
        print(f"--jobs {jobs} ({jobs} x {threads} threads): {args.runs} runs in {secs:.1f} s "
              f"= {args.runs / secs * 60:.1f} runs/min")
    print(f"throughput ratio --jobs 2 / --jobs 1: {times[1] / times[2]:.2f}x")
    print(f"load average (1 min) before {load0[0]:.2f}, after {load1[0]:.2f} on {args.cores} cores")


if __name__ == "__main__":
    main()
