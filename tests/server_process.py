"""A stand-in for the dashboard's server process, for the kill tests: the same job manager and
supervised local workers that ui/service.py builds, without Streamlit.

    BNVIZ_HOME=... python tests/server_process.py OUT_DIR

Trains one short run to the end and writes OUT_DIR/short.json (its id, exported record and a
digest of its raw rows), then queues a long run and a short one behind it and writes
OUT_DIR/long.json with both ids, each file atomically. Then it waits until killed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def raw_digest(db_path: str | os.PathLike[str], run_id: str) -> str:
    """Hash of every stored row of a run (read-only), to prove it is untouched byte for byte."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for table, key in (("runs", "id"), ("batches", "run_id"), ("epochs", "run_id"), ("probes", "run_id")):
            order = "" if table == "runs" else " ORDER BY seq"
            for row in con.execute(f"SELECT * FROM {table} WHERE {key}=?{order}", (run_id,)):
                digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        con.close()


def _write(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def config(epochs: int, seed: int = 0):
    from bnviz.config import ExperimentConfig

    return ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 64, "n_test": 32},
        "model": {"hidden": [8], "norm": {"placement": "before"}},
        "training": {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16, "epochs": epochs,
                     "seed": seed},
        "instrument": {"probe_size": 32, "log_every": 1},
    })


def main(out_dir: Path) -> None:
    from bnviz.jobs import JobManager
    from bnviz.jobs.supervisor import LocalWorkers
    from bnviz.store import RunStore

    store = RunStore()
    manager = JobManager(store, LocalWorkers(store)).start()
    short = manager.submit(config(2), owner="server", name="short")
    manager.wait(short.run_id)
    _write(out_dir / "short.json", {"id": short.run_id, "record": store.export_json(short.run_id),
                                    "digest": raw_digest(store.db_path, short.run_id)})
    long = manager.submit(config(5000), owner="server", name="long")
    after = manager.submit(config(2, seed=1), owner="server", name="queued behind it")
    _write(out_dir / "long.json", {"id": long.run_id, "queued": after.run_id})
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
