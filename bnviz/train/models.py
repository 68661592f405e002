"""Keras models built block by block, so every position around BN can be probed.

A *block* is a linear layer (Dense or Conv2D), an optional normalization layer and an
activation layer, each a separate Keras layer with a systematic name:

    dense1 -> dense1_bn -> dense1_act        (BN before the activation)
    dense1 -> dense1_act -> dense1_bn        (BN after the activation)

`Activation` layers have no weights, so parameter counts equal the tutorials' models that
fold the activation into the linear layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras

from bnviz.config import ExperimentConfig, ModelConfig, NormConfig


@dataclass(frozen=True)
class Block:
    """A linear layer whose normalization placement is configurable."""

    kind: str  # "dense" | "conv"
    width: int
    initializer: str | None = None  # None = the model's initializer
    activation: str | None = None  # None = the model's activation


@dataclass(frozen=True)
class Plain:
    """A layer without a BN slot: pooling, dropout, flatten, or a fixed extra norm layer."""

    kind: str  # "pool" | "dropout" | "flatten" | "norm"
    arg: float = 0.0


@dataclass
class Architecture:
    """The layer plan of a model: blocks and plain layers in order."""

    steps: list[Block | Plain] = field(default_factory=list)
    flatten_input: bool = False


@dataclass(frozen=True)
class BlockInfo:
    """Names of the layers that make up block `number` (for probes and the UI)."""

    number: int
    name: str
    linear: str
    activation: str
    norm: str | None
    placement: str


# --- the architectures ---------------------------------------------------------

def architecture(model: ModelConfig, input_shape: tuple[int, ...]) -> Architecture:
    """The layer plan for a model family. Tutorial families follow their source layer for layer."""
    bn = model.norm.enabled
    if model.family == "mlp":
        steps = [Block("dense", w) for w in model.hidden]
        steps = _with_dropout(steps, model.dropout)
        return Architecture(steps, flatten_input=len(input_shape) > 1)
    if model.family == "cnn":
        _require_image(model, input_shape)
        steps: list[Block | Plain] = []
        size = min(input_shape[:2])
        for w in model.filters:  # "same" padding; pool while the image is still at least 2 pixels wide
            steps.append(Block("conv", w))
            if size >= 2:
                steps.append(Plain("pool", 2))
                size //= 2
        steps.append(Plain("flatten"))
        steps += _with_dropout([Block("dense", w) for w in model.hidden], model.dropout)
        return Architecture(steps)
    if model.family == "mnist_cnn_a":
        # Conv2D(32,3,relu) [BN] MaxPool(2) [BN] Conv2D(64,3,relu) [BN] MaxPool(2) [BN]
        # Flatten Dense(256,relu) [BN] Dense(10,softmax)
        _require_image(model, input_shape)
        extra = [Plain("norm")] if bn else []
        steps = [Block("conv", 32), Plain("pool", 2), *extra, Block("conv", 64), Plain("pool", 2), *extra,
                 Plain("flatten"), Block("dense", 256)]
        return Architecture(steps)
    if model.family == "mnist_cnn_b":
        # Conv2D(32,3,relu) Conv2D(64,3,relu) [BN] MaxPool(2) Dropout(0.2) Flatten
        # Dense(128,relu) Dropout(0.2) [BN] Dense(10,softmax)
        _require_image(model, input_shape)
        # The last BN sits after the dropout, so it is a fixed extra layer, not block 3's slot.
        tail = [Plain("norm")] if model.norm.placement_for(3) != "none" else []
        steps = [Block("conv", 32), Block("conv", 64), Plain("pool", 2), Plain("dropout", 0.2),
                 Plain("flatten"), Block("dense", 128), Plain("dropout", 0.2), *tail]
        return Architecture(steps)
    if model.family == "cifar10_cnn":
        # Conv2D(32,3,same) [BN] Conv2D(32,3,same,he) [BN] MaxPool Conv2D(64,3,same,he) [BN]
        # Conv2D(64,3,same,he) [BN] MaxPool Flatten Dense(128,he) Dense(10,softmax)
        _require_image(model, input_shape)
        steps = [Block("conv", 32, "glorot_uniform"), Block("conv", 32, "he_uniform"), Plain("pool", 2),
                 Block("conv", 64, "he_uniform"), Block("conv", 64, "he_uniform"), Plain("pool", 2),
                 Plain("flatten"), Block("dense", 128, "he_uniform")]
        return Architecture(steps)
    raise ValueError(f"unknown model family {model.family!r}")  # pragma: no cover - config validates


def _with_dropout(blocks: list[Block], rate: float) -> list[Block | Plain]:
    steps: list[Block | Plain] = []
    for b in blocks:
        steps.append(b)
        if rate > 0:
            steps.append(Plain("dropout", rate))
    return steps


def _require_image(model: ModelConfig, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 3:
        raise ValueError(
            f"model family {model.family!r} needs image inputs (height, width, channels), "
            f"but the dataset has shape {input_shape}; pick an image dataset or the mlp family"
        )


def block_placement(model: ModelConfig, number: int) -> str:
    """Tutorial BN arms put BN *after* the activation (it is folded into their Conv/Dense)."""
    placement = model.norm.placement_for(number)
    if model.family == "mnist_cnn_b" and number in (1, 3):
        return "none"  # no BN after the first conv; the dense BN is the fixed one after dropout
    if model.family == "cifar10_cnn" and number == 5:
        return "none"  # this tutorial normalizes the conv blocks only
    return placement


# --- building ---------------------------------------------------------------------

def _norm_layer(norm: NormConfig, name: str) -> keras.layers.Layer:
    if norm.kind == "layer":
        return keras.layers.LayerNormalization(epsilon=norm.epsilon, center=norm.center, scale=norm.scale,
                                               name=name)
    return keras.layers.BatchNormalization(momentum=norm.momentum, epsilon=norm.epsilon, center=norm.center,
                                           scale=norm.scale, name=name)


def build_model(config: ExperimentConfig, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """A functional Keras model for `config`; weights are seeded from config.training.seed."""
    model_cfg = config.model
    norm = model_cfg.norm
    seed = config.training.seed
    plan = architecture(model_cfg, tuple(input_shape))

    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    if config.dataset.augmentation == "shear_zoom_flip" and len(input_shape) == 3:
        x = _augmentation(seed)(x)
    if plan.flatten_input:
        x = keras.layers.Flatten(name="input_flatten")(x)
    if norm.on_input:
        x = _norm_layer(norm, "input_bn")(x)

    counters: dict[str, int] = {}
    number = 0
    previous = "input"
    for step in plan.steps:
        counters[step.kind] = counters.get(step.kind, 0) + 1
        n = counters[step.kind]
        if isinstance(step, Block):
            number += 1
            name = f"{step.kind}{n}"
            init = keras.initializers.get({"class_name": step.initializer or model_cfg.initializer,
                                           "config": {"seed": seed * 1000 + number}})
            if step.kind == "dense":
                linear = keras.layers.Dense(step.width, kernel_initializer=init, name=name)
            else:
                padding = "valid" if model_cfg.family in ("mnist_cnn_a", "mnist_cnn_b") else "same"
                linear = keras.layers.Conv2D(step.width, model_cfg.kernel_size, padding=padding,
                                             kernel_initializer=init, name=name)
            x = linear(x)
            placement = block_placement(model_cfg, number)
            act = keras.layers.Activation(step.activation or model_cfg.activation, name=f"{name}_act")
            if placement == "before":
                x = _norm_layer(norm, f"{name}_bn")(x)
                x = act(x)
            elif placement == "after":
                x = act(x)
                x = _norm_layer(norm, f"{name}_bn")(x)
            else:
                x = act(x)
            previous = name
        elif step.kind == "pool":
            previous = f"pool{n}"
            x = keras.layers.MaxPooling2D(int(step.arg), name=previous)(x)
        elif step.kind == "dropout":
            previous = f"dropout{n}"
            x = keras.layers.Dropout(step.arg, seed=seed * 1000 + 500 + n, name=previous)(x)
        elif step.kind == "flatten":
            previous = "flatten"
            x = keras.layers.Flatten(name=previous)(x)
        elif step.kind == "norm":
            x = _norm_layer(norm, f"{previous}_bn")(x)

    binary = output_units(config, n_classes) == 1
    out_init = keras.initializers.get({"class_name": model_cfg.initializer, "config": {"seed": seed * 1000 + 999}})
    outputs = keras.layers.Dense(1 if binary else n_classes, activation="sigmoid" if binary else "softmax",
                                 kernel_initializer=out_init, name="output")(x)
    model = keras.Model(inputs, outputs, name=f"bnviz_{model_cfg.family}")
    if model_cfg.weight_scale != 1.0:
        for layer in model.layers:
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
                layer.kernel.assign(layer.kernel * model_cfg.weight_scale)
    return model


def _augmentation(seed: int) -> keras.layers.Layer:
    """Shear 0.2, zoom 0.2 and horizontal flip, as the CIFAR-10 tutorial's ImageDataGenerator; train only."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed + 1),
            keras.layers.RandomZoom(0.2, seed=seed + 2),
            keras.layers.RandomShear(x_factor=0.2, y_factor=0.2, seed=seed + 3),
        ],
        name="augment",
    )


