"""Local worker processes that the dashboard starts and looks after itself.

`streamlit run app.py` is the only command a user needs: the web server starts
BNVIZ_MAX_JOBS warm workers (`python -m bnviz worker`) for the default backend, and one for
another backend when a run of it is queued. A worker that dies (killed, out of memory, a
crash inside a backend) or stops sending heartbeats for BNVIZ_WORKER_TIMEOUT_S seconds is
killed if need be; its run is marked interrupted with every epoch it recorded, and a fresh
worker takes the next queued run. Workers notice when the server is gone and stop too.

Failures stay contained: a worker whose resident memory passes BNVIZ_WORKER_MEMORY_MB, or whose
run records nothing (no batch, epoch or probe) for BNVIZ_WORKER_TIMEOUT_S while its heartbeat
thread still beats, is killed alone; its run fails with the reason and the limit, and a fresh
worker takes the next run. Memory is watched from here because an address-space limit
(RLIMIT_AS) inside the worker would break TensorFlow and CUDA, which reserve far more address
space than they use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bnviz.jobs.queue import RunQueue
from bnviz.settings import settings
from bnviz.store import RunStore
from bnviz.train import backends

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]  # bnviz/jobs/supervisor.py -> the repository
RECOVER_EVERY_S = 2.0  # a hand-started worker, or one of a server that died, can die too


def worker_cpus() -> set[int] | None:
    """The cores workers train on: every core but the first, which stays the web server's.

    Training threads then never take the core that answers a classroom's pages, and a room
    full of viewers never takes the training's cores. BNVIZ_WORKER_CPUS=all turns this off;
    with fewer than 2 cores (or no affinity API) nothing is pinned."""
    if settings().worker_cpus == "all" or not hasattr(os, "sched_getaffinity"):
        return None
    mine = sorted(os.sched_getaffinity(0))
    return set(mine[1:]) if len(mine) >= 2 else None


def rss_mb(pid: int) -> int | None:
    """A process's resident memory in MB, from /proc (Linux); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class _Slot:
    backend: str
    proc: subprocess.Popen | None = None
    worker_id: str = ""
    started: float = 0.0
    registered: bool = False  # its row was seen in the store: a row gone since means it is exiting
    crashes: int = 0  # deaths in a row soon after start: back off instead of spinning
    not_before: float = 0.0


