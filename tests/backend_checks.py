"""The cross-backend checks, run in whatever Keras backend this process has.

pytest runs them in its own (TensorFlow) process by importing this module, and on the other
backends in a subprocess (a process holds one backend):

    KERAS_BACKEND=jax python tests/backend_checks.py WORKDIR   # prints the results as JSON

WORKDIR holds each cross-check model's weights and probe batch, written by the TensorFlow side, so
every backend probes identical weights on an identical batch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnviz.config import ExperimentConfig


def tiny(**updates) -> ExperimentConfig:
    import keras

    from tests.conftest import tiny_config

    return tiny_config(**{"training.backend": keras.config.backend(), **updates})


def skewed_batch() -> tuple[np.ndarray, np.ndarray]:
    """Inputs far from zero mean and unit variance, so un-normalized positions clearly are not."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(128, 2)) * [3.0, 0.5] + [4.0, -2.0]).astype("float32")
    return x, (x[:, 0] > 4).astype("float32").reshape(-1, 1)


def prober_for(config: ExperimentConfig, x, y, weights: Path | None = None, loss: str = "binary_crossentropy"):
    import keras

    from bnviz.train.models import build_model
    from bnviz.train.probes import Prober

    model = build_model(config, x.shape[1:], 3 if loss.startswith("sparse") else 2)
    if weights is not None:
        model.load_weights(weights)
    return model, Prober(model, x, y, keras.losses.get(loss), config.instrument)


def bn_statistics() -> dict:
    """Per-unit statistics before and after BN, from a training-mode probe."""
    x, y = skewed_batch()
    _, prober = prober_for(tiny(**{"model.norm.placement": "before", "model.hidden": [16]}), x, y)
    positions = {(p["layer"], p["kind"]): p["stats"] for p in prober.probe(0)["positions"]}
    return {"bn_output": positions[("dense1_bn", "bn_output")], "bn_input": positions[("dense1_bn", "bn_input")]}


def probing_changes_nothing() -> float:
    """Largest change of any variable (weights, moving statistics, seeds) over three probes."""
    from keras import ops

    x, y = skewed_batch()
    model, prober = prober_for(tiny(**{"model.norm.placement": "after", "model.hidden": [16]}), x, y)
    model.get_layer("dense1_bn").moving_mean.assign(np.full(16, 0.25, "float32"))
    before = [np.array(ops.convert_to_numpy(v)) for v in model.variables]
    for epoch in range(3):
        prober.probe(epoch)
    after = [np.array(ops.convert_to_numpy(v)) for v in model.variables]
    assert len(before) == len(after) > 0
    return max(float(np.max(np.abs(a.astype("float64") - b))) if a.size else 0.0 for a, b in zip(before, after))


def history_twice() -> dict:
    """Train the same config and seed twice (log_every 2: TensorFlow and JAX fuse two steps per
    execution, PyTorch cannot and must train one at a time)."""
    from bnviz.train.training import train

    config = tiny(**{"model.norm.placement": "before", "training.epochs": 2, "instrument.log_every": 2})
    first, second = train(config), train(config)
    assert first["status"] == second["status"] == "succeeded", (first["summary"], second["summary"])
    return {"first": first["history"], "second": second["history"], "summary": first["summary"]}


def image_batch() -> tuple[np.ndarray, np.ndarray]:
    """Small skewed images and three classes, for the convolution path (XLA on a CPU runs bnviz's
    convolutions with other kernels than its matrix products, see bnviz.train.backends)."""
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(64, 10, 10, 1)) * 0.5 + 0.25).astype("float32")
    return x, rng.integers(0, 3, size=64).astype("int32")


# name -> (config updates, batch, loss): identical weights and batch on every backend
CROSS = {
    "mlp": ({"model.norm.placement": "before", "model.hidden": [16, 8], "instrument.probe_size": 128},
            skewed_batch, "binary_crossentropy"),
    "cnn": ({"dataset.name": "mnist", "model.family": "cnn", "model.filters": [4, 8], "model.hidden": [8],
             "model.norm.placement": "before", "instrument.probe_size": 64},
            image_batch, "sparse_categorical_crossentropy"),
}


def save_cross_inputs(workdir: Path) -> None:
    """Weights and a probe batch per CROSS model for `cross_probes`, written once (by the TensorFlow side)."""
    import keras

    rng = np.random.default_rng(5)
    for name, (updates, batch, loss) in CROSS.items():
        x, y = batch()
        model, _ = prober_for(tiny(**updates), x, y, loss=loss)
        for bn in (layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)):
            n = bn.moving_mean.shape[0]  # non-trivial moving statistics and BN parameters
            bn.moving_mean.assign(rng.normal(size=n).astype("float32"))
            bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=n).astype("float32"))
            bn.gamma.assign(rng.uniform(0.5, 1.5, size=n).astype("float32"))
        model.save_weights(workdir / f"{name}.weights.h5")
        np.savez(workdir / f"{name}_batch.npz", x=x, y=y)


def cross_probes(workdir: Path) -> dict:
    """Each CROSS model's first probe, from the saved weights and batch."""
    probes = {}
    for name, (updates, _, loss) in CROSS.items():
        batch = np.load(workdir / f"{name}_batch.npz")
        _, prober = prober_for(tiny(**updates), batch["x"], batch["y"], workdir / f"{name}.weights.h5", loss)
        probes[name] = prober.probe(0)
    return probes


def run_all(workdir: Path) -> dict:
    import keras

    from bnviz.train import backends

    return {"backend": keras.config.backend(), "device": backends.configure(),
            "bn": bn_statistics(), "max_change": probing_changes_nothing(),
            "history": history_twice(), "cross": cross_probes(workdir)}


if __name__ == "__main__":
    print(json.dumps(run_all(Path(sys.argv[1]))))
