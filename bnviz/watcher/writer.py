"""A script's events on their way to the run store, written by a background thread.

The user's fit must never wait for the store, nor fail because of it: events go into a queue that
one thread writes, each with `RunStore.append_event` as a worker would. If the store cannot be
reached, the writer says so once and drops what follows; training goes on. A cancel request from
the dashboard ends the recording (the script keeps training), and so does the run's deletion.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from bnviz.events import EventKind
from bnviz.record import SCRIPT_OWNER
from bnviz.states import RunState
from bnviz.store import RunNotFound, RunStore

MAX_WAITING = 2000  # events held while the store is slow; beyond it batch events are dropped first
MAX_BATCH = 500  # events written in one transaction at most
# How long the writer gathers events before a write: each transaction's Python competes with a small
# model's training for the interpreter (a 3 s JAX fit made 15 of them at 0.2 s). The dashboard polls
# every 0.5 s, so a script's charts come at most one poll later than a form run's.
GATHER_S = 0.5
CANCELLED = "cancelled from the dashboard: the script went on training without recording"


def say(message: str) -> None:
    """One line on stderr, prefixed so a user knows it is bnviz speaking."""
    print(f"bnviz: {message}", file=sys.stderr, flush=True)


class StoreWriter:
    """Creates a script's run and writes its events from a daemon thread; never raises into fit."""

    def __init__(self, open_store: Callable[[], RunStore] = RunStore, tell: Callable[[str], None] = say) -> None:
        self._open = open_store
        self._tell = tell
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # cuts the writer's gathering short: fit has ended
        self.store: RunStore | None = None
        self.run_id: str | None = None
        self.stopped = False  # nothing more is written (store failed, run cancelled or deleted)
        self.written = 0

    def start(self, config: dict[str, Any], name: str, notes: str = "") -> str | None:
        """Open the store and register the run (in the caller's thread: the link needs its id); None if
        the store cannot be used, which has been said once."""
        try:
            self.store = self._open()
            self.run_id = self.store.create_script_run(config, owner=SCRIPT_OWNER, name=name, notes=notes)
        except Exception as exc:
            self._fail(exc)
            return None
        self._thread = threading.Thread(target=self._serve, name="bnviz-watch-writer", daemon=True)
        self._thread.start()
        return self.run_id

    def put(self, event: dict[str, Any]) -> None:
        """Queue one event (never blocks; a full queue drops batch events, then everything but the end)."""
        if self.stopped or self._thread is None:
            return
        waiting = self._queue.qsize()
        if waiting >= MAX_WAITING and (event["type"] == EventKind.BATCH or waiting >= 2 * MAX_WAITING) and (
                event["type"] != EventKind.END):
            return
        self._queue.put(event)

    def close(self, timeout: float = 60.0) -> bool:
        """Wait (at most `timeout` seconds) until every queued event is written; True when all were."""
        if self._thread is None:
            return False
        self._closing.set()
        self._queue.put(None)
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        if not done:
            self._tell(f"the run store is slow: stopped waiting after {timeout:.0f} s, the last events of "
                       f"run {self.run_id} may be missing")
        elif self.store is not None:
            self.store.close()
        return done

    def _serve(self) -> None:
        while True:
            batch, done = self._take()
            if batch and not self.stopped:
                self._write(batch)
            if done:
                return

    def _take(self) -> tuple[list[dict[str, Any]], bool]:
        """The next event and every one that arrives within GATHER_S behind it (written in one
        transaction: a commit per event would cost a small model's fit more than its probes), unless
        fit has ended and `close` waits; True once the close sentinel was reached."""
        batch = []
        event = self._queue.get()
        if event is not None and event["type"] != EventKind.END:
            self._closing.wait(GATHER_S)
        while event is not None:
            batch.append(event)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            cancel = self.store.append_events(self.run_id, batch)
            self.written += len(batch)
        except RunNotFound:
            self.stopped = True
            self._tell(f"run {self.run_id} was deleted from the dashboard; the script goes on training "
                       "without recording")
            return
        except Exception as exc:
            self._fail(exc)
            return
        if cancel and batch[-1]["type"] != EventKind.END:
            self._end_cancelled()

    def _end_cancelled(self) -> None:
        self.stopped = True
        try:
            self.store.set_status(self.run_id, RunState.CANCELLED, error=CANCELLED)
        except Exception as exc:
            self._fail(exc)
            return
        self._tell(f"run {self.run_id} was cancelled from the dashboard; the script goes on training without "
                   "recording")

    def _fail(self, exc: Exception) -> None:
        if not self.stopped:
            self.stopped = True
            where = getattr(self.store, "location", None) or "the run store"
            self._tell(f"cannot record this run in {where} ({type(exc).__name__}: {exc}); training goes on "
                       "without recording")
