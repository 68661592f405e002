"""The process-wide job manager and run store, shared by every browser session.

Kept in `st.cache_resource`, so all sessions (a whole classroom) see one queue and one
store. Training threads never call `st.*`: they write into the store/manager, and pages
read snapshots from it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import streamlit as st

from bnviz.jobs import JobManager
from bnviz.store import RunStore, default_home


def _keep_keras_alive() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run.

    Streamlit does that to free memory in apps that build a model per run. Here models train
    in background threads for minutes: clearing the session (TensorFlow's kernel cache, a full
    gc.collect) after every live-chart refresh made training ~30x slower. Matplotlib cleanup
    is kept. If Streamlit renames this private hook, nothing is patched and training is slower.
    """
    from streamlit.runtime.scriptrunner import script_runner

    original = getattr(script_runner, "_clean_problem_modules", None)
    if original is None or getattr(original, "_bnviz", False):
        return

    def clean_without_keras() -> None:  # the matplotlib half of Streamlit's hook
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            with contextlib.suppress(Exception):
                pyplot.close("all")

    clean_without_keras._bnviz = True
    script_runner._clean_problem_modules = clean_without_keras


_keep_keras_alive()


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
