"""The store's database by configuration: BNVIZ_DATABASE_URL, migrations of old SQLite files,
claims under contention, and what a store shared by several machines (PostgreSQL) adds:
models in the database and recovery by worker heartbeats."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import traceback

import pytest

from bnviz.jobs.queue import RunQueue
from bnviz.store import RunStore
from bnviz.store.db import DatabaseUrlError, resolve_url
from bnviz.store.schema import SCHEMA_VERSION, statements
from tests.fake_events import synthetic_events
from tests.test_store import small_config, table_counts

postgres_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


def config(seed: int = 0) -> dict:
    return small_config(**{"training.seed": seed}).to_dict()


# --- BNVIZ_DATABASE_URL ----------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "says"), [
    ("mysql://u:p@host/db", "must be sqlite:///PATH"),
    ("redis://localhost", "must be sqlite:///PATH"),
    ("runs.db", "is not a database URL"),
    ("sqlite://", "must name an SQLite file"),
    ("sqlite:///:memory:", "must name an SQLite file"),
    ("postgresql://u:p@host", "must name the database"),
])
def test_bad_database_urls_get_one_line_naming_what_is_allowed(raw, says, tmp_path, monkeypatch):
    monkeypatch.setenv("BNVIZ_DATABASE_URL", raw)
    with pytest.raises(DatabaseUrlError, match=says) as caught:
        RunStore(tmp_path / "home")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("BNVIZ_DATABASE_URL")
    assert "postgresql://" in message or "sqlite:///" in message
    assert ":p@" not in message  # never a password
    assert isinstance(caught.value, ValueError)  # the CLI and pages show it as one line


def test_the_password_never_travels_and_the_receiving_node_supplies_its_own(tmp_path, monkeypatch):
    """What a dispatcher hands a Ray task has no password; the task's node adds the one it knows
    for the same database and user, and nothing for another database (libpq's PGPASSWORD/.pgpass)."""
    from bnviz.store.db import url_without_password, with_local_password

    secret = "s3cret-pw"
    url = resolve_url(f"postgresql://bn:{secret}@db.example:5433/runs", tmp_path)
    sent = url_without_password(url)
    assert secret not in sent and sent == "postgresql+psycopg://bn@db.example:5433/runs"
    monkeypatch.delenv("BNVIZ_DATABASE_URL", raising=False)
    assert with_local_password(sent) == sent
    monkeypatch.setenv("BNVIZ_DATABASE_URL", f"postgresql://bn:{secret}@db.example:5433/runs")
    assert with_local_password(sent) == f"postgresql+psycopg://bn:{secret}@db.example:5433/runs"
    monkeypatch.setenv("BNVIZ_DATABASE_URL", f"postgresql://bn:{secret}@db.example:5433/other")
    assert with_local_password(sent) == sent


def test_postgres_urls_use_psycopg_and_sqlite_urls_any_file(tmp_path, monkeypatch):
    for raw in ("postgresql://bn:secret@db:5432/runs", "postgres://bn:secret@db:5432/runs",
                "postgresql+psycopg://bn:secret@db:5432/runs"):
        url = resolve_url(raw, tmp_path)
        assert (url.drivername, url.host, url.port, url.database, url.password) == (
            "postgresql+psycopg", "db", 5432, "runs", "secret")
    assert resolve_url("", tmp_path).database == str(tmp_path / "runs.db")  # the default, as always
    other = tmp_path / "elsewhere" / "mine.db"
    other.parent.mkdir()
    monkeypatch.setenv("BNVIZ_DATABASE_URL", f"sqlite:///{other}")
    with RunStore(tmp_path / "home") as store:
        run_id = store.create_run(config())
        assert store.db_path == other and store.location == str(other)
        assert store.models_dir == tmp_path / "home" / "models" and not store.shared
    assert sqlite3.connect(other).execute("SELECT id FROM runs").fetchall() == [(run_id,)]
    assert not (tmp_path / "home" / "runs.db").exists()


# --- migrations --------------------------------------------------------------------------------

def _old_store(path, version: int) -> None:
    """An SQLite file as bnviz wrote it at schema `version` (1 or 2), with one finished run and one
    that was running when its process died."""
    con = sqlite3.connect(path)
    for v in range(1, version + 1):
        for statement in statements(v, "sqlite"):
            con.execute(statement)
    con.execute(f"PRAGMA user_version = {version}")
    cfg = small_config()
    for run_id, status, token in (("oldrunAAAAAAAAAAAAAAAA", "succeeded", None),
                                  ("oldrunBBBBBBBBBBBBBBBB", "running", "0123456789abcdef")):
        con.execute("INSERT INTO runs (id, name, status, fingerprint, config_json, summary_json, final_json,"
                    " dataset, epochs, n_epochs, n_batches, proc_token, created, updated, version)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run_id, f"from v{version}", status, cfg.fingerprint(), cfg.to_json(),
                     json.dumps({"device": "CPU"}) if token else json.dumps({"final": {"loss": 0.25}}),
                     json.dumps({"loss": 0.25}), "circles", 3, 2, 1, token, 1.7e9, 1.7e9, 5))
        for seq, loss in enumerate((0.5, 0.25)):
            con.execute("INSERT INTO epochs VALUES (?,?,?,?)", (run_id, seq, seq + 1, json.dumps({"loss": loss})))
        con.execute("INSERT INTO batches VALUES (?,?,?)", (run_id, 0, json.dumps({"epoch": 1, "batch": 1, "step": 1,
                                                                                    "loss": 0.7, "accuracy": 0.5})))
    con.commit()
    con.close()


