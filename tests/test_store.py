"""The run store: exact round trips, written as it trains, small, and sane after a kill -9.

Every test that takes `store` (or `database`) runs twice: on SQLite and on PostgreSQL
(tests/conftest.py). What only one of them does is marked so.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from bnviz.cli import main
from bnviz.config import ConfigError, ExperimentConfig
from bnviz.store import RunNotFound, RunStore, probe_codec
from tests.fake_events import FakeTrainer, record_of, synthetic_events, synthetic_probe

REPO = Path(__file__).resolve().parents[1]
EXTRA = ("name", "notes", "owner", "created", "updated")


def small_config(**updates) -> ExperimentConfig:
    base = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 64, "n_test": 32},
        "model": {"hidden": [8, 8], "norm": {"placement": "before"}},
        "training": {"epochs": 3, "batch_size": 16},
        "instrument": {"probe_size": 32, "log_every": 1},
    })
    return base.with_updates(updates) if updates else base


def store_run(store: RunStore, events: list[dict], config: ExperimentConfig | None = None, **kw) -> str:
    run_id = store.create_run((config or small_config()).to_dict(), **kw)
    for event in events:
        store.append_event(run_id, event)
    return run_id


def without_extras(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in EXTRA}


@pytest.fixture
def store(database):
    with RunStore() as s:
        yield s


def table_counts(store: RunStore, *tables: str) -> list[int]:
    with store.read_transaction() as con:
        return [con.execute(f"SELECT COUNT(*) FROM {t}").scalar() for t in tables]


# --- round trips -------------------------------------------------------------------------

def test_a_stored_run_reads_back_exactly_as_recorded(store):
    events = list(synthetic_events(3, blocks=2, per_block=5, steps=8, log_every=2))
    config = small_config()
    run_id = store_run(store, events, config, owner="ana", name="first")
    expected = record_of(events, config.to_dict(), run_id)
    record = store.get_record(run_id)
    assert json.dumps(without_extras(record)) == json.dumps(expected)  # same bytes, same key order
    assert (record["name"], record["owner"], record["notes"]) == ("first", "ana", "")
    assert record["created"].endswith("+00:00") and record["status"] == "succeeded"
    assert json.loads(store.export_json(run_id)) == {**record, "owner": None, "mine": False}  # for anyone
    assert json.loads(store.export_json(run_id, viewer="ana")) == {**record, "mine": True}


def test_the_record_grows_event_by_event_and_other_connections_see_it(store, tmp_path):
    events = list(synthetic_events(3, blocks=1, per_block=3, steps=4, log_every=1))
    run_id = store.create_run(small_config().to_dict(), status="queued")
    other = RunStore(store.home)  # as another process would
    cut = next(i for i, e in enumerate(events) if e["type"] == "epoch" and e["epoch"] == 2)
    for event in events[: cut + 1]:
        store.append_event(run_id, event)
    seen = other.get_record(run_id)
    assert seen["status"] == "running"
    assert len(seen["history"]["loss"]) == 2 and len(seen["probes"]) == 2  # mid-epoch: probe 2 not yet
    assert other.read_since(run_id)["run"]["progress"]["epoch"] == 2
    for event in events[cut + 1:]:
        store.append_event(run_id, event)
    assert other.get_record(run_id)["status"] == "succeeded"
    other.close()


def test_incremental_reads_add_up_to_the_whole_record(store):
    events = list(synthetic_events(4, blocks=1, per_block=2, steps=4, log_every=1))
    run_id = store.create_run(small_config().to_dict())
    parts, cursor = [], None
    for i, event in enumerate(events):
        store.append_event(run_id, event)
        if i % 5 == 0:
            data = store.read_since(run_id, cursor)
            parts.append(data)
            cursor = data["cursor"]
    parts.append(store.read_since(run_id, cursor))
    whole = store.get_record(run_id)
    assert [b for p in parts for b in p["batches"]] == whole["batches"]
    assert [pr for p in parts for pr in p["probes"]] == whole["probes"]
    assert len([e for p in parts for e in p["epochs"]]) == len(whole["history"]["loss"])


def test_probe_codec_is_exact_for_awkward_values():
    probe = synthetic_probe(3, blocks=2, per_block=2, bins=8, values=100)
    probe["stats_extra"] = {"nan": float("nan"), "inf": float("-inf"), "none": None, "true": True,
                            "big": 2**40, "neg": -7, "tiny": 1e-300, "one": 1.0, "text": "épsilon"}
    skeleton, packed = probe_codec.split(probe)
    assert skeleton is not None
    assert json.dumps(probe_codec.join(skeleton, packed)) == json.dumps(probe)
    huge = {"epoch": 1, "n": 2**80, "label": "a\x00b"}
    skeleton, packed = probe_codec.split(huge)
    assert skeleton is None and probe_codec.join(None, packed) == huge


# --- listing, naming, deleting, exporting ------------------------------------------------

def test_list_runs_is_one_cheap_row_per_run_newest_first(store):
    a = store_run(store, list(synthetic_events(2, blocks=1, per_block=2, steps=2, log_every=1)),
                  owner="ana", name="a")
    b = store.create_run(small_config(**{"model.activation": "tanh"}).to_dict(), owner="bob", name="b")
    rows = store.list_runs()
    assert [r["id"] for r in rows] == [b, a]
    row = rows[1]
    assert row["status"] == "succeeded" and row["dataset"] == "circles" and row["family"] == "mlp"
    assert row["placement"] == "before" and row["activation"] == "relu" and row["epochs"] == 3
    assert row["epochs_completed"] == 2 and row["val_accuracy"] == pytest.approx(0.99)
    assert row["wall_time_s"] == 12.5 and row["owner"] == "ana" and row["created"]
    assert "probes" not in row and "history" not in row
    assert rows[0]["activation"] == "tanh" and rows[0]["accuracy"] is None and rows[0]["status"] == "queued"
    assert [r["id"] for r in store.list_runs(owner="bob")] == [b]
    assert [r["id"] for r in store.list_runs(status="succeeded")] == [a]
    assert [r["id"] for r in store.list_runs(limit=None)] == [b, a]
    assert [r["id"] for r in store.list_runs(limit=1, offset=1)] == [a]


def test_rename_delete_fingerprint_and_model_file(store):
    config = small_config()
    run_id = store_run(store, list(synthetic_events(1, blocks=1, per_block=2, steps=2)), config)
    assert store.find_by_fingerprint(config.fingerprint()) == run_id
    assert store.find_by_fingerprint(small_config(**{"training.seed": 9}).fingerprint()) is None
    store.rename(run_id, "baseline", notes="BN before ReLU")
    record = store.get_record(run_id)
    assert (record["name"], record["notes"]) == ("baseline", "BN before ReLU")
    with pytest.raises(ValueError, match="too long"):
        store.rename(run_id, "x" * 1000)

    assert store.model_path(run_id) is None
    store.partial_model_path(run_id).write_bytes(b"model")
    assert store.commit_model(run_id) == store.models_dir / f"{run_id}.keras"
    assert store.model_path(run_id).read_bytes() == b"model"

    assert store.delete(run_id) is True
    assert store.model_path(run_id) is None and store.list_runs() == []
    with pytest.raises(RunNotFound):
        store.get_record(run_id)
    assert store.delete(run_id) is False
    assert table_counts(store, "batches", "epochs", "probes", "skeletons", "models") == [0] * 5  # nothing orphaned


def test_export_csv_is_the_per_epoch_metrics_table(store):
    run_id = store_run(store, list(synthetic_events(3, blocks=1, per_block=2, steps=2)))
    frame = pd.read_csv(io.StringIO(store.export_csv(run_id)))
    assert list(frame.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert frame["loss"].tolist() == pytest.approx(store.get_record(run_id)["history"]["loss"])


def test_bad_input_is_refused(store):
    with pytest.raises(ConfigError):
        store.create_run({"model": {"hidden": [0]}})
    with pytest.raises(ValueError, match="unknown run status"):
        store.create_run(small_config().to_dict(), status="done")
    run_id = store.create_run(small_config().to_dict())
    with pytest.raises(ValueError, match="unknown run status"):
        store.set_status(run_id, "exploded")
    with pytest.raises(ValueError, match="fingerprint"):
        store.find_by_fingerprint("' OR 1=1 --")


# --- size ------------------------------------------------------------------------------

def test_a_100_epoch_run_of_a_10_block_model_stays_around_1_mb(store):
    """10 blocks x 7 positions x 64 bins per probe, 101 probes, 10 logged batches per epoch."""
    def size() -> int:
        if store.shared:  # PostgreSQL: the tables with their indexes and compressed overflow
            with store.read_transaction() as con:
                return sum(con.execute(f"SELECT pg_total_relation_size('{t}')").scalar()
                           for t in ("runs", "batches", "epochs", "probes", "skeletons"))
        store.checkpoint()
        return sum(p.stat().st_size for p in store.home.glob("runs.db*"))

    config = small_config(**{"model.hidden": [50] * 10, "training.epochs": 100})
    before = size()
    run_id = store_run(store, list(synthetic_events(100, blocks=10, per_block=7, bins=64)), config)
    growth = size() - before
    record = store.get_record(run_id)
    assert len(record["probes"]) == 101 and len(record["probes"][50]["positions"]) == 72
    raw = len(json.dumps(record["probes"]))
    print(f"100-epoch run: {growth / 1e6:.2f} MB in the store ({raw / 1e6:.1f} MB of probe JSON)")
    assert growth < (1.5e6 if store.shared else 1.2e6)  # PostgreSQL counts whole 8 kB pages of tables and indexes


# --- crash recovery ----------------------------------------------------------------------

def _stamp(store: RunStore, run_id: str, token: str) -> None:
    with store.write_transaction() as con:
        con.execute("UPDATE runs SET proc_token=?, status='running' WHERE id=?", (token, run_id))


def test_open_marks_runs_of_dead_processes_interrupted_but_not_live_ones(store):
    if store.shared:
        pytest.skip("lock files prove liveness on one machine only; PostgreSQL: the heartbeat tests below")
    events = list(synthetic_events(3, blocks=1, per_block=2, steps=2))
    cut = next(i for i, e in enumerate(events) if e["type"] == "probe" and e["probe"]["epoch"] == 2)
    dead, alive, mine = (store_run(store, events[: cut + 1]) for _ in range(3))
    _stamp(store, dead, "0123456789abcdef")  # no lock file: its process is gone
    _stamp(store, alive, "fedcba9876543210")
    store.locks_dir.mkdir(exist_ok=True)
    lock = os.open(store.locks_dir / "fedcba9876543210.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another live process holds its lock
    stale = store.locks_dir / "00000000000000aa.lock"
    stale.write_text("1")
    store.partial_model_path(dead).write_bytes(b"half a model")
    try:
        reopened = RunStore(store.home)
        assert reopened.status(dead) == "interrupted"
        assert reopened.status(alive) == "running" and reopened.status(mine) == "running"
        record = reopened.get_record(dead)
        assert len(record["history"]["loss"]) == 2 and len(record["probes"]) == 3
        assert record["summary"]["epochs_completed"] == 2
        assert record["summary"]["final"]["loss"] == record["history"]["loss"][-1]
        assert "interrupted" in record["summary"]["error"]
        assert not store.partial_model_path(dead).exists() and not stale.exists()
    finally:
        os.close(lock)
    assert reopened.recover() == [alive]  # its process has now "died"
    reopened.close()


# --- the CLI ----------------------------------------------------------------------------

def test_cli_train_records_into_the_store_and_runs_commands_manage_it(database, tmp_path, capsys, monkeypatch):
    config_file = tmp_path / "c.json"
    config_file.write_text(small_config(**{"training.epochs": 2}).to_json())
    out = tmp_path / "run.json"
    args = ["train", "--config", str(config_file), "--quiet", "--name", "from cli", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    run_id = printed.split("run id: ")[1].split()[0]
    assert json.loads(out.read_text())["id"] == run_id

    assert main(["runs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["name"], r["owner"], r["status"]) for r in rows] == [(run_id, "from cli", "cli",
                                                                               "succeeded")]
    assert main(["runs", "list"]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["runs", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert "succeeded" in shown and "from cli" in shown and ".keras" in shown

    assert main(["runs", "export", run_id, "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported == {**json.loads(out.read_text()), "mine": True}  # the CLI's own run
    assert len(exported["history"]["loss"]) == 2 and len(exported["probes"]) == 3
    csv_file = tmp_path / "m.csv"
    assert main(["runs", "export", run_id, "--format", "csv", "--out", str(csv_file)]) == 0
    assert pd.read_csv(csv_file)["epoch"].tolist() == [1, 2]

    assert main(["runs", "delete", run_id]) == 0
    assert main(["runs", "show", run_id]) == 2
    assert "no run with id" in capsys.readouterr().err

    monkeypatch.setattr("bnviz.train.training.train", FakeTrainer())  # the no-store path needs no real training
    assert main(["train", "--config", str(config_file), "--quiet", "--no-store"]) == 0
    assert "run id" not in capsys.readouterr().out
    with RunStore() as store:
        assert store.list_runs() == []
