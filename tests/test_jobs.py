"""The job API over the store, with workers in threads running the fake trainer (no TensorFlow).
Each test runs on SQLite and on PostgreSQL (the `database` fixture in tests/conftest.py).

What real worker processes add (pids, kills, hangs, restarts, real training) is in
tests/test_workers.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from bnviz.config import ExperimentConfig
from bnviz.errors import QueueFull, UserError
from bnviz.jobs import JobManager
from bnviz.jobs.worker import Worker
from bnviz.store import RunNotFound, RunStore
from tests.fake_events import FakeTrainer


def cfg(**updates) -> ExperimentConfig:
    base = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 64, "n_test": 32},
        "model": {"hidden": [8], "norm": {"placement": "before"}},
        "training": {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16, "epochs": 2},
        "instrument": {"probe_size": 32, "log_every": 1},
    })
    return base.with_updates(updates) if updates else base


@pytest.fixture
def store(database, tmp_path):
    s = RunStore(tmp_path / "home")
    yield s
    s.close()


@pytest.fixture
def workers(store):
    """Start in-thread workers on the test's store; all are shut down after the test."""
    started: list[tuple[Worker, threading.Thread]] = []

    def start(trainer, **kwargs) -> Worker:
        worker = Worker(store, trainer=trainer, poll_s=0.01, heartbeat_s=0.2, **kwargs)
        thread = threading.Thread(target=worker.serve, daemon=True)
        thread.start()
        started.append((worker, thread))
        return worker

    yield start
    for worker, thread in started:
        worker.shutdown()
        thread.join(30)


def test_a_submitted_run_waits_in_the_store_until_a_worker_takes_it(store, workers):
    manager = JobManager(store)
    run = manager.submit(cfg(), owner="ana", name="first")
    assert (run.state, run.position, run.reused) == ("queued", 1, False)
    time.sleep(0.2)
    assert store.status(run.run_id) == "queued"  # nobody trains in the web process
    fake = FakeTrainer()
    workers(fake)
    assert manager.wait(run.run_id, timeout=30) == "succeeded"
    snap = manager.snapshot(run.run_id)
    assert snap.epochs_completed == 2 and snap.probes_count == 3 and snap.name == "first"
    assert fake.calls == [run.run_id]


def test_runs_go_in_order_and_a_cancelled_queued_run_never_trains(store, workers):
    manager = JobManager(store)
    runs = [manager.submit(cfg(**{"training.seed": s}), owner="ana") for s in range(3)]
    assert [manager.queue_position(r.run_id) for r in runs] == [1, 2, 3]
    assert manager.cancel(runs[1].run_id) is True
    assert manager.cancel(runs[1].run_id) is False  # already finished
    assert manager.queue_position(runs[2].run_id) == 2
    fake = FakeTrainer()
    workers(fake)
    assert [manager.wait(r.run_id, timeout=30) for r in runs] == ["succeeded", "cancelled", "succeeded"]
    assert fake.calls == [runs[0].run_id, runs[2].run_id]
    never = store.get_record(runs[1].run_id)
    assert never["history"] == {} and never["probes"] == [] and never["batches"] == []


def test_cancel_of_a_running_run_stops_it_within_one_batch_and_keeps_its_history(store, workers):
    manager = JobManager(store)
    run = manager.submit(cfg(**{"training.epochs": 10_000}))
    workers(FakeTrainer(batch_delay=0.01))
    while manager.snapshot(run.run_id).epochs_completed < 2:
        time.sleep(0.01)
    assert manager.cancel(run.run_id)
    at_cancel = len(store.get_record(run.run_id)["batches"])
    assert manager.wait(run.run_id, timeout=30) == "cancelled"
    record = store.get_record(run.run_id)
    assert len(record["batches"]) <= at_cancel + 1  # the batch that saw the request, no more
    assert len(record["history"]["loss"]) >= 2 and record["summary"]["epochs_completed"] >= 2


def test_per_owner_queue_limit_says_how_many_wait_and_what_to_do(store):
    manager = JobManager(store, max_queued_per_owner=3)
    waiting = [manager.submit(cfg(**{"training.seed": s}), owner="ana") for s in (1, 2, 3)]
    with pytest.raises(QueueFull, match="You already have 3 runs waiting .*at most 3.* cancel one") as caught:
        manager.submit(cfg(**{"training.seed": 9}), owner="ana")
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)
    assert manager.submit(cfg(**{"training.seed": 10}), owner="bob").position == 2  # owners take turns
    assert manager.submit(cfg(**{"training.seed": 1}), owner="ana").reused  # identical: no new slot used
    manager.cancel(waiting[0].run_id)
    assert manager.submit(cfg(**{"training.seed": 9}), owner="ana").position == 4


def test_limits_come_from_the_environment_and_bad_values_say_what_is_allowed(store, monkeypatch):
    monkeypatch.setenv("BNVIZ_MAX_QUEUED_PER_OWNER", "2")
    assert JobManager(store).max_queued_per_owner == 2
    monkeypatch.setenv("BNVIZ_MAX_QUEUED_PER_OWNER", "lots")
    with pytest.raises(ValueError, match="BNVIZ_MAX_QUEUED_PER_OWNER must be a whole number"):
        JobManager(store)


