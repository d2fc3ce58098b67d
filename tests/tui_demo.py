"""A fixed, torch-free demo database: the TUI's tests and snapshots use it.

`python tests/tui_demo.py sqlite:///demo.db` fills a database with runs in
every state (completed, running, stale, failed, interrupted, queued), epoch
curves, robustness and quantization evaluations, and one study.
"""

from __future__ import annotations

import math
import random
import sys
from datetime import datetime, timedelta

FIXED_NOW = datetime(2025, 6, 1, 12, 0, 0)
DEMO_HOST = "gpu-server-7"  # not this host: staleness then depends on silence only

POSTER = {  # method: (clean acc, train seconds)
    "standard": (0.8974, 4923.0),
    "naive-noise": (0.5031, 5374.0),
    "sam": (0.9026, 6241.0),
    "multistep-sam": (0.9109, 5862.0),
    "noise-injection": (0.8871, 5120.0),
}
STRENGTHS = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]
BITS = [8, 6, 5, 4, 3, 2]
ROBUST_DROP = {"standard": 3.0, "naive-noise": 1.0, "sam": 2.2, "multistep-sam": 2.0,
               "noise-injection": 1.2}


def _config(method: str, epochs: int, seed: int, name: str, study: str | None, dataset: str = "cifar10",
            device: str = "cuda") -> dict:
    return {
        "method": method, "arch": "resnet20", "epochs": epochs, "batch_size": 128, "lr": 0.1,
        "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "schedule": "cosine",
        "rho": 0.05 if "sam" in method else None,
        "rho_stages": [0.0, 0.02, 0.05] if method == "multistep-sam" else None,
        "adaptive": False, "ascent_steps": 1,
        "noise_sigma": 0.1 if method == "naive-noise" else None,
        "noise_eta": 0.05 if method == "noise-injection" else None,
        "dataset": dataset, "data_dir": "data", "train_subset": None, "test_subset": None,
        "device": device, "precision": "bf16", "compile": False, "seed": seed,
        "deterministic": False, "name": name, "study": study,
    }


def _epochs(run_id: int, method: str, n: int, total: int, final_acc: float, seconds: float) -> list[dict]:
    rows = []
    for e in range(1, n + 1):
        t = e / total
        acc = final_acc * (1 - math.exp(-5 * t)) + 0.1 * math.exp(-5 * t)
        tr_acc = min(acc + 0.04 * t, 0.999)
        lr = 0.05 * (1 + math.cos(math.pi * t))
        rho = None
        if method == "sam":
            rho = 0.05
        elif method == "multistep-sam":
            rho = [0.0, 0.02, 0.05][min(int(3 * (e - 1) / total), 2)]
        rows.append(dict(
            run_id=run_id, epoch=e, train_loss=2.3 * math.exp(-4 * t) + 0.05, train_acc=tr_acc,
            test_loss=2.3 * math.exp(-3.5 * t) + 0.3, test_acc=acc, lr=lr, rho=rho,
            epoch_seconds=seconds / total, images_per_sec=50000 * total / seconds,
            weight_stats=_weight_stats(t),
        ))
    return rows


def _weight_stats(t: float) -> dict:
    """Three of ResNet-20's weights, shrinking under weight decay as training goes on."""
    shrink = 1 - 0.3 * t
    return {name: {"l2": round(l2 * shrink, 4), "max": round(mx * shrink, 4), "std": round(sd * shrink, 5)}
            for name, l2, mx, sd in (("conv1.weight", 3.9, 0.62, 0.188), ("layer1.0.conv1.weight", 6.1, 0.41, 0.075),
                                     ("fc.weight", 4.4, 0.51, 0.139))}


def fix_datetimes(obj: object) -> object:
    """Datetimes converted to what the store's columns take (aware or naive UTC)."""
    from nawt_tui.data import store_datetime

    for col in obj.__table__.columns:  # type: ignore[attr-defined]
        v = getattr(obj, col.name, None)
        if isinstance(v, datetime):
            setattr(obj, col.name, store_datetime(v, col.type))
    return obj


