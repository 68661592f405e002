"""One registry entry is a whole dataset: the config, the form, the CLI, the model summary and training know it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnviz.config import ConfigError, ExperimentConfig
from bnviz.data import DATASET_INFO, DatasetEntry, DatasetError, Loaded, RawData, registry
from tests.conftest import tiny_config

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SECTORS = ("east", "north-west", "south-west")


def _load_sectors(config, options) -> Loaded:
    """2-D points in the unit square, classed by which third of the circle their angle falls in."""
    del options
    n_train, n_test = config.n_train or 120, config.n_test or 60
    x = np.random.default_rng(config.seed).uniform(-1.0, 1.0, size=(n_train + n_test, 2))
    angle = np.mod(np.arctan2(x[:, 1], x[:, 0]) + np.pi / 3, 2 * np.pi)
    y = np.minimum((angle // (2 * np.pi / 3)).astype(np.int64), 2)
    return Loaded(RawData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], SECTORS, "tabular"))


@pytest.fixture
def sectors():
    """The toy dataset, registered for one test and gone afterwards."""
    entry = registry.register(DatasetEntry(
        "sectors", "Sectors", "Points of the plane, classed by which third of the circle they lie in.",
        "tabular", _load_sectors, input_shape=(2,), class_names=SECTORS, n_train=120, n_test=60))
    yield entry
    registry.unregister("sectors")
    assert "sectors" not in registry.REGISTRY


def _config(**updates) -> ExperimentConfig:
    return tiny_config(**{"dataset.name": "sectors", **updates})


def test_the_entry_is_in_the_registry_and_the_older_mapping(sectors):
    assert registry.get("sectors") is sectors and sectors.classes == 3
    assert registry.names()[-1] == "sectors" and list(registry.REGISTRY)[-1] is sectors
    assert DATASET_INFO["sectors"].title == "Sectors" and "sectors" in list(DATASET_INFO)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(sectors)
    with pytest.raises(DatasetError, match=r"unknown dataset 'imagenet'; allowed: circles, .*, sectors"):
        registry.get("imagenet")


def test_config_validation_accepts_it_and_names_it_when_refusing(sectors):
    config = _config()
    assert config.dataset.name == "sectors"
    assert ExperimentConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError) as err:
        config.with_updates({"dataset.name": "imagenet"})
    message = str(err.value)
    assert message.startswith("dataset.name: must be one of 'circles'") and "'csv' or 'sectors'" in message
    assert "(got 'imagenet')" in message
    with pytest.raises(ConfigError, match="needs an image dataset"):
        config.with_updates({"model.family": "cnn"})  # a tabular entry: no CNN


def test_an_unregistered_name_is_refused():
    assert "sectors" not in registry.names()
    with pytest.raises(ConfigError, match="dataset.name: must be one of"):
        tiny_config(**{"dataset.name": "sectors"})


def test_the_cli_lists_it(sectors, capsys):
    from bnviz.cli import main

    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["NAME", "KIND", "SHAPE", "CLASSES", "TITLE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert list(rows) == list(registry.names())
    assert rows["sectors"] == ["sectors", "tabular", "2", "3", "Sectors"]
    assert rows["mnist"][:4] == ["mnist", "image", "28x28x1", "10"]
    assert rows["blobs"][3] == "n_classes" and rows["npz"][2:4] == ["file", "file"]
    assert main(["datasets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["sectors"]["class_names"] == list(SECTORS) and listed["sectors"]["input_shape"] == [2]


def test_the_model_summary_knows_its_shape_and_classes(sectors):
    from bnviz.train.describe import data_shape, model_summary

    config = _config()
    assert data_shape(config) == ((2,), 3)
    summary = model_summary(config)
    assert summary["input_shape"] == [2] and summary["n_classes"] == 3
    assert summary["loss"] == "sparse_categorical_crossentropy"


def test_it_trains(sectors):
    from bnviz.train.training import train

    record = train(_config(**{"training.epochs": 1}))
    assert record["status"] == "succeeded", record["summary"]["error"]
    assert record["summary"]["data"]["class_names"] == list(SECTORS)
    assert record["summary"]["data"]["n_train"] == 64 and len(record["history"]["loss"]) == 1


def test_the_experiment_form_offers_it(sectors, monkeypatch):
    """Chosen in the form: the caption, no 2-D generator widgets, the summary's shape, the data preview."""
    from streamlit.testing.v1 import AppTest

    from bnviz.train import describe

    # the dashboard's helper process never imported this test, so summarize in this process instead
    monkeypatch.setattr(describe, "model_summary_isolated", lambda config, timeout=0: describe.model_summary(config))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    box = at.selectbox(key="f:dataset.name")
    assert "Sectors" in box.options and box.options[:2] == ["Circles", "Moons"]
    box.set_value("sectors").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any(c.value == sectors.description for c in at.caption)
    assert not [s for s in at.slider if s.key in ("f:dataset.noise", "f:dataset.n_classes")]
    assert not at.file_uploader
    assert any("input (2,) · 3 classes" in c.value for c in at.caption)
    config = ExperimentConfig.decode(at.query_params["cfg"][0] if isinstance(at.query_params["cfg"], list)
                                     else at.query_params["cfg"])
    assert config.dataset.name == "sectors"