class LocalWorkers:
    """Starts, watches and restarts the worker processes of one store."""

    def __init__(self, store: RunStore, *, n: int | None = None, backend: str | None = None,
                 hang_s: float | None = None, check_s: float = 0.5, worker_args: tuple[str, ...] = ()) -> None:
        self.store, self.queue = store, RunQueue(store)
        self.n = n or settings().max_jobs
        self.backend = backend or backends.default_backend()
        self.hang_s = hang_s or settings().worker_timeout_s
        self.check_s = check_s
        self.worker_args = worker_args  # more arguments for `python -m bnviz worker` (tests: --trainer)
        self.slots: list[_Slot] = [_Slot(self.backend) for _ in range(self.n)]
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.log_dir = store.home / "logs"
        self.cpus = worker_cpus()

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalWorkers:
        self._reclaim()
        with self._lock:
            for slot in self.slots:
                self._spawn(slot)
        self._thread = threading.Thread(target=self._supervise, name="bnviz-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Ask every worker to stop (a training run ends as interrupted), then make sure they did."""
        self._closing.set()
        with self._lock:
            procs = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(2 * self.check_s + 1)
        self._reclaim()

    def pids(self) -> list[int]:
        with self._lock:
            return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]

    # --- the supervision loop ------------------------------------------------------------------
    def _supervise(self) -> None:
        last_recover = time.monotonic()
        while not self._closing.wait(self.check_s):
            try:
                self._check()
                if time.monotonic() - last_recover > RECOVER_EVERY_S:  # runs of processes we did not start
                    last_recover = time.monotonic()
                    self._reclaim()
            except Exception:  # a passing store error must not end supervision
                log.exception("worker supervision failed once; retrying")

    def _check(self) -> None:
        beats = {w.id: w for w in self.queue.workers()}
        progress = self.store.progress_by_worker()
        memory_mb = settings().worker_memory_mb
        now = time.time()
        with self._lock:
            if self._closing.is_set():
                return
            for slot in self.slots:
                proc = slot.proc
                if proc is not None and proc.poll() is None:
                    row = beats.get(slot.worker_id)
                    slot.registered = slot.registered or row is not None
                    # A worker that has not registered yet is judged from its start; one whose row is gone
                    # removed it on its way out, and the next check buries it.
                    last = row.heartbeat if row is not None else (now if slot.registered else slot.started)
                    if now - last > self.hang_s:
                        log.error("worker %s (pid %d) sent no heartbeat for %.0f s: killing it",
                                  slot.worker_id, proc.pid, now - last)
                        proc.kill()
                        proc.wait()
                    else:
                        self._contain(slot, progress.get(slot.worker_id), memory_mb, now - last, now)
                if proc is not None and proc.poll() is not None:
                    self._bury(slot)
                if slot.proc is None and time.monotonic() >= slot.not_before:
                    self._spawn(slot)
            self._add_backends_on_demand()

    def _contain(self, slot: _Slot, progress: tuple[str, float] | None, memory_mb: int, beat_age: float,
                 now: float) -> None:
        """Kill a live worker over its memory or stuck in a run; its run fails with why (caller holds the lock).

        Stuck means its heartbeat is fresh (under half the timeout) but its run recorded nothing for the
        whole timeout: a worker that stopped altogether is left to the heartbeat check (interrupted)."""
        proc = slot.proc
        assert proc is not None
        rss = rss_mb(proc.pid)
        if rss is not None and rss > memory_mb:
            reason = f"out of memory (limit {memory_mb:,} MB): its worker used {rss:,} MB and was stopped"
        elif progress is not None and now - progress[1] > self.hang_s and beat_age < self.hang_s / 2:
            reason = (f"no training progress for {now - progress[1]:.0f} s (limit {self.hang_s:g} s): its worker "
                      f"was stopped")
        else:
            return
        log.error("worker %s (pid %d): %s", slot.worker_id, proc.pid, reason)
        proc.kill()
        proc.wait()
        ended = self.store.end_runs_of(slot.worker_id, reason)
        if ended:
            log.error("failed: %s", ", ".join(ended))

    def _bury(self, slot: _Slot) -> None:
        """A worker died: mark its run interrupted and schedule a replacement (caller holds the lock)."""
        code = slot.proc.returncode if slot.proc is not None else None
        lived = time.time() - slot.started
        log.warning("worker %s exited with %s after %.0f s", slot.worker_id, code, lived)
        slot.proc = None
        interrupted = self._reclaim()
        if interrupted:
            log.warning("interrupted by the worker's death: %s", ", ".join(interrupted))
        slot.crashes = slot.crashes + 1 if lived < 30 else 0
        slot.not_before = time.monotonic() + (min(60.0, 2.0 ** slot.crashes) if slot.crashes > 1 else 0.0)

    def _reclaim(self) -> list[str]:
        """Runs of dead processes become interrupted, and their worker rows go; returns those runs."""
        interrupted = self.store.recover()
        self.queue.forget_dead_workers()
        return interrupted

    def _add_backends_on_demand(self) -> None:
        """A queued run of a backend no worker serves gets a worker of its own (caller holds the lock)."""
        served = {s.backend for s in self.slots}
        for backend in sorted(self.queue.backends_waiting() - served):
            if backend in backends.available_backends():
                slot = _Slot(backend)
                self.slots.append(slot)
                self._spawn(slot)

    def _spawn(self, slot: _Slot) -> None:
        slot.worker_id, slot.registered = f"w-{secrets.token_hex(4)}", False
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, BNVIZ_HOME=str(self.store.home), KERAS_BACKEND=slot.backend,
                   PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
        cmd = [sys.executable, "-m", "bnviz", "worker", "--id", slot.worker_id, "--backend", slot.backend,
               "--parent", str(os.getpid()), "--max-jobs", str(self.n), *self.worker_args]
        with open(self.log_dir / f"worker-{slot.backend}.log", "ab") as out:
            # A session of its own: Ctrl-C in the dashboard's terminal reaches the server, which stops its
            # workers itself (or they see it gone), instead of every worker dying at once and being replaced.
            slot.proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        slot.started = time.time()
        if self.cpus:
            with contextlib.suppress(OSError):  # the worker may already be gone; the next check sees it
                os.sched_setaffinity(slot.proc.pid, self.cpus)
        log.info("started worker %s (pid %d, %s)", slot.worker_id, slot.proc.pid, slot.backend)
