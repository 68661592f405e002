"""Training on Ray (BNVIZ_EXECUTOR=ray) into PostgreSQL: a dashboard elsewhere sees it live and
done, a Ray worker killed mid-run leaves its run interrupted and the queue goes on, and two
dashboard servers share runs, liveness and permissions. One small local Ray instance serves
the whole module (Ray's start-up is the expensive part)."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import pytest

from bnviz.jobs import JobManager
from bnviz.store import RunStore
from tests.server_process import config
from tests.waiting import assert_interrupted_keeping_its_epochs, stored_row, wait_for

if os.environ.get("CI"):
    import ray  # a test dependency (requirements-dev.txt): CI must not skip these tests
else:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-dev.txt)")
APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance: 2 CPUs, no dashboard, a small object store (nothing big travels)."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024 * 1024,
             logging_level="WARNING", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def pg(postgres_server, monkeypatch):
    """A fresh PostgreSQL database for this test; BNVIZ_DATABASE_URL points every store at it."""
    import sqlalchemy as sa

    server = sa.make_url(postgres_server)
    name = f"bnviz_ray_{secrets.token_hex(6)}"
    admin = sa.create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {name}")
    url = server.set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("BNVIZ_DATABASE_URL", url)
    yield url
    with admin.connect() as con:
        con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def on_ray(ray_cluster, pg):
    """A job manager whose runs train as Ray tasks, one at a time, into PostgreSQL."""
    from bnviz.jobs.ray_executor import RayExecutor

    store = RunStore()
    manager = JobManager(store, RayExecutor(store, n=1, poll_s=0.05)).start()
    yield manager
    manager.shutdown()
    store.close()


def test_a_ray_task_trains_into_postgresql_and_a_dashboard_sees_it_live_and_finished(on_ray, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BNVIZ_EXECUTOR", "none")  # the dashboard session starts no workers of its own
    run = on_ray.submit(config(60, seed=1), owner="ana", name="on ray")
    assert not run.reused
    wait_for(lambda: on_ray.snapshot(run.run_id).epochs_completed >= 1, what="the first epoch")
    pid = stored_row(on_ray.store, run.run_id, "pid")[0]
    assert pid != os.getpid()  # trained in a Ray worker process
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["run"] = run.run_id
    os.kill(pid, signal.SIGSTOP)  # hold the training still, so the page surely sees it running
    try:
        at.run()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not at.exception, at.exception
    assert at.title[0].value == "on ray"
    assert at.get("progress"), "a live progress bar while it trains"
    assert on_ray.wait(run.run_id, timeout=240) == "succeeded"
    at.run()
    assert not at.exception, at.exception
    assert any("succeeded" in m.value for m in at.markdown)
    assert not at.get("progress")

    with RunStore(recover=False) as elsewhere:  # another server's store: the model is in the database
        record = elsewhere.get_record(run.run_id)
        assert len(record["history"]["loss"]) == 60 and record["summary"]["final"]["test_accuracy"] is not None
        model = elsewhere.model_path(run.run_id)
        assert model is not None and model.read_bytes()[:2] == b"PK"  # a .keras file is a zip
    again = on_ray.submit(config(60, seed=1), owner="bo")
    assert again.reused and again.run_id == run.run_id  # identical-run reuse as with local workers


def test_a_killed_ray_worker_leaves_its_run_interrupted_and_the_next_job_runs(on_ray):
    victim = on_ray.submit(config(5000, seed=2), owner="ana")
    nxt = on_ray.submit(config(2, seed=3), owner="ana")
    wait_for(lambda: on_ray.snapshot(victim.run_id).epochs_completed >= 2, what="two epochs")
    assert on_ray.queue_position(nxt.run_id) == 1  # BNVIZ_MAX_JOBS=1 holds with Ray too
    pid = stored_row(on_ray.store, victim.run_id, "pid")[0]
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    assert on_ray.wait(victim.run_id, timeout=60) == "interrupted"
    assert_interrupted_keeping_its_epochs(on_ray.store, victim.run_id)
    assert on_ray.wait(nxt.run_id, timeout=240) == "succeeded"
    assert stored_row(on_ray.store, nxt.run_id, "pid")[0] != pid

    queued = on_ray.submit(config(5000, seed=4), owner="ana")  # cancel reaches a running Ray task
    wait_for(lambda: on_ray.snapshot(queued.run_id).epochs_completed >= 1, what="the first epoch")
    assert on_ray.cancel(queued.run_id)
    assert on_ray.wait(queued.run_id, timeout=60) == "cancelled"
    assert len(on_ray.store.get_record(queued.run_id)["history"]["loss"]) >= 1


def test_two_dashboard_servers_share_a_run_live_and_only_its_owner_cancels_it_from_the_other(
        ray_cluster, pg, tmp_path):
    """Two `streamlit run` servers (own homes, one PostgreSQL, both dispatching to Ray) in Chromium.

    The owner is the browser: its `bnviz_owner` cookie, written by server A's page, goes to
    server B too (cookies belong to the host, not the port, as behind one proxy); a second
    browser context is a stranger."""
    from tests.e2e_app import CHROMIUM_ARGS, curve_points, require_chromium, streamlit_server, wait_for_app
    from ui import routes

    path = require_chromium()
    from playwright.sync_api import sync_playwright

    env = {"BNVIZ_EXECUTOR": "ray", "RAY_ADDRESS": ray_cluster, "BNVIZ_DATABASE_URL": pg, "BNVIZ_MAX_JOBS": "1"}
    long_run = config(5000, seed=5).encode()
    with streamlit_server(tmp_path / "a", env) as a, streamlit_server(tmp_path / "b", env) as b, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        owner = browser.new_context(viewport={"width": 1400, "height": 900})
        page_a = owner.new_page()
        page_a.goto(routes.url("experiment", current=a, cfg=long_run))
        wait_for_app(page_a)
        page_a.get_by_role("button", name="Train", exact=True).click()
        page_a.wait_for_url("**?run=*", timeout=90_000)
        run_id = page_a.url.split("run=")[1].split("&")[0]
        page_a.close()

        page_b = owner.new_page()  # the same person, on the other server
        page_b.goto(routes.url("run", current=b, run=run_id))
        wait_for_app(page_b)
        first = wait_for(lambda: curve_points(page_b)["epochs"] >= 1 and curve_points(page_b), 180,
                          "the first epoch on server B's live chart")
        wait_for(lambda: curve_points(page_b)["epochs"] > first["epochs"], 60, "server B's chart to grow")

        stranger = browser.new_context().new_page()
        stranger.goto(routes.url("run", current=b, run=run_id))
        wait_for_app(stranger)
        stranger.get_by_text("You see this run read-only").wait_for(timeout=30_000)
        assert stranger.get_by_role("button", name="Cancel run").count() == 0

        page_b.get_by_role("button", name="Cancel run").click()
        with RunStore(tmp_path / "reader", recover=False) as store:
            wait_for(lambda: store.status(run_id) == "cancelled", 60, "the run to be cancelled")
            record = store.get_record(run_id)
            assert len(record["history"]["loss"]) >= first["epochs"]
        browser.close()


def test_the_ray_executor_says_what_is_missing_and_what_a_run_asks_for(monkeypatch):
    import sys

    from bnviz.errors import UserError
    from bnviz.jobs.ray_executor import RayExecutor, Resources, resources_for

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(UserError, match="pip install ray"):
        RayExecutor(RunStore())
    assert resources_for("jax") == Resources(cpus=1.0, gpus=0.0)  # no GPU unless configured
    monkeypatch.setenv("BNVIZ_RAY_GPU_BACKENDS", "jax")
    monkeypatch.setenv("BNVIZ_RAY_GPUS_PER_JOB", "0.25")
    assert resources_for("jax") == Resources(cpus=1.0, gpus=0.25)
    assert resources_for("tensorflow") == Resources(cpus=1.0, gpus=0.0)
    monkeypatch.setenv("BNVIZ_RAY_GPU_BACKENDS", "cuda")
    with pytest.raises(UserError, match=r"BNVIZ_RAY_GPU_BACKENDS must be a comma-separated list of tensorflow, jax, "
                                        r"torch \(cuda: no such backend\)"):
        resources_for("jax")
