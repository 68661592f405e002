"""Reading runs back from the run store: one consistent read past a cursor, the list, exports.

Readers poll while a run trains, so `read_since` returns only the rows past what the
reader already has (a `Cursor`), all from one read transaction; probes come back from
their compressed blobs through a small cache of parsed skeletons. `record_from` assembles
the run-record JSON (docs/run-record.md); `shared_record` is that record as it may leave the
server (exports, downloads): no owner identity for anyone but the owner or a teacher, and no
server path for anyone.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bnviz import access
from bnviz.config import ModelConfig
from bnviz.data.offered import shareable_path
from bnviz.ids import validate_run_id
from bnviz.layer_plan import bn_label
from bnviz.record import FORMAT, ORIGIN_CONFIG, ORIGIN_SCRIPT, origin_of
from bnviz.settings import settings
from bnviz.store import probe_codec
from bnviz.store.db import Database, Transaction

NO_LIMIT = 2**62  # LIMIT for "all rows", valid in SQLite and PostgreSQL alike

_LIST_COLUMNS = ("id, name, notes, owner, status, fingerprint, dataset, family, placement, activation, "
                 "epochs, n_epochs, final_json, wall_time_s, device, created, updated, version, config_json")

_HEADER = ("id", "status", "config", "summary", "name", "notes", "owner", "created", "updated", "version",
           "progress", "device", "n_batches", "n_epochs", "n_probes", "fingerprint")
_HEADER_COLUMNS = ", ".join(c + "_json" if c in ("config", "summary", "progress") else c for c in _HEADER)


def _bn_label(config_json: str | None) -> str | None:
    """The model's normalization as every page names it (`layer_plan.bn_label`), or None."""
    try:
        return bn_label(ModelConfig.model_validate(json.loads(config_json)["model"]))
    except (TypeError, ValueError, KeyError):
        return None


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


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class RunReads:
    """The reading half of `RunStore` (bnviz/store/run_store.py), which provides `_db`, `_read` and the
    skeleton cache."""

    _db: Database
    _templates: OrderedDict[str, probe_codec.Template]
    _templates_lock: threading.Lock

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
        with self.read_transaction() as con:
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
        with self.read_transaction() as con:
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
                "version": r[17], "bn": _bn_label(r[18]),
                "origin": ORIGIN_SCRIPT if r[7] == ORIGIN_SCRIPT else ORIGIN_CONFIG,
            })
        return out

    def find_by_fingerprint(self, fingerprint: str, status: str = "succeeded") -> str | None:
        """Newest run of this config fingerprint in this status, or None."""
        if not isinstance(fingerprint, str) or not re.fullmatch(r"[0-9a-f]{8,64}", fingerprint):
            raise ValueError("a config fingerprint is 8-64 lowercase hex digits")
        with self.read_transaction() as con:
            row = con.execute("SELECT id FROM runs WHERE fingerprint=? AND status=?"
                              " ORDER BY created DESC LIMIT 1", (fingerprint, status)).fetchone()
        return row[0] if row else None

    def export_json(self, run_id: str, *, viewer: str | None = None, is_admin: bool = False) -> str:
        """The run record for `viewer` (an owner label; `is_admin`: a teacher or the operator's CLI),
        as `shared_record` says it may leave the server."""
        record = shared_record(self.get_record(run_id), viewer=viewer, is_admin=is_admin)
        return json.dumps(record, separators=(",", ":"))

    def export_csv(self, run_id: str) -> str:
        """Per-epoch metrics, one row per epoch (epoch is 1-based)."""
        import pandas as pd

        history = self.get_record(run_id)["history"]
        n = max((len(v) for v in history.values()), default=0)
        frame = pd.DataFrame({"epoch": range(1, n + 1),
                              **{k: list(v) + [None] * (n - len(v)) for k, v in history.items()}})
        return frame.to_csv(index=False)


def record_from(data: Mapping[str, Any]) -> dict[str, Any]:
    """Assemble a run record from a `read_since` answer that started at the beginning."""
    run = data["run"]
    history: dict[str, list[Any]] = {}
    for logs in data["epochs"]:
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
    return {
        "format": FORMAT, "id": run["id"], "origin": origin_of(run["config"]), "status": run["status"],
        "config": run["config"],
        "history": history, "batches": list(data["batches"]), "probes": list(data["probes"]),
        "summary": run["summary"],
        "name": run["name"], "notes": run["notes"], "owner": run["owner"],
        "created": iso(run["created"]), "updated": iso(run["updated"]),
    }


def shared_record(record: Mapping[str, Any], *, viewer: str | None = None, is_admin: bool = False) -> dict[str, Any]:
    """A run record as it may be handed to `viewer` (docs/run-record.md, "Shared records").

    `owner` stays only for the owner and teachers (`is_admin`), else it is null; the added field
    `mine` says whether `viewer` started the run. The dataset path loses every folder of the
    server's (`uploads/<content id>.csv`, which this server's form and job API accept back)."""
    mine = access.can_change(record.get("owner"), viewer)
    config = dict(record.get("config") or {})
    if (config.get("dataset") or {}).get("path"):
        dataset = dict(config["dataset"])
        dataset["path"] = shareable_path(dataset["path"], data_dir=settings().data_dir)
        config["dataset"] = dataset
    return {**record, "config": config, "owner": record.get("owner") if mine or is_admin else None, "mine": mine}
