"""Issue 18: files nawt deletes or writes. Run folders are recorded relative to the data dir, so
a copied data dir is self-contained; `rm --files` deletes only a real folder inside
`<data-dir>/runs/`; `-o` writes a regular file atomically, streams to a FIFO, follows a
symbolic link without replacing it, and never puts PNGs beside a pipe or a device."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from helpers import run_cli


@pytest.fixture
def original(tmp_path) -> Path:
    """A data dir with runs 1 and 2, each with a folder holding a file."""
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.store import Store

    d = tmp_path / "orig"
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    for seed in (0, 1):
        run = create_run(store, TrainConfig(dataset="synthetic", epochs=1, device="cpu", seed=seed).validate(), d)
        store.update_run(run.id, status="interrupted", pid=None)
        (d / "runs" / str(run.id) / "last.pt").write_bytes(b"weights")
    store.engine.dispose()
    return d


def _rows(d: Path) -> list:
    con = sqlite3.connect(d / "nawt.db")
    try:
        return con.execute("select id, run_dir from run order by id").fetchall()
    finally:
        con.close()


def test_run_folders_are_recorded_relative_to_the_data_dir(original):
    assert _rows(original) == [(1, "runs/1"), (2, "runs/2")]


def test_rm_files_in_a_copied_data_dir_deletes_the_copys_folder_only(original, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    out = run_cli("rm", "1", "--files", "--yes", "--data-dir", str(copy))
    assert out.returncode == 0, out.stderr
    assert not (copy / "runs" / "1").exists() and (original / "runs" / "1" / "last.pt").exists()


def test_rm_files_never_deletes_outside_the_data_dir(original, tmp_path):
    """A row of an older nawt names an absolute folder: in a copied data dir that is the
    original's, which stays."""
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    con = sqlite3.connect(copy / "nawt.db")
    con.execute("update run set run_dir = ? where id = 1", (str(original / "runs" / "1"),))
    con.commit()
    con.close()
    out = run_cli("rm", "1", "--files", "--yes", "--data-dir", str(copy))
    assert out.returncode == 0 and "not removed: it is not in" in out.stdout, out.stdout + out.stderr
    assert (original / "runs" / "1" / "last.pt").exists()


def test_rm_files_does_not_follow_a_symlinked_run_folder(original, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    shutil.rmtree(original / "runs" / "2")
    (original / "runs" / "2").symlink_to(precious, target_is_directory=True)
    out = run_cli("rm", "2", "--files", "--yes", "--data-dir", str(original))
    assert out.returncode == 0 and "symbolic link" in out.stdout, out.stdout + out.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_a_copied_data_dir_logs_evaluations_into_the_copy(original, tmp_path):
    from nawt_core.recorder import EvalRecorder
    from nawt_core.store import Store

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    store = Store(f"sqlite:///{copy / 'nawt.db'}", home=copy)
    rec = EvalRecorder(store, [1], "robustness", {"mode": "absolute"})
    with rec:
        rec.run(1, lambda evaluation, progress: store.update_evaluation(evaluation.id, status="completed",
                                                                        clean_acc=0.5), lambda d, t: None)
    ev = store.evaluations(1)[0]
    assert store.path(ev.log_path).parent == copy / "runs" / "1"
    assert not list((original / "runs" / "1").glob("eval-*.log"))


def _reader(path: Path, into: list) -> threading.Thread:
    t = threading.Thread(target=lambda: into.append(path.read_bytes()), daemon=True)
    t.start()
    return t


def test_export_to_a_fifo_streams_and_keeps_the_fifo(original, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _reader(fifo, got)
    out = run_cli("export", "runs", "--all", "-o", str(fifo), "--data-dir", str(original))
    reader.join(timeout=30)
    assert out.returncode == 0, out.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a pipe, not a regular file put in its place
    assert got and got[0].decode().startswith("id,") and len(got[0].decode().splitlines()) == 3


def test_export_through_a_symlink_writes_its_target_and_keeps_the_link(original, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    out = run_cli("export", "runs", "--all", "-o", str(link), "--data-dir", str(original))
    assert out.returncode == 0, out.stderr
    assert link.is_symlink() and target.read_text().startswith("id,")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_output_to_a_socket_or_a_dangling_link_is_refused(original, tmp_path):
    import socket

    sock = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    dangling = tmp_path / "gone.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    try:
        for target, why in ((sock, "not a regular file"), (dangling, "symbolic link to nothing")):
            out = run_cli("export", "runs", "--all", "-o", str(target), "--data-dir", str(original))
            assert out.returncode == 2 and why in out.stderr, out.stderr
    finally:
        server.close()
    assert stat.S_ISSOCK(sock.lstat().st_mode) and dangling.is_symlink()


def test_markdown_report_to_a_fifo_puts_no_pngs_beside_it(tmp_path):
    """The report of a study (made with the demo data) written to a pipe: the page is streamed,
    and nothing lands in the pipe's folder."""
    pytest.importorskip("matplotlib")
    from nawt_core.report import write
    from nawt_core.store import Store
    from tui_demo import fill_demo

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    fill_demo(url)
    store = Store(url)
    from nawt_core.compare import compare

    comp = compare(store, None, None, "absolute", True)
    folder = tmp_path / "dev"
    folder.mkdir()
    fifo = folder / "report.md"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _reader(fifo, got)
    files, _note = write(store, comp, fifo, "md")
    reader.join(timeout=60)
    assert [p.name for p in folder.iterdir()] == ["report.md"] and stat.S_ISFIFO(fifo.lstat().st_mode)
    text = got[0].decode()
    assert text.startswith("#") and "left out (a report written to a pipe or device" in text
    assert files == [fifo]


def test_output_to_a_full_device_fails_and_leaves_the_device(original, tmp_path):
    """As root a rename put a regular file where /dev/full was. Tried on a private copy of the
    device node (so a regression cannot damage the real one): written as a stream, it fails with
    one line, and the node stays a character device."""
    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # what /dev/full is
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (needs root / CAP_MKNOD)")
    out = run_cli("export", "runs", "--all", "-o", str(full), "--data-dir", str(original))
    assert out.returncode == 1 and out.stderr.startswith("error: disk full"), out.stderr
    assert stat.S_ISCHR(full.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name != "orig"] == ["full"]  # no temporary beside it
