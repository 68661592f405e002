"""Which examples each batch of a real run starts with, in whatever Keras backend this process has.

pytest imports it in its own (TensorFlow) process; on JAX it runs in a subprocess (a process holds
one backend):

    KERAS_BACKEND=jax python tests/order_checks.py     # prints the results as JSON

The batches `bnviz.train.ordering.epoch_batches` serves are recorded as Keras reads them (their
rows mapped back to training-example indices), tagged with the epoch that had begun: a tf.data
pipeline through a `tf.py_function`, the PyDataset of other backends by wrapping `__getitem__`.
Keras may open an epoch's iterator early and drop it; such reads repeat the epoch's first batches,
so each epoch's trained batches are its first `steps` reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def batch_orders(seed: int = 3, epochs: int = 3) -> dict:
    """Per epoch, the training-example index of the first example of every batch."""
    import keras
    import numpy as np

    from bnviz.data.loading import load_dataset
    from bnviz.train import ordering
    from bnviz.train.training import train
    from tests.conftest import tiny_config

    config = tiny_config(**{"training.backend": keras.config.backend(), "training.epochs": epochs,
                            "training.seed": seed, "dataset.n_train": 96})
    data = load_dataset(config.dataset)
    index = {row.tobytes(): i for i, row in enumerate(data.x_train)}
    assert len(index) == len(data.x_train)  # every example is told apart by its values
    reads: list[tuple[int, list[int]]] = []  # (epoch begun, example indices of the batch read)
    original = ordering.epoch_batches
    state = {"epoch": -1, "steps": 0}

    def record(rows) -> None:
        reads.append((state["epoch"], [index[np.asarray(row).tobytes()] for row in rows]))

    def recording(x, y, **kwargs):
        data, set_epoch = original(x, y, **kwargs)
        state["steps"] = -(-len(x) // kwargs["batch_size"])
        begin = set_epoch.on_epoch_begin

        def tagged_begin(epoch, logs=None):
            state["epoch"] = epoch
            begin(epoch, logs)

        set_epoch.on_epoch_begin = tagged_begin
        if keras.config.backend() == "tensorflow":
            import tensorflow as tf

            def tap(xb, yb):
                token = tf.py_function(lambda rows: record(rows.numpy()) or 0, [xb], tf.int32)
                with tf.control_dependencies([token]):
                    return tf.identity(xb), yb

            return data.map(tap), set_epoch
        get = type(data).__getitem__

        def recorded_get(self, i):
            batch = get(self, i)
            record(batch[0])
            return batch

        type(data).__getitem__ = recorded_get
        return data, set_epoch

    ordering.epoch_batches = recording
    try:
        record = train(config, dataset=data)
    finally:
        ordering.epoch_batches = original
    assert record["status"] == "succeeded", record["summary"]["error"]
    epochs_seen = []
    for epoch in range(epochs):
        batches = [rows for tag, rows in reads if tag == epoch][:state["steps"]]
        epochs_seen.append({"first": [rows[0] for rows in batches], "all": sorted(i for rows in batches for i in rows)})
    return {"backend": keras.config.backend(), "n": len(data.x_train), "epochs": epochs_seen,
            "history": record["history"]}


if __name__ == "__main__":
    print(json.dumps({"same_seed": [batch_orders(), batch_orders()], "other_seed": batch_orders(seed=4)}))
