"""Configs the cards share: a preset in its fast or full variant, and Ioffe & Szegedy's MNIST MLP."""

from __future__ import annotations

from bnviz.config import ExperimentConfig
from bnviz.presets import PRESETS, fast_summary


def preset_config(name: str, fast: bool) -> ExperimentConfig:
    """The config of preset `name`, or of its "-fast" variant."""
    return PRESETS[f"{name}-fast" if fast else name].config


def fast_note(name: str) -> str:
    """"fast: ..." for a card's setup line: every setting the preset's fast variant changes, from its change table."""
    return f"fast: {fast_summary(name)}"


def published_accuracy(name: str) -> float | None:
    """The test accuracy the preset's source reports, if it reports one."""
    return PRESETS[name].published.get("test_accuracy")


def mnist_mlp(placement: str = "none", *, fast: bool, lr: float = 1.0, scale: float = 1.0,
               activation: str = "sigmoid", depth: int = 3, n_train_fast: int = 8000, epochs_fast: int = 5,
               epochs_full: int = 50) -> ExperimentConfig:
    """Ioffe & Szegedy's Fig. 1 network: MNIST, `depth` x 100 units, batch 60, plain SGD.
    Full size: 50 epochs of 60,000 digits = the paper's 50,000 steps."""
    return ExperimentConfig.from_dict({
        "dataset": {"name": "mnist", "n_train": n_train_fast if fast else None, "preprocessing": "unit"},
        "model": {"family": "mlp", "hidden": [100] * depth, "activation": activation,
                  "norm": {"placement": placement}, "weight_scale": scale},
        "training": {"optimizer": "sgd", "learning_rate": lr, "batch_size": 60,
                     "epochs": epochs_fast if fast else epochs_full, "seed": 0},
    })


BN_LABELS = {"none": "no BN", "before": "BN before sigmoid"}
