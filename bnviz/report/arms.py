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
from bnviz.report.plan import TRAIN, Plan, finished_run, make_plan
from bnviz.states import SKIPPED, RunState


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
        self.images_here: list[str] = []  # the downloadable image sets with a copy on this machine

    def find_images(self) -> list[str]:
        """Which downloadable image sets (MNIST, Fashion-MNIST, CIFAR-10) this machine has a copy of, in the
        data folder or Keras' cache; reads and downloads nothing. Kept in `images_here` for the report."""
        from bnviz.data import image_files
        from bnviz.data.downloads import IMAGE_SETS, data_dir
        from bnviz.data.source import DatasetError

        local, cache, here = data_dir(), image_files.keras_cache_dir(), []
        for name in IMAGE_SETS:
            try:
                if (local is not None and image_files.find_local(name, local)) or \
                        image_files.find_keras_cache(name, cache):
                    here.append(name)
            except DatasetError:  # a partial set: no copy to use
                pass
        self.images_here = here
        return here

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


def run_arms(experiments: Sequence[Experiment], *, fast: bool, seeds: int | None, store, fresh: bool = False,
             progress: Callable[[str], Any] = print,
             trainer: Callable[[Arm, str, Any], dict[str, Any]] | None = None,
             backend: str | None = None, plan: Plan | None = None) -> tuple[list[ArmResult], Datasets]:
    """Train (or reuse) every arm of `experiments`, one after the other; one progress line per arm.

    `seeds` None: each card's default; `backend` (resolved): every arm's training.backend (see make_plan)."""
    trainer = trainer or _train_recorded
    plan = plan or make_plan(experiments, fast=fast, seeds=seeds, backend=backend, store=store, fresh=fresh)
    datasets = Datasets()
    done: dict[str, tuple[dict[str, Any], str]] = {}
    results: list[ArmResult] = []
    trained_s: list[float] = []
    to_train = plan.count(TRAIN)
    n = len(plan.arms)
    for i, planned in enumerate(plan.arms, 1):
        exp, arm = planned.experiment, planned.arm
        head = f"[{i}/{n}] {exp.slug} · {arm.key}"
        started = time.perf_counter()
        fp = arm.config.fingerprint()
        if fp in done:
            record, first = done[fp]
            source = "skipped" if record.get("status") == SKIPPED else f"shared with {first}"
            words = f"skipped: {_error(record)}" if source == "skipped" else f"{source} (identical config)"
        elif (problem := datasets.problem(arm)) is not None:
            record = {"status": SKIPPED, "config": arm.config.to_dict(), "history": {}, "probes": [],
                      "summary": {"error": f"dataset unavailable — {problem}"}}
            source, words = "skipped", f"skipped: {_error(record)}"
        elif not fresh and (run_id := finished_run(store, fp)) is not None:
            record, source = store.get_record(run_id), "reused from the store"
            words = f"reused from the store (run {run_id})"
        else:
            progress(f"{head}: training on {arm.config.training.backend}...")
            if trained_s:
                _clear_keras()
            record = trainer(arm, f"reproduce · {exp.slug} · {arm.key}", store)
            trained_s.append(time.perf_counter() - started)
            source = "trained"
            left = max(to_train - len(trained_s), 0) * sum(trained_s) / len(trained_s)
            words = f"trained in {trained_s[-1]:.1f} s (ETA {left / 60:.1f} min)"
        if planned.action == TRAIN and source != "trained":
            to_train -= 1  # planned to train, but skipped (no dataset) or another card's twin
        if fp not in done:
            done[fp] = (record, exp.slug)
        seconds = time.perf_counter() - started
        results.append(ArmResult(exp.slug, arm, record, source, seconds))
        progress(f"{head}: {words}; {_outcome(record)}" if source != "skipped" else f"{head}: {words}")
    if datasets.failed:
        datasets.find_images()
    return results, datasets


def _error(record: dict[str, Any]) -> str:
    return str((record.get("summary") or {}).get("error") or "no reason given")


def _clear_keras() -> None:
    """Free the previous models' graphs so dozens of runs in one process stay fast."""
    with contextlib.suppress(Exception):
        import keras

        keras.utils.clear_session()


def _outcome(record: dict[str, Any]) -> str:
    status = record.get("status")
    acc = gallery.final_value(record)
    return f"{status}, test accuracy {acc:.3f}" if acc is not None else str(status)

