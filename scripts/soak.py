"""Soak test (not part of the pytest suite): three trainers, the TUI and a
polling reader share one database for a while; prints lost rows and lock errors.

    python scripts/soak.py                 # 10 minutes
    python scripts/soak.py --minutes 2 --db sqlite:////tmp/soak.db

Trainers are `nawt train` processes on small synthetic runs (a new run as soon
as one finishes); the TUI runs headless on the same store; the reader polls
runs, epochs and evaluations every 0.1 s. Afterwards every epoch line a trainer
printed must have its epoch row in the store ("lost rows"), and no process may
have met a "database is locked" error ("lock errors").
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TRAIN = ["--dataset", "synthetic", "--train-subset", "1024", "--test-subset", "200", "--epochs", "4",
         "--batch-size", "64", "--device", "cpu"]

TUI = """
import sys, threading
from nawt_tui import data
from nawt_tui.app import NawtApp
errors = []
real = data.DataSource._call
def counted(self, fn):
    try:
        return real(self, fn)
    except Exception as e:
        errors.append(str(e))
        raise
data.DataSource._call = counted
app = NawtApp(sys.argv[1], sys.argv[2])
threading.Timer(float(sys.argv[3]), lambda: app.call_from_thread(app.exit)).start()
app.run(headless=True, size=(120, 40))
print("TUI-ERRORS", len(errors), sum("locked" in e for e in errors), flush=True)
"""


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), *[p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p]])
    e["OMP_NUM_THREADS"] = "1"  # three trainers on a small machine
    return e


def trainer(db: str, data_dir: str, until: float, out: list[str]) -> None:
    """Runs `nawt train` again and again until the time is up; keeps every output line."""
    while time.time() < until:
        proc = subprocess.run([sys.executable, "-m", "nawt_cli", "train", *TRAIN, "--db", db,
                               "--data-dir", data_dir], capture_output=True, text=True, env=env(), cwd=REPO)
        out.extend((proc.stdout + proc.stderr).splitlines())


def reader(db: str, until: float, stats: dict) -> None:
    from nawt_core.store import Store

    store = Store(db, create=False)
    while time.time() < until:
        try:
            for run in store.list_runs():
                store.epochs(run.id)
            store.evaluations()
            stats["polls"] += 1
        except Exception as e:  # noqa: BLE001 - counted, not fatal
            stats["errors"].append(str(e))
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--db", help="SQLAlchemy URL [default: a fresh SQLite file in a temporary folder]")
    ap.add_argument("--trainers", type=int, default=3)
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="nawt-soak-")
    data_dir = str(Path(home) / "data")
    db = args.db or f"sqlite:///{Path(home) / 'nawt.db'}"
    from nawt_core.store import Store

    Store(db)  # create it before anyone polls
    seconds = args.minutes * 60
    until = time.time() + seconds
    print(f"soak: {args.trainers} trainers, the TUI and a reader on {db} for {seconds:.0f} s", flush=True)

    outputs: list[list[str]] = [[] for _ in range(args.trainers)]
    threads = [threading.Thread(target=trainer, args=(db, data_dir, until, out)) for out in outputs]
    stats = {"polls": 0, "errors": []}
    threads.append(threading.Thread(target=reader, args=(db, until, stats)))
    tui = subprocess.Popen([sys.executable, "-c", TUI, db, data_dir, str(seconds)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env(), cwd=REPO)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tui_out, _ = tui.communicate(timeout=120)

    # every epoch a trainer printed must be in the store
    store = Store(db, create=False)
    printed: dict[int, set[int]] = {}
    for lines in outputs:
        run_id = None
        for ln in lines:
            m = re.match(r"run (\d+) ", ln)
            if m:
                run_id = int(m.group(1))
            m = re.match(r"epoch\s+(\d+)/", ln)
            if m and run_id is not None:
                printed.setdefault(run_id, set()).add(int(m.group(1)))
    stored = {rid: {e.epoch for e in store.epochs(rid)} for rid in printed}
    lost = sum(len(eps - stored[rid]) for rid, eps in printed.items())
    runs = store.list_runs()
    all_lines = [ln for lines in outputs for ln in lines]
    trainer_locks = sum("locked" in ln for ln in all_lines)
    trainer_errors = [ln for ln in all_lines if ln.startswith("error:") or "Traceback" in ln]
    reader_locks = sum("locked" in e for e in stats["errors"])
    m = re.search(r"TUI-ERRORS (\d+) (\d+)", tui_out or "")
    tui_errors, tui_locks = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
    statuses = {s: sum(r.status == s for r in runs) for s in sorted({r.status for r in runs})}

    print(f"runs: {len(runs)} {statuses}; epoch lines printed: {sum(map(len, printed.values()))}, "
          f"epoch rows: {sum(map(len, stored.values()))}; reader polls: {stats['polls']}")
    print(f"lost rows: {lost}")
    print(f"lock errors: {trainer_locks + reader_locks + max(tui_locks, 0)} "
          f"(trainers {trainer_locks}, reader {reader_locks}, TUI {tui_locks})")
    print(f"other errors: trainers {len(trainer_errors)}, reader {len(stats['errors']) - reader_locks}, "
          f"TUI {tui_errors - tui_locks if tui_errors >= 0 else 'did not report'}")
    for ln in trainer_errors[:5]:
        print("  " + ln)
    sys.exit(1 if lost or trainer_locks or reader_locks or tui_locks else 0)


if __name__ == "__main__":
    main()
