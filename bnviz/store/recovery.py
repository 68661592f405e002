"""Recovering runs left behind: a running run whose process is gone becomes *interrupted*.

A process that trains a run stamps it with its liveness token (bnviz/store/liveness.py); a
running run whose process is gone is marked interrupted, with every epoch it recorded.
Lock files prove that only on one machine, so with PostgreSQL a run is judged by its
worker's heartbeat instead (see `recover`). Queued runs belong to no process: they wait
for any worker. Model files whose save never completed are swept at the same time.

A worker its supervisor stopped on purpose (over its memory, or no training progress) is not a
crash: `end_runs_of` ends its run as *failed* with that reason before recovery runs, and
`progress_by_worker` tells the supervisor when each worker's run last recorded anything.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from bnviz.ids import is_run_id
from bnviz.states import ACTIVE, RunState
from bnviz.store import liveness

INTERRUPTED = "interrupted: the process running it stopped (crash or restart)"


class RunRecovery:
    """The recovery part of `RunStore` (bnviz/store/run_store.py), which provides the transactions,
    `_set_status`, `_row`, `shared`, `locks_dir` and `models_dir`."""

    shared: bool
    locks_dir: Path
    models_dir: Path

    def recover(self) -> list[str]:
        """Mark running runs whose process is gone as interrupted; returns their ids.

        Every epoch such a run recorded stays. Queued runs are left waiting: they belong to no
        process, and the next worker takes them. SQLite (one machine): a run's process is gone
        when its lock file is free. PostgreSQL (many machines): see `_orphans_by_heartbeat`."""
        dead_workers: list[str] = []
        if self.shared:
            orphans, dead_workers = self._orphans_by_heartbeat()
        else:
            with self.read_transaction() as con:
                rows = con.execute("SELECT id, proc_token FROM runs WHERE status=?",
                                   (RunState.RUNNING,)).fetchall()
            orphans = [run_id for run_id, token in rows if not liveness.alive(self.locks_dir, token)]
        if orphans:
            with self.write_transaction() as con:
                for run_id in orphans:
                    status = con.execute("SELECT status FROM runs WHERE id=?" + self._db.for_update,
                                         (run_id,)).fetchone()  # it may have ended meanwhile
                    if status and status[0] == RunState.RUNNING:
                        self._set_status(con, run_id, RunState.INTERRUPTED, error=INTERRUPTED)
        if dead_workers:  # before their lock files go: after that, only their heartbeats would tell
            with self.write_transaction() as con:
                con.executemany("DELETE FROM workers WHERE id=?", [(w,) for w in dead_workers])
        liveness.sweep(self.locks_dir)
        self._sweep_partial_models()
        return orphans

    def end_runs_of(self, worker_id: str, error: str, status: str = RunState.FAILED) -> list[str]:
        """End the running runs of a worker that was stopped for a reason (call after it is dead), with
        that reason as their error; every epoch they recorded stays. Returns their ids."""
        with self.write_transaction() as con:
            rows = con.execute("SELECT id FROM runs WHERE status=? AND worker=?" + self._db.for_update,
                               (RunState.RUNNING, worker_id)).fetchall()
            for (run_id,) in rows:
                self._set_status(con, run_id, status, error=error)
        return [run_id for (run_id,) in rows]

    def progress_by_worker(self) -> dict[str, tuple[str, float]]:
        """worker id -> (its running run, when that run last recorded an event, was claimed or changed)."""
        with self.read_transaction() as con:
            rows = con.execute("SELECT worker, id, updated FROM runs WHERE status=? AND worker IS NOT NULL",
                               (RunState.RUNNING,)).fetchall()
        return {worker: (run_id, updated) for worker, run_id, updated in rows}

    def _orphans_by_heartbeat(self) -> tuple[list[str], list[str]]:
        """Running runs of a shared store whose process is gone, and workers that died on this machine."""
        from bnviz.settings import settings

        with self.read_transaction() as con:
            runs = con.execute(
                "SELECT r.id, r.proc_token, r.worker, r.updated, w.id, w.heartbeat, w.proc_token"
                " FROM runs r LEFT JOIN workers w ON w.id = r.worker WHERE r.status=?",
                (RunState.RUNNING,)).fetchall()
            workers = con.execute("SELECT id, proc_token FROM workers").fetchall()
        timeout = settings().worker_timeout_s
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
