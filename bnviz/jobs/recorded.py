"""Training recorded into the run store: the one path from a claimed run to a stored result.

A worker (and `python -m bnviz train`) calls `train_recorded`: every event goes to the
store before anything else sees it, a cancel request or a deletion stops training within
the batch, the model is saved atomically, and whatever happens the run ends in a finished
state with every epoch it recorded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.events import EventKind
from bnviz.states import FINISHED, RunState
from bnviz.store import RunNotFound, RunStore

log = logging.getLogger(__name__)

Trainer = Callable[..., dict[str, Any]]
SHUTDOWN = "interrupted: the server stopped while this run trained"
CLI_OWNER = "cli"  # the owner of runs trained from a terminal (`train`, `reproduce`)
TIME_LIMIT = "time_limit"  # a Stop reason: the worker stopped the run at BNVIZ_MAX_RUN_SECONDS


class Stop(threading.Event):
    """A stop flag that remembers why: a user's cancel, the run's deletion, a shutdown or the time limit
    (`detail`: the sentence the cancelled run's summary.error then carries)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None
        self.detail: str | None = None

    def request(self, reason: str, detail: str | None = None) -> None:
        if not self.is_set():
            self.reason, self.detail = reason, detail
            self.set()


def train_recorded(store: RunStore, run_id: str, config: ExperimentConfig, *, stop: Stop | None = None,
                   sink: Callable[[dict[str, Any]], None] | None = None, save_model: bool = True,
                   trainer: Trainer | None = None) -> str:
    """Train run `run_id` (already in the store) with every event stored as it happens; returns its status."""
    stop = stop if stop is not None else Stop()
    if trainer is None:
        from bnviz.train.training import train as trainer

    def record(event: dict[str, Any]) -> None:
        if stop.reason == "deleted":
            return
        if event["type"] == EventKind.END and stop.reason == "shutdown":
            event = {**event, "status": RunState.INTERRUPTED, "summary": {**event["summary"], "error": SHUTDOWN}}
        if event["type"] == EventKind.END and stop.reason == TIME_LIMIT and event["status"] == RunState.CANCELLED:
            event = {**event, "summary": {**event["summary"], "error": stop.detail}}
        try:
            if store.append_event(run_id, event):
                stop.request("cancel")
        except RunNotFound:  # deleted while training: stop, write nothing more
            stop.request("deleted")
            return
        if sink is not None:
            sink(event)

    partial = store.partial_model_path(run_id)
    status, error = RunState.FAILED, None
    started = time.perf_counter()
    try:
        result = trainer(config, sink=record, stop_event=stop, run_id=run_id,
                         model_path=str(partial) if save_model else None)
        status = (result or {}).get("status", RunState.FAILED)
        error = ((result or {}).get("summary") or {}).get("error")
    except Exception as exc:  # the trainer reports its own failures; this is a bug or an import error
        log.exception("run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}"
    if stop.reason == "shutdown" and status == RunState.CANCELLED:
        status, error = RunState.INTERRUPTED, SHUTDOWN
    if stop.reason == TIME_LIMIT and status == RunState.CANCELLED:
        error = stop.detail
    if status not in FINISHED:
        status, error = RunState.FAILED, error or f"the trainer returned an unknown status {status!r}"
    if stop.reason != "deleted":
        try:
            if store.status(run_id) != status:  # no end event reached the store
                store.set_status(run_id, status, error=error,
                                 summary={"wall_time_s": round(time.perf_counter() - started, 3)})
            if status in (RunState.SUCCEEDED, RunState.CANCELLED, RunState.INTERRUPTED):
                store.commit_model(run_id)
        except RunNotFound:
            pass
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)
    return status
