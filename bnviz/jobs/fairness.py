"""Which waiting run starts next: owners take turns, so one person's pile cannot hold up a class.

The rule, in one sentence: the next run is the oldest waiting run of the owner who was served
least recently; an owner who never had a run started counts as served longest ago, and owners
served equally long ago go in the order of their oldest waiting run. "Served" is the moment the
queue last started one of that owner's runs (the `queue_turns` table, written by the claim).

So an owner's k-th waiting run starts in round k: every owner's first run comes before anyone's
second, whoever queued first. A student who queues one run behind ten classmates' three each
waits for at most one run per classmate. `fair_order` is the whole queue in that order: the
claim takes its head and a run's queue position is its place in it, so both always agree.

A teacher may reorder the queue (the Runs page's class view): moving a run fixes the order of the
whole queue as it stands, one rank per waiting run (`runs.queue_rank`). Ranked runs start first, in
rank order; runs queued after that have no rank and follow them, owners in turn as above.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """One queued run, as the order needs it."""

    run_id: str
    owner: str
    created: float
    seq: int  # insertion order (the row id): runs queued in the same instant keep their order
    rank: float | None = None  # the place a teacher gave it (None: nobody moved it)


def fair_order(waiting: Iterable[Waiting], served: Mapping[str, float]) -> list[str]:
    """The run ids of `waiting` in the order the queue starts them (see the module docstring).

    `served` maps an owner to when one of their runs last started; missing owners were never served."""
    waiting = list(waiting)
    ranked = [w.run_id for w in sorted((w for w in waiting if w.rank is not None), key=lambda w: (w.rank, w.seq))]
    by_owner: dict[str, list[Waiting]] = {}
    for run in sorted((w for w in waiting if w.rank is None), key=lambda w: (w.created, w.seq)):
        by_owner.setdefault(run.owner, []).append(run)

    def turn(owner: str) -> tuple[float, float, int]:
        first = by_owner[owner][0]
        return served.get(owner, -math.inf), first.created, first.seq

    owners = sorted(by_owner, key=turn)
    rounds = max((len(runs) for runs in by_owner.values()), default=0)
    return ranked + [by_owner[o][k].run_id for k in range(rounds) for o in owners if k < len(by_owner[o])]
