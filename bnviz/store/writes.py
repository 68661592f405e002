"""The run store's write path: registering runs, applying training events, status, rename, delete.

Training events are written as they happen, one transaction per event, so a crash loses at
most the event in flight and never leaves a half-written row. Every write bumps the run's
`version`, which readers use as a cheap "did anything change?". Text from outside (names,
notes, owners) is checked here, once, before it reaches the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bnviz import events
from bnviz.ids import new_run_id, validate_run_id
from bnviz.record import ORIGIN_SCRIPT, SCRIPT_OWNER
from bnviz.states import FINISHED, STATES, RunState
from bnviz.store import liveness, probe_codec
from bnviz.store.db import LOCK_SKELETONS, LOCK_UPLOADS, Database, Transaction
from bnviz.store.files import ModelFiles, ModelsInDatabase, UploadsInDatabase
from bnviz.store.reads import RunNotFound

MAX_NAME = 200
MAX_NOTES = 10_000
MAX_OWNER = 200


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


class RunWrites:
    """The writing half of `RunStore` (bnviz/store/run_store.py), which provides `_db`, `_write`, the
    model and upload stores and `locks_dir`."""

    _db: Database
    _models: ModelFiles | ModelsInDatabase
    _uploads: UploadsInDatabase | None
    locks_dir: Path

    def create_run(self, config: Mapping[str, Any] | Any, owner: str = "", name: str = "",
                   status: str = RunState.QUEUED, notes: str = "",
                   admit: Callable[[Transaction], None] | None = None) -> str:
        """Register a run before it trains; returns its new id.

        A queued run belongs to no process: it waits in the store for any worker. A run created
        as running is stamped with this process, which trains it (the CLI's `train`). With a
        shared store, a data file the run trains on is stored too, for workers elsewhere.
        `admit` runs first inside the inserting transaction and may refuse the run by raising
        (the queue's limits, bnviz/jobs/queue.py: counted and inserted atomically)."""
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
        with self.write_transaction() as con:
            if admit is not None:
                admit(con)
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

    def create_script_run(self, config: Mapping[str, Any], owner: str = SCRIPT_OWNER, name: str = "",
                          notes: str = "") -> str:
        """Register a run that a user's own script trains (bnviz.watcher), running in this process.

        Its config describes what the script's fit used (docs/run-record.md, `origin: "script"`) and is
        no ExperimentConfig: no worker can train it again, and its fingerprint never matches another run."""
        if (config.get("origin") != ORIGIN_SCRIPT or not isinstance(config.get("model"), Mapping)
                or not isinstance(config.get("training"), Mapping)):
            raise ValueError('a script run\'s config needs origin "script", model and training')
        owner, name = _text(owner, MAX_OWNER, "owner"), _text(name, MAX_NAME, "name")
        notes = _text(notes, MAX_NOTES, "notes")
        run_id, now = new_run_id(), time.time()
        token = liveness.hold(self.locks_dir)
        data = _dumps(config)
        fingerprint = hashlib.sha256(f"script:{run_id}:{data}".encode()).hexdigest()[:32]
        model, training = config["model"], config["training"]
        norm = model.get("norm") or {}
        with self.write_transaction() as con:
            con.execute(
                "INSERT INTO runs (id, name, notes, owner, status, fingerprint, config_json, dataset, family,"
                " placement, activation, epochs, backend, pid, proc_token, created, updated, started)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, name, notes, owner, RunState.RUNNING, fingerprint, data,
                 str((config.get("dataset") or {}).get("name") or ""), ORIGIN_SCRIPT,
                 str(norm.get("placement") or "none"), str(model.get("activation") or ""),
                 training.get("epochs"), backend_of(config), os.getpid(), token, now, now, now))
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
        return self.append_events(run_id, [event])

    def append_events(self, run_id: str, batch: list[Mapping[str, Any]]) -> bool:
        """Apply several training events, in order, in one transaction (a writer that fell behind catches
        up at the cost of one commit); the same answers as `append_event`."""
        run_id = validate_run_id(run_id)
        if not batch:
            return False
        now = time.time()
        unknown = [e.get("type") for e in batch if e.get("type") not in tuple(events.EventKind)]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}; one of {', '.join(events.EventKind)}")
        token = liveness.hold(self.locks_dir) if any(e["type"] == events.EventKind.START for e in batch) else None
        # the expensive part, done before taking the write lock
        packed = [probe_codec.split(e["probe"]) if e["type"] == events.EventKind.PROBE else None for e in batch]
        with self.write_transaction() as con:
            row = con.execute("SELECT summary_json, n_batches, n_epochs, n_probes, status, cancel_requested"
                              " FROM runs WHERE id=?" + self._db.for_update, (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            state = {"summary": json.loads(row[0]) if row[0] else None, "status": row[4],
                     "n_batches": row[1], "n_epochs": row[2], "n_probes": row[3]}
            sets: dict[str, Any] = {}
            rows: dict[str, list[tuple]] = {"batches": [], "epochs": []}  # inserted together, below
            for event, probe in zip(batch, packed):
                self._apply(con, run_id, event, probe, state, sets, rows, now, token)
            con.executemany("INSERT INTO batches VALUES (?,?,?)", rows["batches"])
            con.executemany("INSERT INTO epochs VALUES (?,?,?,?)", rows["epochs"])
            self._update(con, run_id, sets, now)
        return bool(row[5])

    def _apply(self, con: Transaction, run_id: str, event: Mapping[str, Any], probe: tuple | None,
               state: dict[str, Any], sets: dict[str, Any], rows: dict[str, list[tuple]], now: float,
               token: str | None) -> None:
        """One event of `append_events`: its rows (batch and epoch rows go to `rows`, inserted with one
        statement per table), and what it changes in the run's row (`sets`, `state`)."""
        kind = event["type"]
        status = events.status_after(state["status"], event)
        if status != state["status"]:
            sets["status"] = state["status"] = status
        if kind in (events.EventKind.START, events.EventKind.END):
            state["summary"] = summary = events.summary_after(state["summary"], event)
            sets["summary_json"] = _dumps(summary)
        if kind == events.EventKind.START:
            sets.update(started=now, device=event["device"], pid=os.getpid(), proc_token=token)
        elif kind == events.EventKind.BATCH:
            rows["batches"].append((run_id, state["n_batches"], _dumps(events.batch_row(event))))
            sets["n_batches"] = state["n_batches"] = state["n_batches"] + 1
        elif kind == events.EventKind.EPOCH:
            rows["epochs"].append((run_id, state["n_epochs"], int(event["epoch"]), _dumps(event["logs"])))
            sets["n_epochs"] = state["n_epochs"] = state["n_epochs"] + 1
        elif kind == events.EventKind.PROBE:
            skeleton, packed = probe
            key = None
            if skeleton is not None:
                key = probe_codec.skeleton_hash(skeleton)
                con.advisory_lock(LOCK_SKELETONS, shared=True)  # a delete's clean-up cannot take it now
                con.execute("INSERT INTO skeletons VALUES (?,?) ON CONFLICT (hash) DO NOTHING",
                            (key, zlib.compress(skeleton.encode(), 9)))
            con.execute("INSERT INTO probes VALUES (?,?,?,?,?)",
                        (run_id, state["n_probes"], int(event["probe"].get("epoch", state["n_probes"])), key, packed))
            sets["n_probes"] = state["n_probes"] = state["n_probes"] + 1
        else:  # END
            sets.update(finished=now, final_json=_dumps(state["summary"].get("final") or {}),
                        wall_time_s=state["summary"].get("wall_time_s"), cancel_requested=0)
        if "progress" in event:
            sets["progress_json"] = _dumps(event["progress"])

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
        with self.write_transaction() as con:
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
        with self.write_transaction() as con:
            if con.execute("SELECT 1 FROM runs WHERE id=?" + self._db.for_update, (run_id,)).fetchone() is None:
                raise RunNotFound(run_id)
            self._update(con, run_id, sets, time.time())

    def delete(self, run_id: str) -> bool:
        """Remove a run, its rows and its saved model; False if there was no such run."""
        run_id = validate_run_id(run_id)
        with self.write_transaction() as con:
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
