"""Helper process for the kill test: finish one short run, then train a long one until killed.

    BNVIZ_HOME=... python tests/crash_worker.py OUT_DIR

Writes OUT_DIR/short.json (the finished run's id, exported record and a digest of its raw
database rows) and OUT_DIR/long.json (the long run's id), each atomically, then trains.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
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


def config(epochs: int):
    from bnviz.config import ExperimentConfig

    return ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 64, "n_test": 32},
        "model": {"hidden": [8], "norm": {"placement": "before"}},
        "training": {"optimizer": "momentum", "learning_rate": 0.05, "batch_size": 16, "epochs": epochs},
        "instrument": {"probe_size": 32, "log_every": 1},
    })


def main(out_dir: Path) -> None:
    from bnviz.jobs import JobManager

    manager = JobManager()
    store = manager.store
    short = manager.submit(config(2), owner="worker", name="short")
    manager.wait(short.run_id)
    _write(out_dir / "short.json", {"id": short.run_id, "record": store.export_json(short.run_id),
                                    "digest": raw_digest(store.db_path, short.run_id)})
    long = manager.submit(config(5000), owner="worker", name="long")
    _write(out_dir / "long.json", {"id": long.run_id})
    manager.wait(long.run_id)  # until the test kills us


if __name__ == "__main__":
    main(Path(sys.argv[1]))
