"""Background training jobs: a bounded pool with a FIFO queue, cancel, de-duplication, live views.

One `JobManager` per process (see `default_manager`) trains in background threads and
writes every event to the run store before it shows it to readers, so what a page sees
is always already durable. Readers poll `snapshot()` / `changes()`: live runs are served
from append-only in-memory lists (a snapshot copies references, not data), finished runs
from the store through a small LRU cache that is refreshed only when the run changed.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.device import env_int
from bnviz.errors import QueueFull
from bnviz.ids import validate_run_id
from bnviz.record import FORMAT
from bnviz.states import ACTIVE, FINISHED
from bnviz.store import Cursor, RunNotFound, RunStore, iso

log = logging.getLogger(__name__)

Trainer = Callable[..., dict[str, Any]]
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_KEEP_FINISHED = 500


# --- what readers get ----------------------------------------------------------------

@dataclass(frozen=True)
class SubmitResult:
    run_id: str
    reused: bool  # True: an identical run already existed (finished, queued or running); nothing new queued
    state: str
    position: int | None = None  # 1 = next in line; None when not queued


@dataclass(frozen=True)
class JobInfo:
    run_id: str
    state: str
    owner: str
    name: str
    position: int | None
    progress: Mapping[str, Any]  # epoch, epochs, batch, steps, fraction, samples_per_s, eta_s
    device: str | None
    error: str | None
    submitted: float | None
    started: float | None
    finished: float | None


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
            "format": FORMAT, "id": self.run_id, "status": self.status,
            "config": copy.deepcopy(dict(self.config)),
            "history": {k: list(v) for k, v in self.history.items()}, "batches": list(self.batches),
            "probes": list(self.probes), "summary": dict(self.summary) if self.summary is not None else None,
            "name": self.name, "notes": self.notes, "owner": self.owner, "created": self.created,
        }


@dataclass(frozen=True)
class Changes:
    """What a run gained since a cursor; `history` holds only the new epochs' values."""

    run_id: str
    status: str
    progress: Mapping[str, Any]
    summary: Mapping[str, Any] | None
    batches: tuple[Mapping[str, Any], ...]
    history: Mapping[str, tuple[Any, ...]]
    probes: tuple[Mapping[str, Any], ...]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def empty(self) -> bool:
        return not (self.batches or self.probes or any(self.history.values()))


# --- one run's data, shared by the trainer and the readers -------------------------------

