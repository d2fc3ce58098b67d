"""Issue 21: the run detail lists per-layer weight norms (first and last epoch), as `nawt show` does."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from nawt_core.store import Store
from nawt_tui.app import NawtApp
from tui_demo import FIXED_NOW, fill_demo, make_run_dirs


def _text(renderable) -> str:
    console = Console(width=120, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def _config_tab(url: str, run_id: int) -> str:
    from nawt_tui.screens.detail import DetailScreen

    async def body() -> str:
        app = NawtApp(url, ".", now=lambda: FIXED_NOW, refresh_interval=60, host="test-host")
        async with app.run_test(size=(120, 40)) as pilot:
            detail = DetailScreen(run_id)
            await app.push_screen(detail)
            for _ in range(200):
                if detail.detail is not None:
                    break
                await pilot.pause(0.05)
            await pilot.press("2")
            await pilot.pause()
            return _text(detail.query_one("#weights-body").content)

    return asyncio.run(body())


def test_run_detail_shows_weight_norms_at_the_first_and_last_epoch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///nawt.db"
    fill_demo(url, now=FIXED_NOW, run_dirs="runs")
    make_run_dirs("runs")
    epochs = Store(url).epochs(1)
    first, last = epochs[0], epochs[-1]
    text = _config_tab(url, 1)
    assert f"epoch {first.epoch} and {last.epoch}" in text, text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("conv1.weight"))
    want = [first.weight_stats["conv1.weight"]["l2"], last.weight_stats["conv1.weight"]["l2"]]
    got = [float(c) for c in line.split()[1:3]]  # L2 at the first, then the last epoch (4 digits)
    assert got == pytest.approx(want, rel=5e-4), line
    assert want[1] < want[0]  # the demo's weights shrink: the columns are not the same epoch twice


def test_run_detail_says_when_no_weight_norms_were_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///nawt.db"
    fill_demo(url, now=FIXED_NOW, run_dirs="runs")
    make_run_dirs("runs")
    store = Store(url)
    with store._session() as s:  # a run from before the statistics were recorded
        from sqlmodel import select

        from nawt_core.store import Epoch

        for e in s.exec(select(Epoch).where(Epoch.run_id == 2)).all():
            e.weight_stats = None
            s.add(e)
        s.commit()
    assert "none recorded yet" in _config_tab(url, 2)
