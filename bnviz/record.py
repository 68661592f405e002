"""The run record: what a training run produced, assembled from the events it emits.

Training emits small events (start, batch, epoch, probe, end); `RunRecorder` folds them
into the JSON document described in docs/run-record.md, with the meaning each event has
everywhere (bnviz/events.py). The CLI, the store and the dashboard all read that format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
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


@dataclass(frozen=True)
class Divergence:
    """Where the loss became NaN/inf (`summary.diverged_at`); None where a record leaves it out."""

    epoch: int | None
    batch: int | None


@dataclass(frozen=True)
class RunSummary:
    """The record's `summary`, typed for readers: the fields the dashboard shows.

    The record keeps it as a dict (the wire format); a page reads `summary.final`, not
    `record["summary"]["final"]`. Every field is optional: a run that has not started has no
    summary, one that is training has only its device, and older records lack `backend`."""

    final: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    wall_time_s: float | None = None
    epochs_completed: int | None = None
    backend: str | None = None
    device: str | None = None
    error: str | None = None
    diverged_at: Divergence | None = None

    @classmethod
    def from_dict(cls, summary: Mapping[str, Any] | None) -> RunSummary:
        """Read a record's summary (None before the run started); unknown fields are ignored."""
        data = summary or {}
        at = data.get("diverged_at")
        return cls(
            final=MappingProxyType(dict(data.get("final") or {})),
            wall_time_s=data.get("wall_time_s"),
            epochs_completed=data.get("epochs_completed"),
            backend=data.get("backend"),
            device=data.get("device"),
            error=data.get("error"),
            diverged_at=Divergence(at.get("epoch"), at.get("batch")) if at else None,
        )


class RunRecorder:
    """Folds training events into a run record. Not thread-safe: one writer."""

    def __init__(self, config: dict[str, Any], run_id: str | None = None) -> None:
        self.record = empty_record(config, run_id, status=RunState.RUNNING)

    def __call__(self, event: dict[str, Any]) -> None:
        events.apply(self.record, event)
