"""Shared fixtures: a private BNVIZ_HOME per test session, tiny configs, the real MNIST digits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["BNVIZ_OFFLINE"] = "1"  # tests never download

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    """Every test gets its own store and data directory."""
    monkeypatch.setenv("BNVIZ_HOME", str(tmp_path / "home"))


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
    from bnviz.datasets import read_idx_gz, write_idx_gz

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

    from bnviz.store import RunStore
    from bnviz.worker import Worker
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
