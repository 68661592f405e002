"""Training events: what each kind of event does to a run, written once.

Training emits small events as it goes (start, batch, epoch, probe, end). The worker
writes them to the run store, the store keeps them as rows, and every reader folds the
rows back into a run record. Each of those steps uses the functions here, so an event
means the same thing everywhere (docs/run-record.md describes the resulting record).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from bnviz.states import STATES, RunState


class EventKind(StrEnum):
    START = "start"  # the model is built: device, parameter counts, layer table
    BATCH = "batch"  # a logged training batch: loss and accuracy so far in the epoch, and its own
    EPOCH = "epoch"  # an epoch ended: its logs (loss, accuracy, val_*)
    PROBE = "probe"  # activations, gradients and BN statistics on the fixed probe batch
    END = "end"  # training stopped: final status and summary


BATCH_FIELDS = ("epoch", "batch", "step", "loss", "accuracy")
OWN_BATCH_FIELDS = ("batch_loss", "batch_accuracy")  # added: the logged batches' own means (not in older events)


def batch_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a batch event a run keeps."""
    return {**{k: event[k] for k in BATCH_FIELDS}, **{k: event[k] for k in OWN_BATCH_FIELDS if k in event}}


def status_after(status: str, event: Mapping[str, Any]) -> str:
    """A run's status once `event` has happened."""
    kind = event["type"]
    if kind == EventKind.START:
        return RunState.RUNNING
    if kind == EventKind.END:
        if event["status"] not in STATES:
            raise ValueError(f"unknown run status {event['status']!r}; one of {', '.join(STATES)}")
        return event["status"]
    return status


def summary_after(summary: Mapping[str, Any] | None, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """A run's summary once `event` has happened (only start and end change it)."""
    kind = event["type"]
    if kind == EventKind.START:
        extra = {k: event[k] for k in ("device", "params", "layers")}
        extra.update({k: event[k] for k in ("backend",) if k in event})
        return {**(summary or {}), **extra}
    if kind == EventKind.END:
        return {**(summary or {}), **event["summary"]}
    return dict(summary) if summary is not None else None


def fold_epochs(history: dict[str, list[Any]], epoch_logs: list[Mapping[str, Any]] | tuple) -> None:
    """Append each epoch's logs to the per-metric history lists, in place."""
    for logs in epoch_logs:
        for name, value in logs.items():
            history.setdefault(name, []).append(value)


def apply(record: dict[str, Any], event: Mapping[str, Any]) -> None:
    """Update an in-memory run record with one event, in place."""
    kind = event["type"]
    record["status"] = status_after(record.get("status", RunState.QUEUED), event)
    if kind in (EventKind.START, EventKind.END):
        record["summary"] = summary_after(record.get("summary"), event)
    elif kind == EventKind.BATCH:
        record["batches"].append(batch_row(event))
    elif kind == EventKind.EPOCH:
        fold_epochs(record["history"], [event["logs"]])
    elif kind == EventKind.PROBE:
        record["probes"].append(event["probe"])
    else:
        raise ValueError(f"unknown event type {kind!r}; one of {', '.join(EventKind)}")
