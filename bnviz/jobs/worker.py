"""A training worker: takes queued runs from the store, one at a time, and trains them.

    python -m bnviz worker            # one worker for this BNVIZ_HOME, until Ctrl-C

The dashboard starts and supervises its own workers (bnviz/jobs/supervisor.py) with this same
loop. A worker imports Keras and its backend and trains a tiny model before it asks for
work, so the first real run starts warm. Everything it does goes through the store: it
claims runs there, writes every event there, reads cancel requests from there and beats
its heart there, so a web server, another worker or a restarted server sees the same truth.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator

from bnviz.config import ExperimentConfig
from bnviz.jobs.queue import RunQueue
from bnviz.jobs.recorded import TIME_LIMIT, Stop, Trainer, train_recorded
from bnviz.limits import time_limit_message
from bnviz.settings import DEFAULT_BACKEND, settings
from bnviz.store import RunNotFound, RunStore

log = logging.getLogger(__name__)


class Worker:
    """One worker loop. `trainer` replaces bnviz.train.training.train (tests pass a fast fake)."""

    def __init__(self, store: RunStore, *, backend: str = DEFAULT_BACKEND, worker_id: str | None = None,
                 trainer: Trainer | None = None, max_running: int | None = None, poll_s: float = 0.1,
                 heartbeat_s: float = 1.0, parent_pid: int | None = None, save_models: bool = True,
                 warm: bool = True) -> None:
        self.store, self.queue = store, RunQueue(store)
        self.backend = backend
        self.id = worker_id or f"w-{secrets.token_hex(4)}"
        self.trainer = trainer
        self.max_running = max_running
        self.poll_s, self.heartbeat_s = poll_s, heartbeat_s
        self.parent_pid = parent_pid
        self.save_models = save_models
        self.warm_up = warm and trainer is None
        self.closing = threading.Event()
        self.device: str | None = None
        self._run_id: str | None = None
        self._stop: Stop | None = None
        self._deadline, self._limit = 0.0, 0  # when the current run meets BNVIZ_MAX_RUN_SECONDS (monotonic), and N
        self._lock = threading.Lock()
        self.runs_done = 0

    # --- control ---------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop taking work; a run in progress ends as interrupted within a batch."""
        self.closing.set()
        with self._lock:
            if self._stop is not None:
                self._stop.request("shutdown")

    def serve(self, max_runs: int | None = None) -> int:
        """Take and train runs until shut down (or `max_runs` are done); returns how many ran."""
        self.queue.register(self.id, self.backend)
        with self._watching():
            if self.warm_up:
                self.device = warm_up(self.backend)
            while not self.closing.is_set() and (max_runs is None or self.runs_done < max_runs):
                claim = self.queue.claim(self.id, self.backend, self.max_running)
                if claim is None:
                    self._beat("idle")
                    self.closing.wait(self.poll_s)
                    continue
                self._train(claim.run_id, claim.config)
        return self.runs_done

    def serve_claimed(self, run_id: str) -> str | None:
        """Train one run that a dispatcher already claimed under this worker's id (a Ray task does).

        The run is taken over by this process first (its liveness token and heartbeats), so its
        death or silence marks the run interrupted as with any worker. Returns the run's status,
        or None when the run was no longer this worker's to train (cancelled, deleted, recovered)."""
        claim = self.queue.adopt(self.id, self.backend, run_id)
        if claim is None:
            log.info("worker %s: run %s is no longer waiting for it", self.id, run_id)
            return None
        with self._watching():
            return self._train(claim.run_id, claim.config)

    @contextlib.contextmanager
    def _watching(self) -> Iterator[None]:
        """Heartbeats and cancel checks in a thread while the body runs; the worker row goes after."""
        watcher = threading.Thread(target=self._watch, name=f"bnviz-{self.id}-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            self.closing.set()
            watcher.join(2 * self.heartbeat_s)
            try:
                self.queue.unregister(self.id)
            except Exception:  # the store may be gone with the server; the supervisor cleans up
                log.debug("could not unregister worker %s", self.id, exc_info=True)

    # --- one run -------------------------------------------------------------------------
    def _train(self, run_id: str, config: dict) -> str:
        stop = Stop()
        limit = settings().max_run_seconds
        with self._lock:
            self._run_id, self._stop = run_id, stop
            self._deadline, self._limit = time.monotonic() + limit, limit
            if self.closing.is_set():
                stop.request("shutdown")
        self._beat("busy")
        log.info("worker %s trains run %s", self.id, run_id)
        try:
            return train_recorded(self.store, run_id, ExperimentConfig.from_dict(config), stop=stop,
                                  save_model=self.save_models, trainer=self.trainer)
        finally:
            with self._lock:
                self._run_id, self._stop = None, None
            self.runs_done += 1
            self._beat("idle")

    # --- heartbeat, cancel requests, a dead parent ------------------------------------------
    def _beat(self, state: str) -> None:
        try:
            self.queue.heartbeat(self.id, state, self._run_id, self.device)
        except Exception:
            log.debug("heartbeat of %s failed", self.id, exc_info=True)

    def _watch(self) -> None:
        """Every 0.2 s: pass on a cancel request or stop a run at the time limit; every heartbeat_s: say we are
        alive. The run stops as if cancelled (every epoch kept), its summary saying why."""
        last_beat = 0.0
        while not self.closing.wait(0.2):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("worker %s: the server that started it is gone; stopping", self.id)
                self.shutdown()
                return
            with self._lock:
                run_id, stop = self._run_id, self._stop
            if run_id is not None and stop is not None and not stop.is_set() and time.monotonic() >= self._deadline:
                stop.request(TIME_LIMIT, time_limit_message(self._limit))
            if run_id is not None and stop is not None and not stop.is_set():
                try:
                    if self.queue.cancel_requested(run_id):
                        stop.request("cancel")
                except RunNotFound:
                    stop.request("deleted")
                except Exception:
                    log.debug("cancel check failed", exc_info=True)
            if time.monotonic() - last_beat >= self.heartbeat_s:
                last_beat = time.monotonic()
                self._beat("busy" if run_id else ("idle" if self.device or not self.warm_up else "starting"))


def warm_up(backend: str = DEFAULT_BACKEND) -> str:
    """Import Keras and its backend and train a tiny model once, so the first real run starts fast."""
    from bnviz.train import backends

    backends.activate(backend)
    from bnviz.train.training import train

    name = backends.configure(threads=settings().tf_threads or max(1, (os.cpu_count() or 2) - 1), backend=backend)
    tiny = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 32, "n_test": 16},
        "model": {"hidden": [4], "norm": {"placement": "after"}},
        "training": {"epochs": 1, "batch_size": 16, "backend": backend},
        "instrument": {"probe_size": 16},
    })
    started = time.perf_counter()
    train(tiny)
    log.info("warm after %.1f s on %s", time.perf_counter() - started, name)
    return name


def _trainer(name: str | None) -> Trainer | None:
    """`--trainer MODULE:FUNCTION`: a stand-in for bnviz's train, so tests can run real worker processes
    that misbehave (eat memory, stall) without TensorFlow."""
    if not name:
        return None
    import importlib

    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def main(args) -> int:
    """`python -m bnviz worker`: serve this BNVIZ_HOME's queue until SIGTERM/Ctrl-C."""
    import signal

    from bnviz.train import backends

    trainer = _trainer(args.trainer)
    backend = args.backend or backends.default_backend()
    if trainer is None:  # a stand-in trainer needs no Keras
        backend = backends.activate(backend)  # before keras is imported
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    store = RunStore()
    worker = Worker(store, backend=backend, worker_id=args.worker_id, parent_pid=args.parent,
                    max_running=args.max_jobs or settings().max_jobs, trainer=trainer)

    def stop(signum, frame) -> None:
        worker.shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"bnviz worker {worker.id}: {backend}, store {store.location}", flush=True)
    done = worker.serve(max_runs=args.runs)
    print(f"bnviz worker {worker.id}: stopped after {done} run(s)", flush=True)
    return 0
