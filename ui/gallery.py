"""Gallery cards and their runs: which arm has which run, and launching the missing ones."""

from __future__ import annotations

from dataclasses import dataclass

from bnviz.data.downloads import unavailable
from bnviz.gallery import Arm, Experiment
from bnviz.states import MISSING, RunState
from ui.dataset_fields import dataset_title
from ui.service import manager

# A finished result answers its arm (training is deterministic: it would end the same way); failing
# that, a run still training or waiting. In this order.
PREFERENCE = (RunState.SUCCEEDED, RunState.DIVERGED, RunState.RUNNING, RunState.QUEUED)


@dataclass(frozen=True)
class ArmRun:
    arm: Arm
    run_id: str | None
    status: str  # a run state, or MISSING
    failed: str | None = None  # MISSING arms: why the newest run of this config failed, if one did


def find_runs(experiment: Experiment, fast: bool, seeds: int) -> list[ArmRun]:
    """The newest run of each arm's exact config, preferring finished results."""
    store = manager().store
    found = []
    for arm in experiment.arms(fast, seeds):
        fingerprint = arm.config.fingerprint()
        match = None
        for status in PREFERENCE:
            run_id = store.find_by_fingerprint(fingerprint, status=status)
            if run_id:
                match = ArmRun(arm, run_id, status)
                break
        found.append(match or ArmRun(arm, None, MISSING, _failure(fingerprint)))
    return found


def _failure(fingerprint: str) -> str | None:
    """Why the newest failed run of this config failed (None if none did)."""
    run_id = manager().store.find_by_fingerprint(fingerprint, status=RunState.FAILED)
    if not run_id:
        return None
    summary = manager().snapshot(run_id).summary or {}
    return str(summary.get("error") or "it failed without saying why")


def missing_data(experiment: Experiment, fast: bool, seeds: int = 1) -> list[tuple[str, str]]:
    """(dataset title, details) of each dataset the card's arms need and this server has no copy of."""
    names = dict.fromkeys(arm.config.dataset.name for arm in experiment.arms(fast, seeds))
    found = ((name, unavailable(name)) for name in names)
    return [(dataset_title(name), detail) for name, detail in found if detail]


def launch(experiment: Experiment, runs: list[ArmRun], *, signed_in: bool = False,
           teacher: bool = False) -> list[str]:
    """Queue every arm that has no run yet (identical finished runs are reused).

    The arms are the server's own configs, so they go past the per-run limits; who may train
    (BNVIZ_WHO_MAY_TRAIN) still applies to whoever clicks."""
    missing = [r for r in runs if r.status == MISSING]
    ids = []
    for r in missing:
        result = manager().submit(r.arm.config, owner=f"gallery:{experiment.slug}", queue_limit=len(runs) + 1,
                                  name=f"{r.arm.key} · {experiment.title}",  # the arm first: titles are long
                                  notes=f"gallery card {experiment.slug}",  # notes are public: no one's id
                                  lift_limits=True, signed_in=signed_in, teacher=teacher)
        ids.append(result.run_id)
    return ids


def records_by_arm(runs: list[ArmRun]) -> dict[str, list[dict]]:
    """label -> records of its seeds, for the experiment's summary, verdict and figures."""
    out: dict[str, list[dict]] = {}
    for r in runs:
        out.setdefault(r.arm.label, [])
        if r.run_id is not None:
            out[r.arm.label].append(manager().snapshot(r.run_id).to_record())
    return out
