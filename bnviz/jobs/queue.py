"""The job queue, cancel requests and worker heartbeats, kept in the run store.

Web servers and workers are separate processes (possibly several of each) that share
nothing but the store, so the queue is the store's queued runs. Owners take turns
(bnviz/jobs/fairness.py): a worker claims the oldest run of its backend of the owner served
least recently, in one write transaction (two workers can never take the same run: SQLite
runs one write transaction at a time; PostgreSQL locks the claimed row with `FOR UPDATE SKIP
LOCKED` under a lock that serializes claims, so the BNVIZ_MAX_JOBS count holds too), and asks
the store whether its run was cancelled or deleted. A new run is admitted (BNVIZ_MAX_QUEUED
server-wide, BNVIZ_MAX_QUEUED_PER_OWNER each) in the transaction that inserts it, so two
submits at once can never both take the last place.

Worker rows carry heartbeats. On one machine (SQLite) a worker's lock file says whether it
lives; with PostgreSQL the heartbeat decides for workers elsewhere (BNVIZ_WORKER_TIMEOUT_S).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bnviz.errors import QueueFull
from bnviz.ids import validate_run_id
from bnviz.jobs.fairness import Waiting, fair_order
from bnviz.settings import settings
from bnviz.states import RunState
from bnviz.store import RunNotFound, RunStore, liveness
from bnviz.store.db import LOCK_ADMIT, LOCK_CLAIM, Transaction

CANCELLED_WHILE_QUEUED = "cancelled before it started"
TURNS_KEPT_S = 7 * 24 * 3600  # an owner served longer ago than this is as good as never served


@dataclass(frozen=True)
class Claim:
    run_id: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Queued:
    """A waiting run and its place in its backend's queue (1: the next to start)."""

    run_id: str
    owner: str
    backend: str
    position: int


@dataclass(frozen=True)
class WorkerRow:
    id: str
    pid: int
    host: str
    backend: str
    state: str  # "starting", "idle" or "busy"
    run_id: str | None
    device: str | None
    started: float
    heartbeat: float


