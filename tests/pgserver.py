"""A throwaway PostgreSQL server for the tests, from the binaries on this machine.

One server per test session (initdb + pg_ctl, a Unix socket in a temporary
folder, no TCP); each test that asks gets a fresh database. Where initdb is
missing the tests that need it skip and say why. As root, the server runs as
the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

_count = itertools.count()


def _bindir() -> str | None:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs and os.path.exists(os.path.join(dirs[-1], "initdb")) else None


def _as_postgres():
    if os.geteuid() != 0:
        return None, None
    user = pwd.getpwnam("postgres")

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop, user


class PgServer:
    def __init__(self, bindir: str):
        self.bindir = bindir
        self.root = tempfile.mkdtemp(prefix="nawt-pg-")
        self.data = os.path.join(self.root, "data")
        self.sock = self.root
        self._drop, user = _as_postgres()
        if user:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "nawt", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-c listen_addresses='' -k {self.sock} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.data, "-o", opts, "-w", "-l", os.path.join(self.root, "log"), "start")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([os.path.join(self.bindir, tool), *args], check=True, preexec_fn=self._drop,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://nawt@/{db}?host={self.sock}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_count)}"
        with psycopg.connect(f"dbname=postgres user=nawt host={self.sock}", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'nawt[postgres]')")
    server = PgServer(bindir)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """The store's URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nawt.db'}"
    return request.getfixturevalue("pg_server").new_database()
