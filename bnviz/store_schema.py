"""The run store's tables and their versioned migrations.

`user_version` in the database says which migrations ran. A new store runs all of them in
order; an older store runs the rest. A store written by a newer bnviz is refused rather
than misread.
"""

from __future__ import annotations

import sqlite3

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
    wall_time_s REAL,
    pid INTEGER,
    proc_token TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS runs_fingerprint ON runs (fingerprint, status);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, logs TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS probes (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, skeleton TEXT, data BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS probes_skeleton ON probes (skeleton);
CREATE TABLE IF NOT EXISTS skeletons (hash TEXT PRIMARY KEY, data BLOB NOT NULL);
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
    started REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""

MIGRATIONS = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(con: sqlite3.Connection, path: object) -> None:
    """Bring the database to SCHEMA_VERSION (caller holds a write transaction)."""
    current = con.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise RuntimeError(f"{path} was written by a newer bnviz (schema {current}); upgrade bnviz to open it")
    for script in MIGRATIONS[current:]:
        for statement in script.split(";"):
            if statement.strip():
                con.execute(statement)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
