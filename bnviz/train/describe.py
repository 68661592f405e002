"""What a config will build, without training it: input shape, classes, layer table.

The web server shows this for every form change but must not load a training framework
(TensorFlow's import alone costs seconds and memory, and Keras being imported makes
Streamlit clear Keras' session, with a full garbage collection, after every rerun). So the
dashboard asks a small helper process that builds the model on Keras' numpy backend.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.data import registry


def data_shape(config: ExperimentConfig) -> tuple[tuple[int, ...], int]:
    """Input shape and number of classes from the dataset's registry entry; the data is read only
    when the entry cannot say (your own npz/csv files)."""
    known = registry.get(config.dataset.name).known_shape(config.dataset)
    if known is not None:
        return known
    from bnviz.data.loading import load_dataset

    data = load_dataset(config.dataset)
    return data.input_shape, data.n_classes


def model_summary(config: ExperimentConfig) -> dict[str, Any]:
    """The Keras model summary as data: layers with output shapes and parameters, and totals."""
    from bnviz.train import models

    shape, classes = data_shape(config)
    model = models.build_model(config, shape, classes)
    return {"layers": models.layer_table(model), "params": models.param_counts(model),
            "blocks": [b.__dict__ for b in models.blocks(model)], "input_shape": list(shape),
            "n_classes": classes, "loss": models.resolve_loss(config, classes)}


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _start_helper() -> None:
    """The helper builds and counts models on Keras' numpy backend (it never trains), and leaves Ctrl-C in the
    server's terminal to the server: it ends with its parent's pool, without a traceback of its own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["KERAS_BACKEND"] = "numpy"


def _summary_of(config_json: str) -> str:
    return json.dumps(model_summary(ExperimentConfig.from_json(config_json)))


def model_summary_isolated(config: ExperimentConfig, timeout: float = 120.0) -> dict[str, Any]:
    """`model_summary`, computed in a helper process (started on first use, then kept warm)."""
    import multiprocessing

    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_helper)
        pool = _pool
    return json.loads(pool.submit(_summary_of, config.to_json()).result(timeout=timeout))
