"""Issue 18, as a careless or hostile user meets nawt: names that carry terminal escapes or
Rich markup, help texts, a terminal attached, passwords in URLs, exit statuses, and the
small things that broke (`COLUMNS=0`, `nawt` without a terminal, a read-only store,
a database from a newer nawt). Every command runs in a fresh process, as users type it."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, run_cli

ESC = "\x1b[2J\x1b[H"  # clear the screen, cursor home
TINY = ["--dataset", "synthetic", "--epochs", "1", "--train-subset", "128", "--test-subset", "64", "--batch-size", "64"]


@pytest.fixture
def named(tmp_path) -> Path:
    """A data dir with two queued runs whose names, tags and note carry escapes and markup."""
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.store import Store

    d = tmp_path / "data"
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    for name in (f"evil{ESC}one", "[/bad]"):
        cfg = TrainConfig(dataset="synthetic", epochs=1, device="cpu", name=name).validate()
        run = create_run(store, cfg, d)
        store.update_run(run.id, pid=None, status="interrupted")
    store.update_run(1, tags=[f"t{ESC}"], notes=f"line one\nline{ESC}two [bold]x[/]")
    store.update_run(2, name="[bold]x[/]", config={**store.get_run(2).config, "name": "[/bad]", "lr": 0.2})
    store.engine.dispose()
    return d


def test_escapes_and_markup_in_names_are_printed_as_text(named):
    base = ["--data-dir", str(named)]
    outs = {"".join(cmd[:2]): run_cli(*cmd, *base, env={"COLUMNS": "200"})
            for cmd in (("runs",), ("runs", "--wide"), ("show", "1"), ("show", "2"), ("diff", "1", "2"),
                        ("tag", "1", "plain"), ("note", "1", "--append", f"more{ESC}"))}
    for what, out in outs.items():
        assert out.returncode == 0, (what, out.stderr)
        assert "\x1b" not in out.stdout + out.stderr, what  # no escape reaches the terminal
    assert "evil\\x1b[2J\\x1b[Hone" in outs["show1"].stdout and "t\\x1b[2J" in outs["show1"].stdout
    assert "line one\nline\\x1b[2J\\x1b[Htwo [bold]x[/]" in outs["show1"].stdout  # the note keeps its lines
    assert "[bold]x[/]" in outs["show2"].stdout  # shown, not rendered bold
    assert "2 [bold]x[/]" in outs["diff1"].stdout and "[/bad]" in outs["diff1"].stdout
    assert "evil\\x1b[2J\\x1b[Hone" in outs["runs--wide"].stdout
    assert "more\\x1b[2J" in outs["note1"].stdout


def test_help_texts_keep_their_brackets():
    """Rich markup in help: a `[word]` that is not escaped vanishes (`pip install 'nawt'`)."""
    import typer.main
    from rich.text import Text

    from nawt_cli.main import app

    def walk(cmd, path):
        yield path, cmd
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, f"{path} {name}")

    eaten = []
    for path, cmd in walk(typer.main.get_command(app), "nawt"):
        for what, text in [("help", cmd.help or "")] + [(p.name, getattr(p, "help", None) or "") for p in cmd.params]:
            if Text.from_markup(text).plain != text.replace("\\[", "["):
                eaten.append(f"{path} {what}: {text}")
    assert not eaten, eaten
    out = run_cli("study", "--help", env={"COLUMNS": "200"})
    assert "pip install 'nawt[ray]'" in out.stdout, out.stdout


def _in_pty(args: list[str], timeout: float = 240) -> tuple[int, str]:
    """`nawt ARGS` with a terminal attached (stdout and stderr a pty): (exit status, screen text)."""
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
    env.update(COLUMNS="120", LINES="40", TERM="xterm-256color")
    proc = subprocess.Popen([sys.executable, "-m", "nawt_cli", *args], stdin=child, stdout=child, stderr=child,
                            cwd=REPO, env=env, close_fds=True)
    os.close(child)
    chunks, deadline = [], time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    return proc.wait(timeout=30), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", text)


def test_train_eval_every_with_a_terminal_attached(tmp_path):
    code, screen = _in_pty(["train", *TINY, "--epochs", "3", "--eval-every", "2", "--data-dir", str(tmp_path / "d")])
    assert code == 0, screen[-3000:]
    assert "run 1 completed" in screen and "Traceback" not in screen and "TypeError" not in screen


def test_password_in_a_query_string_is_masked():
    url = "postgresql+psycopg://nawt@127.0.0.1:1/x?password=s3cretq&connect_timeout=1"
    out = run_cli("runs", "--db", url)
    assert out.returncode == 2 and "s3cretq" not in out.stdout + out.stderr, out.stderr
    assert "password=***" in out.stderr
    from nawt_core.store import mask_url

    assert "s3cretq" not in mask_url("postgresql+psycopg://u@h/x?sslpassword=s3cretq&sslmode=require")


def test_failures_exit_1_and_bad_input_exits_2(tmp_path):
    d = str(tmp_path / "d")
    bad = run_cli("train", *TINY, "--lr", "-1", "--data-dir", d)
    assert bad.returncode == 2 and bad.stderr.startswith("error: learning rate"), bad.stderr
    assert not Path(d).exists()  # refused: nothing made
    failed = run_cli("train", *TINY, "--lr", "1e30", "--data-dir", d)  # the loss diverges: the run fails
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 1 and lines[-1].startswith("error: run 1 failed"), failed.stderr


def test_nawt_alone_without_a_terminal_says_so(tmp_path):
    out = run_cli("--data-dir", str(tmp_path / "d"), timeout=60)  # stdin and stdout are pipes here
    assert out.returncode == 2 and out.stderr.startswith("error: the terminal UI needs a terminal"), out.stderr
    assert out.stdout == "" and not (tmp_path / "d").exists()


@pytest.fixture
def one_run(tmp_path) -> Path:
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.store import Store

    d = tmp_path / "data"
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    run = create_run(store, TrainConfig(dataset="synthetic", epochs=1, device="cpu", name="only").validate(), d)
    store.update_run(run.id, pid=None, status="interrupted")
    store.engine.dispose()
    return d


@pytest.mark.parametrize("columns", ["0", "-3", "junk"])
def test_runs_prints_whatever_COLUMNS_says(one_run, columns):
    out = run_cli("runs", "--data-dir", str(one_run), env={"COLUMNS": columns})
    assert out.returncode == 0 and "only" in out.stdout and "runs (1)" in out.stdout, (out.stdout, out.stderr)


def test_a_read_only_store_can_be_listed(one_run):
    """On a read-only mount (as root: a bind mount in a private mount namespace; else chmod)."""
    if os.geteuid() == 0:
        if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
            pytest.skip("needs unshare (a private mount namespace) as root")
        prefix = ["unshare", "-m", "sh", "-c", f'mount --bind -o ro "{one_run}" "{one_run}" && exec "$@"', "sh"]
    else:
        for p in [one_run, *one_run.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        prefix = []
    before = (one_run / "nawt.db").read_bytes()

    def nawt(*args):
        env = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
        return subprocess.run([*prefix, sys.executable, "-m", "nawt_cli", *args, "--data-dir", str(one_run)],
                              capture_output=True, text=True, cwd=REPO, env=env, timeout=120)

    for args in (("runs",), ("runs", "--json"), ("show", "1"), ("queue",), ("compare", "--all"),
                 ("db", "current")):
        out = nawt(*args)
        assert out.returncode == 0, (args, out.stderr)
    assert "only" in nawt("runs").stdout
    write = nawt("tag", "1", "x")
    assert write.returncode == 1 and write.stderr.startswith("error: the database is read-only"), write.stderr
    assert (one_run / "nawt.db").read_bytes() == before


def test_db_current_on_a_newer_schema_says_newer(tmp_path):
    import sqlite3

    from nawt_core.store import Store

    db = tmp_path / "n.db"
    Store(f"sqlite:///{db}").engine.dispose()
    con = sqlite3.connect(db)
    con.execute("update alembic_version set version_num = '9999'")
    con.commit()
    con.close()
    out = run_cli("db", "current", "--db", f"sqlite:///{db}")
    assert out.returncode == 0 and "newer than this nawt" in out.stdout and "outdated" not in out.stdout, out.stdout
