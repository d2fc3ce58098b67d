"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` on a free port.

``pg_server`` (session-scoped) starts one server per test session in a temporary
folder and yields its URL; ``pg_url`` gives each test a fresh empty database on
it. As root the server runs as an unprivileged user (postgres, else nobody)
through ``runuser``, since PostgreSQL refuses to run as root. Tests skip, with
the reason shown, only when the binaries (or such a user) are missing.

conftest.py registers both fixtures for every test (``from pg import pg_server, pg_url``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

USERS = ("postgres", "nobody")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runas() -> tuple[list[str], pwd.struct_passwd | None]:
    """The prefix that runs a command as a non-root user, and that user (none needed when not root)."""
    if os.geteuid() != 0:
        return [], None
    if not shutil.which("runuser"):
        pytest.skip("PostgreSQL tests: running as root and `runuser` is missing (PostgreSQL refuses to run as root)")
    for name in USERS:
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], user
    pytest.skip(f"PostgreSQL tests: running as root and none of the users {', '.join(USERS)} exists")


def start_server():
    """Starts a server; returns (url, stop). Skips when initdb/pg_ctl are not on PATH."""
    missing = [b for b in ("initdb", "pg_ctl") if not shutil.which(b)]
    if missing:
        pytest.skip(f"PostgreSQL tests: {', '.join(missing)} not on PATH (install PostgreSQL 15 server binaries)")
    prefix, user = _runas()
    root = tempfile.mkdtemp(prefix="nawt-pg-")
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = os.path.join(root, "data"), _free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=60)  # noqa: E731
    out = run("initdb", "-D", data, "-U", "nawt", "-A", "trust", "-E", "UTF8", "--no-sync")
    if out.returncode:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {out.stderr.strip()[-500:]}")
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100")
    out = run("pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(root, "log"), "-w", "-t", "30", "start")
    if out.returncode:
        log = open(os.path.join(root, "log")).read()[-800:] if os.path.exists(os.path.join(root, "log")) else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {out.stderr.strip()[-300:]} {log}")

    def stop() -> None:
        run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql+psycopg://nawt@127.0.0.1:{port}/postgres", stop


def fresh_database(server_url: str) -> str:
    """Creates an empty database on the server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def pg_server():
    """The URL of a PostgreSQL 15 server that lives for the test session."""
    pytest.importorskip("psycopg", reason="PostgreSQL tests: the psycopg driver is not installed (pip install 'nawt[postgres]')")
    url, stop = start_server()
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the session's server (postgresql+psycopg://…)."""
    return fresh_database(pg_server)
