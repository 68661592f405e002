"""Training on a Ray cluster (BNVIZ_EXECUTOR=ray): the runs' store stays the only channel.

Each web server runs a dispatcher thread. It claims queued runs from the store with
RunQueue.claim (atomic: with several servers each run is taken once, and BNVIZ_MAX_JOBS caps
the trainings of all of them together) and hands each to Ray as a task that declares its
resources. The task, in a Ray worker process on any machine of the cluster, opens the same
store, takes the run over (Worker.serve_claimed: the same heartbeats and cancel checks as a
local worker) and trains it with train_recorded, writing every event straight to the store.
Cancel, queue limits, identical-run reuse and "interrupted" therefore work as with local workers.

Ray never retries a run (max_retries=0): a run whose Ray worker dies is marked interrupted
with every epoch it recorded, exactly like a local worker's. A retry would train the run again
from epoch 1 on top of the history it already has, and a run that killed its worker (out of
memory, a backend crash) would most likely kill the next one too.

Env: RAY_ADDRESS (Ray's own: the cluster to join; unset: this server starts a local Ray
instance), BNVIZ_RAY_CPUS_PER_JOB (CPUs a run asks for, default 1), BNVIZ_RAY_GPU_BACKENDS
(backends whose runs ask for a GPU, comma-separated, default none: e.g. `jax`),
BNVIZ_RAY_GPUS_PER_JOB (GPUs such a run asks for, default 1; 0.5 lets two runs share one).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from bnviz.errors import UserError
from bnviz.jobs.queue import RunQueue
from bnviz.settings import settings
from bnviz.states import RunState
from bnviz.store import INTERRUPTED, RunStore
from bnviz.train import backends

log = logging.getLogger(__name__)

RECOVER_EVERY_S = 2.0
PENDING_BEAT_S = 1.0


class RayMissing(UserError):
    """BNVIZ_EXECUTOR=ray on a machine without Ray."""


def require_ray():
    try:
        import ray
    except ImportError:
        raise RayMissing("BNVIZ_EXECUTOR=ray needs Ray, which is not installed here: pip install ray "
                         "(or set BNVIZ_EXECUTOR=local to train in local worker processes)") from None
    return ray


@dataclass(frozen=True)
class Resources:
    """What one run asks Ray for."""

    cpus: float = 1.0
    gpus: float = 0.0


def resources_for(backend: str) -> Resources:
    """A run asks for a GPU through its backend: one listed in BNVIZ_RAY_GPU_BACKENDS gets
    BNVIZ_RAY_GPUS_PER_JOB GPUs (default 1); every run gets BNVIZ_RAY_CPUS_PER_JOB CPUs."""
    config = settings()
    gpus = config.ray_gpus_per_job if backend in config.gpu_backends else 0.0
    return Resources(cpus=config.ray_cpus_per_job, gpus=gpus)


@dataclass
class _Job:
    run_id: str
    worker_id: str
    backend: str


class RayExecutor:
    """Claims this store's queued runs and trains each as a Ray task; started and stopped with
    the JobManager. `init` are ray.init arguments for a local instance (ignored when Ray is
    already initialized in this process, e.g. by a test)."""

    def __init__(self, store: RunStore, *, n: int | None = None, poll_s: float = 0.1, warm: bool = True,
                 init: dict[str, Any] | None = None) -> None:
        self.ray = require_ray()
        self.store, self.queue = store, RunQueue(store)
        self.n = n or settings().max_jobs
        self.poll_s = poll_s
        self.warm = warm
        self.init_args = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False,
                          **(init or {})}
        self.backend = backends.default_backend()
        self.jobs: dict[Any, _Job] = {}  # ObjectRef -> the run its task trains
        self._started_ray = False
        self._closing, self._ready = threading.Event(), threading.Event()
        self._failed: BaseException | None = None
        self._stop_timeout = 15.0
        self._thread: threading.Thread | None = None
        self._task = self._warm_task = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> RayExecutor:
        """Connect to Ray (or start a local instance) and start dispatching; raises what went wrong."""
        self._thread = threading.Thread(target=self._serve, name="bnviz-ray-dispatcher", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            raise self._failed
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop dispatching; runs in progress end as interrupted (the task's SIGINT handler)."""
        self._stop_timeout = timeout
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout + 15)
        self.store.recover()
        self.queue.forget_dead_workers()

    def running(self) -> list[str]:
        """Runs this server's tasks are training (or waiting for Ray to start)."""
        return [job.run_id for job in list(self.jobs.values())]

    def _serve(self) -> None:
        """The dispatcher thread owns Ray from ray.init to ray.shutdown: a local instance's processes
        die with the thread that started them (Ray ties them to it), and a Streamlit script thread
        ends after every page run."""
        try:
            self._connect()
        except BaseException as exc:
            self._failed = exc
            return
        finally:
            self._ready.set()
        try:
            self._dispatch()
        finally:
            self._wind_down()

    def _connect(self) -> None:
        ray = self.ray
        if not ray.is_initialized():  # RAY_ADDRESS, if set, is read by ray.init itself
            joining = bool(os.environ.get("RAY_ADDRESS", "").strip())
            ray.init(**({"logging_level": logging.WARNING} if joining else self.init_args))
            self._started_ray = True
        self._task = ray.remote(max_retries=0)(train_claimed)
        self._warm_task = ray.remote(max_retries=0)(warm_process)
        self.store.recover()
        self.queue.forget_dead_workers()
        if self.warm:  # Ray keeps its worker processes: the first real run starts with Keras imported
            cpus = max(1.0, resources_for(self.backend).cpus)
            for _ in range(min(self.n, max(1, int(ray.cluster_resources().get("CPU", 1) // cpus)))):
                self._options(self._warm_task, self.backend).remote(self.backend)
        log.info("Ray executor: %s, up to %d run(s) at once", ray.get_runtime_context().gcs_address, self.n)

    def _wind_down(self) -> None:
        refs = list(self.jobs)
        try:
            for ref in refs:  # a running task gets KeyboardInterrupt (SIGINT): it ends its run within a batch
                self.ray.cancel(ref)
            if refs:
                self.ray.wait(refs, num_returns=len(refs), timeout=self._stop_timeout)
                for ref in refs:
                    self.ray.cancel(ref, force=True)
                self._reap(wait_s=2.0)
        except Exception:
            log.exception("stopping the Ray tasks failed; their runs are recovered as interrupted")
        finally:
            if self._started_ray:
                self.ray.shutdown()

    # --- the dispatcher ---------------------------------------------------------------------
    def _dispatch(self) -> None:
        last_recover = last_beat = time.monotonic()
        while not self._closing.wait(self.poll_s):
            try:
                self._reap()
                if time.monotonic() - last_beat > PENDING_BEAT_S:
                    last_beat = time.monotonic()
                    self.queue.keep_pending([job.worker_id for job in self.jobs.values()])
                self._claim()
                if time.monotonic() - last_recover > RECOVER_EVERY_S:
                    last_recover = time.monotonic()
                    self.store.recover()
                    self.queue.forget_dead_workers()
            except Exception:  # a passing store or Ray error must not end dispatching
                log.exception("Ray dispatching failed once; retrying")

    def _claim(self) -> None:
        if len(self.jobs) >= self.n:
            return
        for backend in sorted(self.queue.backends_waiting()):
            while len(self.jobs) < self.n and not self._closing.is_set():
                worker_id = f"ray-{secrets.token_hex(4)}"
                claim = self.queue.claim(worker_id, backend, self.n)
                if claim is None:
                    break
                self.queue.heartbeat(worker_id, "starting", claim.run_id)  # kept alive until the task takes over
                try:
                    ref = self._options(self._task, backend).remote(
                        self.store.url_for_others, str(self.store.home), claim.run_id, worker_id, backend)
                except Exception as exc:
                    self.queue.end_orphan(claim.run_id, worker_id, RunState.FAILED, f"Ray refused the run: {exc}")
                    raise
                self.jobs[ref] = _Job(claim.run_id, worker_id, backend)
                log.info("run %s went to Ray as %s", claim.run_id, worker_id)

    def _options(self, remote, backend: str):
        need = resources_for(backend)
        # one pool of Ray worker processes per backend: a process runs Keras on one backend only
        return remote.options(num_cpus=need.cpus, num_gpus=need.gpus,
                              runtime_env={"env_vars": {"KERAS_BACKEND": backend}})

    def _reap(self, wait_s: float = 0.0) -> None:
        """Finished tasks: a task that crashed or failed leaves its run interrupted or failed."""
        if not self.jobs:
            return
        refs = list(self.jobs)
        done, _ = self.ray.wait(refs, num_returns=len(refs), timeout=wait_s)
        for ref in done:
            job = self.jobs.pop(ref)
            try:
                self.ray.get(ref)
                self.queue.unregister(job.worker_id)  # gone already, unless the run was deleted before it started
                continue
            except self.ray.exceptions.RayTaskError as exc:  # the task raised: a bug, or bnviz missing there
                status, error = RunState.FAILED, f"the Ray task failed: {type(exc.cause).__name__}: {exc.cause}"
            except Exception as exc:  # the worker process or its node died, or it was cancelled
                status, error = RunState.INTERRUPTED, INTERRUPTED
                log.warning("run %s: its Ray worker is gone (%s)", job.run_id, type(exc).__name__)
            if self.queue.end_orphan(job.run_id, job.worker_id, status, error):
                log.warning("run %s ended %s: %s", job.run_id, status, error)


# --- inside a Ray worker process ----------------------------------------------------------------

_stores: dict[tuple[str, str], RunStore] = {}
_devices: dict[str, str] = {}


def warm_process(backend: str) -> str:
    """Import Keras and train a tiny model once in this Ray worker process; returns its device."""
    if backend not in _devices:
        from bnviz.jobs.worker import warm_up

        backends.activate(backend)
        _devices[backend] = warm_up(backend)
    return _devices[backend]


def train_claimed(database_url: str, home: str, run_id: str, worker_id: str, backend: str) -> str | None:
    """A Ray task: train one run the dispatcher claimed for `worker_id`; returns its status.

    `database_url` comes without its password (Ray keeps task arguments): this node adds its own
    (store_db.with_local_password). ray.cancel (a server shutting down) arrives as SIGINT: the
    run then ends as interrupted within a batch, like a local worker's on SIGTERM."""
    from bnviz.jobs.worker import Worker
    from bnviz.store.db import with_local_password

    warm_process(backend)
    key = (database_url, home)
    if key not in _stores:
        _stores[key] = RunStore(home, database_url=with_local_password(database_url), recover=False)
    worker = Worker(_stores[key], backend=backend, worker_id=worker_id, warm=False)
    worker.device = _devices[backend]
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: worker.shutdown()) if in_main else None
    try:
        return worker.serve_claimed(run_id)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
