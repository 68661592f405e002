"""The run record: what a training run produced, assembled from the events it emits.

Training emits small events (start, batch, epoch, probe, end); `RunRecorder` folds them
into the JSON document described in docs/run-record.md, with the meaning each event has
everywhere (bnviz/events.py). The CLI, the store and the dashboard all read that format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bnviz import events
from bnviz.states import RunState

FORMAT = "bnviz.run/1"
# Where a run comes from: an ExperimentConfig (the dashboard's form, the CLI, the gallery), or a user's own
# script watched by `bnviz.watch` (its config only describes what the script did; it cannot be trained again).
ORIGIN_CONFIG = "config"
ORIGIN_SCRIPT = "script"
SCRIPT_OWNER = "script"  # the owner of runs recorded from a script: only an admin may change them


def origin_of(record_or_config: Mapping[str, Any] | None) -> str:
    """"script" for a run recorded by `bnviz.watch`, else "config" (from a record or from its config)."""
    data = record_or_config or {}
    if data.get("origin") in (ORIGIN_SCRIPT, ORIGIN_CONFIG):
        return data["origin"]
    config = data.get("config")
    return ORIGIN_SCRIPT if isinstance(config, Mapping) and config.get("origin") == ORIGIN_SCRIPT else ORIGIN_CONFIG


def is_script(record_or_config: Mapping[str, Any] | None) -> bool:
    return origin_of(record_or_config) == ORIGIN_SCRIPT


def empty_record(config: dict[str, Any], run_id: str | None = None,
                 status: str = RunState.QUEUED) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": run_id,
        "origin": origin_of(config),
        "status": status,
        "config": config,
        "history": {},
        "batches": [],
        "probes": [],
        "summary": None,
    }


class RunRecorder:
    """Folds training events into a run record. Not thread-safe: one writer."""

    def __init__(self, config: dict[str, Any], run_id: str | None = None) -> None:
        self.record = empty_record(config, run_id, status=RunState.RUNNING)

    def __call__(self, event: dict[str, Any]) -> None:
        events.apply(self.record, event)
