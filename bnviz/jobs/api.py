"""The job API: submit, cancel, delete and read runs. Training happens elsewhere.

Pages, the CLI and tests talk to a `JobManager`; it never trains. A submitted run is
queued in the run store, and an executor's workers (bnviz/jobs/supervisor.py: local worker
processes; or `python -m bnviz worker` started by hand) take it from there. Every answer
comes from the store, so any number of web processes see the same queue and the same
runs, and a classroom polling a run costs one indexed read per poll (bnviz/store/snapshots.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bnviz import limits
from bnviz.config import ExperimentConfig
from bnviz.data.offered import resolve_offered
from bnviz.ids import validate_run_id
from bnviz.jobs.queue import Queued, RunQueue
from bnviz.settings import settings
from bnviz.states import ACTIVE, RunState
from bnviz.store import RunNotFound, RunStore
from bnviz.store.snapshots import RunSnapshot, SnapshotCache
from bnviz.train import backends


class Executor(Protocol):
    """Whatever runs the workers: started with the manager, stopped with it."""

    def start(self) -> Any: ...

    def stop(self, timeout: float = ...) -> None: ...


@dataclass(frozen=True)
class SubmitResult:
    run_id: str
    reused: bool  # True: an identical run already existed (finished, queued or running); nothing new queued
    state: str
    position: int | None = None  # 1 = next in line; None when not queued


def check_limits(config: ExperimentConfig, *, signed_in: bool, teacher: bool, lift_limits: bool) -> None:
    """Refuse before anything is queued: a visitor who may not train, then a run over the per-run limits
    (your own file is read for its shape, so its model is counted too)."""
    limits.check_may_train(signed_in=signed_in, teacher=teacher)
    if not (teacher or lift_limits):
        limits.check(config, limits.data_shape(config, read_files=True))


class JobManager:
    """The runs of one store, for any number of readers; `executor` trains what is queued.

    Env: BNVIZ_MAX_QUEUED_PER_OWNER (runs one person may have waiting, default 3) and
    BNVIZ_MAX_QUEUED (runs waiting server-wide, default 30).
    """

    def __init__(self, store: RunStore | None = None, executor: Executor | None = None, *,
                 max_queued_per_owner: int | None = None, max_queued: int | None = None, cache_runs: int = 8,
                 cache_mb: int = 200) -> None:
        self.store = store if store is not None else RunStore()
        self.queue = RunQueue(self.store)
        self.executor = executor
        self.max_queued_per_owner = max_queued_per_owner or settings().max_queued_per_owner
        self.max_queued = max_queued or settings().max_queued
        self._snapshots = SnapshotCache(self.store, max_runs=cache_runs, max_mb=cache_mb)

    def start(self) -> JobManager:
        if self.executor is not None:
            self.executor.start()
        return self

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop the executor's workers (a run in progress ends as interrupted)."""
        if self.executor is not None:
            self.executor.stop(timeout)

    # --- submitting and cancelling ---------------------------------------------------------
    def submit(self, config: ExperimentConfig | Mapping[str, Any], *, owner: str = "", name: str = "",
               notes: str = "", fresh: bool = False, queue_limit: int | None = None,
               local_files: bool = False, signed_in: bool = False, teacher: bool = False,
               lift_limits: bool = False) -> SubmitResult:
        """Queue a run and return at once; an identical existing run is offered instead unless `fresh`.

        `queue_limit` replaces the per-owner limit for this request (a gallery card queues all
        its arms at once). Raises QueueFull when the owner already has that many runs waiting, or
        the server BNVIZ_MAX_QUEUED; both are checked in the transaction that queues the run.
        The config may name only data this server offers (bnviz.data.offered) unless `local_files`
        (a user on their own machine, e.g. a script); a relative path from a shared record or link
        (`uploads/<id>.csv`) is resolved to this server's file first.

        Who may train (BNVIZ_WHO_MAY_TRAIN) is decided from `signed_in` and `teacher`, as the page
        knows them (TrainingNotAllowed); a run over this server's per-run limits (bnviz.limits) is
        refused with OverBudget unless `teacher` or `lift_limits` (the gallery's server-made configs)."""
        cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
        if not local_files:
            config_settings = settings()
            path = resolve_offered(cfg.dataset.path, home=config_settings.home, data_dir=config_settings.data_dir)
            if path != cfg.dataset.path:  # a shared record's `uploads/<id>.csv`: the file on this server
                cfg = cfg.with_updates({"dataset.path": path})
        check_limits(cfg, signed_in=signed_in, teacher=teacher, lift_limits=lift_limits)
        if self.executor is not None:  # this server's own workers will train it: its backend must be here
            backends.require(cfg.training.backend)
        if not fresh:
            found = self.queue.find_reusable(cfg.fingerprint())
            if found is not None:
                run_id, state = found
                return SubmitResult(run_id, True, state, self.queue.position(run_id))
        admit = self.queue.admit(owner, queue_limit or self.max_queued_per_owner, self.max_queued)
        run_id = self.store.create_run(cfg, owner=owner, name=name, notes=notes, status=RunState.QUEUED, admit=admit)
        return SubmitResult(run_id, False, RunState.QUEUED, self.queue.position(run_id))

    def cancel(self, run_id: str) -> bool:
        """A queued run never trains; a running one stops within one batch, keeping what it recorded."""
        return self.queue.request_cancel(run_id)

    def cancel_owner(self, owner: str) -> int:
        """Cancel all of one owner's queued and running runs at once (a teacher's action); how many."""
        return self.queue.cancel_owner(owner)

    def move_in_queue(self, run_id: str, steps: int) -> int | None:
        """A teacher moves a waiting run `steps` places later (negative: earlier); its new position."""
        return self.queue.move(run_id, steps)

    def delete(self, run_id: str) -> bool:
        """Cancel the run if it is active, then remove it from the store (its worker stops writing)."""
        run_id = validate_run_id(run_id)
        try:
            self.queue.request_cancel(run_id)
        except RunNotFound:
            pass
        gone = self.store.delete(run_id)
        self._snapshots.forget(run_id)
        return gone

    # --- reading ---------------------------------------------------------------------------
    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start, 2 for the one after...; None when not waiting."""
        return self.queue.position(run_id)

    def queued(self) -> list[Queued]:
        """Every waiting run with its position, in the order the claim takes them (per backend)."""
        return self.queue.queued()

    def snapshot(self, run_id: str) -> RunSnapshot:
        """Everything recorded so far, consistent (never torn); cheap enough to poll every second."""
        snap = self._snapshots.get(run_id)
        if snap.status == RunState.QUEUED:
            snap = dataclasses.replace(snap, position=self.queue.position(run_id))
        return snap

    def forget(self, run_id: str) -> None:
        """Drop a run from the read cache (the next snapshot re-reads it)."""
        self._snapshots.forget(validate_run_id(run_id))

    def wait(self, run_id: str, timeout: float | None = None, poll_s: float = 0.1) -> str:
        """Block until the run has finished (or `timeout` passed); returns its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.store.status(run_id)
            if status not in ACTIVE or (deadline is not None and time.monotonic() >= deadline):
                return status
            time.sleep(poll_s)
