"""The run store's database: SQLite (one machine) or PostgreSQL (several), through SQLAlchemy Core.

`BNVIZ_DATABASE_URL` picks it: unset means `BNVIZ_HOME/runs.db`, as always; `sqlite:///path`
is another SQLite file; `postgresql://user:pass@host/db` (psycopg 3) lets several web servers
and workers on different machines share runs, queue and heartbeats.

The store writes portable SQL with `?` placeholders; `Transaction.execute` turns them into
SQLAlchemy bind parameters (cached per statement). What differs is here, once:
- SQLite: WAL and synchronous=NORMAL on every connection (a process crash never loses a commit);
  writes start with BEGIN IMMEDIATE, so concurrent writers queue instead of deadlocking, and a
  process lock keeps this process's writers off each other; reads are one deferred transaction.
- PostgreSQL: writes run READ COMMITTED and lock the rows they read-then-update (`FOR UPDATE`);
  reads run REPEATABLE READ, so a reader never sees a half-advanced run; advisory locks
  serialize the few things that span rows (queue claims, migrations, skeleton clean-up).
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection

from bnviz.errors import UserError
from bnviz.settings import settings, variable

ENV = variable("database_url")
DB_NAME = "runs.db"
ALLOWED = "sqlite:///PATH (the default: BNVIZ_HOME/runs.db) or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
_SQLITE = {"sqlite", "sqlite+pysqlite"}
_POSTGRES = {"postgresql", "postgres", "postgresql+psycopg"}

# advisory lock keys (PostgreSQL): one per thing that spans rows
LOCK_MIGRATE, LOCK_CLAIM, LOCK_SKELETONS, LOCK_UPLOADS = 0x626E7601, 0x626E7602, 0x626E7603, 0x626E7604
LOCK_ADMIT = 0x626E7605  # submits: the queue limits are counted and the run inserted under one lock
LOCK_UNLOCKS = 0x626E7606  # teacher unlock attempts: counted one at a time


class DatabaseUrlError(UserError):
    """BNVIZ_DATABASE_URL is not a database bnviz can use."""


def resolve_url(raw: str | None, home: Path) -> URL:
    """The SQLAlchemy URL for `raw` (BNVIZ_DATABASE_URL), or SQLite under `home` when it is empty."""
    raw = (raw or "").strip()
    if not raw:
        return URL.create("sqlite", database=str(home / DB_NAME))
    scheme = raw.split("://", 1)[0] if "://" in raw else raw[:20]
    try:
        url = sa.make_url(raw)
    except Exception:
        raise DatabaseUrlError(f"{ENV} is not a database URL (it starts {scheme!r}); use {ALLOWED}") from None
    if url.drivername in _SQLITE:
        if not url.database or url.database == ":memory:":
            raise DatabaseUrlError(f"{ENV} must name an SQLite file (sqlite:///PATH; an in-memory database "
                                   "cannot be shared with workers)")
        return url.set(drivername="sqlite", database=str(Path(url.database).expanduser()))
    if url.drivername in _POSTGRES:
        if not url.database:
            raise DatabaseUrlError(f"{ENV} must name the database: postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseUrlError(f"{ENV} must be {ALLOWED}; got a {url.drivername!r} URL")


@functools.lru_cache(maxsize=512)
def _statement(sql: str) -> tuple[sa.TextClause, tuple[str, ...]]:
    """`?` placeholders become named bind parameters (p0, p1, ...); parsed once per statement."""
    parts = sql.split("?")
    names = tuple(f"p{i}" for i in range(len(parts) - 1))
    text = parts[0] + "".join(f":{name}{part}" for name, part in zip(names, parts[1:]))
    return sa.text(text), names


@functools.lru_cache(maxsize=64)
def _format_style(sql: str) -> str:
    """`?` placeholders in psycopg's own style (for the driver-level fast path)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Transaction:
    """One open transaction: `execute(sql, params)` with `?` placeholders, as sqlite3 has it."""

    def __init__(self, conn: Connection, db: Database) -> None:
        self.conn, self.db = conn, db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sa.CursorResult:
        statement, names = _statement(sql)
        return self.conn.execute(statement, dict(zip(names, params)))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        statement, names = _statement(sql)
        rows = [dict(zip(names, row)) for row in rows]
        if rows:
            self.conn.execute(statement, rows)

    def advisory_lock(self, key: int, *, shared: bool = False) -> None:
        """Serialize with other transactions that take `key` (PostgreSQL; SQLite writes are serial anyway)."""
        if self.db.postgres:
            fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            self.execute(f"SELECT {fn}(?)", (key,))


