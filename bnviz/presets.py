"""Named experiments: the four Keras tutorials and Ioffe & Szegedy's Figure 1, exactly, plus a
fast classroom variant of each.

`NAME-fast` variants keep the architecture and optimizer and shrink data and epochs so a
run finishes in well under a minute on a 2-core CPU. Each preset has a human title and a
group (Tutorials, Papers) for menus; its description is written from its config, so it
always says what the preset really does, and a fast variant's description names every
setting its change table (`_FAST_CHANGES`) changes, with the old and the new value.
"""

from __future__ import annotations

from dataclasses import dataclass

from bnviz.config import ConfigError, ExperimentConfig

GROUPS = ("Tutorials", "Papers")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: ExperimentConfig
    published: dict[str, float]  # the source's reported numbers, for the reproduction report
    source: str
    title: str = ""  # what a menu shows, e.g. "Circles tutorial · BN after ReLU"
    group: str = "Tutorials"


_OPTIMIZERS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam", "rmsprop": "RMSprop"}
_PLACEMENTS = {"none": "no BN", "before": "BN before the activation", "after": "BN after the activation"}


def describe(config: ExperimentConfig) -> str:
    """One line from the config itself: data, model, BN, optimizer, batch, epochs."""
    d, m, t = config.dataset, config.model, config.training
    data = f"{d.n_train:,} {d.name} examples" if d.n_train else f"{d.name} (all)"
    width = f"{m.family} {'-'.join(str(h) for h in m.hidden)}" if m.family in ("mlp", "cnn") else m.family
    optimizer = _OPTIMIZERS.get(t.optimizer, t.optimizer)
    if t.optimizer == "momentum":
        optimizer += f" {t.momentum:g}"
    bn = _PLACEMENTS[m.norm.placement] + (f" (BN momentum {m.norm.momentum:g})" if m.norm.enabled else "")
    return (f"{data}; {width}, {m.activation}; {bn}; {optimizer}, lr {t.learning_rate:g}, "
            f"batch {t.batch_size}, {t.epochs} epochs")


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


def _ioffe_fig1(bn: bool) -> ExperimentConfig:
    """Ioffe & Szegedy 2015, Fig. 1: MNIST, 3 x 100 sigmoid units, batch 60, plain SGD;
    50 epochs of 60,000 digits = the paper's 50,000 steps."""
    return ExperimentConfig.from_dict({
        "dataset": {"name": "mnist", "preprocessing": "unit"},
        "model": {"family": "mlp", "hidden": [100, 100, 100], "activation": "sigmoid",
                  "norm": {"placement": "before" if bn else "none"}},
        "training": {"optimizer": "sgd", "learning_rate": 1.0, "batch_size": 60, "epochs": 50, "seed": 0},
    })


def _preset(name: str, title: str, extra: str, config: ExperimentConfig, published: dict[str, float],
            source: str, group: str = "Tutorials") -> Preset:
    description = describe(config) + (f"; {extra}" if extra else "")
    return Preset(name, description, config, published, source, title=title, group=group)


_FULL: list[Preset] = [
    _preset("seed001-circles-none", "Circles tutorial · no BN", "", _circles("none"),
            {"test_accuracy": 0.846}, "circles tutorial"),
    _preset("seed001-circles-after", "Circles tutorial · BN after ReLU", "", _circles("after"),
            {"test_accuracy": 0.848}, "circles tutorial"),
    _preset("seed001-circles-before", "Circles tutorial · BN before ReLU", "BN between Dense and ReLU",
            _circles("before"), {"test_accuracy": 0.830}, "circles tutorial"),
    _preset("seed000-mnist-none", "Digits CNN (Adam) · no BN", "", _mnist_a(False),
            {"test_accuracy": 0.97}, "MNIST CNN tutorial A"),
    _preset("seed000-mnist-bn", "Digits CNN (Adam) · with BN", "BN after every conv, pool and dense",
            _mnist_a(True), {"test_accuracy": 0.992}, "MNIST CNN tutorial A"),
    _preset("seed002-mnist-none", "Digits CNN on raw pixels · no BN", "", _mnist_b(False),
            {"test_accuracy": 0.91}, "MNIST CNN tutorial B"),
    _preset("seed002-mnist-bn", "Digits CNN on raw pixels · with BN", "BN after conv2 and the dense dropout",
            _mnist_b(True), {"test_accuracy": 0.975}, "MNIST CNN tutorial B"),
    _preset("seed003-cifar10-sigmoid", "CIFAR-10 CNN · sigmoid, no BN", "augmentation",
            _cifar("sigmoid", False), {}, "CIFAR-10 sigmoid tutorial"),
    _preset("seed003-cifar10-sigmoid-bn", "CIFAR-10 CNN · sigmoid with BN", "augmentation",
            _cifar("sigmoid", True), {}, "CIFAR-10 sigmoid tutorial"),
    _preset("seed003-cifar10-relu", "CIFAR-10 CNN · ReLU, no BN", "augmentation", _cifar("relu", False),
            {}, "CIFAR-10 sigmoid tutorial"),
    _preset("seed003-cifar10-relu-bn", "CIFAR-10 CNN · ReLU with BN", "augmentation", _cifar("relu", True),
            {}, "CIFAR-10 sigmoid tutorial"),
    _preset("ioffe2015-fig1-none", "Ioffe & Szegedy Fig. 1 · no BN", "the paper's MNIST network",
            _ioffe_fig1(False), {}, "Ioffe & Szegedy 2015, Figure 1", group="Papers"),
    _preset("ioffe2015-fig1-bn", "Ioffe & Szegedy Fig. 1 · BN before sigmoid", "the paper's MNIST network",
            _ioffe_fig1(True), {}, "Ioffe & Szegedy 2015, Figure 1", group="Papers"),
]

