"""Real worker processes training real (tiny) TensorFlow runs: order, cancel, divergence, and
what happens when a worker dies, hangs, or the whole server is killed and restarted."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from bnviz.jobs import JobManager
from bnviz.jobs.supervisor import LocalWorkers
from bnviz.store import RunStore
from tests.server_process import config, raw_digest
from tests.waiting import assert_interrupted_keeping_its_epochs, stored_row, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One supervised worker process (real TensorFlow) serving a store, for the whole module."""
    store = RunStore(tmp_path_factory.mktemp("pool"))
    workers = LocalWorkers(store, n=1, hang_s=10, check_s=0.2).start()
    yield JobManager(store), workers
    workers.stop()
    store.close()


def test_runs_train_in_a_worker_process_one_after_another_in_order(pool):
    manager, workers = pool
    runs = [manager.submit(config(2, seed=s), owner="ana", name=f"run {s}") for s in range(3)]
    assert [r.position for r in runs] in ([1, 2, 3], [None, 1, 2])  # the first may already be claimed
    assert [manager.wait(r.run_id, timeout=600) for r in runs] == ["succeeded"] * 3
    rows = [stored_row(manager.store, r.run_id, "pid, started, finished") for r in runs]
    assert {pid for pid, _, _ in rows} <= set(workers.pids()) and os.getpid() not in {r[0] for r in rows}
    assert rows[0][2] <= rows[1][1] and rows[1][2] <= rows[2][1]  # concurrency 1: strictly one after another
    record = manager.store.get_record(runs[0].run_id)
    assert len(record["history"]["loss"]) == 2 and len(record["probes"]) == 3
    assert record["summary"]["device"] == "CPU" and record["summary"]["final"]["test_accuracy"] is not None
    assert manager.store.model_path(runs[0].run_id).stat().st_size > 0


def test_cancel_reaches_a_queued_and_a_running_job_in_another_process(pool):
    manager, _ = pool
    running = manager.submit(config(5000, seed=10))
    queued = manager.submit(config(2, seed=11))
    wait_for(lambda: manager.snapshot(running.run_id).epochs_completed >= 1, timeout=300, what="the first epoch")
    assert manager.cancel(queued.run_id)
    assert manager.store.status(queued.run_id) == "cancelled"
    assert manager.cancel(running.run_id)
    at_cancel = stored_row(manager.store, running.run_id, "n_batches")[0]
    assert manager.wait(running.run_id, timeout=180) == "cancelled"
    record = manager.store.get_record(running.run_id)
    assert len(record["batches"]) <= at_cancel + 1  # stopped within one batch
    epochs = len(record["history"]["loss"])
    assert epochs >= 1 and record["summary"]["epochs_completed"] == epochs
    never = manager.store.get_record(queued.run_id)
    assert never["status"] == "cancelled" and never["batches"] == [] and never["probes"] == []


def test_a_diverging_run_is_marked_diverged(pool):
    manager, _ = pool
    bad = config(5).with_updates({"model.hidden": [32, 32, 32], "model.norm.placement": "none",
                                  "model.weight_scale": 100.0, "training.optimizer": "sgd",
                                  "training.learning_rate": 100.0})
    run = manager.submit(bad)
    assert manager.wait(run.run_id, timeout=300) == "diverged"
    summary = manager.store.get_record(run.run_id)["summary"]
    assert summary["diverged_at"]["epoch"] >= 1 and summary["epochs_completed"] < 5


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_a_worker_that_dies_or_hangs_mid_run_is_replaced_and_the_queue_goes_on(pool, how):
    manager, workers = pool
    victim = manager.submit(config(5000, seed=20 + (how == "hung")))
    nxt = manager.submit(config(2, seed=30 + (how == "hung")))
    wait_for(lambda: manager.snapshot(victim.run_id).epochs_completed >= 2, timeout=300, what="two epochs")
    pid = stored_row(manager.store, victim.run_id, "pid")[0]
    os.kill(pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)  # SIGSTOP: alive, but no heartbeat
    assert manager.wait(victim.run_id, timeout=180) == "interrupted"
    assert_interrupted_keeping_its_epochs(manager.store, victim.run_id)
    assert manager.wait(nxt.run_id, timeout=600) == "succeeded"
    assert stored_row(manager.store, nxt.run_id, "pid")[0] != pid and pid not in workers.pids()


@pytest.mark.parametrize("kill", ["server", "server and workers"])
def test_a_killed_server_loses_nothing_and_a_restart_resumes_the_queue(tmp_path, kill):
    home, out = tmp_path / "home", tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "BNVIZ_HOME": str(home), "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "server_process.py"), str(out)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ids: dict = {}

    def long_run_has_two_epochs() -> bool:
        assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        if not ids and (out / "long.json").exists():
            ids.update(json.loads((out / "long.json").read_text()))
        if not ids:
            return False
        con = sqlite3.connect(f"file:{home / 'runs.db'}?mode=ro", uri=True)
        row = con.execute("SELECT n_epochs, pid FROM runs WHERE id=?", (ids["id"],)).fetchone()
        con.close()
        ids["worker"] = row[1] if row else None
        return bool(row and row[0] >= 2)

    try:
        wait_for(long_run_has_two_epochs, timeout=480, what="the long run's second epoch")
    finally:
        if kill == "server":
            server.kill()  # its worker is orphaned and must notice
        else:  # workers run in sessions of their own (Ctrl-C in the terminal goes to the server alone)
            os.killpg(server.pid, signal.SIGKILL)
            if ids.get("worker"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(ids["worker"], signal.SIGKILL)
        server.wait()
        log.close()
    if kill == "server":  # the orphaned worker ends its run as interrupted and exits by itself
        wait_for(lambda: not _alive(ids["worker"]), timeout=120, what="the orphaned worker to exit")

    short = json.loads((out / "short.json").read_text())
    store = RunStore(home)  # the restarted server
    workers = LocalWorkers(store, n=1).start()
    try:
        assert store.export_json(short["id"]) == short["record"]
        assert raw_digest(store.db_path, short["id"]) == short["digest"]
        wait_for(lambda: store.status(ids["id"]) != "running", timeout=120, what="the run to be recovered")
        record = store.get_record(ids["id"])
        epochs = len(record["history"]["loss"])
        assert record["status"] == "interrupted" and epochs >= 2
        assert record["summary"]["epochs_completed"] == epochs and "interrupted" in record["summary"]["error"]
        assert all(len(v) == epochs for v in record["history"].values())
        assert len(record["probes"]) in (epochs, epochs + 1)
        assert JobManager(store).wait(ids["queued"], timeout=600) == "succeeded"  # the queue resumed
        assert store.model_path(short["id"]) is not None and not list(store.models_dir.glob(".partial-*"))
        assert sqlite3.connect(store.db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        workers.stop()
        store.close()


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split()[2] != "Z"
