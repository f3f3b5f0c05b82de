"""Fixtures: a real PostgreSQL server for the session, a fresh database per test, and
``db_url`` which runs a test once on SQLite and once on PostgreSQL.

The server runs from the PostgreSQL binaries (``PG_BIN``, else the newest
``/usr/lib/postgresql/*/bin``, else ``initdb`` on PATH) in a temporary directory on a free
port. PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` OS user.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ali1688spider.sandbox.process import free_port

SUPERUSER = "postgres"


def find_pg_bin() -> Path | None:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    _names = itertools.count(1)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        name = f"test_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def start(self) -> None:
        done = self.run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"), "-w", "-t", "60",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()} {log}")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")


def start_postgres_server(root: Path) -> PostgresServer:
    """A new PostgreSQL server (trust authentication, user ``postgres``) with its data under
    *root* (which the ``postgres`` OS user must be able to write when running as root)."""
    bin_dir = find_pg_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        raise RuntimeError("PostgreSQL binaries not found: install postgresql or set PG_BIN (scripts/test does)")
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
    server = PostgresServer(bin_dir, root, free_port())
    done = server.run(
        "initdb", "-D", str(server.data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync",
        "--locale", "C",
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr.strip()[-1000:]}")
    for attempt in range(3):
        try:
            server.start()
            return server
        except RuntimeError:
            # Another process may have taken the free port in between: try another one.
            if attempt == 2:
                raise
            server.port = free_port()
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the whole session."""
    # Not under pytest's tmp dir: that is private to root and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="ali1688-pg-"))
    try:
        server = start_postgres_server(root)
    except RuntimeError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(exc))
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def fresh_database(server: PostgresServer):
    """Yield the URL of a new, empty database on *server*; dropped after."""
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server):
    """URL of a fresh, empty database on the session's PostgreSQL server."""
    yield from fresh_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database: the test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ali1688.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request, tmp_path_factory):
    """``db_url`` for a module's shared fixtures, which crawl once into it for tests that only
    read: one database on SQLite and one on PostgreSQL for the whole module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'ali1688.db'}"
    else:
        yield from fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(db_url):
    """A Store on ``db_url`` with its schema created (closed after the test)."""
    from ali1688spider.storage.store import Store

    store = Store(db_url)
    store.open()
    yield store
    store.close()


@pytest.fixture
def history_trigger():
    """``history_trigger(url, refuse=ID, delay=SECONDS)`` adds a trigger on ``price_history``
    (creating the schema first): a real database error when *refuse*'s row is inserted, and/or
    a slow insert (*delay* per row) so a batch's transaction stays open long enough to be
    interrupted. ``history_trigger(url)`` removes it."""
    from ali1688spider.storage.store import Store

    def install(url: str, *, refuse: str | None = None, delay: float = 0.0) -> None:
        store = Store(url)
        store.open()
        with store.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS test_trigger")
                if refuse or delay:
                    # SQLite has no sleep: a recursive count of about *delay* seconds.
                    steps = int(delay * 7_000_000)
                    connection.exec_driver_sql(
                        "CREATE TRIGGER test_trigger BEFORE INSERT ON price_history BEGIN "
                        f"SELECT RAISE(ABORT, 'refused by test') WHERE NEW.product_id = '{refuse or ''}'; "
                        f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {steps}) "
                        "SELECT count(*) FROM c; END"
                    )
            else:
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS test_trigger ON price_history")
                if refuse or delay:
                    connection.exec_driver_sql(
                        "CREATE OR REPLACE FUNCTION test_trigger() RETURNS trigger AS $$ BEGIN "
                        f"IF NEW.product_id = '{refuse or ''}' THEN RAISE EXCEPTION 'refused by test'; END IF; "
                        f"PERFORM pg_sleep({delay}); RETURN NEW; END $$ LANGUAGE plpgsql"
                    )
                    connection.exec_driver_sql(
                        "CREATE TRIGGER test_trigger BEFORE INSERT ON price_history "
                        "FOR EACH ROW EXECUTE FUNCTION test_trigger()"
                    )
        store.close()

    return install
