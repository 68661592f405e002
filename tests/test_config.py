"""The experiment config: validation with clear messages, JSON and URL round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnviz.config import (
    ACTIVATIONS,
    INITIALIZERS,
    OPTIMIZERS,
    PLACEMENTS,
    ConfigError,
    ExperimentConfig,
    decode_config,
    encode_config,
)
from bnviz.presets import PRESETS


def test_defaults_are_valid_and_round_trip_through_json():
    config = ExperimentConfig()
    assert ExperimentConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_and_fits_in_a_url(name):
    config = PRESETS[name].config
    assert ExperimentConfig.from_json(config.to_json()) == config
    token = encode_config(config)
    assert decode_config(token) == config
    assert len(token) < 300
    assert all(c.isalnum() or c in "-_" for c in token)


mlp_models = st.fixed_dictionaries({
    "family": st.just("mlp"),
    "hidden": st.lists(st.integers(1, 4096), min_size=1, max_size=6),
    "activation": st.sampled_from(ACTIVATIONS),
    "initializer": st.sampled_from(INITIALIZERS),
    "dropout": st.floats(0, 0.99),
    "weight_scale": st.floats(0.001, 1000),
    "norm": st.fixed_dictionaries({
        "placement": st.sampled_from(PLACEMENTS),
        "kind": st.sampled_from(["batch", "layer"]),
        "momentum": st.floats(0, 1),
        "epsilon": st.floats(1e-9, 1),
        "center": st.booleans(),
        "scale": st.booleans(),
        "on_input": st.booleans(),
        "per_layer": st.dictionaries(st.integers(1, 1), st.sampled_from(PLACEMENTS), max_size=1),
    }),
})
configs = st.fixed_dictionaries({
    "dataset": st.fixed_dictionaries({
        "name": st.sampled_from(["circles", "moons", "spirals", "blobs"]),
        "n_train": st.none() | st.integers(1, 10**6),
        "n_test": st.none() | st.integers(1, 10**6),
        "noise": st.floats(0, 2),
        "n_classes": st.integers(2, 10),
        "seed": st.integers(0, 2**31 - 1),
        "preprocessing": st.sampled_from(["auto", "unit", "standardize", "raw"]),
    }),
    "model": mlp_models,
    "training": st.fixed_dictionaries({
        "optimizer": st.sampled_from(OPTIMIZERS),
        "learning_rate": st.floats(1e-9, 100),
        "batch_size": st.integers(1, 65536),
        "epochs": st.integers(1, 10000),
        "seed": st.integers(0, 2**31 - 1),
        "validation": st.sampled_from(["test", "split", "none"]),
    }),
})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(configs)
def test_url_encoding_is_an_exact_inverse(data):
    config = ExperimentConfig.from_dict(data)
    assert decode_config(encode_config(config)) == config
    assert ExperimentConfig.from_dict(json.loads(config.to_json())) == config


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"model": {"activation": "swish"}}, ["model.activation", "'swish'", "'relu'"]),
        ({"model": {"norm": {"placement": "middle"}}}, ["model.norm.placement", "'before'", "'after'"]),
        ({"model": {"norm": {"momentum": 1.5}}}, ["model.norm.momentum", "1.5", "allowed 0 to 1"]),
        ({"model": {"norm": {"epsilon": 0}}}, ["model.norm.epsilon", "allowed above 0 to 1"]),
        ({"model": {"hidden": [0]}}, ["model.hidden", "between 1 and 4096"]),
        ({"model": {"hidden": [8], "norm": {"per_layer": {"3": "before"}}}}, ["block 3", "1 blocks"]),
        ({"training": {"batch_size": 0}}, ["training.batch_size", "allowed 1 to 65,536"]),
        ({"training": {"learning_rate": -1}}, ["training.learning_rate", "-1"]),
        ({"training": {"optimizer": "lbfgs"}}, ["training.optimizer", "'adam'"]),
        ({"dataset": {"name": "imagenet"}}, ["dataset.name", "'mnist'"]),
        ({"dataset": {"name": "npz"}}, ["needs a path"]),
        ({"model": {"family": "cnn"}}, ["needs an image dataset", "'circles'"]),
        ({"colour": "red"}, ["colour", "unknown field"]),
        ({"training": {"epochs": "many"}}, ["training.epochs", "'many'"]),
    ],
)
def test_bad_values_name_the_field_the_value_and_what_is_allowed(data, expected):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict(data)
    for text in expected:
        assert text in str(err.value)


@pytest.mark.parametrize(
    "token",
    ["", "x", "1", "1!!!", "1" + "A" * 50, "2abc", "1" + "<script>alert(1)</script>", "../../etc/passwd",
     "1" + "a" * 5000],
)
def test_garbage_links_give_a_clear_error(token):
    with pytest.raises(ConfigError):
        decode_config(token)


def test_a_link_to_a_valid_json_that_is_not_a_config_is_rejected():
    import base64
    import zlib

    token = "1" + base64.urlsafe_b64encode(zlib.compress(b"[1,2,3]")).decode().rstrip("=")
    with pytest.raises(ConfigError, match="does not hold a config"):
        decode_config(token)


def test_zip_bombs_are_refused():
    import base64
    import zlib

    bomb = zlib.compress(b'{"a":"' + b"x" * 10_000_000 + b'"}', 9)
    token = "1" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    with pytest.raises(ConfigError):
        decode_config(token)


def test_with_updates_changes_dotted_keys_and_validates():
    config = ExperimentConfig().with_updates({"training.epochs": 5, "model.norm.placement": "before"})
    assert config.training.epochs == 5 and config.model.norm.placement == "before"
    config = ExperimentConfig().with_updates({"model.norm.per_layer.1": "after"})
    assert config.model.norm.placement_for(1) == "after"
    with pytest.raises(ConfigError, match="unknown setting 'training.epoch'"):
        ExperimentConfig().with_updates({"training.epoch": 5})
    with pytest.raises(ConfigError, match="'nope' is not a section"):
        ExperimentConfig().with_updates({"nope.x": 5})


def test_fingerprint_changes_with_anything_that_changes_training():
    a = ExperimentConfig()
    assert a.fingerprint() == ExperimentConfig().fingerprint()
    assert a.fingerprint() != a.with_updates({"training.seed": 1}).fingerprint()
