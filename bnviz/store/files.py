"""Files a run needs on other machines: its trained model and the data file it trains on.

Models: files next to a SQLite store, rows of a PostgreSQL store.

A SQLite store is one machine's, so its models are plain `.keras` files under
`BNVIZ_HOME/models`, exactly as before. A PostgreSQL store is shared by web servers and
workers on different machines, so the model goes into the database with its run (the
`models` table): written in one transaction when the run's model is committed, deleted with
the run, backed up with the runs, and reachable from every machine without a shared
filesystem to mount and keep consistent (which BNVIZ_SHARED_DIR would need). bnviz models
are small (kilobytes to a few megabytes), well within what PostgreSQL's `bytea` handles.
`model_path` materializes the bytes into a local cache file, so callers keep getting a path.

Uploads (your own .npz/.csv): a run's config names the file by a path on the machine that
submitted it. With PostgreSQL, submitting stores the file's bytes once, under their hash, in
the `uploads` table; the worker that claims the run, wherever it is, materializes them under
its own `BNVIZ_HOME/uploads` and trains on that copy. With SQLite the path is used as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path

from bnviz.store.db import Database, Transaction

UPLOAD_KEY = re.compile(r"[0-9a-f]{24}\.[a-z0-9]{1,8}")


class ModelFiles:
    """Models as files in `models_dir` (SQLite stores)."""

    def __init__(self, models_dir: Path) -> None:
        self.dir = models_dir

    def file(self, run_id: str) -> Path:
        return self.dir / f"{run_id}.keras"

    def partial(self, run_id: str) -> Path:
        return self.dir / f".partial-{run_id}.keras"

    def path(self, run_id: str) -> Path | None:
        path = self.file(run_id)
        return path if path.is_file() else None

    def commit(self, run_id: str) -> Path | None:
        partial = self.partial(run_id)
        if not partial.is_file():
            return None
        target = self.file(run_id)
        os.replace(partial, target)
        return target

    def forget(self, run_id: str) -> None:
        """Remove the run's local files (its database rows go with the run)."""
        for path in (self.file(run_id), self.partial(run_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class ModelsInDatabase(ModelFiles):
    """Models as rows of the `models` table (PostgreSQL stores); `models_dir` is a local cache."""

    def __init__(self, models_dir: Path, db: Database) -> None:
        super().__init__(models_dir)
        self.db = db

    def commit(self, run_id: str) -> Path | None:
        partial = self.partial(run_id)
        if not partial.is_file():
            return None
        data = partial.read_bytes()
        with self.db.write() as con:
            if con.execute("SELECT 1 FROM runs WHERE id=?" + self.db.for_update, (run_id,)).first() is None:
                partial.unlink(missing_ok=True)  # deleted while it trained
                return None
            con.execute("INSERT INTO models (run_id, size, data, created) VALUES (?,?,?,?)"
                        " ON CONFLICT (run_id) DO UPDATE SET size=excluded.size, data=excluded.data,"
                        " created=excluded.created", (run_id, len(data), data, os.path.getmtime(partial)))
        target = self.file(run_id)
        os.replace(partial, target)  # this machine keeps a cached copy
        return target

    def path(self, run_id: str) -> Path | None:
        with self.db.read() as con:
            size = con.execute("SELECT size FROM models WHERE run_id=?", (run_id,)).scalar()
        target = self.file(run_id)
        if size is None:  # no model, or its run was deleted by another server
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            return None
        if target.is_file() and target.stat().st_size == size:
            return target
        with self.db.read() as con:
            data = con.execute("SELECT data FROM models WHERE run_id=?", (run_id,)).scalar()
        if data is None:
            return None
        tmp = self.dir / f".cache-{secrets.token_hex(4)}-{run_id}.keras"
        tmp.write_bytes(bytes(data))
        os.replace(tmp, target)
        return target


class UploadsInDatabase:
    """Users' data files as rows of the `uploads` table, keyed by content (PostgreSQL stores)."""

    def __init__(self, uploads_dir: Path, db: Database) -> None:
        self.dir = uploads_dir
        self.db = db

    def put(self, con: Transaction, path: str | None) -> str | None:
        """Store the file at `path` (inside the caller's write transaction); returns its key, or None
        when there is no such file here (training will then say what is missing)."""
        file = Path(path).expanduser() if path else None
        if file is None or not file.is_file():
            return None
        data = file.read_bytes()
        key = f"{hashlib.sha256(data).hexdigest()[:24]}.{(file.suffix.lstrip('.') or 'bin').lower()[:8]}"
        if con.execute("SELECT 1 FROM uploads WHERE key=?", (key,)).first() is None:  # the same file: once
            con.execute("INSERT INTO uploads (key, size, data) VALUES (?,?,?) ON CONFLICT (key) DO NOTHING",
                        (key, len(data), data))
        return key

    def local(self, key: str) -> Path | None:
        """The upload as a file on this machine, fetched from the database if need be."""
        if not UPLOAD_KEY.fullmatch(key):
            return None
        target = self.dir / key
        if target.is_file():
            return target
        with self.db.read() as con:
            data = con.execute("SELECT data FROM uploads WHERE key=?", (key,)).scalar()
        if data is None:
            return None
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.dir / f".fetch-{secrets.token_hex(4)}-{key}"
        tmp.write_bytes(bytes(data))
        os.replace(tmp, target)
        return target
