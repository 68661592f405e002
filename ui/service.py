"""The process-wide job manager and run store, shared by every browser session.

Kept in `st.cache_resource`, so all sessions (a whole classroom) see one queue and one
store. Training threads never call `st.*`: they write into the store/manager, and pages
read snapshots from it.
"""

from __future__ import annotations

import importlib
import os

import streamlit as st

from bnviz.jobs import JobManager
from bnviz.store import RunStore, default_home


@st.cache_resource(show_spinner=False)
def _manager_for(home: str, trainer_path: str) -> JobManager:
    return JobManager(store=RunStore(home), trainer=_load_trainer(trainer_path))


def manager() -> JobManager:
    """The job manager for this server's BNVIZ_HOME (one per home, created once)."""
    return _manager_for(str(default_home()), os.environ.get("BNVIZ_TRAINER", ""))


def store() -> RunStore:
    return manager().store


def _load_trainer(path: str):
    """BNVIZ_TRAINER=module:function swaps the trainer (tests use a fast fake)."""
    if not path:
        return None
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
