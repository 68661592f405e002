"""Shared fixtures: a private BNVIZ_HOME per test session, tiny configs, the real MNIST digits,
and the store's databases (SQLite, and a throwaway PostgreSQL server for the test session)."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.thread_guard"]  # nothing still computing when the interpreter exits

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["BNVIZ_OFFLINE"] = "1"  # tests never download
# A home for whatever runs outside a test's own (session fixtures, servers, their workers and JAX's
# compilation cache): the suite never writes into the real ~/.bnviz.
os.environ["BNVIZ_HOME"] = tempfile.mkdtemp(prefix="bnviz-tests-home-")

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    """Every test gets its own store and data directory (never a database configured outside)."""
    monkeypatch.setenv("BNVIZ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BNVIZ_DATABASE_URL", raising=False)


def tiny_config(**updates):
    """Circles, a few units, a few epochs: real training in about a second."""
    from bnviz.config import ExperimentConfig

    base = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 64, "n_test": 32, "noise": 0.1, "seed": 1},
        "model": {"family": "mlp", "hidden": [8], "activation": "relu", "initializer": "he_uniform"},
        "training": {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16, "epochs": 2, "seed": 3},
        "instrument": {"probe_size": 64, "log_every": 1},
    })
    return base.with_updates(updates) if updates else base


def train_keeping_model(config, directory: Path) -> tuple[dict, Path]:
    """Train `config` for real, saving the finished model under `directory`: (record, model path)."""
    from bnviz.train.training import train

    path = directory / "model.keras"
    record = train(config, model_path=str(path))
    assert record["status"] == "succeeded", record["summary"]["error"]
    return record, path


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A BNVIZ_DATA_DIR in the original IDX format made from the real MNIST test digits:
    the first 8,000 as the training files, the last 2,000 as the test files."""
    images = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    labels = SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        reason = f"the real MNIST digits are not at {SHARED_MNIST}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must not skip this)")
        pytest.skip(reason)
    from bnviz.data.loading import read_idx_gz, write_idx_gz

    x = read_idx_gz(images)
    y = read_idx_gz(labels)
    root = tmp_path_factory.mktemp("data")
    target = root / "mnist"
    target.mkdir()
    write_idx_gz(target / "train-images-idx3-ubyte.gz", x[:8000])
    write_idx_gz(target / "train-labels-idx1-ubyte.gz", y[:8000])
    write_idx_gz(target / "t10k-images-idx3-ubyte.gz", x[8000:])
    write_idx_gz(target / "t10k-labels-idx1-ubyte.gz", y[8000:])
    return root


@pytest.fixture
def fake_worker(monkeypatch):
    """The dashboard starts no workers (BNVIZ_EXECUTOR=none); a worker thread trains what this
    test's store queues with the fast fake trainer (tests/fake_trainer.py)."""
    import threading

    from bnviz.jobs.worker import Worker
    from bnviz.store import RunStore
    from tests.fake_trainer import train

    monkeypatch.setenv("BNVIZ_EXECUTOR", "none")
    store = RunStore()
    worker = Worker(store, trainer=train, poll_s=0.02, heartbeat_s=0.5, save_models=False)
    thread = threading.Thread(target=worker.serve, name="fake-worker", daemon=True)
    thread.start()
    yield worker
    worker.shutdown()
    thread.join(30)
    store.close()


# --- the store's databases -------------------------------------------------------------------

def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must not skip the PostgreSQL tests)")
    pytest.skip(reason)


def _pg_program(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or where Debian puts it (newest version first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a PostgreSQL server for this test session (its `postgres` database).

    BNVIZ_TEST_DATABASE_URL if set; else a throwaway server (initdb + pg_ctl, run as the
    `postgres` user when we are root) on a unix socket in a temp dir, stopped at the end."""
    given = os.environ.get("BNVIZ_TEST_DATABASE_URL", "").strip()
    if given:
        yield given
        return
    initdb, pg_ctl = _pg_program("initdb"), _pg_program("pg_ctl")
    if not (initdb and pg_ctl):
        _unavailable("no PostgreSQL: initdb/pg_ctl not found (apt-get install postgresql, "
                     "or set BNVIZ_TEST_DATABASE_URL)")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="bnviz-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            _unavailable("running as root and there is no `postgres` user to run a test PostgreSQL server as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)

    done = run(initdb, "-D", str(data), "-U", "bnviz", "--auth=trust", "-E", "UTF8", "--no-sync")
    started = done.returncode == 0 and run(
        pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
        "-o", f"-k {root} -c listen_addresses='' -p 5432 -F -c max_connections=300").returncode == 0
    if not started:
        detail = (done.stderr or "") + (log.read_text() if log.exists() else "")
        shutil.rmtree(root, ignore_errors=True)
        _unavailable("could not start a test PostgreSQL server: " + " ".join(detail.split())[-300:])
    try:
        yield f"postgresql+psycopg://bnviz@/postgres?host={root}&port=5432"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, monkeypatch):
    """Run the test once on SQLite (BNVIZ_HOME/runs.db) and once on a fresh PostgreSQL database.

    Yields the dialect name; BNVIZ_DATABASE_URL points every RunStore (and worker) of the test
    at the database."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    import sqlalchemy as sa

    server = sa.make_url(request.getfixturevalue("postgres_server"))
    name = f"bnviz_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {name}")
    monkeypatch.setenv("BNVIZ_DATABASE_URL", server.set(database=name).render_as_string(hide_password=False))
    try:
        yield "postgresql"
    finally:
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (the end-to-end tests), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.e2e_app import CHROMIUM_ARGS, require_chromium

    path = require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