def test_identical_work_is_offered_instead_of_repeated_unless_fresh(store, workers):
    manager = JobManager(store)
    first = manager.submit(cfg(), owner="ana")
    again = manager.submit(cfg(), owner="bob")  # same config while it waits
    assert again.reused and again.run_id == first.run_id and again.state == "queued"
    fake = FakeTrainer()
    workers(fake)
    manager.wait(first.run_id, timeout=30)
    later = manager.submit(cfg().to_dict(), owner="cy")  # dicts are accepted too
    assert (later.reused, later.run_id, later.state) == (True, first.run_id, "succeeded")
    fresh = manager.submit(cfg(), owner="cy", fresh=True)
    assert not fresh.reused and manager.wait(fresh.run_id, timeout=30) == "succeeded"
    assert fake.calls == [first.run_id, fresh.run_id]
    assert JobManager(RunStore(store.home)).submit(cfg()).reused  # another server finds it too


def test_a_crashing_trainer_fails_its_run_and_the_queue_goes_on(store, workers):
    manager = JobManager(store)
    bad = manager.submit(cfg())
    good = manager.submit(cfg(**{"training.seed": 1}))
    calls = []

    def trainer(config, **kwargs):
        calls.append(kwargs["run_id"])
        fake = FakeTrainer(fail="out of memory") if len(calls) == 1 else FakeTrainer()
        return fake(config, **kwargs)

    workers(trainer)
    assert manager.wait(bad.run_id, timeout=30) == "failed"
    assert "out of memory" in store.get_record(bad.run_id)["summary"]["error"]
    assert manager.wait(good.run_id, timeout=30) == "succeeded"


def test_a_worker_shutting_down_interrupts_its_run_and_leaves_the_queue_waiting(store, workers):
    manager = JobManager(store)
    running = manager.submit(cfg(**{"training.epochs": 10_000}))
    queued = manager.submit(cfg(**{"training.seed": 1}))
    worker = workers(FakeTrainer(batch_delay=0.01))
    while manager.snapshot(running.run_id).epochs_completed < 1:
        time.sleep(0.01)
    worker.shutdown()
    assert manager.wait(running.run_id, timeout=30) == "interrupted"
    summary = store.get_record(running.run_id)["summary"]
    assert summary["epochs_completed"] >= 1 and "server stopped" in summary["error"]
    assert store.status(queued.run_id) == "queued"  # the next worker takes it
    workers(FakeTrainer())
    assert manager.wait(queued.run_id, timeout=30) == "succeeded"


def test_max_running_caps_trainings_across_workers(store, workers):
    manager = JobManager(store)
    gate = threading.Event()
    runs = [manager.submit(cfg(**{"training.seed": s})) for s in range(2)]
    workers(FakeTrainer(gate=gate), max_running=1)
    workers(FakeTrainer(gate=gate), max_running=1)
    time.sleep(0.3)
    assert sorted(store.status(r.run_id) for r in runs) == ["queued", "running"]
    gate.set()
    assert [manager.wait(r.run_id, timeout=30) for r in runs] == ["succeeded", "succeeded"]


def test_readers_polling_a_live_run_never_see_a_torn_run(store, workers):
    manager = JobManager(store)
    run = manager.submit(cfg(**{"training.epochs": 6}))
    workers(FakeTrainer(batch_delay=0.005))
    failures: list[str] = []
    polls = [0]

    def reader() -> None:
        try:
            last = None
            own = JobManager(RunStore(store.home))  # each reader its own process, in effect
            while True:
                snap = own.snapshot(run.run_id)
                lengths = {len(v) for v in snap.history.values()}
                assert len(lengths) <= 1, f"history lists of different lengths: {lengths}"
                n = lengths.pop() if lengths else 0
                assert n == snap.epochs_completed
                assert snap.probes_count - n in (0, 1), (snap.probes_count, n)
                steps = [b["step"] for b in snap.batches]
                assert steps == sorted(set(steps))
                if last is not None:
                    assert snap.batches[: len(last.batches)] == last.batches
                    assert not (last.finished and not snap.finished)
                polls[0] += 1
                last = snap
                if snap.finished:
                    break
                time.sleep(0.002)
            assert snap.to_record()["batches"] == store.get_record(run.run_id)["batches"]
        except AssertionError as exc:  # pragma: no cover - reported below
            failures.append(str(exc))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[0]
    # every reader polled until it saw the run finished (how often depends on the machine's speed, so no count)
    assert store.status(run.run_id) == "succeeded" and polls[0] >= len(threads)


def test_finished_runs_follow_renames_and_deletes_in_every_reader(store, workers):
    writer = JobManager(store)
    run = writer.submit(cfg(**{"training.epochs": 3}), name="original")
    workers(FakeTrainer())
    writer.wait(run.run_id, timeout=30)
    reader = JobManager(RunStore(store.home))
    snap = reader.snapshot(run.run_id)
    assert snap.finished and snap.name == "original" and snap.epochs_completed == 3 and snap.probes_count == 4
    expected = store.get_record(run.run_id)
    del expected["updated"]
    assert snap.to_record() == expected
    assert reader.snapshot(run.run_id) == snap  # unchanged run: served from the cache
    store.rename(run.run_id, "renamed")
    assert reader.snapshot(run.run_id).name == "renamed"
    writer.delete(run.run_id)
    with pytest.raises(RunNotFound):
        reader.snapshot(run.run_id)


def test_deleting_a_running_run_stops_its_worker(store, workers):
    manager = JobManager(store)
    run = manager.submit(cfg(**{"training.epochs": 10_000}))
    fake = FakeTrainer(batch_delay=0.01)
    worker = workers(fake)
    while manager.snapshot(run.run_id).epochs_completed < 1:
        time.sleep(0.01)
    assert manager.delete(run.run_id)
    deadline = time.monotonic() + 30
    while worker.runs_done < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.runs_done == 1 and store.list_runs() == []
    with pytest.raises(RunNotFound):
        manager.snapshot(run.run_id)
