"""Per-run budgets counted from the config alone: the count equals Keras' own, and over-budget runs are named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnviz import limits
from bnviz.config import ConfigError, ExperimentConfig
from bnviz.layer_plan import planned_layers
from bnviz.presets import PRESETS
from bnviz.train.describe import data_shape
from bnviz.train.models import build_model, layer_table, param_counts

ATTACK = {"model": {"hidden": [4096] * 32}, "training": {"epochs": 10000, "batch_size": 1}}


def _agrees_with_keras(config: ExperimentConfig, shape: tuple[int, ...], classes: int) -> None:
    """The analytic walk makes Keras' layers (names, types, shapes, weights) or refuses what Keras refuses."""
    try:
        model = build_model(config, shape, classes)
    except ValueError:
        with pytest.raises(ValueError):
            planned_layers(config, shape, classes)
        assert limits.cost(config, limits.DataShape(shape, classes, 10)).params is None
        return
    planned = planned_layers(config, shape, classes)
    counts = param_counts(model)
    assert limits.cost(config, limits.DataShape(shape, classes, 10)).params == counts["total"]
    assert sum(layer.non_trainable for layer in planned) == counts["non_trainable"]
    assert [{"name": p.name, "type": p.type, "output_shape": [None, *p.output_shape], "params": p.params}
            for p in planned] == layer_table(model)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_counted_exactly_as_keras_builds_it(name):
    config = PRESETS[name].config
    shape, classes = data_shape(config)
    _agrees_with_keras(config, shape, classes)
    assert limits.problems(config) == []  # the presets fit this server's default limits


_PLACEMENT = st.sampled_from(["none", "before", "after"])


@st.composite
def form_configs(draw) -> ExperimentConfig:
    family = draw(st.sampled_from(["mlp", "cnn", "mnist_cnn_a", "mnist_cnn_b", "cifar10_cnn"]))
    dataset = (draw(st.sampled_from(["circles", "blobs", "digits", "mnist"])) if family == "mlp"
               else draw(st.sampled_from(["digits", "mnist", "cifar10"])))
    hidden = draw(st.lists(st.integers(1, 40), min_size=1 if family == "mlp" else 0, max_size=3))
    filters = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4))
    n_blocks = {"mlp": len(hidden), "cnn": len(filters) + len(hidden), "mnist_cnn_a": 3, "mnist_cnn_b": 3,
                "cifar10_cnn": 5}[family]
    per_layer = draw(st.dictionaries(st.integers(1, max(n_blocks, 1)), _PLACEMENT, max_size=2)) if n_blocks else {}
    image = dataset in ("digits", "mnist", "cifar10")
    data = {
        "dataset": {"name": dataset, "n_classes": draw(st.integers(2, 6)),
                    "augmentation": draw(st.sampled_from(["none", "shear_zoom_flip"])) if image else "none"},
        "model": {"family": family, "hidden": hidden, "filters": filters, "kernel_size": draw(st.integers(1, 7)),
                  "dropout": draw(st.sampled_from([0.0, 0.3])),
                  "norm": {"placement": draw(_PLACEMENT), "kind": draw(st.sampled_from(["batch", "layer", "group"])),
                           "center": draw(st.booleans()), "scale": draw(st.booleans()),
                           "on_input": draw(st.booleans()), "per_layer": per_layer,
                           "groups": draw(st.sampled_from([1, 2, 4])), "noise": draw(st.sampled_from([0.0, 0.5]))}},
        "training": {"loss": draw(st.sampled_from(["auto", "binary_crossentropy", "categorical_crossentropy"])),
                     "batch_size": draw(st.integers(1, 512))},
    }
    try:
        return ExperimentConfig.from_dict(data)
    except ConfigError:  # groups that do not divide a block's width: 1 group always does
        data["model"]["norm"]["groups"] = 1
        return ExperimentConfig.from_dict(data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form_configs())
def test_random_form_configs_are_counted_exactly_as_keras_builds_them(config):
    shape, classes = data_shape(config)
    _agrees_with_keras(config, shape, classes)


@pytest.mark.parametrize(("shape", "family", "kernel"), [((8, 8, 1), "mnist_cnn_a", 7), ((3, 5, 2), "cnn", 3),
                                                         ((1, 1, 1), "mnist_cnn_b", 3), ((30,), "mlp", 3)])
