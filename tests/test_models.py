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


# --- GroupNorm (Wu & He 2018) and noisy BN (Santurkar et al. 2018) ------------------------------

def test_group_normalization_splits_each_width_into_the_configured_groups():
    import keras

    config = ExperimentConfig.from_dict({
        "dataset": {"name": "digits"},
        "model": {"family": "cnn", "filters": [4, 8], "hidden": [12],
                  "norm": {"placement": "before", "kind": "group", "groups": 4}},
    })
    model = build_model(config, (8, 8, 1), 10)
    layer = model.get_layer("conv2_bn")
    assert isinstance(layer, keras.layers.GroupNormalization) and layer.groups == 4
    assert layer.count_params() == 2 * 8  # γ and β per channel, no moving statistics
    assert param_counts(model)["non_trainable"] == 0


def test_groups_that_do_not_divide_a_width_are_refused_with_the_widths_divisors():
    from bnviz.config import ConfigError

    with pytest.raises(ConfigError, match=r"norm.groups: 4 groups do not divide the 50 units of block 1.*"
                                          r"1, 2, 5, 10, 25, 50"):
        ExperimentConfig.from_dict({"model": {"hidden": [50], "norm": {"placement": "after", "kind": "group",
                                                                       "groups": 4}}})
    # a block without normalization is not checked; the input's width is known only from the data
    config = ExperimentConfig.from_dict({"model": {"hidden": [50, 8], "norm": {
        "kind": "group", "groups": 4, "per_layer": {2: "after"}, "on_input": True}}})
    with pytest.raises(ValueError, match="do not divide the 2 units of layer input_bn"):
        build_model(config, (2,), 2)


def _noisy(placement="before", noise=1.0, kind="batch"):
    return ExperimentConfig.from_dict({"model": {"hidden": [6, 4], "norm": {"placement": placement, "kind": kind,
                                                                            "noise": noise}}})


@pytest.mark.parametrize("kind", ["batch", "group"])
def test_noise_layers_follow_each_norm_layer_and_have_no_weights(kind):
    model = build_model(_noisy(kind=kind), (3,), 2)
    names = _names(model)
    assert names[names.index("dense1_bn") + 1] == "dense1_bn_noise"
    assert names[names.index("dense2_bn") + 1] == "dense2_bn_noise"
    assert model.get_layer("dense1_bn_noise").count_params() == 0
    assert param_counts(model) == param_counts(build_model(_noisy(kind=kind, noise=0.0), (3,), 2))
    assert [b.norm for b in blocks(model)] == ["dense1_bn", "dense2_bn"]


def test_noise_is_the_identity_in_inference_and_new_at_every_training_call():
    import numpy as np

    model = build_model(_noisy(noise=2.0), (3,), 2)
    plain = build_model(_noisy(noise=0.0), (3,), 2)  # same seed: the same weights
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), plain(x, training=False), rtol=1e-6)
    noisy = model.get_layer("dense1_bn_noise")
    h = np.random.default_rng(1).normal(size=(32, 6)).astype("float32")
    np.testing.assert_array_equal(noisy(h, training=False), h)
    a, b = np.asarray(noisy(h, training=True)), np.asarray(noisy(h, training=True))
    assert not np.allclose(a, b)  # redrawn at every step
    scale = (a[1:] - a[:1]) / (h[1:] - h[:1])  # one shift and one scale per unit, the same for every example
    assert np.allclose(scale, scale[:1], rtol=1e-3, atol=1e-3)
    assert np.all((scale[0] >= 1.0 - 1e-4) & (scale[0] <= 3.0 + 1e-4))
    shift = a[0] - scale[0] * h[0]
    assert np.all(np.abs(shift) <= 2.0 + 1e-4)


def test_probing_a_noisy_model_changes_nothing_and_sees_the_noise():
    import keras
    import numpy as np

    from bnviz.train.probes import Prober

    model = build_model(_noisy(noise=1.0), (3,), 2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32").reshape(-1, 1)
    prober = Prober(model, x, y, keras.losses.get("binary_crossentropy"))
    before = [np.array(v.numpy(), copy=True) for v in model.variables]
    probes = [prober.probe(epoch) for epoch in range(2)]
    for a, b in zip(before, [v.numpy() for v in model.variables], strict=True):
        np.testing.assert_array_equal(a, b)
    out = next(p for p in probes[0]["positions"] if p["layer"] == "dense1_bn" and p["kind"] == "bn_output")
    act_in = next(p for p in probes[0]["positions"] if p["layer"] == "dense1_act" and p["kind"] == "pre_activation")
    assert abs(out["stats"]["mean"]) < 1e-3  # BN's own output is normalized ...
    assert act_in["stats"]["mean"] != pytest.approx(out["stats"]["mean"], abs=1e-3)  # ... the noise moves it


@pytest.mark.parametrize("norm", [{"kind": "group", "groups": 4}, {"kind": "batch", "noise": 0.5}])
def test_group_norm_and_noisy_bn_train_a_few_steps(norm):
    from bnviz.train.training import train
    from tests.conftest import tiny_config

    config = tiny_config(**{"model.norm.placement": "before", "model.hidden": [8], "training.epochs": 1,
                            **{f"model.norm.{k}": v for k, v in norm.items()}})
    record = train(config)
    assert record["status"] == "succeeded", record["summary"].get("error")
    assert record["summary"]["params"]["total"] == 2 * 8 + 8 + (2 * 8 if norm["kind"] == "group" else 4 * 8) + 9
    assert {(p["layer"], p["kind"]) for p in record["probes"][-1]["positions"]} >= {
        ("dense1_bn", "bn_input"), ("dense1_bn", "bn_output")}
