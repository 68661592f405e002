"""The run store: every run, durably, in SQLite under BNVIZ_HOME or in PostgreSQL.

`BNVIZ_DATABASE_URL` chooses the database (bnviz/store_db.py); unset, it is one SQLite file,
`BNVIZ_HOME/runs.db`. Training events are written as they happen (one transaction per event),
so a crash loses at most the event in flight and never leaves a half-written row; readers
work while a run writes. Probes are the bulk of a run, so they are stored as compressed blobs.

The store is also the one channel between web servers and training workers: the queue,
cancel requests and worker heartbeats live here too (bnviz/run_queue.py), so every process
sees the same truth and a crash anywhere loses nothing that was committed.

Crash recovery: a process that trains a run stamps it with its liveness token
(bnviz/liveness.py); a running run whose process is gone is marked *interrupted*, with
every epoch it recorded. Lock files prove that only on one machine, so with PostgreSQL a
run is judged by its worker's heartbeat instead (see `recover`). Queued runs belong to no
process: they wait for any worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from bnviz import events, liveness, probe_codec
from bnviz.ids import is_run_id, new_run_id, validate_run_id
from bnviz.record import FORMAT
from bnviz.states import ACTIVE, FINISHED, STATES, RunState
from bnviz.store_db import LOCK_SKELETONS, LOCK_UPLOADS, Database, Transaction, env_url, resolve_url
from bnviz.store_files import ModelFiles, ModelsInDatabase, UploadsInDatabase
from bnviz.store_schema import migrate

NO_LIMIT = 2**62  # LIMIT for "all rows", valid in SQLite and PostgreSQL alike
INTERRUPTED = "interrupted: the process running it stopped (crash or restart)"
MAX_NAME = 200
MAX_NOTES = 10_000
MAX_OWNER = 200


_LIST_COLUMNS = ("id, name, notes, owner, status, fingerprint, dataset, family, placement, activation, "
                 "epochs, n_epochs, final_json, wall_time_s, device, created, updated, version")

_HEADER = ("id", "status", "config", "summary", "name", "notes", "owner", "created", "updated", "version",
           "progress", "device", "n_batches", "n_epochs", "n_probes", "fingerprint")
_HEADER_COLUMNS = ", ".join(c + "_json" if c in ("config", "summary", "progress") else c for c in _HEADER)


class RunNotFound(LookupError):
    """No run with this id in the store (never was, or deleted)."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r} in the store")
        self.run_id = run_id


class Cursor(NamedTuple):
    """How much of a run a reader has seen: counts of batches, epochs and probes."""

    batches: int = 0
    epochs: int = 0
    probes: int = 0


def default_home() -> Path:
    raw = os.environ.get("BNVIZ_HOME", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".bnviz"


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def backend_of(config: Mapping[str, Any]) -> str:
    """The Keras backend a config trains on (configs from before backends existed: TensorFlow)."""
    return str((config.get("training") or {}).get("backend") or "tensorflow")


def _text(value: str | None, limit: int, what: str) -> str:
    value = "" if value is None else value
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"{what} is too long ({len(value)} characters, at most {limit})")
    return value


# --- the store -------------------------------------------------------------------------