class Database:
    """Engines and transactions for one database URL (thread-safe; one per RunStore)."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.postgres = url.drivername.startswith("postgresql")
        self.dialect = "postgresql" if self.postgres else "sqlite"
        self.for_update = " FOR UPDATE" if self.postgres else ""
        self.path = None if self.postgres else Path(url.database)
        self._write_lock = threading.Lock() if not self.postgres else contextlib.nullcontext()
        if self.postgres:
            self._writer = sa.create_engine(url, pool_size=2, max_overflow=8, isolation_level="READ COMMITTED")
            self._reader = sa.create_engine(url, pool_size=4, max_overflow=12, isolation_level="REPEATABLE READ",
                                            execution_options={"postgresql_readonly": True})
            self._single = sa.create_engine(url, pool_size=2, max_overflow=12, isolation_level="AUTOCOMMIT")
        else:
            engine = sa.create_engine(url, pool_size=8, max_overflow=-1, pool_timeout=30,
                                      connect_args={"timeout": 30.0, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            self._reader = engine
            self._writer = engine.execution_options(bnviz_write=True)

    def describe(self) -> str:
        """Where the runs are, for messages (never shows a password)."""
        return str(self.path) if self.path is not None else self.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[Transaction]:
        """One write transaction, committed on success and rolled back on any exception."""
        with self._write_lock, self._writer.begin() as conn:
            yield Transaction(conn, self)

    @contextlib.contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read transaction: every query inside sees the same committed state."""
        with self._reader.connect() as conn:
            yield Transaction(conn, self)
            conn.commit()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        """One row of one statement (atomic by itself): the hot path of pages polling a run.

        It goes straight to the driver on a pooled connection, with no transaction around it:
        one round trip to PostgreSQL instead of three, and on SQLite about 10x faster per call."""
        if self.postgres:
            raw = self._single.raw_connection()
            sql = _format_style(sql)
        else:
            raw = self._reader.raw_connection()
        try:
            row = raw.driver_connection.execute(sql, params).fetchone()
            return tuple(row) if row is not None else None
        finally:
            raw.close()

    def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log into the database file (on close, for a tidy home)."""
        if not self.postgres:
            with self._write_lock:
                raw = self._reader.raw_connection()
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    raw.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.checkpoint()
        self._writer.dispose()
        self._reader.dispose()
        if self.postgres:
            self._single.dispose()


def _sqlite_connect(dbapi_con, record) -> None:
    dbapi_con.isolation_level = None  # the driver's own implicit BEGINs off: _sqlite_begin says how
    cur = dbapi_con.cursor()
    _enable_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a process crash never loses a commit
    cur.close()


def _enable_wal(cur, patience_s: float = 30.0) -> None:
    """WAL mode, which the database file keeps once set. Switching needs the file to itself, and
    SQLite reports "database is locked" at once instead of waiting when other connections open a
    new database at the same moment (servers and workers starting together): retry then."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("bnviz_write") else "BEGIN")


def url_without_password(url: URL) -> str:
    """`url` for another process to open, its password left out: what travels to a Ray task is kept
    (and can be shown) by Ray, so the task's node supplies the password (`with_local_password`)."""
    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False)  # (URL.set ignores a None password)


def with_local_password(sent: str) -> str:
    """The database URL a dispatcher sent, with the password this machine knows: BNVIZ_DATABASE_URL
    here when it names the same database as the same user; otherwise unchanged, for libpq's own
    PGPASSWORD or ~/.pgpass (or a server that needs no password)."""
    url = sa.make_url(sent)
    local = settings().database_url
    if url.password is not None or not local:
        return sent
    try:
        mine = sa.make_url(local)
    except Exception:
        return sent
    same = (mine.host, mine.port, mine.database, mine.username) == (url.host, url.port, url.database, url.username)
    return url.set(password=mine.password).render_as_string(hide_password=False) if same else sent


def env_url(home: Path) -> URL:
    return resolve_url(settings().database_url, home)