class _RunView:
    """Append-only lists of one run behind a lock; readers copy references, never data."""

    def __init__(self, run_id: str, config: Mapping[str, Any], *, status: str = "queued", name: str = "",
                 owner: str = "", notes: str = "", created: float | None = None) -> None:
        self.lock = threading.Lock()
        self.refresh_lock = threading.Lock()
        self.run_id, self.status, self.name, self.owner, self.notes = run_id, status, name, owner, notes
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        self.created = iso(created)
        self.history: dict[str, list[Any]] = {}
        self.batches: list[Mapping[str, Any]] = []
        self.probes: list[Mapping[str, Any]] = []
        self.n_epochs = 0
        self.n_positions = 0
        self.summary: Mapping[str, Any] | None = None
        self.progress: Mapping[str, Any] = _EMPTY
        self.device: str | None = None
        self.version = -1  # store version these lists reflect (-1: header must be re-read)

    def apply(self, event: Mapping[str, Any]) -> None:
        """Fold one training event in (same meaning as record.apply_event)."""
        kind = event["type"]
        with self.lock:
            if kind == "start":
                self.status, self.device = "running", event["device"]
                self.summary = MappingProxyType({**(self.summary or {}), "device": event["device"],
                                                 "params": event["params"], "layers": event["layers"]})
            elif kind == "batch":
                self.batches.append({k: event[k] for k in ("epoch", "batch", "step", "loss", "accuracy")})
            elif kind == "epoch":
                for name, value in event["logs"].items():
                    self.history.setdefault(name, []).append(value)
                self.n_epochs += 1
            elif kind == "probe":
                self.probes.append(event["probe"])
                self.n_positions += len(event["probe"].get("positions", ()))
            elif kind == "end":
                self.status = event["status"]
                self.summary = MappingProxyType({**(self.summary or {}), **event["summary"]})
            if "progress" in event:
                self.progress = MappingProxyType(dict(event["progress"]))

    def extend(self, data: Mapping[str, Any]) -> None:
        """Fold in a `RunStore.read_since` answer taken at this view's cursor."""
        run = data["run"]
        with self.lock:
            if data["cursor"][0] - len(data["batches"]) == len(self.batches):
                self.batches.extend(data["batches"])
                for logs in data["epochs"]:
                    for name, value in logs.items():
                        self.history.setdefault(name, []).append(value)
                self.n_epochs += len(data["epochs"])
                self.probes.extend(data["probes"])
                self.n_positions += sum(len(p.get("positions", ())) for p in data["probes"])
            self.status, self.name = run["status"], run["name"]
            self.owner, self.notes = run["owner"], run["notes"]
            self.created, self.device = iso(run["created"]), run["device"]
            self.summary = MappingProxyType(run["summary"]) if run["summary"] is not None else None
            self.progress = MappingProxyType(run["progress"] or {})
            self.version = run["version"]

    def approx_bytes(self) -> int:
        """Rough memory of the parsed run: ~5 kB per probed position dominates."""
        return 5_000 * self.n_positions + 300 * len(self.batches) + 20_000

    def set_status(self, status: str) -> None:
        with self.lock:
            self.status = status

    def cursor(self) -> Cursor:
        with self.lock:
            return Cursor(len(self.batches), self.n_epochs, len(self.probes))

    def snapshot(self, position: int | None = None) -> RunSnapshot:
        with self.lock:
            return RunSnapshot(
                run_id=self.run_id, status=self.status, name=self.name, owner=self.owner, notes=self.notes,
                created=self.created, config=self.config,
                history=MappingProxyType({k: tuple(v) for k, v in self.history.items()}),
                batches=tuple(self.batches), probes=tuple(self.probes), summary=self.summary,
                progress=self.progress, device=self.device, position=position,
                cursor=Cursor(len(self.batches), self.n_epochs, len(self.probes)))

    def changes(self, cursor: Cursor) -> tuple[Changes, Cursor]:
        with self.lock:
            new = Cursor(len(self.batches), self.n_epochs, len(self.probes))
            return Changes(
                run_id=self.run_id, status=self.status, progress=self.progress, summary=self.summary,
                batches=tuple(self.batches[cursor.batches:]),
                history=MappingProxyType({k: tuple(v[cursor.epochs:]) for k, v in self.history.items()}),
                probes=tuple(self.probes[cursor.probes:])), new


# --- jobs ----------------------------------------------------------------------------------

@dataclass(eq=False)
class _Job:
    run_id: str
    config: ExperimentConfig
    fingerprint: str
    owner: str
    name: str
    view: _RunView
    state: str = "queued"
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    cancel_requested: bool = False
    deleted: bool = False
    thread: threading.Thread | None = None


