"""Workers stay contained (issue 20): a worker over BNVIZ_WORKER_MEMORY_MB, or stuck in a run that
records nothing for BNVIZ_WORKER_TIMEOUT_S while its heartbeat still beats, is killed alone; its run
fails with the reason and the limit, and a fresh worker takes the next run.

Real worker processes (`python -m bnviz worker`) supervised by `LocalWorkers`, training with
`tests.fake_trainer.misbehaving` instead of TensorFlow (no warm-up, so they start in a second).
"""

from __future__ import annotations

import pytest

from bnviz.jobs import JobManager
from bnviz.jobs.supervisor import LocalWorkers, rss_mb
from bnviz.store import RunStore
from tests.fake_trainer import EAT_MEMORY_SEED, STALL_SEED
from tests.waiting import stored_row

HANG_S = 8  # the supervisor's timeout here (BNVIZ_WORKER_TIMEOUT_S)
MEMORY_MB = 300  # a fake worker (Python, numpy, the store) holds about half of it


@pytest.fixture
def workers(monkeypatch):
    monkeypatch.setenv("BNVIZ_WORKER_MEMORY_MB", str(MEMORY_MB))
    store = RunStore()
    supervisor = LocalWorkers(store, n=1, hang_s=HANG_S, check_s=0.2,
                              worker_args=("--trainer", "tests.fake_trainer:misbehaving")).start()
    yield JobManager(store), supervisor
    supervisor.stop()
    store.close()


def _runs(manager: JobManager, tiny, bad_seed: int):
    bad = manager.submit(tiny(**{"training.seed": bad_seed}), fresh=True)
    good = manager.submit(tiny(**{"training.seed": 5}), fresh=True)
    return bad.run_id, good.run_id


def test_a_worker_over_its_memory_dies_alone_its_run_fails_and_a_fresh_worker_goes_on(workers, tiny) -> None:
    manager, supervisor = workers
    greedy, nxt = _runs(manager, tiny, EAT_MEMORY_SEED)
    assert manager.wait(greedy, timeout=120) == "failed"
    record = manager.store.get_record(greedy)
    error = record["summary"]["error"]
    assert error.startswith(f"out of memory (limit {MEMORY_MB} MB): its worker used ") and "was stopped" in error
    used = int(error.split("used ")[1].split(" MB")[0].replace(",", ""))
    print(f"\n{error}")
    assert MEMORY_MB < used < 2048
    assert manager.wait(nxt, timeout=120) == "succeeded"
    assert stored_row(manager.store, nxt, "pid")[0] != stored_row(manager.store, greedy, "pid")[0]
    assert [rss_mb(pid) < MEMORY_MB for pid in supervisor.pids()] == [True]  # the fresh one, within its limit


def test_a_run_that_records_nothing_is_stopped_though_its_heartbeat_beats(workers, tiny) -> None:
    manager, _ = workers
    stuck, nxt = _runs(manager, tiny, STALL_SEED)
    assert manager.wait(stuck, timeout=120) == "failed"
    error = manager.store.get_record(stuck)["summary"]["error"]
    assert error.startswith("no training progress for ") and f"s (limit {HANG_S} s): its worker was stopped" in error
    assert manager.wait(nxt, timeout=120) == "succeeded"
    assert stored_row(manager.store, nxt, "pid")[0] != stored_row(manager.store, stuck, "pid")[0]


def test_the_store_ends_a_stopped_workers_run_with_the_reason(database, tiny) -> None:
    from bnviz.jobs.queue import RunQueue

    with RunStore() as store:
        run_id = store.create_run(tiny(), owner="ana", status="queued")
        queue = RunQueue(store)
        queue.register("w-1", "tensorflow")
        assert queue.claim("w-1", "tensorflow").run_id == run_id
        progress = store.progress_by_worker()
        assert list(progress) == ["w-1"] and progress["w-1"][0] == run_id
        assert store.end_runs_of("w-1", "out of memory (limit 300 MB): its worker used 301 MB and was stopped") \
            == [run_id]
        record = store.get_record(run_id)
        assert record["status"] == "failed" and record["summary"]["error"].startswith("out of memory (limit 300 MB)")
        assert store.progress_by_worker() == {} and store.end_runs_of("w-1", "again") == []
        assert store.recover() == []  # recovery leaves an ended run as it is
