"""Named experiments: the four Keras tutorials, exactly, plus a fast classroom variant of each.

`NAME-fast` variants keep the architecture and optimizer and shrink data and epochs so a
run finishes in well under a minute on a 2-core CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from bnviz.config import ConfigError, ExperimentConfig


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: ExperimentConfig
    published: dict[str, float]  # the source's reported numbers, for the reproduction report
    source: str


def _circles(placement: str) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 500, "n_test": 500, "noise": 0.1, "seed": 1},
        "model": {"family": "mlp", "hidden": [50], "activation": "relu", "initializer": "he_uniform",
                  "norm": {"placement": placement}},
        "training": {"optimizer": "momentum", "learning_rate": 0.01, "momentum": 0.9, "batch_size": 32,
                     "epochs": 100, "seed": 1},
    })


def _mnist_a(bn: bool) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "dataset": {"name": "mnist", "preprocessing": "unit"},
        "model": {"family": "mnist_cnn_a", "activation": "relu", "norm": {"placement": "after" if bn else "none"}},
        "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 250, "epochs": 25,
                     "loss": "sparse_categorical_crossentropy", "validation": "split", "validation_split": 0.2},
    })


def _mnist_b(bn: bool) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "dataset": {"name": "mnist", "n_train": 8000, "n_test": 200, "preprocessing": "raw"},
        "model": {"family": "mnist_cnn_b", "activation": "relu", "norm": {"placement": "after" if bn else "none"}},
        "training": {"optimizer": "rmsprop", "learning_rate": 0.001, "batch_size": 16, "epochs": 30,
                     "loss": "categorical_crossentropy"},
    })


def _cifar(activation: str, bn: bool) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "dataset": {"name": "cifar10", "preprocessing": "unit", "augmentation": "shear_zoom_flip"},
        "model": {"family": "cifar10_cnn", "activation": activation,
                  "norm": {"placement": "after" if bn else "none"}},
        "training": {"optimizer": "rmsprop", "learning_rate": 0.001, "batch_size": 32, "epochs": 10,
                     "loss": "categorical_crossentropy"},
    })


_CIRCLES = "MLP on two circles, Dense(50, relu) -> Dense(1, sigmoid), SGD+momentum, 100 epochs"
_MNIST_A = "MNIST CNN 32-64 conv, Dense(256), Adam, batch 250, 25 epochs"
_MNIST_B = "MNIST CNN on 8,000 raw-pixel digits, Dense(128), RMSprop, batch 16, 30 epochs"
_CIFAR = "CIFAR-10 CNN 32-32-64-64, Dense(128), RMSprop, augmentation, 10 epochs"

_FULL: list[Preset] = [
    Preset("seed001-circles-none", f"{_CIRCLES}; no BN", _circles("none"),
           {"test_accuracy": 0.846}, "circles tutorial"),
    Preset("seed001-circles-after", f"{_CIRCLES}; BN after the ReLU", _circles("after"),
           {"test_accuracy": 0.848}, "circles tutorial"),
    Preset("seed001-circles-before", f"{_CIRCLES}; BN between Dense and ReLU", _circles("before"),
           {"test_accuracy": 0.830}, "circles tutorial"),
    Preset("seed000-mnist-none", f"{_MNIST_A}; no BN", _mnist_a(False),
           {"test_accuracy": 0.97}, "MNIST CNN tutorial A"),
    Preset("seed000-mnist-bn", f"{_MNIST_A}; BN after every conv, pool and dense", _mnist_a(True),
           {"test_accuracy": 0.992}, "MNIST CNN tutorial A"),
    Preset("seed002-mnist-none", f"{_MNIST_B}; no BN", _mnist_b(False),
           {"test_accuracy": 0.91}, "MNIST CNN tutorial B"),
    Preset("seed002-mnist-bn", f"{_MNIST_B}; BN after conv2 and the dense dropout", _mnist_b(True),
           {"test_accuracy": 0.975}, "MNIST CNN tutorial B"),
    Preset("seed003-cifar10-sigmoid", f"{_CIFAR}; sigmoid, no BN", _cifar("sigmoid", False),
           {}, "CIFAR-10 sigmoid tutorial"),
    Preset("seed003-cifar10-sigmoid-bn", f"{_CIFAR}; sigmoid with BN", _cifar("sigmoid", True),
           {}, "CIFAR-10 sigmoid tutorial"),
    Preset("seed003-cifar10-relu", f"{_CIFAR}; ReLU, no BN", _cifar("relu", False),
           {}, "CIFAR-10 sigmoid tutorial"),
    Preset("seed003-cifar10-relu-bn", f"{_CIFAR}; ReLU with BN", _cifar("relu", True),
           {}, "CIFAR-10 sigmoid tutorial"),
]

# Smaller data and fewer epochs, same architecture: well under a minute on 2 CPU cores.
_FAST_CHANGES: dict[str, dict] = {
    "seed001": {"training.epochs": 30},
    # 300 updates instead of 4,800: with momentum 0.99 BN's moving variance would still hold 5% of its
    # initial 1.0, twenty times conv1's real variance, and inference accuracy would collapse to chance.
    "seed000": {"dataset.n_train": 4000, "dataset.n_test": 1000, "training.epochs": 3, "training.batch_size": 32,
                "model.norm.momentum": 0.9},
    "seed002": {"dataset.n_train": 1000, "dataset.n_test": 200, "training.epochs": 3},
    "seed003": {"dataset.n_train": 1000, "dataset.n_test": 200, "training.epochs": 2},
}


def _fast(preset: Preset) -> Preset:
    changes = _FAST_CHANGES[preset.name.split("-")[0]]
    summary = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in changes.items())
    return Preset(f"{preset.name}-fast", f"{preset.description} (classroom: {summary})",
                  preset.config.with_updates(changes), {}, preset.source)


PRESETS: dict[str, Preset] = {p.name: p for p in _FULL}
PRESETS.update({f.name: f for f in map(_fast, _FULL)})


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; run `python -m bnviz presets` to list them") from None