# Smaller data and fewer epochs, same architecture: well under a minute on 2 CPU cores.
_FAST_CHANGES: dict[str, dict] = {
    "seed001": {"training.epochs": 30},
    # 300 updates instead of 4,800: with momentum 0.99 BN's moving variance would still hold 5% of its
    # initial 1.0, twenty times conv1's real variance, and inference accuracy would collapse to chance.
    "seed000": {"dataset.n_train": 4000, "dataset.n_test": 1000, "training.epochs": 3, "training.batch_size": 32,
                "model.norm.momentum": 0.9},
    "seed002": {"dataset.n_train": 1000, "training.epochs": 3},  # n_test stays the tutorial's 200
    "seed003": {"dataset.n_train": 1000, "dataset.n_test": 200, "training.epochs": 2},
    "ioffe2015": {"dataset.n_train": 8000, "training.epochs": 5},
}


# How each key of a change table reads in words: (before the value, after the value).
_CHANGE_WORDS: dict[str, tuple[str, str]] = {
    "dataset.n_train": ("", " training examples"),
    "dataset.n_test": ("", " test examples"),
    "training.epochs": ("", " epochs"),
    "training.batch_size": ("batch size ", ""),
    "training.learning_rate": ("learning rate ", ""),
    "model.norm.momentum": ("BN momentum ", ""),
}


def _value(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _current(config: ExperimentConfig, key: str) -> object:
    node: object = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _whole(config: ExperimentConfig, key: str) -> str:
    """What a None size means: "all 60,000" (the dataset's full split), or "all" when unknown."""
    from bnviz.data import registry

    try:
        count = getattr(registry.get(config.dataset.name), key.split(".")[-1])
    except Exception:  # an unregistered dataset: the words still say what changed
        count = None
    return f"all {count:,}" if count else "all"


def change_words(config: ExperimentConfig, changes: dict[str, object]) -> str:
    """Every change of a change table in words, from the table itself, e.g. "4,000 training
    examples instead of all 60,000, 3 epochs instead of 25, BN momentum 0.9 instead of 0.99"."""
    parts = []
    for key, new in changes.items():
        before, after = _CHANGE_WORDS.get(key, (f"{key} ", ""))
        old = _current(config, key)
        old_text = _whole(config, key) if old is None else _value(old)
        parts.append(f"{before}{_value(new)}{after} instead of {old_text}")
    return ", ".join(parts)


def fast_changes(name: str) -> dict[str, object]:
    """The change table that turns full preset `name` (or its family, e.g. "seed000") into `name-fast`."""
    return dict(_FAST_CHANGES[name.split("-")[0]])


def relevant_changes(config: ExperimentConfig, changes: dict[str, object]) -> dict[str, object]:
    """`changes` without the normalization settings of a model that normalizes nothing: they would
    change nothing, and "BN momentum 0.9 instead of 0.99" on a run without BN misleads."""
    if not config.model.norm.enabled:
        return {k: v for k, v in changes.items() if not k.startswith("model.norm.")}
    return changes


def fast_summary(name: str) -> str:
    """What the fast variant of full preset `name` changes, in words (for card setups and menus)."""
    config = PRESETS[name].config
    return change_words(config, relevant_changes(config, fast_changes(name)))


def _fast(preset: Preset) -> Preset:
    changes = relevant_changes(preset.config, fast_changes(preset.name))
    config = preset.config.with_updates(changes)
    extra = preset.description[len(describe(preset.config)):].lstrip("; ")
    size = f"classroom size: {change_words(preset.config, changes)}"
    return _preset(f"{preset.name}-fast", f"{preset.title} · fast", f"{size}{'; ' + extra if extra else ''}",
                   config, {}, preset.source, group=preset.group)


PRESETS: dict[str, Preset] = {p.name: p for p in _FULL}
PRESETS.update({f.name: f for f in map(_fast, _FULL)})


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; run `python -m bnviz presets` to list them") from None
