"""What a config will build, without training it: input shape, classes, layer table."""

from __future__ import annotations

from typing import Any

from bnviz.config import ExperimentConfig

_KNOWN: dict[str, tuple[tuple[int, ...], int | None]] = {
    "circles": ((2,), 2), "moons": ((2,), 2), "spirals": ((2,), 2), "blobs": ((2,), None),
    "digits": ((8, 8, 1), 10), "mnist": ((28, 28, 1), 10), "fashion_mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
}


def data_shape(config: ExperimentConfig) -> tuple[tuple[int, ...], int]:
    """Input shape and number of classes; reads the file only for your own npz/csv data."""
    name = config.dataset.name
    if name in _KNOWN:
        shape, classes = _KNOWN[name]
        return shape, classes or config.dataset.n_classes
    from bnviz.datasets import load_dataset

    data = load_dataset(config.dataset)
    return data.input_shape, data.n_classes


def model_summary(config: ExperimentConfig) -> dict[str, Any]:
    """The Keras model summary as data: layers with output shapes and parameters, and totals."""
    from bnviz import device, models

    device.configure()
    shape, classes = data_shape(config)
    model = models.build_model(config, shape, classes)
    return {"layers": models.layer_table(model), "params": models.param_counts(model),
            "blocks": [b.__dict__ for b in models.blocks(model)], "input_shape": list(shape),
            "n_classes": classes, "loss": models.resolve_loss(config, classes)}
