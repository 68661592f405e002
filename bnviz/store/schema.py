"""The run store's tables and their versioned migrations, the same on SQLite and PostgreSQL.

The `bnviz_schema` table holds the number of migrations that ran; a new store runs all of
them in order, an older store the rest, each migration in the one transaction that records
it. Stores from before that table (SQLite files of schema 1 and 2) kept the number in
`PRAGMA user_version`, which is read once and then mirrored, so that an older bnviz still
refuses a newer file. A store written by a newer bnviz is refused rather than misread.

The SQL is written once with a few type names filled in per database: REAL is DOUBLE
PRECISION and BLOB is BYTEA on PostgreSQL, and its `runs` table gets an explicit `rowid`
(SQLite's implicit one orders queued runs submitted in the same instant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bnviz.store.db import Transaction

_V1 = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    config_json TEXT NOT NULL,
    summary_json TEXT,
    final_json TEXT,
    progress_json TEXT,
    dataset TEXT, family TEXT, placement TEXT, activation TEXT,
    epochs INTEGER,
    device TEXT,
    n_batches INTEGER NOT NULL DEFAULT 0,
    n_epochs INTEGER NOT NULL DEFAULT 0,
    n_probes INTEGER NOT NULL DEFAULT 0,
    wall_time_s {real},
    pid INTEGER,
    proc_token TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    created {real} NOT NULL,
    updated {real} NOT NULL,
    started {real},
    finished {real}{rowid}
);
CREATE INDEX IF NOT EXISTS runs_fingerprint ON runs (fingerprint, status);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)
){without_rowid};
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, logs TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
){without_rowid};
CREATE TABLE IF NOT EXISTS probes (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, skeleton TEXT, data {blob} NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS probes_skeleton ON probes (skeleton);
CREATE TABLE IF NOT EXISTS skeletons (hash TEXT PRIMARY KEY, data {blob} NOT NULL);
"""

# v2: the store is the channel between the web servers and the training workers: the queue
# (queued runs in order, per backend), cancel requests, and the workers' heartbeats.
_V2 = """
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN backend TEXT NOT NULL DEFAULT 'tensorflow';
ALTER TABLE runs ADD COLUMN worker TEXT;
CREATE INDEX IF NOT EXISTS runs_queue ON runs (status, backend, created);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    backend TEXT NOT NULL,
    state TEXT NOT NULL,
    run_id TEXT,
    proc_token TEXT,
    device TEXT,
    started {real} NOT NULL,
    heartbeat {real} NOT NULL
);
"""

# v3: several machines share one store: with PostgreSQL, trained models and users' data files
# live in the database (a SQLite store keeps them as files next to it; see bnviz/store/files.py).
_V3 = """
CREATE TABLE IF NOT EXISTS models (
    run_id TEXT PRIMARY KEY, size INTEGER NOT NULL, data {blob} NOT NULL, created {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (key TEXT PRIMARY KEY, size INTEGER NOT NULL, data {blob} NOT NULL);
ALTER TABLE runs ADD COLUMN upload TEXT;
CREATE INDEX IF NOT EXISTS runs_upload ON runs (upload);
"""

# v4: a server a whole class shares. `queue_turns`: when each owner last had a run started, so the
# claim serves owners in turn (bnviz/jobs/fairness.py); `runs_owner` counts an owner's waiting runs.
# `teacher_sessions`: one row per teacher unlock, its random token kept only as a hash, with the
# admin key's fingerprint (a changed key ends it) and an expiry; `unlock_attempts`: failed unlocks
# per browser and server-wide, for the growing delay (bnviz/store/teachers.py).
_V4 = """
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, status);
CREATE TABLE IF NOT EXISTS queue_turns (owner TEXT PRIMARY KEY, served {real} NOT NULL);
CREATE TABLE IF NOT EXISTS teacher_sessions (
    token_hash TEXT PRIMARY KEY,
    key_check TEXT NOT NULL,
    browser TEXT NOT NULL,
    created {real} NOT NULL,
    expires {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS teacher_sessions_expires ON teacher_sessions (expires);
CREATE TABLE IF NOT EXISTS unlock_attempts (
    scope TEXT PRIMARY KEY, failures INTEGER NOT NULL, last {real} NOT NULL
);
"""

# v5: a teacher may reorder the queue (the Runs page's class view). `queue_rank`: the place a teacher gave
# a queued run; NULL for a run nobody moved. Ranked runs start first, in rank order; the rest follow
# with owners in turn (bnviz/jobs/fairness.py). Older stores gain the column empty: their order is unchanged.
_V5 = """
ALTER TABLE runs ADD COLUMN queue_rank {real}
"""

MIGRATIONS = (_V1, _V2, _V3, _V4, _V5)
SCHEMA_VERSION = len(MIGRATIONS)

_TYPES = {
    "sqlite": {"real": "REAL", "blob": "BLOB", "without_rowid": " WITHOUT ROWID", "rowid": ""},
    "postgresql": {"real": "DOUBLE PRECISION", "blob": "BYTEA", "without_rowid": "",
                   "rowid": ",\n    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY"},
}


def statements(version: int, dialect: str) -> list[str]:
    """The SQL statements of migration `version` (1-based) for `dialect`."""
    script = MIGRATIONS[version - 1].format(**_TYPES[dialect])
    return [s.strip() for s in script.split(";") if s.strip()]


def current_version(con: Transaction) -> int:
    """How many migrations this database has had (0: a new, empty database)."""
    if con.db.postgres:
        has_table = con.execute("SELECT to_regclass('bnviz_schema') IS NOT NULL").scalar()
    else:
        has_table = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='bnviz_schema'").first()
    if has_table:
        return int(con.execute("SELECT version FROM bnviz_schema").scalar() or 0)
    if con.db.postgres:
        return 0
    return int(con.execute("PRAGMA user_version").scalar())  # stores of schema 1 and 2


def migrate(con: Transaction, where: object) -> None:
    """Bring the database to SCHEMA_VERSION (caller holds a write transaction)."""
    from bnviz.store.db import LOCK_MIGRATE

    con.advisory_lock(LOCK_MIGRATE)  # two servers starting at once: one migrates, the other waits
    current = current_version(con)
    if current > SCHEMA_VERSION:
        raise RuntimeError(f"{where} was written by a newer bnviz (schema {current}); upgrade bnviz to open it")
    if current == SCHEMA_VERSION:
        return
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in statements(version, con.db.dialect):
            con.execute(statement)
    con.execute("CREATE TABLE IF NOT EXISTS bnviz_schema (version INTEGER NOT NULL)")
    con.execute("DELETE FROM bnviz_schema")
    con.execute("INSERT INTO bnviz_schema (version) VALUES (?)", (SCHEMA_VERSION,))
    if not con.db.postgres:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
