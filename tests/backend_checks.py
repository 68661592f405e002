"""The cross-backend checks, run in whatever Keras backend this process has.

pytest runs them in its own (TensorFlow) process by importing this module, and on the other
backends in a subprocess (a process holds one backend):

    KERAS_BACKEND=jax python tests/backend_checks.py WORKDIR   # prints the results as JSON

WORKDIR holds `probe.weights.h5` and `probe_batch.npz` written by the TensorFlow side, so both
backends probe identical weights on an identical batch.
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


def prober_for(config: ExperimentConfig, x, y, weights: Path | None = None):
    import keras

    from bnviz.models import build_model
    from bnviz.probes import Prober

    model = build_model(config, (2,), 2)
    if weights is not None:
        model.load_weights(weights)
    return model, Prober(model, x, y, keras.losses.get("binary_crossentropy"), config.instrument)


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
    from bnviz.training import train

    config = tiny(**{"model.norm.placement": "before", "training.epochs": 2, "instrument.log_every": 2})
    first, second = train(config), train(config)
    assert first["status"] == second["status"] == "succeeded", (first["summary"], second["summary"])
    return {"first": first["history"], "second": second["history"], "summary": first["summary"]}


CROSS_CONFIG = {"model.norm.placement": "before", "model.hidden": [16, 8], "instrument.probe_size": 128}


def save_cross_inputs(workdir: Path) -> None:
    """Weights and a probe batch for `cross_probe`, written once (by the TensorFlow side)."""
    x, y = skewed_batch()
    model, _ = prober_for(tiny(**CROSS_CONFIG), x, y)
    rng = np.random.default_rng(5)
    for layer in ("dense1_bn", "dense2_bn"):  # non-trivial moving statistics and BN parameters
        bn = model.get_layer(layer)
        n = bn.moving_mean.shape[0]
        bn.moving_mean.assign(rng.normal(size=n).astype("float32"))
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=n).astype("float32"))
        bn.gamma.assign(rng.uniform(0.5, 1.5, size=n).astype("float32"))
    model.save_weights(workdir / "probe.weights.h5")
    np.savez(workdir / "probe_batch.npz", x=x, y=y)


def cross_probe(workdir: Path) -> dict:
    batch = np.load(workdir / "probe_batch.npz")
    _, prober = prober_for(tiny(**CROSS_CONFIG), batch["x"], batch["y"], workdir / "probe.weights.h5")
    return prober.probe(0)


def run_all(workdir: Path) -> dict:
    import keras

    from bnviz import backends

    return {"backend": keras.config.backend(), "device": backends.configure(),
            "bn": bn_statistics(), "max_change": probing_changes_nothing(),
            "history": history_twice(), "cross": cross_probe(workdir)}


if __name__ == "__main__":
    print(json.dumps(run_all(Path(sys.argv[1]))))
