"""Running the reproduction report's arms: train each one, or reuse an identical finished run.

Split from bnviz.report.reproduce so the training loop (store, datasets, Keras) reads apart from the
figures and the Markdown. Arms whose dataset cannot be loaded become skipped records, never
an exception.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bnviz import gallery
from bnviz.gallery import Arm, Experiment
from bnviz.states import RESULTS, SKIPPED, RunState


@dataclass
class ArmResult:
    experiment: str
    arm: Arm
    record: dict[str, Any]
    source: str  # trained | reused from the store | shared with another card | skipped
    seconds: float


def select(only: Sequence[str] | None) -> list[Experiment]:
    """The cards to run, in gallery order; unknown slugs raise UnknownExperiment (lists the slugs)."""
    if not only:
        return list(gallery.EXPERIMENTS.values())
    wanted = [gallery.get_experiment(slug).slug for slug in only]
    return [e for e in gallery.EXPERIMENTS.values() if e.slug in wanted]


class Datasets:
    """Which datasets load here (checked once per dataset config) and what they hold."""

    def __init__(self) -> None:
        self.errors: dict[str, str | None] = {}
        self.found: dict[str, str] = {}  # dataset name -> "8,000 training / 2,000 test examples"
        self.failed: dict[str, str] = {}  # dataset name -> error message

    def problem(self, arm: Arm) -> str | None:
        from bnviz.data import registry
        from bnviz.data.loading import DatasetError, load_dataset

        cfg = arm.config.dataset
        key = cfg.model_dump_json()
        if key not in self.errors:
            try:
                data = load_dataset(cfg)
            except DatasetError as exc:
                self.errors[key] = str(exc)
                self.failed.setdefault(cfg.name, str(exc))
            else:
                self.errors[key] = None
                if registry.get(cfg.name).downloadable and cfg.name not in self.found:  # its size is reported
                    if cfg.n_train is not None or cfg.n_test is not None:  # the whole set, for the report
                        data = load_dataset(cfg.model_copy(update={"n_train": None, "n_test": None}))
                    self.found[cfg.name] = f"{len(data.y_train):,} training / {len(data.y_test):,} test examples"
        return self.errors[key]


def _train_recorded(arm: Arm, name: str, store) -> dict[str, Any]:
    """Train with every event written to the store as it happens (the engine's one recorded path)."""
    from bnviz.jobs.recorded import CLI_OWNER, train_recorded

    run_id = store.create_run(arm.config, owner=CLI_OWNER, name=name, status=RunState.RUNNING)
    train_recorded(store, run_id, arm.config, save_model=False)
    return store.get_record(run_id)


def run_arms(experiments: Sequence[Experiment], *, fast: bool, seeds: int, store, fresh: bool = False,
             progress: Callable[[str], Any] = print,
             trainer: Callable[[Arm, str, Any], dict[str, Any]] | None = None) -> tuple[list[ArmResult], Datasets]:
    """Train (or reuse) every arm of `experiments`, one after the other."""
    trainer = trainer or _train_recorded
    plan = [(exp, arm) for exp in experiments for arm in exp.arms(fast and not exp.report_full, seeds)]
    datasets = Datasets()
    done: dict[str, tuple[dict[str, Any], str]] = {}
    results: list[ArmResult] = []
    trained_any = False
    for i, (exp, arm) in enumerate(plan, 1):
        started = time.perf_counter()
        fp = arm.config.fingerprint()
        if fp in done:
            record, first = done[fp]
            source = "skipped" if record.get("status") == SKIPPED else f"shared with {first}"
        elif (problem := datasets.problem(arm)) is not None:
            record = {"status": SKIPPED, "config": arm.config.to_dict(), "history": {}, "probes": [],
                      "summary": {"error": f"dataset unavailable — {problem}"}}
            source = "skipped"
        elif not fresh and (found := _reusable(store, fp)) is not None:
            record, source = found, "reused from the store"
        else:
            if trained_any:
                _clear_keras()
            record = trainer(arm, f"reproduce · {exp.slug} · {arm.key}", store)
            trained_any = True
            source = "trained"
        if fp not in done:
            done[fp] = (record, exp.slug)
        seconds = time.perf_counter() - started
        results.append(ArmResult(exp.slug, arm, record, source, seconds))
        progress(f"[{i}/{len(plan)}] {exp.slug} · {arm.key}: {_outcome(record)} ({source}, {seconds:.1f}s)")
    return results, datasets


def _reusable(store, fingerprint: str) -> dict[str, Any] | None:
    for status in RESULTS:
        run_id = store.find_by_fingerprint(fingerprint, status=status)
        if run_id:
            return store.get_record(run_id)
    return None


def _clear_keras() -> None:
    """Free the previous models' graphs so dozens of runs in one process stay fast."""
    with contextlib.suppress(Exception):
        import keras

        keras.utils.clear_session()


def _outcome(record: dict[str, Any]) -> str:
    status = record.get("status")
    acc = gallery.final_value(record)
    return f"{status}, test accuracy {acc:.3f}" if acc is not None else str(status)

