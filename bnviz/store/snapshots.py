"""Consistent, cheap snapshots of runs for every reader, straight from the run store.

A page asks for a run's snapshot about once a second per viewer. Each parsed run is kept
in a small LRU cache and brought up to date only when the store's version of the run
changed, by reading just the rows past what it already has (a cursor); a snapshot copies
references, not data. So a classroom watching one run costs one indexed read per poll.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bnviz import events
from bnviz.ids import validate_run_id
from bnviz.record import FORMAT, origin_of
from bnviz.states import FINISHED
from bnviz.store import Cursor, RunNotFound, RunStore, iso

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class RunSnapshot:
    """A consistent, immutable view of a run at one moment. Treat nested dicts as read-only."""

    run_id: str
    status: str
    name: str
    owner: str
    notes: str
    created: str | None
    config: Mapping[str, Any]
    history: Mapping[str, tuple[Any, ...]]
    batches: tuple[Mapping[str, Any], ...]
    probes: tuple[Mapping[str, Any], ...]
    summary: Mapping[str, Any] | None
    progress: Mapping[str, Any]
    device: str | None
    position: int | None
    cursor: Cursor
    version: int = -1  # the store's version of the run this snapshot reflects: it only grows

    @property
    def epochs_completed(self) -> int:
        return self.cursor.epochs

    @property
    def probes_count(self) -> int:
        return self.cursor.probes

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def error(self) -> str | None:
        return (self.summary or {}).get("error")

    def to_record(self) -> dict[str, Any]:
        """A run record (docs/run-record.md) for code that takes one, e.g. the figures."""
        return {
            "format": FORMAT, "id": self.run_id, "origin": origin_of(self.config), "status": self.status,
            "config": copy.deepcopy(dict(self.config)),
            "history": {k: list(v) for k, v in self.history.items()}, "batches": list(self.batches),
            "probes": list(self.probes), "summary": dict(self.summary) if self.summary is not None else None,
            "name": self.name, "notes": self.notes, "owner": self.owner, "created": self.created,
        }


class _CachedRun:
    """One run as the cache holds it, parsed, behind a lock: append-only lists that grow as the
    store does, and the store version they reflect. Each `snapshot()` is a frozen copy of it."""

    def __init__(self, run_id: str) -> None:
        self.lock = threading.Lock()
        self.refresh_lock = threading.Lock()
        self.run_id = run_id
        self.status, self.name, self.owner, self.notes = "", "", "", ""
        self.config: Mapping[str, Any] = _EMPTY
        self.created: str | None = None
        self.history: dict[str, list[Any]] = {}
        self.batches: list[Mapping[str, Any]] = []
        self.probes: list[Mapping[str, Any]] = []
        self.n_epochs = 0
        self.n_positions = 0
        self.summary: Mapping[str, Any] | None = None
        self.progress: Mapping[str, Any] = _EMPTY
        self.device: str | None = None
        self.version = -1  # the store version these lists reflect

    def extend(self, data: Mapping[str, Any]) -> None:
        """Fold in a `RunStore.read_since` answer taken at this run's cursor."""
        run = data["run"]
        with self.lock:
            if data["cursor"][0] - len(data["batches"]) == len(self.batches):
                self.batches.extend(data["batches"])
                events.fold_epochs(self.history, data["epochs"])
                self.n_epochs += len(data["epochs"])
                self.probes.extend(data["probes"])
                self.n_positions += sum(len(p.get("positions", ())) for p in data["probes"])
            if not self.config:
                self.config = MappingProxyType(run["config"])
            self.status, self.name = run["status"], run["name"]
            self.owner, self.notes = run["owner"], run["notes"]
            self.created, self.device = iso(run["created"]), run["device"]
            self.summary = MappingProxyType(run["summary"]) if run["summary"] is not None else None
            self.progress = MappingProxyType(run["progress"] or {})
            self.version = run["version"]

    def approx_bytes(self) -> int:
        """Rough memory of the parsed run: ~5 kB per probed position dominates."""
        return 5_000 * self.n_positions + 300 * len(self.batches) + 20_000

    def cursor(self) -> Cursor:
        with self.lock:
            return Cursor(len(self.batches), self.n_epochs, len(self.probes))

    def snapshot(self) -> RunSnapshot:
        with self.lock:
            return RunSnapshot(
                run_id=self.run_id, status=self.status, name=self.name, owner=self.owner, notes=self.notes,
                created=self.created, config=self.config,
                history=MappingProxyType({k: tuple(v) for k, v in self.history.items()}),
                batches=tuple(self.batches), probes=tuple(self.probes), summary=self.summary,
                progress=self.progress, device=self.device, position=None,
                cursor=Cursor(len(self.batches), self.n_epochs, len(self.probes)), version=self.version)


class SnapshotCache:
    """Parsed runs of one store, refreshed from it only when they changed (any thread)."""

    def __init__(self, store: RunStore, *, max_runs: int = 8, max_mb: int = 200) -> None:
        self.store = store
        self._runs: OrderedDict[str, _CachedRun] = OrderedDict()
        self._lock = threading.Lock()
        self._max_runs = max(1, max_runs)
        self._max_bytes = max_mb * 1_000_000

    def get(self, run_id: str) -> RunSnapshot:
        """The run as the store has it now; raises RunNotFound."""
        run_id = validate_run_id(run_id)
        version = self.store.version(run_id)
        if version is None:
            self.forget(run_id)
            raise RunNotFound(run_id)
        with self._lock:
            cached = self._runs.get(run_id)
            if cached is None:
                cached = self._runs[run_id] = _CachedRun(run_id)
                self._trim()
            else:
                self._runs.move_to_end(run_id)
        if cached.version != version:
            with cached.refresh_lock:
                if cached.version != version:
                    cached.extend(self.store.read_since(run_id, cached.cursor()))
        return cached.snapshot()

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def _trim(self) -> None:
        """Keep at most `max_runs` parsed runs and about `max_mb` of them (caller holds the lock)."""
        def too_big() -> bool:
            return sum(v.approx_bytes() for v in self._runs.values()) > self._max_bytes

        while len(self._runs) > 1 and (len(self._runs) > self._max_runs or too_big()):
            self._runs.popitem(last=False)
