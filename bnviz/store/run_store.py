"""The run store: every run, durably, in SQLite under BNVIZ_HOME or in PostgreSQL.

`BNVIZ_DATABASE_URL` chooses the database (bnviz/store/db.py); unset, it is one SQLite file,
`BNVIZ_HOME/runs.db`. Training events are written as they happen (one transaction per event),
so a crash loses at most the event in flight and never leaves a half-written row; readers
work while a run writes. Probes are the bulk of a run, so they are stored as compressed blobs.

The store is also the one channel between web servers and training workers: the queue,
cancel requests and worker heartbeats live here too (bnviz/jobs/queue.py), so every process
sees the same truth and a crash anywhere loses nothing that was committed.

`RunStore` is the one class callers use; it is assembled from parts kept in their own modules:
the write path (bnviz/store/writes.py), reading and exports (bnviz/store/reads.py) and crash
recovery of runs whose process is gone (bnviz/store/recovery.py). Their public names are
importable from here as before.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

from bnviz.ids import validate_run_id
from bnviz.settings import settings
from bnviz.store import probe_codec
from bnviz.store.db import Database, Transaction, env_url, resolve_url, url_without_password
from bnviz.store.files import ModelFiles, ModelsInDatabase, UploadsInDatabase
from bnviz.store.reads import NO_LIMIT, Cursor, RunNotFound, RunReads, iso, record_from, shared_record
from bnviz.store.recovery import INTERRUPTED, RunRecovery
from bnviz.store.schema import migrate
from bnviz.store.writes import MAX_NAME, MAX_NOTES, MAX_OWNER, RunWrites, backend_of

__all__ = ["INTERRUPTED", "MAX_NAME", "MAX_NOTES", "MAX_OWNER", "NO_LIMIT", "Cursor", "RunNotFound", "RunStore",
           "backend_of", "iso", "record_from", "shared_record"]


class RunStore(RunWrites, RunReads, RunRecovery):
    """All runs of one BNVIZ_HOME (or of BNVIZ_DATABASE_URL). Thread-safe; many processes may share it.

    `path_or_home` is the home for local files (locks, cached models, logs); a path ending in
    `.db` names an SQLite file instead. `database_url` (else BNVIZ_DATABASE_URL, else SQLite
    under the home) says where the runs are."""

    def __init__(self, path_or_home: str | os.PathLike[str] | None = None, *, recover: bool = True,
                 database_url: str | None = None) -> None:
        target = Path(path_or_home).expanduser() if path_or_home is not None else settings().home
        explicit_file = target.suffix in (".db", ".sqlite", ".sqlite3")
        self.home = target.parent if explicit_file else target
        if database_url is not None:
            url = resolve_url(database_url, self.home)
        elif explicit_file:
            url = resolve_url(f"sqlite:///{target}", self.home)
        else:
            url = env_url(self.home)
        self.models_dir = self.home / "models"
        self.locks_dir = self.home / "locks"
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.models_dir.mkdir(exist_ok=True, mode=0o700)
        self._db = Database(url)
        self.db_path: Path | None = self._db.path  # None with PostgreSQL
        self.location = self._db.describe()  # the SQLite file, or the URL without its password
        self.url_for_others = url_without_password(url)  # what another process opens (bnviz.jobs.ray_executor)
        self.shared = self._db.postgres  # several machines may use this store
        self._models = ModelsInDatabase(self.models_dir, self._db) if self.shared else ModelFiles(self.models_dir)
        self._uploads = UploadsInDatabase(self.home / "uploads", self._db) if self.shared else None
        self._templates: OrderedDict[str, probe_codec.Template] = OrderedDict()
        self._templates_lock = threading.Lock()
        self._closed = False
        with self.write_transaction() as con:
            migrate(con, self.location)
        if recover:
            self.recover()

    # --- transactions (also what the run queue and recovery build on) -----------------
    def write_transaction(self) -> contextlib.AbstractContextManager[Transaction]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so concurrent writers queue)."""
        return self._db.write()

    def read_transaction(self) -> contextlib.AbstractContextManager[Transaction]:
        """A read transaction: every query inside sees the same committed state."""
        return self._db.read()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- saved models (bnviz/store/files.py: files with SQLite, rows with PostgreSQL) ---------
    def model_path(self, run_id: str) -> Path | None:
        """The saved `.keras` model of a run as a local file, if one was saved."""
        return self._models.path(validate_run_id(run_id))

    def partial_model_path(self, run_id: str) -> Path:
        """Where training writes the model; `commit_model` makes it the run's model atomically."""
        return self._models.partial(validate_run_id(run_id))

    def commit_model(self, run_id: str) -> Path | None:
        return self._models.commit(validate_run_id(run_id))

    def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log into the database file (no-op on PostgreSQL)."""
        self._db.checkpoint()