def test_odd_input_shapes_of_files(shape, family, kernel):
    config = ExperimentConfig.from_dict({"dataset": {"name": "npz", "path": "x.npz"},
                                         "model": {"family": family, "kernel_size": kernel, "filters": [4, 4],
                                                   "norm": {"placement": "after", "on_input": True}}})
    _agrees_with_keras(config, shape, 3)


def test_the_104_character_link_is_over_budget_in_one_line_naming_field_value_and_limit():
    config = ExperimentConfig.from_dict(ATTACK)
    assert len(config.encode()) <= 110
    assert limits.problems(config) == ["model: 520,237,057 parameters; this server allows at most 5,000,000"]
    with pytest.raises(limits.OverBudget, match="520,237,057 parameters"):
        limits.check(config)
    limits.check(config, lift=True)  # a teacher may


def test_activation_memory_and_work_limits_name_their_fields(monkeypatch):
    monkeypatch.setenv("BNVIZ_MAX_ACTIVATION_MB", "1")
    monkeypatch.setenv("BNVIZ_MAX_RUN_WORK", "1000")
    config = ExperimentConfig.from_dict({"dataset": {"name": "mnist", "n_train": 600},
                                         "training": {"batch_size": 4096, "epochs": 5}})
    spent = limits.cost(config)
    # input 784 + Dense(50) + its activation + output 10, for a batch of 4,096, float32
    assert spent.activation_bytes == (784 + 784 + 50 + 50 + 10) * 4096 * 4
    assert spent.work == 3000
    found = limits.problems(config)
    assert found == [
        "training.batch_size: a batch of 4,096 needs about 27 MB of activations in this model; this server "
        "allows at most 1 MB",
        "training.epochs × training examples: 5 × 600 = 3,000; this server allows at most 1,000"]
    default = limits.cost(ExperimentConfig.from_dict({"dataset": {"name": "mnist"}, "training": {"epochs": 3}}))
    assert default.work == 3 * 60000  # no n_train: the dataset's whole training split


def test_own_files_are_counted_once_their_shape_is_known(tmp_path):
    path = tmp_path / "data.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.normal(size=(50, 6, 6)).astype("float32"), y=rng.integers(0, 3, 50))
    config = ExperimentConfig.from_dict({"dataset": {"name": "npz", "path": str(path)},
                                         "model": {"family": "cnn", "filters": [4], "hidden": [8]}})
    unread = limits.cost(config)
    assert unread.params is None and unread.work is None  # the config alone cannot say: nothing refused
    known = limits.data_shape(config, read_files=True)
    assert known == limits.DataShape((6, 6, 1), 3, 40)  # 20% held out
    _agrees_with_keras(config, (6, 6, 1), 3)
    broken = config.with_updates({"dataset.path": str(tmp_path / "missing.npz")})
    assert limits.data_shape(broken, read_files=True).input_shape is None


@pytest.mark.parametrize(("who", "signed_in", "teacher", "allowed"), [
    ("everyone", False, False, True), ("signed_in", False, False, False), ("signed_in", True, False, True),
    ("teachers", True, False, False), ("teachers", False, True, True)])
def test_who_may_train(monkeypatch, who, signed_in, teacher, allowed):
    monkeypatch.setenv("BNVIZ_WHO_MAY_TRAIN", who)
    assert (limits.refusal(signed_in=signed_in, teacher=teacher) is None) == allowed
    if not allowed:
        with pytest.raises(limits.TrainingNotAllowed, match="only"):
            limits.check_may_train(signed_in=signed_in, teacher=teacher)


@pytest.mark.parametrize("family", ["mlp", "cnn", "mnist_cnn_a", "mnist_cnn_b", "cifar10_cnn"])
@pytest.mark.parametrize("norm", [{"kind": "group", "groups": 4}, {"kind": "batch", "noise": 1.0},
                                  {"kind": "group", "groups": 2, "noise": 0.5, "on_input": True}])
def test_group_norm_and_noisy_bn_are_counted_exactly_as_keras_builds_them(family, norm):
    config = ExperimentConfig.from_dict({
        "dataset": {"name": "mnist" if family != "cifar10_cnn" else "cifar10"},
        "model": {"family": family, "hidden": [8, 12], "filters": [4, 8],
                  "norm": {"placement": "before", **norm}}})
    shape, classes = data_shape(config)
    _agrees_with_keras(config, shape, classes)
