"""Instrumented training end to end, on tiny data and real TensorFlow."""

from __future__ import annotations

import threading

import pytest

from bnviz.train.training import train
from tests.conftest import tiny_config


def test_a_run_record_has_the_documented_shape():
    events = []
    record = train(tiny_config(**{"model.norm.placement": "after"}), sink=events.append)
    assert record["format"] == "bnviz.run/1" and record["status"] == "succeeded"
    assert set(record["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in record["history"].values())
    assert [p["epoch"] for p in record["probes"]] == [0, 1, 2]
    kinds = {(p["layer"], p["kind"]) for p in record["probes"][0]["positions"]}
    assert {("dense1_bn", "bn_input"), ("dense1_bn", "bn_output"), ("dense1_bn", "bn_output_inference"),
            ("dense1_act", "pre_activation"), ("dense1_act", "activation"), ("input", "input")} <= kinds
    summary = record["summary"]
    assert summary["backend"] == "tensorflow"
    assert summary["device"] == "CPU" and summary["params"]["total"] == 2 * 8 + 8 + 4 * 8 + 9
    assert 0 <= summary["final"]["test_accuracy"] <= 1 and summary["wall_time_s"] > 0
    # validation on the test set: the last validation is the final test evaluation
    assert summary["final"]["test_accuracy"] == record["history"]["val_accuracy"][-1]
    assert len(record["batches"]) == 2 * 4  # log_every=1, 64 examples / batch 16
    assert [e["type"] for e in events][:3] == ["start", "probe", "batch"]
    assert events[-1]["type"] == "end"
    assert {"epoch", "batch", "samples_per_s", "eta_s"} <= set(events[2]["progress"])


def test_the_same_config_and_seed_give_the_same_history_twice():
    config = tiny_config(**{"model.norm.placement": "before", "training.epochs": 3})
    first, second = train(config), train(config)
    assert first["history"] == second["history"]
    assert first["probes"][-1]["positions"] == second["probes"][-1]["positions"]
    other = train(config.with_updates({"training.seed": 4}))
    assert other["history"] != first["history"]


def test_a_stop_flag_ends_the_run_within_a_batch_and_keeps_what_was_recorded():
    stop = threading.Event()
    seen = []

    def sink(event):
        seen.append(event)
        if event["type"] == "epoch" and event["epoch"] == 2:
            stop.set()

    record = train(tiny_config(**{"training.epochs": 50}), sink=sink, stop_event=stop)
    assert record["status"] == "cancelled"
    assert len(record["history"]["loss"]) == 2
    assert record["summary"]["epochs_completed"] == 2
    batches_after_stop = [e for e in seen if e["type"] == "batch" and e["epoch"] == 3]
    assert len(batches_after_stop) <= 1


def test_a_nan_loss_stops_the_run_as_diverged():
    config = tiny_config(**{"training.optimizer": "sgd", "training.learning_rate": 100.0,
                            "model.weight_scale": 100.0, "model.activation": "linear", "training.epochs": 20})
    record = train(config)
    assert record["status"] == "diverged"
    assert record["summary"]["diverged_at"]["epoch"] >= 1
    for values in record["history"].values():
        assert all(v == v for v in values)  # no NaN reaches the history


def test_a_bad_dataset_file_fails_the_run_with_its_reason(tmp_path):
    config = tiny_config(**{"dataset.name": "npz", "dataset.path": str(tmp_path / "missing.npz")})
    record = train(config)
    assert record["status"] == "failed"
    assert "missing.npz" in record["summary"]["error"]


def test_the_raw_pixel_mnist_tutorial_trains_on_the_real_digits(mnist_dir, monkeypatch):
    from bnviz.presets import get_preset

    monkeypatch.setenv("BNVIZ_DATA_DIR", str(mnist_dir))
    config = get_preset("seed002-mnist-bn").config.with_updates({
        "dataset.n_train": 512, "dataset.n_test": 200, "training.epochs": 1, "training.batch_size": 32,
        "instrument.probe_size": 64})
    record = train(config)
    assert record["status"] == "succeeded", record["summary"]["error"]
    assert record["summary"]["params"]["total"] == 1_200_650
    assert record["summary"]["final"]["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    bn = next(p for p in record["probes"][0]["positions"] if p["layer"] == "conv2_bn" and p["kind"] == "bn_output")
    assert bn["stats"]["unit_mean_abs"] < 0.05  # per-channel means of 8,192 sampled positions


@pytest.mark.parametrize("placement", ["none", "after", "before"])
def test_circles_learns_with_every_placement(placement):
    config = tiny_config(**{"model.norm.placement": placement, "training.epochs": 5,
                            "dataset.n_train": 200, "model.hidden": [16]})
    record = train(config)
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]


def test_fused_steps_record_the_same_batches_and_history_as_single_steps(monkeypatch):
    from bnviz.train import backends, callback

    assert [callback.fused_steps(10, 16), callback.fused_steps(10, 4), callback.fused_steps(1, 16),
            callback.fused_steps(7, 16), callback.fused_steps(64, 100), callback.fused_steps(10, 16, fuse=False)
            ] == [10, 2, 1, 7, 8, 1]
    assert backends.fuses_steps("tensorflow") and backends.fuses_steps("jax") and not backends.fuses_steps("torch")
    config = tiny_config(**{"instrument.log_every": 3, "dataset.n_train": 80, "training.epochs": 2})  # 5 steps
    fused = train(config)
    monkeypatch.setattr(callback, "MAX_FUSED_STEPS", 1)
    single = train(config)
    assert [(b["epoch"], b["batch"], b["step"]) for b in fused["batches"]] == [(1, 3, 3), (1, 5, 5), (2, 3, 8),
                                                                              (2, 5, 10)]
    assert [(b["epoch"], b["batch"], b["step"]) for b in single["batches"]] == [
        (b["epoch"], b["batch"], b["step"]) for b in fused["batches"]]
    for name, values in single["history"].items():
        assert fused["history"][name] == pytest.approx(values, abs=1e-5), name
