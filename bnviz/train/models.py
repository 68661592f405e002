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
from dataclasses import dataclass

import keras

from bnviz.config import ExperimentConfig, NormConfig
from bnviz.layer_plan import (  # the plan lives below Keras, so limits can count it; imported names stay here
    Architecture,
    Block,
    Plain,
    architecture,
    block_placement,
    named_steps,
    noise_name,
    output_units,
    resolve_loss,
)
from bnviz.norm_config import group_count
from bnviz.train.noise import NormNoise

__all__ = ["Architecture", "Block", "BlockInfo", "Plain", "architecture", "block_placement", "blocks", "build_model",
           "layer_table", "make_optimizer", "output_units", "param_counts", "resolve_loss"]


@dataclass(frozen=True)
class BlockInfo:
    """Names of the layers that make up block `number` (for probes and the UI)."""

    number: int
    name: str
    linear: str
    activation: str
    norm: str | None
    placement: str


# --- building ---------------------------------------------------------------------

def _norm_layer(norm: NormConfig, name: str, x, seed: int):
    """`x` normalized by the configured layer (named `name`), then the noisy-BN noise when it is on."""
    if norm.kind == "layer":
        layer = keras.layers.LayerNormalization(epsilon=norm.epsilon, center=norm.center, scale=norm.scale, name=name)
    elif norm.kind == "group":
        groups = group_count(norm, int(x.shape[-1]), f"layer {name}")
        layer = keras.layers.GroupNormalization(groups=groups, epsilon=norm.epsilon, center=norm.center,
                                                scale=norm.scale, name=name)
    else:
        layer = keras.layers.BatchNormalization(momentum=norm.momentum, epsilon=norm.epsilon, center=norm.center,
                                                scale=norm.scale, name=name)
    x = layer(x)
    if norm.noise > 0:
        x = NormNoise(norm.noise, seed=seed, name=noise_name(name))(x)
    return x


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
        x = _norm_layer(norm, "input_bn", x, seed * 1000 + 700)

    for named in named_steps(plan):
        step, name = named.step, named.name
        if isinstance(step, Block):
            init = keras.initializers.get({"class_name": step.initializer or model_cfg.initializer,
                                           "config": {"seed": seed * 1000 + named.number}})
            if step.kind == "dense":
                linear = keras.layers.Dense(step.width, kernel_initializer=init, name=name)
            else:
                padding = "valid" if model_cfg.family in ("mnist_cnn_a", "mnist_cnn_b") else "same"
                linear = keras.layers.Conv2D(step.width, model_cfg.kernel_size, padding=padding,
                                             kernel_initializer=init, name=name)
            x = linear(x)
            placement = block_placement(model_cfg, named.number)
            act = keras.layers.Activation(step.activation or model_cfg.activation, name=f"{name}_act")
            if placement == "before":
                x = _norm_layer(norm, f"{name}_bn", x, seed * 1000 + 600 + named.number)
                x = act(x)
            elif placement == "after":
                x = act(x)
                x = _norm_layer(norm, f"{name}_bn", x, seed * 1000 + 600 + named.number)
            else:
                x = act(x)
        elif step.kind == "pool":
            x = keras.layers.MaxPooling2D(int(step.arg), name=name)(x)
        elif step.kind == "dropout":
            x = keras.layers.Dropout(step.arg, seed=seed * 1000 + 500 + named.n, name=name)(x)
        elif step.kind == "flatten":
            x = keras.layers.Flatten(name=name)(x)
        elif step.kind == "norm":
            x = _norm_layer(norm, name, x, seed * 1000 + 750 + named.n)

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
