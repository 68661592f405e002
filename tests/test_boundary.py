"""The decision boundary recorded with each probe agrees with the model and leaves it untouched."""

from __future__ import annotations

import numpy as np
import pytest

from bnviz.config import ExperimentConfig
from bnviz.data.loading import load_dataset
from bnviz.figures import boundary as fb
from bnviz.train import boundary as bd
from tests.conftest import train_keeping_model


def _circles_run(tmp_path, placement="after", epochs=30):
    """A real circles run that learns the rings (about 3 s), and its saved model."""
    config = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 300, "n_test": 200, "noise": 0.1, "seed": 1},
        "model": {"family": "mlp", "hidden": [16], "activation": "relu", "initializer": "he_uniform",
                  "norm": {"placement": placement}},
        "training": {"optimizer": "adam", "learning_rate": 0.03, "batch_size": 32, "epochs": epochs, "seed": 1},
        "instrument": {"probe_size": 64, "log_every": 5},
    })
    return (config, *train_keeping_model(config, tmp_path))


def test_recorded_boundary_matches_model_predict_at_the_test_points(tmp_path):
    import keras

    config, record, path = _circles_run(tmp_path)
    assert record["summary"]["final"]["test_accuracy"] > 0.7  # it learned the rings (chance 0.5, best possible ~0.85)
    data = load_dataset(config.dataset)
    grid = record["probes"][-1]["boundary"]
    assert bd.is_boundary(grid) and grid["size"] == bd.GRID
    # the grid covers every train and test point
    for points in (data.x_train, data.x_test):
        assert grid["x_range"][0] < points[:, 0].min() and points[:, 0].max() < grid["x_range"][1]
        assert grid["y_range"][0] < points[:, 1].min() and points[:, 1].max() < grid["y_range"][1]

    model = keras.models.load_model(path)
    predicted = (model.predict(data.x_test, verbose=0).reshape(-1) > 0.5).astype(int)
    agree = (bd.predicted_at(grid, data.x_test) == predicted).mean()
    print(f"grid agrees with model.predict on {agree:.1%} of {len(predicted)} test points")
    assert agree >= 0.95, f"grid agrees with model.predict on {agree:.1%} of the test points"
    # and at the grid's own cell centres the agreement is exact (same model, same inputs)
    centres = bd.grid_points(grid["x_range"], grid["y_range"], grid["size"])
    exact = (model.predict(centres, verbose=0).reshape(-1) > 0.5).astype(int)
    np.testing.assert_array_equal(np.asarray(grid["classes"]), exact)
    # early boundaries differ from the last: it is recorded per epoch, not once
    assert record["probes"][0]["boundary"]["classes"] != grid["classes"]
    assert [p["epoch"] for p in record["probes"]] == fb.boundary_epochs(record)


def test_recording_changes_no_weight_and_no_moving_statistic():
    from bnviz.train.models import build_model

    config = ExperimentConfig.from_dict({"model": {"hidden": [8, 8], "norm": {"placement": "before"}}})
    model = build_model(config, (2,), 2)
    bn = model.get_layer("dense1_bn")
    bn.moving_mean.assign(np.full(8, 0.5, "float32"))
    bn.moving_variance.assign(np.full(8, 2.0, "float32"))
    before = [v.numpy().copy() for v in model.variables]
    points = np.random.default_rng(0).normal(size=(50, 2)).astype("float32")
    recorder = bd.recorder_for(model, points)
    first = recorder()
    for _ in range(3):
        assert recorder() == first
    for a, b in zip(before, (v.numpy() for v in model.variables)):
        np.testing.assert_array_equal(a, b)
    # inference mode: the moving statistics are used, so changing them changes the prediction
    bn.moving_mean.assign(np.full(8, -3.0, "float32"))
    assert recorder()["confidence"] != first["confidence"]


def test_no_boundary_for_inputs_that_are_not_2d_points():
    from bnviz.train.models import build_model

    model = build_model(ExperimentConfig.from_dict({"model": {"hidden": [4]}}), (3,), 2)
    assert bd.recorder_for(model, np.zeros((4, 3), "float32")) is None


