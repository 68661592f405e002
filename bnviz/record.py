"""The run record: what a training run produced, assembled from the events it emits.

Training emits small events (start, batch, epoch, probe, end); `RunRecorder` folds them
into the JSON document described in docs/run-record.md. The CLI, the store and the
dashboard all read that one format.
"""

from __future__ import annotations

import copy
from typing import Any

from bnviz.states import FINISHED, STATES  # noqa: F401  (re-exported for older imports)

FORMAT = "bnviz.run/1"


def empty_record(config: dict[str, Any], run_id: str | None = None, status: str = "queued") -> dict[str, Any]:
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
        self.record = empty_record(config, run_id, status="running")
        self.start: dict[str, Any] = {}
        self.progress: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        apply_event(self.record, event)
        if event["type"] == "start":
            self.start = event
        if "progress" in event:
            self.progress = event["progress"]


def apply_event(record: dict[str, Any], event: dict[str, Any]) -> None:
    """Update `record` in place with one event."""
    kind = event["type"]
    if kind == "start":
        record["status"] = "running"
        record["summary"] = {**(record.get("summary") or {}), "device": event["device"],
                             "params": event["params"], "layers": event["layers"]}
    elif kind == "batch":
        record["batches"].append({k: event[k] for k in ("epoch", "batch", "step", "loss", "accuracy")})
    elif kind == "epoch":
        for name, value in event["logs"].items():
            record["history"].setdefault(name, []).append(value)
    elif kind == "probe":
        record["probes"].append(event["probe"])
    elif kind == "end":
        record["status"] = event["status"]
        record["summary"] = {**(record.get("summary") or {}), **event["summary"]}


def snapshot(record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(record)