def resolve_loss(config: ExperimentConfig, n_classes: int) -> str:
    if config.training.loss != "auto":
        return config.training.loss
    return "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"


def output_units(config: ExperimentConfig, n_classes: int) -> int:
    return 1 if resolve_loss(config, n_classes) == "binary_crossentropy" else n_classes


def make_optimizer(config: ExperimentConfig) -> keras.optimizers.Optimizer:
    t = config.training
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(t.learning_rate)
    if t.optimizer == "momentum":
        return keras.optimizers.SGD(t.learning_rate, momentum=t.momentum)
    if t.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(t.learning_rate)
    return keras.optimizers.Adam(t.learning_rate)


# --- introspection -----------------------------------------------------------------

def blocks(model: keras.Model) -> list[BlockInfo]:
    """The probe-able blocks of a model built by build_model, in order."""
    names = [layer.name for layer in model.layers]
    result = []
    number = 0
    for name in names:
        if name.startswith(("dense", "conv")) and "_" not in name:
            number += 1
            norm = f"{name}_bn" if f"{name}_bn" in names else None
            placement = "none"
            if norm:
                placement = "before" if names.index(norm) < names.index(f"{name}_act") else "after"
            result.append(BlockInfo(number, name, name, f"{name}_act", norm, placement))
    return result


def layer_table(model: keras.Model) -> list[dict]:
    """Layer name, type, output shape and parameter count: the model summary as data."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = getattr(layer, "output", None)
        shape = list(shape.shape) if shape is not None else None
        rows.append({"name": layer.name, "type": type(layer).__name__, "output_shape": shape,
                     "params": int(layer.count_params())})
    return rows


def param_counts(model: keras.Model) -> dict[str, int]:
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    non_trainable = sum(math.prod(v.shape) for v in model.non_trainable_weights)
    return {"total": trainable + non_trainable, "trainable": trainable, "non_trainable": non_trainable}
