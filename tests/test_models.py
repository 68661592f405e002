"""Models built block by block: systematic names, every placement, the tutorials' parameter counts."""

from __future__ import annotations

import pytest

from bnviz.config import ExperimentConfig
from bnviz.presets import PRESETS
from bnviz.train.models import blocks, build_model, param_counts


def _names(model):
    return [layer.name for layer in model.layers]


@pytest.mark.parametrize(
    ("preset", "input_shape", "n_classes", "total", "non_trainable"),
    [
        # Published summary of the raw-pixel MNIST tutorial: 1,199,882 without BN,
        # 1,200,650 with BN, of which 384 non-trainable.
        ("seed002-mnist-none", (28, 28, 1), 10, 1_199_882, 0),
        ("seed002-mnist-bn", (28, 28, 1), 10, 1_200_650, 384),
        # Circles MLP: Dense(50) on 2 inputs + Dense(1); BN adds 4 x 50 (2 x 50 non-trainable).
        ("seed001-circles-none", (2,), 2, 201, 0),
        ("seed001-circles-after", (2,), 2, 401, 100),
        ("seed001-circles-before", (2,), 2, 401, 100),
        # MNIST CNN tutorial A: 320 + 18,496 + 409,856 + 2,570 weights; BN on 32+32+64+64+256 units.
        ("seed000-mnist-none", (28, 28, 1), 10, 431_242, 0),
        ("seed000-mnist-bn", (28, 28, 1), 10, 431_242 + 4 * 448, 2 * 448),
        # CIFAR-10: 896 + 9,248 + 18,496 + 36,928 + 524,416 + 1,290; BN on 32+32+64+64 channels.
        ("seed003-cifar10-sigmoid", (32, 32, 3), 10, 591_274, 0),
        ("seed003-cifar10-sigmoid-bn", (32, 32, 3), 10, 591_274 + 4 * 192, 2 * 192),
    ],
)
def test_parameter_counts_equal_the_tutorials(preset, input_shape, n_classes, total, non_trainable):
    model = build_model(PRESETS[preset].config, input_shape, n_classes)
    counts = param_counts(model)
    assert counts["total"] == total
    assert counts["non_trainable"] == non_trainable
    assert model.count_params() == total


def test_tutorial_b_puts_bn_exactly_where_the_tutorial_does():
    model = build_model(PRESETS["seed002-mnist-bn"].config, (28, 28, 1), 10)
    assert _names(model) == [
        "input", "conv1", "conv1_act", "conv2", "conv2_act", "conv2_bn", "pool1", "dropout1", "flatten",
        "dense1", "dense1_act", "dropout2", "dropout2_bn", "output",
    ]


def test_tutorial_a_normalizes_after_every_conv_pool_and_dense():
    model = build_model(PRESETS["seed000-mnist-bn"].config, (28, 28, 1), 10)
    bn = [n for n in _names(model) if n.endswith("_bn")]
    assert bn == ["conv1_bn", "pool1_bn", "conv2_bn", "pool2_bn", "dense1_bn"]


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ("none", ["dense1", "dense1_act", "dense2", "dense2_act"]),
        ("before", ["dense1", "dense1_bn", "dense1_act", "dense2", "dense2_bn", "dense2_act"]),
        ("after", ["dense1", "dense1_act", "dense1_bn", "dense2", "dense2_act", "dense2_bn"]),
    ],
)
def test_placement_orders_linear_bn_and_activation(placement, expected):
    config = ExperimentConfig.from_dict({"model": {"hidden": [4, 4], "norm": {"placement": placement}}})
    model = build_model(config, (2,), 2)
    assert _names(model)[1:-1] == expected
    assert [b.placement for b in blocks(model)] == [placement, placement]


def test_per_layer_override_and_input_bn():
    config = ExperimentConfig.from_dict({"model": {"hidden": [4, 4, 4], "norm": {
        "placement": "after", "per_layer": {"2": "before", "3": "none"}, "on_input": True}}})
    model = build_model(config, (2,), 3)
    assert [b.placement for b in blocks(model)] == ["after", "before", "none"]
    assert _names(model)[1] == "input_bn"
    assert model.output.shape[-1] == 3


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "leaky_relu", "linear"])
def test_every_activation_builds_and_activation_layers_have_no_weights(activation):
    config = ExperimentConfig.from_dict({"model": {"hidden": [3], "activation": activation}})
    model = build_model(config, (2,), 2)
    assert model.get_layer("dense1_act").count_params() == 0


def test_layer_normalization_and_cnn_family():
    config = ExperimentConfig.from_dict({
        "dataset": {"name": "digits"},
        "model": {"family": "cnn", "filters": [4, 8], "hidden": [16], "norm": {"placement": "before", "kind": "layer"}},
    })
    model = build_model(config, (8, 8, 1), 10)
    assert type(model.get_layer("conv1_bn")).__name__ == "LayerNormalization"
    assert [b.name for b in blocks(model)] == ["conv1", "conv2", "dense1"]


def test_weight_scale_multiplies_the_initial_kernels():
    import numpy as np

    base = ExperimentConfig.from_dict({"model": {"hidden": [16]}})
    k1 = build_model(base, (2,), 2).get_layer("dense1").kernel.numpy()
    k10 = build_model(base.with_updates({"model.weight_scale": 10.0}), (2,), 2).get_layer("dense1").kernel.numpy()
    np.testing.assert_allclose(k10, 10 * k1, rtol=1e-5)


def test_an_image_model_on_tabular_npz_data_says_why():
    config = ExperimentConfig.from_dict({"dataset": {"name": "npz", "path": "x.npz"}, "model": {"family": "cnn"}})
    with pytest.raises(ValueError, match="needs image inputs"):
        build_model(config, (5,), 2)