def test_softmax_outputs_give_class_and_confidence():
    cls, conf = bd.classes_and_confidence(np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]]))
    assert cls.tolist() == [1, 0] and conf.tolist() == pytest.approx([0.7, 0.5])
    cls, conf = bd.classes_and_confidence(np.array([[0.9], [0.2]]))
    assert cls.tolist() == [1, 0] and conf.tolist() == pytest.approx([0.9, 0.8])


def _fake_boundary(size=4, shift=0):
    classes = [(i % size + shift) // (size // 2) % 2 for i in range(size * size)]
    return {"size": size, "x_range": [-1.0, 1.0], "y_range": [-2.0, 2.0], "classes": classes,
            "confidence": [75] * (size * size)}


def test_nearest_cells_and_figures():
    b = _fake_boundary()
    rows, cols = bd.nearest_cells(b, np.array([[-1.0, -2.0], [1.0, 2.0], [0.3, 0.1], [9.0, -9.0]]))
    assert rows.tolist() == [0, 3, 2, 0] and cols.tolist() == [0, 3, 2, 3]
    record = {"config": {"dataset": {"name": "circles"}},
              "probes": [{"epoch": e, "positions": [], "boundary": _fake_boundary(shift=e)} for e in range(3)]}
    points = {"train": (np.array([[0.0, 0.0], [0.5, 0.5]]), np.array([0, 1])),
              "test": (np.array([[0.1, 0.2]]), np.array([1]))}
    fig = fb.boundary_figure(record, 1, points, class_names=("outer", "inner"))
    assert fig.data[0].type == "heatmap" and "epoch 1" in fig.layout.title.text
    assert {t.name for t in fig.data[1:]} == {"train: outer", "train: inner", "test: inner"}
    anim = fb.boundary_animation(record, points)
    assert [f.name for f in anim.frames] == ["0", "1", "2"] and len(anim.layout.sliders[0].steps) == 3
    side = fb.compare_boundaries([record, record, {"probes": []}], ["BN", "no BN", "empty"], 2, points)
    assert sum(t.type == "heatmap" for t in side.data) == 2
    assert [a.text for a in side.layout.annotations][:2] == ["BN", "no BN"]
    assert "No data yet" in fb.boundary_figure({"probes": [{"epoch": 0, "positions": []}]}).layout.annotations[0].text


def test_points_for_loads_2d_data_and_declines_others():
    points, names = bd.points_for({"dataset": {"name": "moons", "n_train": 20, "n_test": 10}})
    assert points["train"][0].shape == (20, 2) and points["test"][0].shape == (10, 2)
    assert names == ("upper", "lower")
    assert bd.points_for({"dataset": {"name": "csv", "path": "/nonexistent.csv"}}) is None
    assert bd.points_for({"dataset": {"name": "digits"}}) is None


def test_each_probe_event_carries_its_boundary_while_the_run_trains():
    """What live views read: a boundary arrives with every probe, before the run ends, and changes."""
    from bnviz.train.training import train
    from tests.conftest import tiny_config

    events = []
    train(tiny_config(**{"training.epochs": 3, "model.norm.placement": "before"}), sink=events.append)
    kinds = [e["type"] for e in events]
    probes = [e["probe"] for e in events if e["type"] == "probe"]
    assert [p["epoch"] for p in probes] == [0, 1, 2, 3]
    assert all(bd.is_boundary(p["boundary"]) and "dense1_bn" in p["bn_steps"] for p in probes)
    assert kinds.index("probe") < kinds.index("epoch") < kinds.index("end")  # epoch 0 arrives before epoch 1 ends
    assert len({tuple(p["boundary"]["confidence"]) for p in probes}) == 4  # it moves every epoch


def test_a_two_column_upload_gets_a_boundary_and_its_points(tmp_path):
    from bnviz.train.training import train
    from tests.conftest import tiny_config

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    path = tmp_path / "mine.csv"
    rows = [f"{a:.4f},{b:.4f},{'yes' if a * b > 0 else 'no'}" for a, b in x]
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    config = tiny_config(**{"dataset.name": "csv", "dataset.path": str(path), "dataset.n_train": None,
                            "dataset.n_test": None, "training.epochs": 1})
    record = train(config)
    assert record["status"] == "succeeded", record["summary"]["error"]
    assert all(bd.is_boundary(p["boundary"]) for p in record["probes"])
    points, names = bd.points_for(record["config"])
    assert len(points["train"][0]) + len(points["test"][0]) == 120 and set(names) == {"no", "yes"}
