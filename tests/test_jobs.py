"""The job manager: order, cancel, divergence, fairness, reuse, and readers that never see a torn run.

Tests marked "real" train with TensorFlow on 64 circles; the others use FakeTrainer.
"""

from __future__ import annotations

import threading
import time

import pytest

from bnviz.config import ExperimentConfig
from bnviz.jobs import JobManager, QueueFull
from bnviz.store import RunNotFound, RunStore
from tests.fake_events import FakeTrainer

EXTRA = ("name", "notes", "owner", "created", "updated")


def cfg(**updates) -> ExperimentConfig:
    base = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 64, "n_test": 32},
        "model": {"hidden": [8], "norm": {"placement": "before"}},
        "training": {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16, "epochs": 2},
        "instrument": {"probe_size": 32, "log_every": 1},
    })
    return base.with_updates(updates) if updates else base


def real_train(config, **kwargs):
    from bnviz.training import train

    return train(config, **kwargs)


@pytest.fixture
def managers():
    """Managers made by a test are shut down after it, even when it fails."""
    made: list[JobManager] = []

    def make(**kwargs) -> JobManager:
        manager = JobManager(**kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown(timeout=30)


def _record(manager: JobManager, run_id: str) -> dict:
    return {k: v for k, v in manager.store.get_record(run_id).items() if k not in EXTRA}


# --- real training -----------------------------------------------------------------------

def test_real_jobs_run_in_order_and_a_cancelled_queued_job_never_runs(managers):
    gate = threading.Event()
    started: list[str] = []

    def trainer(config, **kwargs):
        started.append(kwargs["run_id"])
        gate.wait(60)  # hold the first job so the others are certainly queued
        return real_train(config, **kwargs)

    manager = managers(trainer=trainer, max_jobs=1)
    a, b, c, d = (manager.submit(cfg(**{"training.seed": s}), owner="ana", name=f"run {s}") for s in range(4))
    assert (a.state, a.position) == ("running", None)
    assert [manager.queue_position(r.run_id) for r in (b, c, d)] == [1, 2, 3]
    assert b.position == 1 and not b.reused

    assert manager.cancel(c.run_id) is True
    assert manager.cancel(c.run_id) is False
    assert manager.job(c.run_id).state == "cancelled"
    assert manager.queue_position(d.run_id) == 2
    gate.set()

    infos = [manager.wait(r.run_id, timeout=120) for r in (a, b, d)]
    assert [i.state for i in infos] == ["succeeded"] * 3
    assert started == [a.run_id, b.run_id, d.run_id]
    assert infos[0].finished <= infos[1].started and infos[1].finished <= infos[2].started
    assert infos[0].device == "CPU" and infos[0].progress["fraction"] == 1.0
    assert infos[0].progress["samples_per_s"] > 0

    never = manager.store.get_record(c.run_id)
    assert never["status"] == "cancelled" and never["history"] == {} and never["probes"] == []
    done = manager.store.get_record(a.run_id)
    assert len(done["history"]["loss"]) == 2 and len(done["probes"]) == 3
    assert done["summary"]["final"]["test_accuracy"] is not None
    assert manager.store.model_path(a.run_id).stat().st_size > 0
    assert manager.snapshot(a.run_id).to_record()["history"] == done["history"]


def test_real_running_job_cancelled_stops_within_one_batch_and_keeps_its_history(managers):
    def trainer(config, *, sink, **kwargs):
        def spy(event):
            sink(event)
            if event["type"] == "batch" and (event["epoch"], event["batch"]) == (2, 2):
                manager.cancel(kwargs["run_id"])  # as if a user clicked while batch 2 trained
        return real_train(config, sink=spy, **kwargs)

    manager = managers(trainer=trainer)
    run = manager.submit(cfg(**{"training.epochs": 50}))
    assert manager.wait(run.run_id, timeout=120).state == "cancelled"
    record = _record(manager, run.run_id)
    assert record["status"] == "cancelled"
    assert (record["batches"][-1]["epoch"], record["batches"][-1]["batch"]) == (2, 2)  # nothing after it
    assert len(record["history"]["loss"]) == 1 and len(record["probes"]) == 2
    assert record["summary"]["epochs_completed"] == 1
    assert manager.snapshot(run.run_id).to_record()["batches"] == record["batches"]


def test_real_running_job_cancelled_from_another_thread(managers):
    manager = managers()
    run = manager.submit(cfg(**{"training.epochs": 400}))
    deadline = threading.Event()
    while manager.snapshot(run.run_id).epochs_completed < 1:
        assert manager.job(run.run_id).state in ("queued", "running")
        deadline.wait(0.02)
    assert manager.cancel(run.run_id)
    info = manager.wait(run.run_id, timeout=120)
    record = _record(manager, run.run_id)
    epochs = len(record["history"]["loss"])
    assert info.state == record["status"] == "cancelled"
    assert 1 <= epochs < 400 and record["summary"]["epochs_completed"] == epochs
    assert len(record["probes"]) == epochs + 1  # the probe after the last full epoch is kept


def test_real_diverging_run_is_marked_diverged(managers):
    manager = managers()
    config = cfg(**{"model.hidden": [32, 32, 32], "model.norm.placement": "none", "model.weight_scale": 100.0,
                    "training.optimizer": "sgd", "training.learning_rate": 100.0, "training.epochs": 5})
    run = manager.submit(config)
    assert manager.wait(run.run_id, timeout=120).state == "diverged"
    summary = manager.store.get_record(run.run_id)["summary"]
    assert summary["diverged_at"]["epoch"] >= 1 and summary["epochs_completed"] < 5


def test_real_readers_polling_a_live_job_never_see_a_torn_run(managers):
    manager = managers()
    run = manager.submit(cfg(**{"training.epochs": 4}))
    failures: list[str] = []
    polls = [0]

    def reader() -> None:
        try:
            last, cursor = None, None
            got_batches, got_probes, got_history = [], [], {}
            while True:
                snap = manager.snapshot(run.run_id)
                lengths = {len(v) for v in snap.history.values()}
                assert len(lengths) <= 1, f"history lists of different lengths: {lengths}"
                n = lengths.pop() if lengths else 0
                assert n == snap.epochs_completed
                assert snap.probes_count - n in (0, 1), (snap.probes_count, n)
                assert [p["epoch"] for p in snap.probes] == list(range(snap.probes_count))
                steps = [b["step"] for b in snap.batches]
                assert steps == sorted(set(steps))
                if last is not None:
                    assert n >= last.epochs_completed and len(snap.batches) >= len(last.batches)
                    assert snap.batches[: len(last.batches)] == last.batches
                    assert not (last.finished and not snap.finished)
                if snap.status == "succeeded":
                    assert snap.probes_count == n + 1 == 5
                changes, cursor = manager.changes(run.run_id, cursor)
                got_batches += changes.batches
                got_probes += changes.probes
                for k, v in changes.history.items():
                    got_history.setdefault(k, []).extend(v)
                polls[0] += 1
                last = snap
                time.sleep(0.002)
                if snap.finished and changes.finished:
                    break
            record = manager.store.get_record(run.run_id)
            assert got_batches == record["batches"] and got_probes == record["probes"]
            assert got_history == record["history"]
        except AssertionError as exc:  # pragma: no cover - reported below
            failures.append(str(exc))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[0]
    assert manager.job(run.run_id).state == "succeeded" and polls[0] > 8


# --- fairness, reuse, failures (fake trainer) -------------------------------------------------

def test_per_owner_queue_limit_says_what_to_do(managers):
    gate = threading.Event()
    manager = managers(trainer=FakeTrainer(gate=gate), max_jobs=1, max_queued_per_owner=3)
    manager.submit(cfg(**{"training.seed": 0}), owner="ana")
    waiting = [manager.submit(cfg(**{"training.seed": s}), owner="ana") for s in (1, 2, 3)]
    assert [w.position for w in waiting] == [1, 2, 3]
    message = "^You already have 3 runs waiting; wait for one to start or cancel one$"
    with pytest.raises(QueueFull, match=message):
        manager.submit(cfg(**{"training.seed": 9}), owner="ana")
    assert manager.submit(cfg(**{"training.seed": 10}), owner="bob").position == 4
    assert manager.submit(cfg(**{"training.seed": 1}), owner="ana").reused  # identical: no new slot used
    manager.cancel(waiting[0].run_id)
    assert manager.submit(cfg(**{"training.seed": 9}), owner="ana").position == 4
    gate.set()


def test_limits_and_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BNVIZ_MAX_JOBS", "3")
    monkeypatch.setenv("BNVIZ_MAX_QUEUED_PER_OWNER", "2")
    monkeypatch.setenv("BNVIZ_TF_THREADS", "5")
    manager = JobManager(trainer=FakeTrainer())
    assert (manager.max_jobs, manager.max_queued_per_owner, manager.tf_threads) == (3, 2, 5)
    monkeypatch.setenv("BNVIZ_MAX_JOBS", "lots")
    with pytest.raises(ValueError, match="BNVIZ_MAX_JOBS"):
        JobManager(trainer=FakeTrainer())


def test_identical_work_is_offered_instead_of_repeated_unless_fresh(managers):
    gate = threading.Event()
    fake = FakeTrainer(gate=gate)
    manager = managers(trainer=fake, max_jobs=1)
    first = manager.submit(cfg(), owner="ana")
    again = manager.submit(cfg(), owner="bob")  # same config while it runs
    assert again.reused and again.run_id == first.run_id and again.state == "running"
    gate.set()
    manager.wait(first.run_id, timeout=30)
    later = manager.submit(cfg().to_dict(), owner="cy")  # dicts are accepted too
    assert (later.reused, later.run_id, later.state) == (True, first.run_id, "succeeded")
    fresh = manager.submit(cfg(), owner="cy", fresh=True)
    assert not fresh.reused and fresh.run_id != first.run_id
    assert manager.wait(fresh.run_id, timeout=30).state == "succeeded"
    assert fake.calls == [first.run_id, fresh.run_id]
    # another manager (a restarted server) finds the finished run in the store
    assert JobManager(store=manager.store, trainer=fake).submit(cfg()).reused


def test_a_crashing_trainer_fails_its_job_and_the_queue_goes_on(managers):
    manager = managers(trainer=FakeTrainer(fail="out of memory"), max_jobs=1)
    bad = manager.submit(cfg())
    info = manager.wait(bad.run_id, timeout=30)
    assert info.state == "failed" and "out of memory" in info.error
    record = manager.store.get_record(bad.run_id)
    assert record["status"] == "failed" and "out of memory" in record["summary"]["error"]
    manager._trainer = FakeTrainer()
    assert manager.wait(manager.submit(cfg(**{"training.seed": 1})).run_id, timeout=30).state == "succeeded"


def test_shutdown_interrupts_running_and_queued_jobs(managers):
    manager = managers(trainer=FakeTrainer(batch_delay=0.01), max_jobs=1)
    running = manager.submit(cfg(**{"training.epochs": 10_000}))
    queued = manager.submit(cfg(**{"training.seed": 1}))
    while manager.snapshot(running.run_id).epochs_completed < 1:
        threading.Event().wait(0.01)
    manager.shutdown(timeout=30)
    assert manager.job(running.run_id).state == "interrupted"
    assert manager.store.status(running.run_id) == manager.store.status(queued.run_id) == "interrupted"
    assert manager.store.get_record(running.run_id)["summary"]["epochs_completed"] >= 1
    with pytest.raises(RuntimeError, match="shutting down"):
        manager.submit(cfg(**{"training.seed": 2}))


def test_finished_runs_are_read_from_the_store_and_follow_renames_and_deletes(managers):
    writer = managers(trainer=FakeTrainer())
    run = writer.submit(cfg(**{"training.epochs": 3}), name="original")
    writer.wait(run.run_id, timeout=30)
    reader = managers(store=RunStore(writer.store.home), trainer=FakeTrainer())  # e.g. another process
    snap = reader.snapshot(run.run_id)
    assert snap.finished and snap.name == "original" and snap.epochs_completed == 3 and snap.probes_count == 4
    expected = writer.store.get_record(run.run_id)
    del expected["updated"]
    assert snap.to_record() == expected
    assert reader.snapshot(run.run_id) == snap  # unchanged run: served from the cache
    changes, cursor = reader.changes(run.run_id, (0, 2, 1))
    assert changes.history["loss"] == snap.history["loss"][2:] and len(changes.probes) == 3
    assert reader.changes(run.run_id, cursor)[0].empty
    writer.store.rename(run.run_id, "renamed")
    assert reader.snapshot(run.run_id).name == "renamed"
    writer.store.delete(run.run_id)
    with pytest.raises(RunNotFound):
        reader.snapshot(run.run_id)


def test_deleting_a_running_job_stops_it(managers):
    manager = managers(trainer=FakeTrainer(batch_delay=0.01))
    run = manager.submit(cfg(**{"training.epochs": 10_000}))
    while manager.snapshot(run.run_id).epochs_completed < 1:
        threading.Event().wait(0.01)
    assert manager.delete(run.run_id)
    assert manager.wait(run.run_id, timeout=30).state in ("cancelled", "failed")
    assert manager.store.list_runs() == []
    with pytest.raises(RunNotFound):
        manager.snapshot(run.run_id)
