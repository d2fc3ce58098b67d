"""`nawt show`, `nawt runs` and `nawt export epochs` say which accuracy is which for naive noise
(after each epoch's noise, or the trained weights before it), which weights final.pt and the sweeps
start from, and show the per-layer weight stats; stored rows, no training."""

from __future__ import annotations

import csv
import io
import json

from helpers import run_cli

from nawt_core.config import TrainConfig
from nawt_core.store import Store

STATS = {"conv1": {"l2": 5.78, "max": 0.8604, "std": 0.2783}, "layer3.2.conv2": {"l2": 14.85, "max": 0.3512, "std": 0.07731},
         "fc": {"l2": 5.137, "max": 0.701, "std": 0.203}}


def _run(store, method, **opts):
    cfg = TrainConfig(method=method, epochs=2, dataset="synthetic", **opts)
    last_noise = method == "naive-noise" and cfg.noise_last_epoch
    r = store.create_run(method=method, status="completed", config=cfg.to_dict(), config_key=cfg.key(),
                         dataset="synthetic", device="cpu", epochs=2, epoch=2, final_test_acc=0.1405,
                         final_trained_test_acc=0.5031 if last_noise else 0.1405, train_seconds=2.0)
    for ep in (1, 2):
        changed = method == "naive-noise" and (ep == 1 or last_noise)
        stats = {k: {s: v * ep for s, v in d.items()} for k, d in STATS.items()}
        store.add_epoch(r.id, epoch=ep, train_loss=1.5, train_acc=0.4, test_loss=58.4054 if changed else 1.25,
                        test_acc=0.1405, trained_test_loss=1.25, trained_test_acc=0.5031 if changed else 0.1405,
                        lr=0.0004278, epoch_seconds=108.8, eval_seconds=8.6, checkpoint_seconds=0.21,
                        images_per_sec=5.0, cost_class="1 pass", weight_stats=stats)
    return r


def test_show_runs_and_export_name_the_two_accuracies(tmp_path):
    db = tmp_path / "nawt.db"
    store = Store(f"sqlite:///{db}")
    on, off, std = _run(store, "naive-noise"), _run(store, "naive-noise", noise_last_epoch=False), _run(store, "standard")
    url = ["--db", f"sqlite:///{db}"]
    shown = run_cli("show", str(on.id), *url, env={"COLUMNS": "80"}).stdout
    assert "final.pt and the sweeps start from the weights after the last epoch's noise (14.05 %; the trained " \
           "weights: 50.31 %)" in " ".join(shown.split())
    lines = shown.splitlines()
    table = "\n".join(lines[[ln.strip() for ln in lines].index("epochs"):])  # the epochs table onwards
    assert "…" not in table and "before" in table and "50.31" in table and "58.405" in table
    assert "rho" not in table.split("weights per layer")[0]  # naive noise has none: its column makes room
    weights = table[table.index("weights per layer"):]
    assert "layer3.2.conv2" in weights and "29.7" in weights and "ep 1" in weights and "ep 2" in weights
    shown_off = " ".join(run_cli("show", str(off.id), *url, env={"COLUMNS": "80"}).stdout.split())
    assert "the last epoch adds no noise: final.pt and the sweeps start from the trained weights (14.05 %)" in shown_off
    shown_std = run_cli("show", str(std.id), *url, env={"COLUMNS": "80"}).stdout
    assert "final.pt" not in shown_std.split("files:")[0] and "before" not in shown_std
    assert " rho " in shown_std.split("weights per layer")[0].split("lr")[-1]  # the epochs table keeps rho

    runs = run_cli("runs", *url, env={"COLUMNS": "80"}).stdout
    assert "14.05/50.31" in runs and "a = the weights after the last epoch's noise" in " ".join(runs.split())
    rows = {r["id"]: r for r in json.loads(run_cli("runs", "--json", *url).stdout)}
    assert rows[on.id]["final_trained_test_acc"] == 0.5031 and rows[off.id]["final_trained_test_acc"] == 0.1405

    text = run_cli("export", "epochs", "--runs", f"{on.id}", *url).stdout
    out = list(csv.DictReader(io.StringIO(text)))
    assert [(r["trained_test_acc"], r["test_acc"], r["cost_class"]) for r in out] == [
        ("0.5031", "0.1405", "1 pass")] * 2
    assert json.loads(out[1]["weight_stats"])["fc"] == {"l2": 10.274, "max": 1.402, "std": 0.406}


def test_compare_and_the_tui_detail_name_both_accuracies_of_naive_noise(tmp_path):
    import asyncio

    from nawt_core.compare import compare
    from nawt_tui.screens.detail import DetailScreen
    from test_tui import make_app, rich_text, wait_for

    store = Store(f"sqlite:///{tmp_path / 'nawt.db'}")
    on, _off, _std = _run(store, "naive-noise"), _run(store, "naive-noise", noise_last_epoch=False), _run(store, "standard")
    notes = compare(store, all_runs=True).notes
    said = [n for n in notes if "final.pt" in n]
    # one note, for the variant whose last epoch adds noise only
    assert said == ["naive-noise (noise last epoch): 14.05 % is of final.pt, after the last epoch's noise (the sweeps "
                    "start there); the trained weights before it: 50.31 % (mean of 1 run)"], notes

    async def go():
        app = make_app(f"sqlite:///{tmp_path / 'nawt.db'}", data_dir=str(tmp_path))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = DetailScreen(on.id)
            await app.push_screen(screen)
            await wait_for(pilot, lambda: screen.detail is not None)
            await pilot.pause()
            text = " ".join(rich_text(screen.query_one("#config-body").content, width=200).split())
            assert "14.05 (final.pt, where the sweeps start; the trained weights before the last epoch's noise: " \
                   "50.31)" in text

    asyncio.run(go())