class RunStore:
    """All runs of one BNVIZ_HOME (or of BNVIZ_DATABASE_URL). Thread-safe; many processes may share it.

    `path_or_home` is the home for local files (locks, cached models, logs); a path ending in
    `.db` names an SQLite file instead. `database_url` (else BNVIZ_DATABASE_URL, else SQLite
    under the home) says where the runs are."""

    def __init__(self, path_or_home: str | os.PathLike[str] | None = None, *, recover: bool = True,
                 database_url: str | None = None) -> None:
        target = Path(path_or_home).expanduser() if path_or_home is not None else default_home()
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
        self.shared = self._db.postgres  # several machines may use this store
        self._models = ModelsInDatabase(self.models_dir, self._db) if self.shared else ModelFiles(self.models_dir)
        self._uploads = UploadsInDatabase(self.home / "uploads", self._db) if self.shared else None
        self._templates: OrderedDict[str, probe_codec.Template] = OrderedDict()
        self._templates_lock = threading.Lock()
        self._closed = False
        with self._write() as con:
            migrate(con, self.location)
        if recover:
            self.recover()

    # --- transactions ----------------------------------------------------------------
    def _write(self) -> contextlib.AbstractContextManager[Transaction]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so concurrent writers queue)."""
        return self._db.write()

    def _read(self) -> contextlib.AbstractContextManager[Transaction]:
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

    # --- writing -----------------------------------------------------------------------
    def create_run(self, config: Mapping[str, Any] | Any, owner: str = "", name: str = "",
                   status: str = RunState.QUEUED, notes: str = "") -> str:
        """Register a run before it trains; returns its new id.

        A queued run belongs to no process: it waits in the store for any worker. A run created
        as running is stamped with this process, which trains it (the CLI's `train`). With a
        shared store, a data file the run trains on is stored too, for workers elsewhere."""
        from bnviz.config import ExperimentConfig

        cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
        if status not in STATES:
            raise ValueError(f"unknown run status {status!r}; one of {', '.join(STATES)}")
        owner, name = _text(owner, MAX_OWNER, "owner"), _text(name, MAX_NAME, "name")
        notes = _text(notes, MAX_NOTES, "notes")
        data = cfg.to_dict()
        run_id, now = new_run_id(), time.time()
        running = status == RunState.RUNNING
        token = liveness.hold(self.locks_dir) if running else None
        with self._write() as con:
            upload = None
            if self._uploads is not None and cfg.dataset.path:
                con.advisory_lock(LOCK_UPLOADS, shared=True)  # a delete's clean-up cannot take it now
                upload = self._uploads.put(con, cfg.dataset.path)
            con.execute(
                "INSERT INTO runs (id, name, notes, owner, status, fingerprint, config_json, dataset, family,"
                " placement, activation, epochs, backend, pid, proc_token, created, updated, started, upload)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, name, notes, owner, status, cfg.fingerprint(), _dumps(data), cfg.dataset.name,
                 cfg.model.family, cfg.model.norm.placement, cfg.model.activation, cfg.training.epochs,
                 backend_of(data), os.getpid() if running else None, token, now, now, now if running else None,
                 upload))
        return run_id

    def local_config(self, config: dict[str, Any], upload: str | None) -> dict[str, Any]:
        """`config` as this machine can train it: a stored data file points at a local copy."""
        if self._uploads is None or not upload:
            return config
        local = self._uploads.local(upload)
        if local is None:
            return config
        return {**config, "dataset": {**config["dataset"], "path": str(local)}}

    def append_event(self, run_id: str, event: Mapping[str, Any]) -> bool:
        """Apply one training event durably (bnviz/events.py says what each kind means).

        Returns True when someone has asked to cancel the run, so the trainer can stop within
        the batch; raises RunNotFound once the run was deleted."""
        run_id = validate_run_id(run_id)
        kind, now = event.get("type"), time.time()
        if kind == events.EventKind.START:
            token = liveness.hold(self.locks_dir)
        if kind == events.EventKind.PROBE:  # the expensive part, done before taking the write lock
            skeleton, packed = probe_codec.split(event["probe"])
        with self._write() as con:
            row = con.execute("SELECT summary_json, n_batches, n_epochs, n_probes, status, cancel_requested"
                              " FROM runs WHERE id=?" + self._db.for_update, (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            sets: dict[str, Any] = {}
            status = events.status_after(row[4], event)
            if status != row[4]:
                sets["status"] = status
            if kind in (events.EventKind.START, events.EventKind.END):
                summary = events.summary_after(json.loads(row[0]) if row[0] else None, event)
                sets["summary_json"] = _dumps(summary)
            if kind == events.EventKind.START:
                sets.update(started=now, device=event["device"], pid=os.getpid(), proc_token=token)
            elif kind == events.EventKind.BATCH:
                con.execute("INSERT INTO batches VALUES (?,?,?)", (run_id, row[1], _dumps(events.batch_row(event))))
                sets["n_batches"] = row[1] + 1
            elif kind == events.EventKind.EPOCH:
                con.execute("INSERT INTO epochs VALUES (?,?,?,?)",
                            (run_id, row[2], int(event["epoch"]), _dumps(event["logs"])))
                sets["n_epochs"] = row[2] + 1
            elif kind == events.EventKind.PROBE:
                key = None
                if skeleton is not None:
                    key = probe_codec.skeleton_hash(skeleton)
                    con.advisory_lock(LOCK_SKELETONS, shared=True)  # a delete's clean-up cannot take it now
                    con.execute("INSERT INTO skeletons VALUES (?,?) ON CONFLICT (hash) DO NOTHING",
                                (key, zlib.compress(skeleton.encode(), 9)))
                con.execute("INSERT INTO probes VALUES (?,?,?,?,?)",
                            (run_id, row[3], int(event["probe"].get("epoch", row[3])), key, packed))
                sets["n_probes"] = row[3] + 1
            elif kind == events.EventKind.END:
                sets.update(finished=now, final_json=_dumps(summary.get("final") or {}),
                            wall_time_s=summary.get("wall_time_s"), cancel_requested=0)
            else:
                raise ValueError(f"unknown event type {kind!r}; one of {', '.join(events.EventKind)}")
            if "progress" in event:
                sets["progress_json"] = _dumps(event["progress"])
            self._update(con, run_id, sets, now)
        return bool(row[5])

    @staticmethod
    def _update(con: Transaction, run_id: str, sets: dict[str, Any], now: float) -> None:
        sets = {**sets, "updated": now}
        columns = ", ".join(f"{k}=?" for k in sets)  # keys are ours, never from outside
        con.execute(f"UPDATE runs SET {columns}, version=version+1 WHERE id=?", (*sets.values(), run_id))

    def set_status(self, run_id: str, status: str, *, error: str | None = None,
                   summary: Mapping[str, Any] | None = None) -> None:
        """Change a run's status; a finished status also completes its summary from what was recorded."""
        run_id = validate_run_id(run_id)
        if status not in STATES:
            raise ValueError(f"unknown run status {status!r}; one of {', '.join(STATES)}")
        with self._write() as con:
            self._set_status(con, run_id, status, error=error, summary=summary)

    def _set_status(self, con: Transaction, run_id: str, status: str, *, error: str | None = None,
                    summary: Mapping[str, Any] | None = None) -> None:
        row = con.execute("SELECT summary_json, started, n_epochs, finished FROM runs WHERE id=?"
                          + self._db.for_update, (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        now = time.time()
        sets: dict[str, Any] = {"status": status}
        if status in FINISHED:
            merged = {**(json.loads(row[0]) if row[0] else {}), **(summary or {})}
            if error is not None:
                merged["error"] = error
            if row[1] is not None or merged:
                merged.setdefault("final", self._last_epoch(con, run_id))
                merged.setdefault("wall_time_s", round(now - row[1], 3) if row[1] else 0.0)
                merged.setdefault("device", None)
                merged.setdefault("epochs_completed", row[2])
                merged.setdefault("diverged_at", None)
                merged.setdefault("error", None)
            if merged:
                sets.update(summary_json=_dumps(merged), final_json=_dumps(merged.get("final") or {}),
                            wall_time_s=merged.get("wall_time_s"))
            sets["finished"] = row[3] or now
        self._update(con, run_id, sets, now)

    @staticmethod
    def _last_epoch(con: Transaction, run_id: str) -> dict[str, Any]:
        history: dict[str, Any] = {}
        for (logs,) in con.execute("SELECT logs FROM epochs WHERE run_id=? ORDER BY seq", (run_id,)):
            history.update(json.loads(logs))
        return history

    def rename(self, run_id: str, name: str, notes: str | None = None) -> None:
        run_id = validate_run_id(run_id)
        sets: dict[str, Any] = {"name": _text(name, MAX_NAME, "name")}
        if notes is not None:
            sets["notes"] = _text(notes, MAX_NOTES, "notes")
        with self._write() as con:
            if con.execute("SELECT 1 FROM runs WHERE id=?" + self._db.for_update, (run_id,)).fetchone() is None:
                raise RunNotFound(run_id)
            self._update(con, run_id, sets, time.time())

    def delete(self, run_id: str) -> bool:
        """Remove a run, its rows and its saved model; False if there was no such run."""
        run_id = validate_run_id(run_id)
        with self._write() as con:
            gone = con.execute("DELETE FROM runs WHERE id=?", (run_id,)).rowcount
            for table in ("batches", "epochs", "probes", "models"):
                con.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
            con.advisory_lock(LOCK_SKELETONS)  # waits for probe writes in flight, which may share one
            con.execute("DELETE FROM skeletons WHERE hash NOT IN"
                        " (SELECT skeleton FROM probes WHERE skeleton IS NOT NULL)")
            if self._uploads is not None:
                con.advisory_lock(LOCK_UPLOADS)
                con.execute("DELETE FROM uploads WHERE key NOT IN (SELECT upload FROM runs WHERE upload IS NOT NULL)")
        self._models.forget(run_id)
        return bool(gone)

    # --- recovery ----------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Mark running runs whose process is gone as interrupted; returns their ids.

        Every epoch such a run recorded stays. Queued runs are left waiting: they belong to no
        process, and the next worker takes them. SQLite (one machine): a run's process is gone
        when its lock file is free. PostgreSQL (many machines): see `_orphans_by_heartbeat`."""
        dead_workers: list[str] = []
        if self.shared:
            orphans, dead_workers = self._orphans_by_heartbeat()
        else:
            with self._read() as con:
                rows = con.execute("SELECT id, proc_token FROM runs WHERE status=?",
                                   (RunState.RUNNING,)).fetchall()
            orphans = [run_id for run_id, token in rows if not liveness.alive(self.locks_dir, token)]
        if orphans:
            with self._write() as con:
                for run_id in orphans:
                    status = con.execute("SELECT status FROM runs WHERE id=?" + self._db.for_update,
                                         (run_id,)).fetchone()  # it may have ended meanwhile
                    if status and status[0] == RunState.RUNNING:
                        self._set_status(con, run_id, RunState.INTERRUPTED, error=INTERRUPTED)
        if dead_workers:  # before their lock files go: after that, only their heartbeats would tell
            with self._write() as con:
                con.executemany("DELETE FROM workers WHERE id=?", [(w,) for w in dead_workers])
        liveness.sweep(self.locks_dir)
        self._sweep_partial_models()
        return orphans

    def _orphans_by_heartbeat(self) -> tuple[list[str], list[str]]:
        """Running runs of a shared store whose process is gone, and workers that died on this machine."""
        from bnviz.device import env_int

        with self._read() as con:
            runs = con.execute(
                "SELECT r.id, r.proc_token, r.worker, r.updated, w.id, w.heartbeat, w.proc_token"
                " FROM runs r LEFT JOIN workers w ON w.id = r.worker WHERE r.status=?",
                (RunState.RUNNING,)).fetchall()
            workers = con.execute("SELECT id, proc_token FROM workers").fetchall()
        timeout = env_int("BNVIZ_WORKER_TIMEOUT_S", 120, low=5, high=86_400)
        orphans = [r[0] for r in runs if liveness.orphaned_by_heartbeat(self.locks_dir, *r[1:], timeout=timeout)]
        return orphans, [wid for wid, token in workers if liveness.dead(self.locks_dir, token)]

    def _sweep_partial_models(self) -> None:
        """Delete model files whose save never completed (their run is no longer training)."""
        for path in self.models_dir.glob(".cache-*.keras"):  # a model fetch that died half-way
            if time.time() - path.stat().st_mtime > 3600:
                with contextlib.suppress(OSError):
                    path.unlink()
        for path in self.models_dir.glob(".partial-*.keras"):
            run_id = path.name[len(".partial-"):-len(".keras")]
            row = self._row(run_id, "status") if is_run_id(run_id) else None
            if row is None or row[0] not in ACTIVE:
                with contextlib.suppress(OSError):
                    path.unlink()

    # --- reading -----------------------------------------------------------------------
    def _row(self, run_id: str, columns: str) -> tuple | None:
        return self._db.one(f"SELECT {columns} FROM runs WHERE id=?", (run_id,))

    def exists(self, run_id: str) -> bool:
        return self._row(validate_run_id(run_id), "1") is not None

    def status(self, run_id: str) -> str:
        row = self._row(validate_run_id(run_id), "status")
        if row is None:
            raise RunNotFound(run_id)
        return row[0]

    def version(self, run_id: str) -> int | None:
        """Bumped by every write to the run: a cheap "did anything change?" for caches."""
        row = self._row(validate_run_id(run_id), "version")
        return row[0] if row else None

    def read_since(self, run_id: str, cursor: Cursor | None = None) -> dict[str, Any]:
        """The run's header plus every batch, epoch and probe past `cursor`, in one consistent read."""
        run_id = validate_run_id(run_id)
        cursor = cursor or Cursor()
        with self._read() as con:
            row = con.execute(f"SELECT {_HEADER_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            batches = [json.loads(d) for (d,) in con.execute(
                "SELECT data FROM batches WHERE run_id=? AND seq>=? ORDER BY seq", (run_id, cursor.batches))]
            epochs = [json.loads(d) for (d,) in con.execute(
                "SELECT logs FROM epochs WHERE run_id=? AND seq>=? ORDER BY seq", (run_id, cursor.epochs))]
            blobs = con.execute("SELECT skeleton, data FROM probes WHERE run_id=? AND seq>=? ORDER BY seq",
                                (run_id, cursor.probes)).fetchall()
            probes = [probe_codec.join(None, data, self._template(con, key) if key else None)
                      for key, data in blobs]
        header = dict(zip(_HEADER, row))
        header["config"] = json.loads(header["config"])
        header["summary"] = json.loads(header["summary"]) if header["summary"] else None
        header["progress"] = json.loads(header["progress"]) if header["progress"] else None
        return {"run": header, "batches": batches, "epochs": epochs,
                "probes": probes,
                "cursor": Cursor(cursor.batches + len(batches), cursor.epochs + len(epochs),
                                 cursor.probes + len(blobs))}

    def _template(self, con: Transaction, key: str) -> probe_codec.Template:
        """Parsed skeletons, cached: every probe of a run (and of same-shaped runs) shares one."""
        with self._templates_lock:
            template = self._templates.get(key)
            if template is not None:
                self._templates.move_to_end(key)
                return template
        row = con.execute("SELECT data FROM skeletons WHERE hash=?", (key,)).fetchone()
        if row is None:
            raise LookupError(f"probe skeleton {key} is missing from the store")
        template = probe_codec.Template(zlib.decompress(row[0]).decode())
        with self._templates_lock:
            self._templates[key] = template
            while len(self._templates) > 64:
                self._templates.popitem(last=False)
        return template

    def get_record(self, run_id: str) -> dict[str, Any]:
        """The full run record (docs/run-record.md) plus name, notes, owner, created, updated."""
        return record_from(self.read_since(run_id))

    def list_runs(self, *, owner: str | None = None, status: str | None = None, limit: int | None = 500,
                  offset: int = 0) -> list[dict[str, Any]]:
        """One cheap row per run, newest first (no probes, no history)."""
        where, args = [], []
        if owner is not None:
            where.append("owner=?")
            args.append(owner)
        if status is not None:
            where.append("status=?")
            args.append(status)
        sql = f"SELECT {_LIST_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, id LIMIT ? OFFSET ?"
        with self._read() as con:
            rows = con.execute(sql, (*args, NO_LIMIT if limit is None else int(limit), int(offset))).fetchall()
        out = []
        for r in rows:
            final = json.loads(r[12]) if r[12] else {}
            out.append({
                "id": r[0], "name": r[1], "notes": r[2], "owner": r[3], "status": r[4], "fingerprint": r[5],
                "dataset": r[6], "family": r[7], "placement": r[8], "activation": r[9], "epochs": r[10],
                "epochs_completed": r[11], "loss": final.get("loss"), "accuracy": final.get("accuracy"),
                "val_accuracy": final.get("val_accuracy"), "test_accuracy": final.get("test_accuracy"),
                "wall_time_s": r[13], "device": r[14], "created": iso(r[15]), "updated": iso(r[16]),
                "version": r[17],
            })
        return out

    def find_by_fingerprint(self, fingerprint: str, status: str = "succeeded") -> str | None:
        """Newest run of this config fingerprint in this status, or None."""
        if not isinstance(fingerprint, str) or not re.fullmatch(r"[0-9a-f]{8,64}", fingerprint):
            raise ValueError("a config fingerprint is 8-64 lowercase hex digits")
        with self._read() as con:
            row = con.execute("SELECT id FROM runs WHERE fingerprint=? AND status=?"
                              " ORDER BY created DESC LIMIT 1", (fingerprint, status)).fetchone()
        return row[0] if row else None

    def export_json(self, run_id: str) -> str:
        return json.dumps(self.get_record(run_id), separators=(",", ":"))

    def export_csv(self, run_id: str) -> str:
        """Per-epoch metrics, one row per epoch (epoch is 1-based)."""
        import pandas as pd

        history = self.get_record(run_id)["history"]
        n = max((len(v) for v in history.values()), default=0)
        frame = pd.DataFrame({"epoch": range(1, n + 1),
                              **{k: list(v) + [None] * (n - len(v)) for k, v in history.items()}})
        return frame.to_csv(index=False)

    # --- saved models (bnviz/store_models.py: files with SQLite, rows with PostgreSQL) ---------
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


def record_from(data: Mapping[str, Any]) -> dict[str, Any]:
    """Assemble a run record from a `read_since` answer that started at the beginning."""
    run = data["run"]
    history: dict[str, list[Any]] = {}
    for logs in data["epochs"]:
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
    return {
        "format": FORMAT, "id": run["id"], "status": run["status"], "config": run["config"],
        "history": history, "batches": list(data["batches"]), "probes": list(data["probes"]),
        "summary": run["summary"],
        "name": run["name"], "notes": run["notes"], "owner": run["owner"],
        "created": iso(run["created"]), "updated": iso(run["updated"]),
    }
