"""The run record: what a training run produced, assembled from the events it emits.

Training emits small events (start, batch, epoch, probe, end); `RunRecorder` folds them
into the JSON document described in docs/run-record.md, with the meaning each event has
everywhere (bnviz/events.py). The CLI, the store and the dashboard all read that format.
"""

from __future__ import annotations

from typing import Any

from bnviz import events
from bnviz.states import RunState

FORMAT = "bnviz.run/1"


def empty_record(config: dict[str, Any], run_id: str | None = None,
                 status: str = RunState.QUEUED) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": run_id,
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