def fill_demo(url: str, now: datetime = FIXED_NOW, run_dirs: str | None = None) -> None:
    """Writes the demo runs into the database at `url` (created if missing)."""
    from sqlmodel import Session

    from nawt_core.store import Epoch, EvalPoint, Evaluation, Run, Store, Study

    store = Store(url)
    rng = random.Random(0)
    specs = [
        # name, method, status, epoch, epochs, study, extra
        ("poster-std", "standard", "completed", 200, 200, "poster", {}),
        ("poster-naive", "naive-noise", "completed", 200, 200, "poster", {}),
        ("poster-sam", "sam", "completed", 200, 200, "poster", {}),
        ("poster-msam", "multistep-sam", "running", 120, 200, "poster", {"batch": 195}),
        ("aihwkit-eta5", "noise-injection", "running", 37, 200, None, {"stale": True}),
        ("sam-big-batch", "sam", "failed", 3, 200, None,
         {"error": "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"}),
        ("std-seed1", "standard", "interrupted", 40, 200, None, {}),
        ("smoke", "standard", "queued", 0, 2, None, {"dataset": "synthetic", "device": "cpu"}),
    ]
    with Session(store.engine) as s:
        for i, (name, method, status, epoch, epochs, study, extra) in enumerate(specs, start=1):
            acc, secs = POSTER[method]
            per_epoch = secs / epochs
            started = now - timedelta(seconds=per_epoch * epoch + 300 * (len(specs) - i) + 40)
            heartbeat = now - timedelta(seconds=2)
            if extra.get("stale"):
                started = now - timedelta(hours=2, seconds=per_epoch * epoch)
                heartbeat = now - timedelta(hours=2)
            finished = None
            if status in ("completed", "failed", "interrupted"):
                finished = started + timedelta(seconds=per_epoch * epoch + 20)
                heartbeat = finished
            run_dir = f"{run_dirs}/{i:04d}-{name}" if run_dirs else ""
            dataset = extra.get("dataset", "cifar10")
            device = extra.get("device", "cuda:0")
            last = _epochs(i, method, epoch, epochs, acc, secs)[-1] if epoch else None
            run = Run(
                id=i, name=name, method=method, study=study, seed=i % 3,
                config=_config(method, epochs, i % 3, name, study, dataset, device.split(":")[0]),
                status=status, dataset=dataset, device=device if status != "queued" else "",
                torch_version="2.5.1", nawt_version="0.1.0", host=DEMO_HOST,
                pid=40000 + i if status != "queued" else None,
                created_at=started - timedelta(seconds=5),
                started_at=started if status != "queued" else None,
                finished_at=finished, heartbeat_at=heartbeat if status != "queued" else None,
                epoch=epoch, epochs=epochs, batch=extra.get("batch", 0),
                batches=391 if status != "queued" else 0,
                train_loss=last["train_loss"] if last else None,
                train_acc=last["train_acc"] if last else None,
                test_acc=last["test_acc"] if last else None,
                best_test_acc=(max([r["test_acc"] for r in _epochs(i, method, epoch, epochs, acc, secs)]
                                   + ([acc] if status == "completed" else [])) if epoch else None),
                final_test_acc=acc if status == "completed" else None,
                images_per_sec=last["images_per_sec"] if last else None,
                train_seconds=per_epoch * epoch, run_dir=run_dir,
                checkpoint_last=f"{run_dir}/last.pt" if epoch and run_dir else None,
                checkpoint_final=f"{run_dir}/final.pt" if status == "completed" and run_dir else None,
                log_path=f"{run_dir}/train.log" if run_dir else None,
                error=extra.get("error"),
            )
            s.add(fix_datetimes(run))
            s.flush()
            s.add_all([fix_datetimes(Epoch(created_at=started, **r)) for r in _epochs(i, method, epoch, epochs, acc, secs)])
            if status == "completed":
                ev = Evaluation(run_id=i, kind="robustness", seed=0, status="completed", device="cuda:0",
                                clean_acc=acc, seconds=42.0, created_at=finished, finished_at=finished,
                                config={"mode": "absolute", "strengths": STRENGTHS, "trials": 3})
                s.add(fix_datetimes(ev))
                s.flush()
                for st in STRENGTHS:
                    for t in range(3):
                        a = acc * math.exp(-ROBUST_DROP[method] * 10 * st * st * 10) + rng.uniform(-0.01, 0.01) * st * 10
                        s.add(EvalPoint(evaluation_id=ev.id, param=st, trial=t, accuracy=max(a, 0.1)))
                ev = Evaluation(run_id=i, kind="quantization", seed=0, status="completed", device="cuda:0",
                                clean_acc=acc, seconds=9.0, created_at=finished, finished_at=finished,
                                config={"bits": BITS, "granularity": "channel"})
                s.add(fix_datetimes(ev))
                s.flush()
                for b in BITS:
                    a = acc - {8: 0.0005, 6: 0.003, 5: 0.01, 4: 0.04, 3: 0.2, 2: 0.7}[b] * (
                        0.6 if "sam" in method else 1.0)
                    s.add(EvalPoint(evaluation_id=ev.id, param=float(b), trial=0, accuracy=max(a, 0.1)))
        s.add(fix_datetimes(Study(name="poster", preset="paper", status="running",
                                  out_dir="studies/poster", created_at=now - timedelta(days=1))))
        s.commit()
    store.engine.dispose()


def make_run_dirs(root: str) -> None:
    """Checkpoint and log files for the demo runs' folders."""
    from pathlib import Path

    names = ["poster-std", "poster-naive", "poster-sam", "poster-msam", "aihwkit-eta5", "sam-big-batch",
             "std-seed1", "smoke"]
    for i, name in enumerate(names, start=1):
        d = Path(root) / f"{i:04d}-{name}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "train.log").write_text(
            f"nawt train: run {i} ({name})\n" + "".join(f"epoch {e}: loss {2.0 / e:.3f}\n" for e in range(1, 6))
            + ("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n" if i == 6 else ""))
        if i <= 4 or i == 7:
            (d / "last.pt").write_bytes(b"\0" * 1100 * 1024)
        if i <= 3:
            (d / "final.pt").write_bytes(b"\0" * 1100 * 1024)


if __name__ == "__main__":  # pragma: no cover
    url = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///demo.db"
    dirs = sys.argv[2] if len(sys.argv) > 2 else None
    fill_demo(url, now=datetime.utcnow() if "--live" in sys.argv else FIXED_NOW, run_dirs=dirs)
    if dirs:
        make_run_dirs(dirs)
    print(f"demo runs written to {url}")
