"""A queue a whole class can share (issue 20): caps counted atomically, owners served in turn,
a teacher's one-click cancel. Claims are made with `RunQueue.claim` directly (no worker), so every
assertion is about order, never about timing. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest

from bnviz.errors import QueueFull
from bnviz.jobs import JobManager
from bnviz.jobs.fairness import Waiting, fair_order
from bnviz.jobs.queue import RunQueue
from bnviz.store import RunStore
from tests.test_jobs import cfg


@pytest.fixture
def store(database, tmp_path):
    s = RunStore(tmp_path / "home")
    yield s
    s.close()


def _claim_all(queue: RunQueue, n: int | None = None) -> list[str]:
    """Claim queued runs one after another, as idle workers would; their ids in claim order."""
    claimed = []
    while n is None or len(claimed) < n:
        got = queue.claim(f"worker-{len(claimed)}", "tensorflow")
        if got is None:
            break
        claimed.append(got.run_id)
    return claimed


def test_a_class_of_ten_fills_the_queue_and_a_latecomer_waits_one_run_per_classmate(store):
    manager = JobManager(store, max_queued=30, max_queued_per_owner=3)
    owner_of: dict[str, str] = {}
    for s in range(10):  # each student queues three runs in a row: first come, first served would be unfair
        for k in range(3):
            run = manager.submit(cfg(**{"training.seed": 100 * s + k}), owner=f"student-{s}")
            owner_of[run.run_id] = f"student-{s}"
    with pytest.raises(QueueFull, match="You already have 3 runs waiting"):
        manager.submit(cfg(**{"training.seed": 9}), owner="student-0")
    with pytest.raises(QueueFull, match=r"The queue is full: 30 runs are waiting .*at most 30.*Try again") as full:
        manager.submit(cfg(**{"training.seed": 77}), owner="latecomer")
    assert "student" not in str(full.value)  # the message names nobody

    queue = RunQueue(store)
    first = _claim_all(queue, 1)  # one run starts: one place frees up
    assert [owner_of[r] for r in first] == ["student-0"]
    late = manager.submit(cfg(**{"training.epochs": 1}), owner="latecomer")  # a small run
    owner_of[late.run_id] = "latecomer"
    predicted = sorted(owner_of.keys() - set(first), key=lambda r: manager.queue_position(r))
    assert [manager.queue_position(r) for r in predicted] == list(range(1, 31))

    order = _claim_all(queue)
    assert order == predicted  # positions said exactly the order the queue keeps
    owners = [owner_of[r] for r in order]
    before_late = owners[: owners.index("latecomer")]
    assert len(before_late) <= 10 and len(set(before_late)) == len(before_late)  # at most one run each
    # round-robin: every student's second run before anyone's third, a student's first before another's third
    assert owners[:9] == [f"student-{s}" for s in range(1, 10)]
    assert sorted(owners[10:20]) == sorted(f"student-{s}" for s in range(10))


def test_two_submits_at_once_never_both_take_the_last_place(store):
    """The caps are counted in the transaction that inserts the run: threads, each its own server."""
    managers = [JobManager(RunStore(store.home), max_queued=4, max_queued_per_owner=2) for _ in range(8)]
    barrier = threading.Barrier(len(managers))
    outcomes: list[str] = []

    def submit(i: int, owner: str, seed: int) -> None:
        barrier.wait()
        try:
            managers[i].submit(cfg(**{"training.seed": seed}), owner=owner)
            outcomes.append("queued")
        except QueueFull as exc:
            outcomes.append("per-owner" if "You already have" in str(exc) else "full")

    for n, owners in enumerate((["ana"] * 8, [f"s{i}" for i in range(8)])):  # one owner racing, then eight
        outcomes.clear()
        threads = [threading.Thread(target=submit, args=(i, o, 100 * n + i)) for i, o in enumerate(owners)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(outcomes) == 8
        if owners[0] == owners[1]:
            assert outcomes.count("queued") == 2 and outcomes.count("per-owner") == 6
        else:
            assert outcomes.count("queued") == 2 and outcomes.count("full") == 6  # 2 + 2 = the server's 4
    assert store.list_runs(status="queued") and len(store.list_runs(status="queued")) == 4
    for m in managers:
        m.store.close()


def test_a_teacher_cancels_all_of_one_owners_runs_at_once(store):
    manager = JobManager(store, max_queued_per_owner=5)
    noisy = [manager.submit(cfg(**{"training.seed": s}), owner="noisy").run_id for s in range(4)]
    quiet = manager.submit(cfg(**{"training.seed": 50}), owner="quiet").run_id
    running = _claim_all(RunQueue(store), 1)
    assert running == [noisy[0]]
    assert manager.cancel_owner("noisy") == 4
    assert [store.status(r) for r in noisy[1:]] == ["cancelled"] * 3
    assert store.status(noisy[0]) == "running" and manager.queue.cancel_requested(noisy[0])  # stops within a batch
    assert store.status(quiet) == "queued" and manager.queue_position(quiet) == 1
    assert manager.cancel_owner("noisy") == 1  # only the run still stopping
    with pytest.raises(ValueError, match="needs an owner"):
        manager.cancel_owner("")


def test_the_order_is_round_robin_by_who_was_served_least_recently():
    runs = [Waiting("a1", "ana", 1.0, 1), Waiting("a2", "ana", 2.0, 2), Waiting("a3", "ana", 3.0, 3),
            Waiting("b1", "bob", 4.0, 4), Waiting("c1", "cy", 5.0, 5), Waiting("c2", "cy", 5.0, 6)]
    assert fair_order(runs, {}) == ["a1", "b1", "c1", "a2", "c2", "a3"]
    # ana was just served and bob a while ago: cy (never served) first, then bob, then ana
    assert fair_order(runs, {"ana": 100.0, "bob": 50.0}) == ["c1", "b1", "a1", "c2", "a2", "a3"]
    assert fair_order([], {"ana": 1.0}) == []


def test_a_teacher_reorders_the_queue_and_the_claim_follows_it(store):
    """Issue 23's class view: a teacher moves queued runs up and down; positions and the claim both
    follow the new order, and runs queued afterwards wait behind the ones the teacher placed."""
    manager = JobManager(store, max_queued=30, max_queued_per_owner=5)
    a = [manager.submit(cfg(**{"training.seed": 10 + k}), owner="ann").run_id for k in range(2)]
    b = [manager.submit(cfg(**{"training.seed": 20 + k}), owner="bob").run_id for k in range(2)]
    fair = [a[0], b[0], a[1], b[1]]
    assert [q.run_id for q in manager.queued()] == fair
    assert [q.position for q in manager.queued()] == [1, 2, 3, 4]
    assert manager.move_in_queue(b[1], -3) == 1  # bob's second run to the front
    assert manager.move_in_queue(a[0], 1) == 3  # ann's first one place down
    assert manager.move_in_queue(a[1], 10) == 4  # clamped to the end
    new = [b[1], b[0], a[0], a[1]]
    assert [q.run_id for q in manager.queued()] == new
    assert [manager.queue_position(r) for r in new] == [1, 2, 3, 4]
    late = manager.submit(cfg(**{"training.seed": 30}), owner="cat").run_id  # never moved: after the ranked
    assert manager.queue_position(late) == 5
    first = _claim_all(RunQueue(store), 1)
    assert first == [b[1]] and manager.move_in_queue(b[1], -1) is None  # running: no longer in the queue
    assert _claim_all(RunQueue(store)) == [b[0], a[0], a[1], late]


def test_a_store_from_before_the_queue_rank_opens_and_keeps_its_order(database, tmp_path):
    """Schema 4 (before `queue_rank`) migrates on open, on both databases: its queued runs keep the
    fair order, and then a teacher can reorder them."""
    from unittest import mock

    from bnviz.store import schema

    with mock.patch.object(schema, "MIGRATIONS", schema.MIGRATIONS[:4]), \
            mock.patch.object(schema, "SCHEMA_VERSION", 4), RunStore(tmp_path / "old") as old:
        ids = [old.create_run(cfg(**{"training.seed": k}), owner=o) for k, o in enumerate("aab")]  # as v4 queued
        with old.read_transaction() as con:
            assert con.execute("SELECT version FROM bnviz_schema").fetchone()[0] == 4
    with RunStore(tmp_path / "old") as store:
        with store.read_transaction() as con:
            assert con.execute("SELECT version FROM bnviz_schema").fetchone()[0] == len(schema.MIGRATIONS)
        manager = JobManager(store)
        assert [q.run_id for q in manager.queued()] == [ids[0], ids[2], ids[1]]
        manager.move_in_queue(ids[1], -2)
        assert _claim_all(RunQueue(store)) == [ids[1], ids[0], ids[2]]