@pytest.mark.parametrize("version", [1, 2])
def test_a_store_written_by_an_older_bnviz_opens_migrated_with_its_runs(version, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _old_store(home / "runs.db", version)
    with RunStore(home) as store:
        done, crashed = "oldrunAAAAAAAAAAAAAAAA", "oldrunBBBBBBBBBBBBBBBB"
        record = store.get_record(done)
        assert (record["status"], record["name"], record["history"]) == ("succeeded", f"from v{version}",
                                                                          {"loss": [0.5, 0.25]})
        assert len(record["batches"]) == 1 and store.version(done) == 5
        assert store.status(crashed) == "interrupted"  # its process is long gone
        assert store.get_record(crashed)["summary"]["epochs_completed"] == 2
        assert [r["id"] for r in store.list_runs(status="succeeded")] == [done]
        queued = store.create_run(config(1))  # the v2 and v3 columns work
        assert RunQueue(store).position(queued) == 1
        claim = RunQueue(store).claim("w-test", "tensorflow")
        assert claim is not None and claim.run_id == queued
    con = sqlite3.connect(home / "runs.db")
    assert con.execute("SELECT version FROM bnviz_schema").fetchall() == [(SCHEMA_VERSION,)]
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # an older bnviz refuses it
    assert con.execute("SELECT backend, cancel_requested FROM runs WHERE id=?",
                       ("oldrunAAAAAAAAAAAAAAAA",)).fetchone() == ("tensorflow", 0)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    RunStore(home).close()  # opening again migrates nothing


def test_a_store_from_a_newer_bnviz_is_refused(database):
    RunStore().close()
    with RunStore(recover=False) as store, store.write_transaction() as con:
        con.execute("UPDATE bnviz_schema SET version=?", (SCHEMA_VERSION + 1,))
    with pytest.raises(RuntimeError, match=f"newer bnviz \\(schema {SCHEMA_VERSION + 1}\\); upgrade bnviz"):
        RunStore()


def test_servers_opening_a_new_store_at_once_migrate_it_once(database):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            RunStore().close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, "".join(traceback.format_exception(errors[0]))
    with RunStore() as store, store.read_transaction() as con:
        assert con.execute("SELECT version FROM bnviz_schema").scalars().all() == [SCHEMA_VERSION]


# --- the queue under contention ----------------------------------------------------------------

def test_workers_claiming_at_once_never_take_the_same_run_and_keep_the_cap(database):
    store = RunStore()
    queued = [store.create_run(config(i)) for i in range(12)]
    claimed: list[str] = []

    def worker(n: int, max_running: int | None) -> None:
        own = RunStore(recover=False)  # its own connections, as another process would have
        queue = RunQueue(own)
        while (claim := queue.claim(f"w-{n}", "tensorflow", max_running)) is not None:
            claimed.append(claim.run_id)
        own.close()

    def race(max_running: int | None) -> None:
        threads = [threading.Thread(target=worker, args=(n, max_running)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    race(None)
    assert sorted(claimed) == sorted(queued)  # every run exactly once
    more = [store.create_run(config(100 + i)) for i in range(3)]
    race(len(queued) + 1)  # room for one more training across all workers
    assert len(claimed) == len(queued) + 1 and claimed[-1] == more[0]
    assert [store.status(r) for r in more] == ["running", "queued", "queued"]
    store.close()


# --- a store shared by several machines ----------------------------------------------------------

@postgres_only
def test_a_model_committed_on_one_machine_downloads_on_another(database, tmp_path):
    trainer, web = RunStore(tmp_path / "gpu-box"), RunStore(tmp_path / "web")  # two homes: two machines
    run_id = trainer.create_run(config())
    assert web.model_path(run_id) is None
    trainer.partial_model_path(run_id).write_bytes(b"weights" * 1000)
    assert trainer.commit_model(run_id) == trainer.models_dir / f"{run_id}.keras"
    path = web.model_path(run_id)
    assert path == web.models_dir / f"{run_id}.keras" and path.read_bytes() == b"weights" * 1000
    assert web.model_path(run_id) == path  # cached now
    trainer.delete(run_id)
    assert web.model_path(run_id) is None and not path.exists()  # deleted elsewhere: no stale download
    trainer.close()
    web.close()


@postgres_only
def test_a_shared_store_judges_running_runs_by_their_workers_heartbeats(database, monkeypatch):
    monkeypatch.setenv("BNVIZ_WORKER_TIMEOUT_S", "30")
    store = RunStore()
    queue = RunQueue(store)
    names = ("fresh", "remote", "stale", "gone", "died_here")
    runs = {name: store.create_run(config(i)) for i, name in enumerate(names)}
    queue.register("w-fresh", "tensorflow")  # this process
    now, old = time.time(), time.time() - 60
    with store.write_transaction() as con:
        for wid, token, beat in (("w-remote", "fedcba9876543210", now),  # another machine: no lock file here
                                 ("w-stale", "aaaaaaaaaaaaaaaa", old),  # a minute without a heartbeat
                                 ("w-died_here", "0123456789abcdef", now)):  # its lock file here is free
            con.execute("INSERT INTO workers (id, pid, host, backend, state, proc_token, started, heartbeat)"
                        " VALUES (?,?,?,?,?,?,?,?)", (wid, 1, "elsewhere", "tensorflow", "busy", token, old, beat))
        for name, run_id in runs.items():
            con.execute("UPDATE runs SET status='running', worker=? WHERE id=?", (f"w-{name}", run_id))
    store.locks_dir.mkdir(exist_ok=True)
    (store.locks_dir / "0123456789abcdef.lock").write_text("1")

    interrupted = store.recover()
    assert sorted(interrupted) == sorted(runs[n] for n in ("stale", "gone", "died_here"))
    assert store.status(runs["fresh"]) == store.status(runs["remote"]) == "running"
    assert "interrupted" in store.get_record(runs["stale"])["summary"]["error"]
    assert queue.forget_dead_workers() == ["w-stale"]  # w-died_here went with its run's recovery
    assert sorted(w.id for w in queue.workers()) == ["w-fresh", "w-remote"]

    # a run trained without a worker (`python -m bnviz train`): its own events are its heartbeat
    mine = store.create_run(config(7), status="running")
    quiet = store.create_run(config(8), status="running")
    busy = store.create_run(config(9), status="running")
    with store.write_transaction() as con:
        con.execute("UPDATE runs SET proc_token=?, updated=? WHERE id=?", ("bbbbbbbbbbbbbbbb", old, quiet))
        con.execute("UPDATE runs SET proc_token=? WHERE id=?", ("cccccccccccccccc", busy))
    for event in list(synthetic_events(1, blocks=1, per_block=2, steps=2))[:3]:
        store.append_event(busy, {**event, **({"device": "CPU"} if event["type"] == "start" else {})})
    with store.write_transaction() as con:  # the start event stamped this process; put the other machine back
        con.execute("UPDATE runs SET proc_token=? WHERE id=?", ("cccccccccccccccc", busy))
    assert store.recover() == [quiet]
    assert store.status(mine) == store.status(busy) == "running"

    # a worker dropped after a long silence that comes back: its next claim gives it a row again
    again = store.create_run(config(10))
    assert queue.claim("w-stale", "tensorflow").run_id == again
    assert store.recover() == [] and "w-stale" in {w.id for w in queue.workers()}
    store.close()


@postgres_only
def test_a_data_file_submitted_on_one_machine_trains_on_another(database, tmp_path):
    web, gpu = RunStore(tmp_path / "web"), RunStore(tmp_path / "gpu")
    data = tmp_path / "web" / "uploads" / "iris.csv"
    data.parent.mkdir(parents=True)
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xyz'[i % 3]}\n" for i in range(30)))
    original = data.read_bytes()

    def submit(seed: int) -> str:
        cfg = small_config(**{"dataset.name": "csv", "dataset.path": str(data), "training.seed": seed})
        return web.create_run(cfg.to_dict())

    first = submit(1)
    claim = RunQueue(gpu).claim("w-gpu", "tensorflow")  # the GPU box never had the file
    local = tmp_path / "gpu" / "uploads" / claim.config["dataset"]["path"].rsplit("/", 1)[-1]
    assert claim.run_id == first and claim.config["dataset"]["path"] == str(local)
    assert local.read_bytes() == original
    assert web.get_record(first)["config"]["dataset"]["path"] == str(data)  # the record keeps the user's path
    second = submit(2)
    assert table_counts(web, "uploads") == [1]  # the same file, stored once
    web.delete(first)
    assert table_counts(web, "uploads") == [1]  # still needed by the second run
    web.delete(second)
    assert table_counts(web, "uploads") == [0]
    web.close()
    gpu.close()