class JobManager:
    """Runs training jobs in background threads; any number of threads may read their progress.

    `trainer` has the signature of bnviz.training.train (UI tests pass a fake). Env:
    BNVIZ_MAX_JOBS (concurrent jobs, default 1), BNVIZ_MAX_QUEUED_PER_OWNER (default 3),
    BNVIZ_TF_THREADS (TensorFlow intra-op threads, default cpu_count - 1).
    """

    def __init__(self, store: RunStore | None = None, max_jobs: int | None = None,
                 trainer: Trainer | None = None, *, max_queued_per_owner: int | None = None,
                 tf_threads: int | None = None, save_models: bool = True, cache_runs: int = 8,
                 cache_mb: int = 200) -> None:
        self.store = store if store is not None else RunStore()
        self.max_jobs = max_jobs or env_int("BNVIZ_MAX_JOBS", 1, high=64)
        self.max_queued_per_owner = max_queued_per_owner or env_int("BNVIZ_MAX_QUEUED_PER_OWNER", 3)
        self.tf_threads = tf_threads or env_int("BNVIZ_TF_THREADS", high=256) or max(1, (os.cpu_count() or 2) - 1)
        self.save_models = save_models
        self._trainer = trainer
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[str, _Job] = {}
        self._queue: deque[_Job] = deque()
        self._running: dict[str, _Job] = {}
        self._cache: OrderedDict[str, _RunView] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = max(1, cache_runs)
        self._cache_bytes = cache_mb * 1_000_000
        self._closing = False

    # --- submitting and cancelling -------------------------------------------------
    def submit(self, config: ExperimentConfig | Mapping[str, Any], *, owner: str = "", name: str = "",
               notes: str = "", fresh: bool = False, queue_limit: int | None = None) -> SubmitResult:
        """Queue a run and return at once; an identical existing run is offered instead unless `fresh`.

        `queue_limit` replaces the per-owner limit for this request (a gallery card queues all
        its arms at once)."""
        cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
        fp = cfg.fingerprint()
        with self._lock:
            if self._closing:
                raise RuntimeError("the job manager is shutting down; no new runs are accepted")
            if not fresh:
                for job in self._jobs.values():
                    if job.fingerprint == fp and job.state in ACTIVE and not job.cancel_requested:
                        return SubmitResult(job.run_id, True, job.state, self._position(job))
                found = self.store.find_by_fingerprint(fp)
                if found:
                    return SubmitResult(found, True, "succeeded")
            if len(self._running) >= self.max_jobs or self._queue:
                waiting = sum(1 for j in self._queue if j.owner == owner)
                if waiting >= (queue_limit or self.max_queued_per_owner):
                    runs = "run" if waiting == 1 else "runs"
                    raise QueueFull(f"You already have {waiting} {runs} waiting; "
                                    "wait for one to start or cancel one")
            run_id = self.store.create_run(cfg, owner=owner, name=name, notes=notes, status="queued")
            view = _RunView(run_id, cfg.to_dict(), name=name, owner=owner, notes=notes, created=time.time())
            job = _Job(run_id, cfg, fp, owner, name, view)
            self._jobs[run_id] = job
            self._queue.append(job)
            self._dispatch()
            return SubmitResult(run_id, False, job.state, self._position(job))

    def cancel(self, run_id: str) -> bool:
        """Cancel a queued job (it never runs) or a running one (stops within one batch)."""
        run_id = validate_run_id(run_id)
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.state not in ACTIVE:
                return False
            job.cancel_requested = True
            job.stop.set()
            if job.state == "queued":
                self._queue.remove(job)
                self._end_unstarted(job, "cancelled")
            return True

    def _end_unstarted(self, job: _Job, state: str, error: str | None = None) -> None:
        """Finish a job that never started (caller holds the lock)."""
        job.state, job.error, job.finished = state, error, time.time()
        try:
            self.store.set_status(job.run_id, state, error=error)
        except RunNotFound:
            pass
        job.view.set_status(state)
        self._retire(job)
        self._changed.notify_all()

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next job to start, 2 for the one after...; None when not waiting."""
        run_id = validate_run_id(run_id)
        with self._lock:
            job = self._jobs.get(run_id)
            return self._position(job) if job is not None else None

    def _position(self, job: _Job) -> int | None:
        if job.state != "queued":
            return None
        for i, queued in enumerate(self._queue, 1):
            if queued is job:
                return i
        return None

    # --- running ----------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Start queued jobs while slots are free (caller holds the lock)."""
        while self._queue and len(self._running) < self.max_jobs and not self._closing:
            job = self._queue.popleft()
            job.state, job.started = "running", time.time()
            self._running[job.run_id] = job
            job.thread = threading.Thread(target=self._run, args=(job,), name=f"bnviz-job-{job.run_id}",
                                          daemon=True)
            job.thread.start()

    def _run(self, job: _Job) -> None:
        status, error = "failed", None
        try:
            self.store.set_status(job.run_id, "running")
            job.view.set_status("running")
            trainer = self._trainer
            if trainer is None:
                from bnviz import device
                from bnviz.training import train as trainer

                device.configure(threads=self.tf_threads)
            kwargs: dict[str, Any] = {}
            if self.save_models:
                kwargs["model_path"] = str(self.store.partial_model_path(job.run_id))
            record = trainer(job.config, sink=lambda event: self._sink(job, event), stop_event=job.stop,
                             run_id=job.run_id, **kwargs)
            status = (record or {}).get("status", "failed")
            error = ((record or {}).get("summary") or {}).get("error")
        except RunNotFound:
            job.deleted = True
        except Exception as exc:
            log.exception("job %s failed", job.run_id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(job, status, error)

    def _sink(self, job: _Job, event: dict[str, Any]) -> None:
        """Store first, then show: readers never see what is not durable yet."""
        if job.deleted:
            return
        if (event.get("type") == "end" and event.get("status") == "cancelled" and self._closing
                and not job.cancel_requested):
            event = {**event, "status": "interrupted",
                     "summary": {**event["summary"], "error": "interrupted: the server was shutting down"}}
        try:
            self.store.append_event(job.run_id, event)
        except RunNotFound:  # deleted while training: stop, write nothing more
            job.deleted = True
            job.stop.set()
            return
        job.view.apply(event)

    def _finish(self, job: _Job, status: str, error: str | None) -> None:
        if status not in FINISHED:
            status, error = "failed", error or f"the trainer returned an unknown status {status!r}"
        if self._closing and status == "cancelled" and not job.cancel_requested:
            status = "interrupted"
        if not job.deleted:
            try:
                if self.store.status(job.run_id) != status:  # a fake trainer may not emit "end"
                    self.store.set_status(job.run_id, status, error=error if status == "failed" else None)
                if status in ("succeeded", "cancelled", "interrupted"):
                    self.store.commit_model(job.run_id)
            except RunNotFound:
                job.deleted = True
            except Exception:
                log.exception("could not record the end of job %s", job.run_id)
        with contextlib.suppress(OSError):
            self.store.partial_model_path(job.run_id).unlink(missing_ok=True)
        job.view.set_status(status)
        with self._lock:
            job.state, job.error, job.finished = status, error, time.time()
            self._running.pop(job.run_id, None)
            self._retire(job)
            self._dispatch()
            self._changed.notify_all()

    def _retire(self, job: _Job) -> None:
        """Hand a finished job's view to the read cache and forget old jobs (caller holds the lock)."""
        job.view.version = -1  # re-read the header once from the store: it has the final word
        if not job.deleted:
            with self._cache_lock:
                self._cache[job.run_id] = job.view
                self._cache.move_to_end(job.run_id)
                self._trim_cache()
        done = [rid for rid, j in self._jobs.items() if j.state not in ACTIVE]
        for rid in done[: max(0, len(done) - _KEEP_FINISHED)]:
            del self._jobs[rid]

    # --- reading ----------------------------------------------------------------------
    def job(self, run_id: str) -> JobInfo | None:
        """State, progress, error and device of a job of this manager (None if it has none)."""
        run_id = validate_run_id(run_id)
        with self._lock:
            job = self._jobs.get(run_id)
            return self._info(job) if job is not None else None

    def jobs(self, owner: str | None = None) -> list[JobInfo]:
        """Running jobs, then the queue in order, then recently finished ones (newest first)."""
        with self._lock:
            running = list(self._running.values())
            finished = sorted((j for j in self._jobs.values() if j.state not in ACTIVE),
                              key=lambda j: j.finished or 0, reverse=True)
            ordered = running + list(self._queue) + finished
            return [self._info(j) for j in ordered if owner is None or j.owner == owner]

    def _info(self, job: _Job) -> JobInfo:
        return JobInfo(run_id=job.run_id, state=job.state, owner=job.owner, name=job.name,
                       position=self._position(job), progress=job.view.progress, device=job.view.device,
                       error=job.error, submitted=job.submitted, started=job.started, finished=job.finished)

    def wait(self, run_id: str, timeout: float | None = None) -> JobInfo | None:
        """Block until the job has finished (or `timeout` passed); returns its info."""
        run_id = validate_run_id(run_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while (job := self._jobs.get(run_id)) is not None and job.state in ACTIVE:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._info(job) if job is not None else None

    def snapshot(self, run_id: str) -> RunSnapshot:
        """Everything recorded so far, consistent (never torn); cheap enough to poll every second."""
        run_id = validate_run_id(run_id)
        view, position = self._view(run_id)
        return view.snapshot(position)

    def changes(self, run_id: str,
                cursor: Cursor | tuple[int, int, int] | None = None) -> tuple[Changes, Cursor]:
        """What the run gained since `cursor` (None: from the start), and the cursor to pass next time."""
        run_id = validate_run_id(run_id)
        start = Cursor(*(max(0, int(c)) for c in cursor)) if cursor is not None else Cursor()
        view, _ = self._view(run_id)
        return view.changes(start)

    def _view(self, run_id: str) -> tuple[_RunView, int | None]:
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None and job.state in ACTIVE:
                return job.view, self._position(job)
        return self._stored_view(run_id), None

    def _stored_view(self, run_id: str) -> _RunView:
        """A cached view of a stored run, brought up to date only when the store says it changed."""
        version = self.store.version(run_id)
        if version is None:
            with self._cache_lock:
                self._cache.pop(run_id, None)
            raise RunNotFound(run_id)
        with self._cache_lock:
            view = self._cache.get(run_id)
            if view is None:
                view = _RunView(run_id, {})
                self._cache[run_id] = view
                self._trim_cache()
            else:
                self._cache.move_to_end(run_id)
        if view.version != version:
            with view.refresh_lock:
                if view.version != version:
                    data = self.store.read_since(run_id, view.cursor())
                    if not view.config:
                        view.config = MappingProxyType(data["run"]["config"])
                    view.extend(data)
        return view

    def _trim_cache(self) -> None:
        """Keep at most `cache_runs` parsed runs and about `cache_mb` of them (caller holds _cache_lock)."""
        def too_big() -> bool:
            return sum(v.approx_bytes() for v in self._cache.values()) > self._cache_bytes

        while len(self._cache) > 1 and (len(self._cache) > self._cache_size or too_big()):
            self._cache.popitem(last=False)

    def forget(self, run_id: str) -> None:
        """Drop a run from the read cache (after deleting or renaming it elsewhere)."""
        with self._cache_lock:
            self._cache.pop(validate_run_id(run_id), None)

    def delete(self, run_id: str) -> bool:
        """Cancel the run if it is active, then remove it from the store."""
        self.cancel(run_id)
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None:
                job.deleted = True
        gone = self.store.delete(run_id)
        self.forget(run_id)
        return gone

    # --- shutting down -------------------------------------------------------------------
    def shutdown(self, wait: bool = True, timeout: float | None = 30.0) -> None:
        """Stop accepting work; queued and running jobs end as interrupted."""
        with self._lock:
            self._closing = True
            queued = list(self._queue)
            self._queue.clear()
            running = list(self._running.values())
            for job in queued:
                self._end_unstarted(job, "interrupted",
                                    "interrupted: the server stopped before this run started")
            for job in running:
                job.stop.set()
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            for job in running:
                if job.thread is not None:
                    job.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


_default: JobManager | None = None
_default_lock = threading.Lock()


def default_manager() -> JobManager:
    """The process-wide manager (created on first use; interrupts its jobs cleanly at exit)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JobManager()
            atexit.register(_default.shutdown, True, 10.0)
        return _default