class RunQueue:
    """Queue operations over one RunStore (any process, any thread)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    # --- web side -------------------------------------------------------------------
    def waiting(self, owner: str) -> int:
        """How many runs of `owner` are waiting to start."""
        with self.store.read_transaction() as con:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status=? AND owner=?",
                               (RunState.QUEUED, owner)).fetchone()[0]

    def position(self, run_id: str) -> int | None:
        """1 for the next run of its backend to start, 2 for the one after...; None when not waiting.

        The place in the order the claim serves (owners in turn, bnviz/jobs/fairness.py), as the
        queue stands now: a newcomer's first run may still go ahead of someone's third."""
        run_id = validate_run_id(run_id)
        with self.store.read_transaction() as con:
            row = con.execute("SELECT status, backend FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None or row[0] != RunState.QUEUED:
                return None
            order = self._order(con, row[1])
        return order.index(run_id) + 1 if run_id in order else None

    @staticmethod
    def _order(con: Transaction, backend: str) -> list[str]:
        """The queued runs of `backend` in the order the claim takes them."""
        waiting = [Waiting(*r) for r in con.execute(
            "SELECT id, owner, created, rowid, queue_rank FROM runs WHERE status=? AND backend=?",
            (RunState.QUEUED, backend))]
        owners = {w.owner for w in waiting}
        served = {o: t for o, t in con.execute("SELECT owner, served FROM queue_turns") if o in owners}
        return fair_order(waiting, served)

    def queued(self) -> list[Queued]:
        """Every waiting run, each backend's in the order the claim takes them (a teacher's view)."""
        with self.store.read_transaction() as con:
            rows = con.execute("SELECT id, owner, backend FROM runs WHERE status=?", (RunState.QUEUED,)).fetchall()
            owners = {run_id: owner for run_id, owner, _ in rows}
            return [Queued(r, owners[r], backend, i + 1)
                    for backend in sorted({b for _, _, b in rows})
                    for i, r in enumerate(self._order(con, backend))]

    def move(self, run_id: str, steps: int) -> int | None:
        """A teacher moves a waiting run `steps` places later (negative: earlier) in its backend's
        queue; the claim honours it (bnviz/jobs/fairness.py). Returns its new position, or None
        when it is no longer waiting."""
        run_id = validate_run_id(run_id)
        with self.store.write_transaction() as con:
            con.advisory_lock(LOCK_CLAIM)  # PostgreSQL: no claim between reading the order and writing it
            row = con.execute("SELECT status, backend FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if row[0] != RunState.QUEUED:
                return None
            order = self._order(con, row[1])
            place = min(max(order.index(run_id) + int(steps), 0), len(order) - 1)
            order.remove(run_id)
            order.insert(place, run_id)
            con.executemany("UPDATE runs SET queue_rank=? WHERE id=?", [(i + 1, r) for i, r in enumerate(order)])
        return place + 1

    def admit(self, owner: str, per_owner: int, server_wide: int) -> Callable[[Transaction], None]:
        """A check for `RunStore.create_run` to run inside the transaction that inserts the run:
        raises QueueFull when `owner` already has `per_owner` runs waiting, or the server `server_wide`."""

        def check(con: Transaction) -> None:
            con.advisory_lock(LOCK_ADMIT)  # PostgreSQL: count and insert under one lock (SQLite writes are serial)
            total, mine = con.execute("SELECT COUNT(*), COALESCE(SUM(CASE WHEN owner=? THEN 1 ELSE 0 END), 0)"
                                      " FROM runs WHERE status=?", (owner, RunState.QUEUED)).fetchone()
            if mine >= per_owner:
                runs = "run" if mine == 1 else "runs"
                raise QueueFull(f"You already have {mine} {runs} waiting to train (at most {per_owner} at a time). "
                                "Wait for one to start, or cancel one on the Runs page.")
            if total >= server_wide:
                raise QueueFull(f"The queue is full: {total} runs are waiting to train on this server (at most "
                                f"{server_wide}). Try again when some have started.")

        return check

    def find_reusable(self, fingerprint: str) -> tuple[str, str] | None:
        """An identical run a new request can show instead: one waiting or training, else the newest success."""
        with self.store.read_transaction() as con:
            row = con.execute(
                "SELECT id, status FROM runs WHERE fingerprint=? AND status IN (?, ?) AND cancel_requested=0"
                " ORDER BY created LIMIT 1", (fingerprint, RunState.QUEUED, RunState.RUNNING)).fetchone()
        if row is not None:
            return row[0], row[1]
        done = self.store.find_by_fingerprint(fingerprint, RunState.SUCCEEDED)
        return (done, RunState.SUCCEEDED) if done else None

    def request_cancel(self, run_id: str) -> bool:
        """A queued run ends at once; a running one is flagged and its worker stops within a batch.

        False when the run is not waiting or training (already finished)."""
        run_id = validate_run_id(run_id)
        with self.store.write_transaction() as con:
            row = con.execute("SELECT status FROM runs WHERE id=?" + con.db.for_update, (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if row[0] == RunState.QUEUED:
                self.store._set_status(con, run_id, RunState.CANCELLED, error=None,
                                       summary={"note": CANCELLED_WHILE_QUEUED})
                return True
            if row[0] == RunState.RUNNING:
                con.execute("UPDATE runs SET cancel_requested=1, version=version+1, updated=? WHERE id=?",
                            (time.time(), run_id))
                return True
        return False

    def cancel_owner(self, owner: str) -> int:
        """Cancel every queued or running run of `owner` in one transaction (a teacher's action):
        queued runs end at once, running ones stop within a batch. Returns how many were cancelled."""
        if not owner:
            raise ValueError("cancel_owner needs an owner (runs without one are cancelled one by one)")
        with self.store.write_transaction() as con:
            rows = con.execute("SELECT id, status FROM runs WHERE owner=? AND status IN (?, ?)" + con.db.for_update,
                               (owner, RunState.QUEUED, RunState.RUNNING)).fetchall()
            now = time.time()
            for run_id, status in rows:
                if status == RunState.QUEUED:
                    self.store._set_status(con, run_id, RunState.CANCELLED, error=None,
                                           summary={"note": CANCELLED_WHILE_QUEUED})
                else:
                    con.execute("UPDATE runs SET cancel_requested=1, version=version+1, updated=? WHERE id=?",
                                (now, run_id))
        return len(rows)

    def backends_waiting(self) -> set[str]:
        """Backends that have queued runs (a supervisor starts workers for them)."""
        with self.store.read_transaction() as con:
            rows = con.execute("SELECT DISTINCT backend FROM runs WHERE status=?", (RunState.QUEUED,)).fetchall()
        return {r[0] for r in rows}

    # --- worker side ------------------------------------------------------------------
    def claim(self, worker_id: str, backend: str, max_running: int | None = None) -> Claim | None:
        """Take the next queued run of `backend` (owners in turn: bnviz/jobs/fairness.py) and mark it
        running by this process, or None.

        `max_running` caps trainings across all workers of this store (BNVIZ_MAX_JOBS)."""
        with self.store.read_transaction() as con:  # a cheap look first: workers poll often
            if con.execute("SELECT 1 FROM runs WHERE status=? AND backend=? LIMIT 1",
                           (RunState.QUEUED, backend)).fetchone() is None:
                return None
        token = liveness.hold(self.store.locks_dir)
        with self.store.write_transaction() as con:
            con.advisory_lock(LOCK_CLAIM)  # PostgreSQL: one claim at a time, so max_running holds
            if max_running is not None:
                busy = con.execute("SELECT COUNT(*) FROM runs WHERE status=? AND worker IS NOT NULL",
                                   (RunState.RUNNING,)).fetchone()[0]
                if busy >= max_running:
                    return None
            lock = " FOR UPDATE SKIP LOCKED" if con.db.postgres else ""  # a run being cancelled is skipped
            for run_id in self._order(con, backend):
                row = con.execute("SELECT id, config_json, upload, owner FROM runs WHERE id=? AND status=?" + lock,
                                  (run_id, RunState.QUEUED)).fetchone()
                if row is not None:
                    break
            else:
                return None
            now = time.time()
            con.execute("UPDATE runs SET status=?, worker=?, pid=?, proc_token=?, started=?, updated=?,"
                        " version=version+1 WHERE id=?",
                        (RunState.RUNNING, worker_id, os.getpid(), token, now, now, row[0]))
            con.execute("INSERT INTO queue_turns (owner, served) VALUES (?, ?)"
                        " ON CONFLICT (owner) DO UPDATE SET served=excluded.served", (row[3], now))
            con.execute("DELETE FROM queue_turns WHERE served < ?", (now - TURNS_KEPT_S,))
            beat = con.execute("UPDATE workers SET state='busy', run_id=?, heartbeat=? WHERE id=?",
                               (row[0], now, worker_id))
            if beat.rowcount == 0:  # never registered, or dropped after a long silence: its run needs a row
                self._insert_worker(con, worker_id, backend, token, "busy", row[0], now)
        return Claim(row[0], self.store.local_config(json.loads(row[1]), row[2]))

    def adopt(self, worker_id: str, backend: str, run_id: str) -> Claim | None:
        """This process takes over a run that a dispatcher claimed for `worker_id` (a Ray task does).

        From here the run's liveness token and the worker row are this process's, so its death
        or silence marks the run interrupted. Returns the run's config as this machine trains it
        (a stored data file fetched here), or None when the run is no longer running under that
        worker id (cancelled while waiting, deleted, or recovered): then train nothing."""
        token = liveness.hold(self.store.locks_dir)
        with self.store.write_transaction() as con:
            row = con.execute("SELECT status, worker, config_json, upload FROM runs WHERE id=?" + con.db.for_update,
                              (run_id,)).fetchone()
            if row is None or row[0] != RunState.RUNNING or row[1] != worker_id:
                return None
            con.execute("UPDATE runs SET pid=?, proc_token=? WHERE id=?", (os.getpid(), token, run_id))
            self._insert_worker(con, worker_id, backend, token, "busy", run_id, time.time())
        return Claim(run_id, self.store.local_config(json.loads(row[2]), row[3]))

    def end_orphan(self, run_id: str, worker_id: str, status: str, error: str) -> bool:
        """End a run whose worker is known to be gone (a Ray task that crashed or failed), unless it
        ended already or another worker has it; its worker row goes too. True when it was ended."""
        with self.store.write_transaction() as con:
            row = con.execute("SELECT status, worker FROM runs WHERE id=?" + con.db.for_update, (run_id,)).fetchone()
            ended = row is not None and row[0] == RunState.RUNNING and row[1] == worker_id
            if ended:
                self.store._set_status(con, run_id, status, error=error)
            con.execute("DELETE FROM workers WHERE id=?", (worker_id,))
        return ended

    def keep_pending(self, worker_ids: list[str]) -> None:
        """Heartbeats for claimed runs whose worker has not started yet (a Ray task waiting for
        resources); a row its worker already took over (state busy) is left to that worker."""
        if worker_ids:
            with self.store.write_transaction() as con:
                con.executemany("UPDATE workers SET heartbeat=? WHERE id=? AND state='starting'",
                                [(time.time(), w) for w in worker_ids])

    def cancel_requested(self, run_id: str) -> bool:
        """True once someone asked to cancel the run; raises RunNotFound once it was deleted."""
        with self.store.read_transaction() as con:
            row = con.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return bool(row[0])

    def register(self, worker_id: str, backend: str) -> None:
        token = liveness.hold(self.store.locks_dir)
        with self.store.write_transaction() as con:
            self._insert_worker(con, worker_id, backend, token, "starting", None, time.time())

    @staticmethod
    def _insert_worker(con, worker_id: str, backend: str, token: str, state: str, run_id: str | None,
                       now: float) -> None:
        con.execute("INSERT INTO workers (id, pid, host, backend, state, run_id, proc_token, device,"
                    " started, heartbeat) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET"
                    " pid=excluded.pid, host=excluded.host, backend=excluded.backend, state=excluded.state,"
                    " run_id=excluded.run_id, proc_token=excluded.proc_token, device=excluded.device,"
                    " started=excluded.started, heartbeat=excluded.heartbeat",
                    (worker_id, os.getpid(), socket.gethostname(), backend, state, run_id, token, None, now, now))

    def heartbeat(self, worker_id: str, state: str, run_id: str | None = None, device: str | None = None) -> None:
        with self.store.write_transaction() as con:
            con.execute("UPDATE workers SET state=?, run_id=?, device=COALESCE(?, device), heartbeat=? WHERE id=?",
                        (state, run_id, device, time.time(), worker_id))

    def unregister(self, worker_id: str) -> None:
        with self.store.write_transaction() as con:
            con.execute("DELETE FROM workers WHERE id=?", (worker_id,))

    def workers(self) -> list[WorkerRow]:
        with self.store.read_transaction() as con:
            rows = con.execute("SELECT id, pid, host, backend, state, run_id, device, started, heartbeat"
                               " FROM workers ORDER BY started").fetchall()
        return [WorkerRow(*r) for r in rows]

    def forget_dead_workers(self) -> list[str]:
        """Drop the rows of workers whose process is gone (their runs are recovered separately).

        SQLite: gone when its lock file is free. PostgreSQL: when it provably died on this machine
        or sent no heartbeat for BNVIZ_WORKER_TIMEOUT_S (it may live on another machine)."""
        with self.store.read_transaction() as con:
            rows = con.execute("SELECT id, proc_token, heartbeat FROM workers").fetchall()
        locks = self.store.locks_dir
        if self.store.shared:
            timeout, now = settings().worker_timeout_s, time.time()
            dead = [wid for wid, token, beat in rows if liveness.dead(locks, token) or now - beat > timeout]
        else:
            dead = [wid for wid, token, _ in rows if not liveness.alive(locks, token)]
        if dead:
            with self.store.write_transaction() as con:
                con.executemany("DELETE FROM workers WHERE id=?", [(w,) for w in dead])
        return dead
