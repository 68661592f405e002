"""The job API and run store of this server, shared by every browser session.

Kept in `st.cache_resource`, so all sessions (a whole classroom) share one store handle
and one snapshot cache. Nothing here trains: the job manager queues runs in the store and
the executor's worker processes train them (BNVIZ_EXECUTOR: `local` starts and supervises
BNVIZ_MAX_JOBS workers with this server; `ray` hands queued runs to a Ray cluster, RAY_ADDRESS
or a local Ray instance (bnviz/jobs/ray_executor.py); `none` leaves training to `python -m bnviz worker`).
"""

from __future__ import annotations

import atexit

import streamlit as st

from bnviz.jobs import JobManager
from bnviz.settings import settings
from bnviz.store import RunStore


def _executor_name() -> str:
    return settings().executor


@st.cache_resource(show_spinner=False)
def _manager_for(home: str, executor: str) -> JobManager:
    store = RunStore(home)
    workers = None
    if executor == "local":
        from bnviz.jobs.supervisor import LocalWorkers

        workers = LocalWorkers(store)
    elif executor == "ray":
        from bnviz.jobs.ray_executor import RayExecutor

        workers = RayExecutor(store)
    manager = JobManager(store, workers).start()
    atexit.register(manager.shutdown)
    return manager


def manager() -> JobManager:
    """The job manager for this server's BNVIZ_HOME (one per home, created once)."""
    return _manager_for(str(settings().home), _executor_name())


def store() -> RunStore:
    return manager().store
