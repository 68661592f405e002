"""Two machines, one PostgreSQL store: a real worker process (`python -m bnviz worker`) trains with
its own BNVIZ_HOME ("the GPU box") while a web server with another home ("the web box") serves
the runs. The web box cannot see the worker's lock files: only the heartbeat tells it the worker
died. Slow (real TensorFlow in the worker processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bnviz.jobs import JobManager
from bnviz.store import RunStore
from tests.server_process import config
from tests.waiting import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_worker_elsewhere_that_dies_is_found_by_its_heartbeat_and_the_queue_goes_on(database, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv("BNVIZ_WORKER_TIMEOUT_S", "5")
    web = RunStore(tmp_path / "web")
    manager = JobManager(web)
    victim = manager.submit(config(5000, seed=1), owner="ana")
    nxt = manager.submit(config(2, seed=2), owner="ana")
    env = {**os.environ, "BNVIZ_HOME": str(tmp_path / "gpu"), "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = (tmp_path / "worker.log").open("w")

    def start_worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bnviz", "worker", "--runs", "1"], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT)

    worker = start_worker()
    try:
        wait_for(lambda: manager.snapshot(victim.run_id).epochs_completed >= 2, 240, "two epochs")
        worker.kill()  # SIGKILL: no goodbye, its row and lock file stay behind on its own machine
        worker.wait()
        wait_for(lambda: victim.run_id in web.recover() or web.status(victim.run_id) != "running", 60,
                  "the web box to find the run orphaned")
        record = web.get_record(victim.run_id)
        epochs = len(record["history"]["loss"])
        assert record["status"] == "interrupted" and epochs >= 2
        assert record["summary"]["epochs_completed"] == epochs and "interrupted" in record["summary"]["error"]
        assert web.status(nxt.run_id) == "queued"

        worker = start_worker()  # a fresh worker takes the next run
        assert manager.wait(nxt.run_id, timeout=240) == "succeeded"
        assert worker.wait(60) == 0  # the worker commits the model right after the run's end event
        model = web.model_path(nxt.run_id)  # trained on the GPU box, downloaded from the web box
        assert model is not None and model.parent == web.models_dir and model.stat().st_size > 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
        web.close()
