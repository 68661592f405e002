"""What each model family builds, without Keras: the layer plan, and every layer's shape and parameters.

`bnviz.train.models.build_model` builds a Keras model from `architecture`; `planned_layers` walks the
same plan with arithmetic only, so the server can count a model's parameters and activations before
anything is built (`bnviz.limits`). A test checks both walks agree for every preset and random configs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from bnviz.config import ExperimentConfig, ModelConfig
from bnviz.norm_config import NORM_NAMES, group_count

__all__ = ["Architecture", "Block", "NamedStep", "Plain", "PlannedLayer", "architecture", "block_placement",
           "bn_label", "named_steps", "noise_name", "output_units", "planned_layers", "resolve_loss"]


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
class NamedStep:
    """A step of the plan with the name its Keras layer gets: the one naming rule of bnviz's models."""

    step: Block | Plain
    name: str  # "dense1", "conv2", "pool1", "dropout3", "flatten"; a "norm" step: "<previous layer>_bn"
    number: int  # blocks: 1, 2, ... in order (their BN placement and weight seed); 0 for plain layers
    n: int  # the how-many-th layer of this kind (dropout seeds)


def named_steps(plan: Architecture) -> Iterator[NamedStep]:
    """The plan's steps in order, each with its layer's name (models.build_model and planned_layers share it)."""
    counters: dict[str, int] = {}
    number, previous = 0, "input"
    for step in plan.steps:
        counters[step.kind] = counters.get(step.kind, 0) + 1
        n = counters[step.kind]
        if isinstance(step, Block):
            number += 1
            name = previous = f"{step.kind}{n}"
        elif step.kind in ("pool", "dropout"):
            name = previous = f"{step.kind}{n}"
        elif step.kind == "flatten":
            name = previous = "flatten"
        else:  # a fixed norm layer after the previous one
            name = f"{previous}_bn"
        yield NamedStep(step, name, number if isinstance(step, Block) else 0, n)


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


def bn_label(model: ModelConfig) -> str:
    """What the model normalizes and where, in a few words, the same everywhere it is named (the Run
    page's header, the Runs table, Compare, a new run's name): "no BN", "BN after", "BN per block:
    before, after, none", with " + input" when the input is normalized too."""
    name = NORM_NAMES[model.norm.kind]
    if model.norm.noise > 0:
        name = f"noisy {name}"
    chosen = [model.norm.placement_for(n) for n in range(1, model.n_blocks + 1)] or [model.norm.placement]
    if len(set(chosen)) > 1:
        label = f"{name} per block: {', '.join(chosen)}"
    elif chosen[0] != "none":
        label = f"{name} {chosen[0]}"
    else:
        return f"{name} on the input only" if model.norm.on_input else f"no {name}"
    return f"{label} + input" if model.norm.on_input else label


def resolve_loss(config: ExperimentConfig, n_classes: int) -> str:
    if config.training.loss != "auto":
        return config.training.loss
    return "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"


def output_units(config: ExperimentConfig, n_classes: int) -> int:
    return 1 if resolve_loss(config, n_classes) == "binary_crossentropy" else n_classes


# --- the same plan, counted ------------------------------------------------------------------

NOISE_LAYER = "NormNoise"  # the class name of bnviz.train.noise's layer (noisy BN)


def noise_name(norm_name: str) -> str:
    """The name of the noise layer after normalization layer `norm_name` ("dense1_bn" -> "dense1_bn_noise")."""
    return f"{norm_name}_noise"


@dataclass(frozen=True)
class PlannedLayer:
    """One layer `build_model` will make: its name, Keras type, output shape (no batch axis) and weights."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    trainable: int = 0
    non_trainable: int = 0  # BN's moving mean and variance

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


def planned_layers(config: ExperimentConfig, input_shape: tuple[int, ...], n_classes: int) -> list[PlannedLayer]:
    """Every layer `build_model(config, input_shape, n_classes)` makes, in order, without building it.

    Raises ValueError where Keras would (a non-image input for a CNN, an image too small for its
    convolutions and poolings)."""
    model = config.model
    norm = model.norm
    plan = architecture(model, tuple(input_shape))
    shape = tuple(int(d) for d in input_shape)
    layers: list[PlannedLayer] = []

    def add(name: str, kind: str, out: tuple[int, ...], trainable: int = 0, non_trainable: int = 0) -> None:
        nonlocal shape
        if any(d <= 0 for d in out):
            raise ValueError(f"layer {name}: the input {tuple(input_shape)} is too small for this model "
                             f"(its output would be {out})")
        shape = out
        layers.append(PlannedLayer(name, kind, out, trainable, non_trainable))

    def add_norm(name: str) -> None:
        units = shape[-1]
        trainable = units * (int(norm.center) + int(norm.scale))
        if norm.kind == "layer":
            add(name, "LayerNormalization", shape, trainable)
        elif norm.kind == "group":
            group_count(norm, units, f"layer {name}")
            add(name, "GroupNormalization", shape, trainable)
        else:
            add(name, "BatchNormalization", shape, trainable, 2 * units)
        if norm.noise > 0:
            add(noise_name(name), NOISE_LAYER, shape)

    if config.dataset.augmentation == "shear_zoom_flip" and len(shape) == 3:
        add("augment", "Sequential", shape)
    if plan.flatten_input:
        add("input_flatten", "Flatten", (math.prod(shape),))
    if norm.on_input:
        add_norm("input_bn")
    for named in named_steps(plan):
        step, name = named.step, named.name
        if isinstance(step, Block):
            if step.kind == "dense":
                add(name, "Dense", (*shape[:-1], step.width), shape[-1] * step.width + step.width)
            else:
                k = model.kernel_size
                valid = model.family in ("mnist_cnn_a", "mnist_cnn_b")
                height, width = (shape[0] - k + 1, shape[1] - k + 1) if valid else shape[:2]
                add(name, "Conv2D", (height, width, step.width), k * k * shape[2] * step.width + step.width)
            placement = block_placement(model, named.number)
            if placement == "before":
                add_norm(f"{name}_bn")
            add(f"{name}_act", "Activation", shape)
            if placement == "after":
                add_norm(f"{name}_bn")
        elif step.kind == "pool":
            size = int(step.arg)
            add(name, "MaxPooling2D", ((shape[0] - size) // size + 1, (shape[1] - size) // size + 1, shape[2]))
        elif step.kind == "dropout":
            add(name, "Dropout", shape)
        elif step.kind == "flatten":
            add(name, "Flatten", (math.prod(shape),))
        elif step.kind == "norm":
            add_norm(name)
    units = output_units(config, n_classes)
    add("output", "Dense", (*shape[:-1], units), shape[-1] * units + units)
    return layers
