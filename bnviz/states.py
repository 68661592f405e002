"""Run states: the one vocabulary of where a run is in its life.

A run is *queued*, then *running*, then ends in one of the finished states. Every module
(store, jobs, workers, pages, CLI) uses these names; they are also the `status` field of
the run record (docs/run-record.md), so they are strings.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"


STATES: tuple[RunState, ...] = tuple(RunState)
ACTIVE: frozenset[RunState] = frozenset({RunState.QUEUED, RunState.RUNNING})
FINISHED: frozenset[RunState] = frozenset(s for s in RunState if s not in ACTIVE)
# Finished runs whose numbers stand (a diverged run's divergence is its result), best first: the
# order in which the gallery and the reproduction report reuse runs.
RESULTS: tuple[RunState, ...] = (RunState.SUCCEEDED, RunState.DIVERGED)
SKIPPED = "skipped"  # not a run state: the status the reproduction report gives an arm it could not run
MISSING = "missing"  # not a run state: a gallery arm with no run (yet) on this server


def is_active(status: str | None) -> bool:
    return status in ACTIVE
