"""BN step by step: the recorded numbers are BN's own, for dense units and conv channels alike."""

from __future__ import annotations

import numpy as np
import pytest

from bnviz.config import ExperimentConfig
from bnviz.data.loading import load_dataset
from bnviz.figures.bn_steps import bn_steps_figure
from bnviz.train import bn_steps
from tests.conftest import train_keeping_model

RUNS = {
    # two dense BN layers: the second one's input depends on the first one in training mode
    "mlp-before": {"dataset": {"name": "circles", "n_train": 96, "n_test": 32, "seed": 1},
                   "model": {"family": "mlp", "hidden": [8, 8], "norm": {"placement": "before"}}},
    "mlp-after": {"dataset": {"name": "circles", "n_train": 96, "n_test": 32, "seed": 1},
                  "model": {"family": "mlp", "hidden": [8, 8], "norm": {"placement": "after"}}},
    "cnn-after": {"dataset": {"name": "digits", "n_train": 96, "n_test": 32},
                  "model": {"family": "cnn", "filters": [4], "hidden": [8], "norm": {"placement": "after"}}},
}


def _run(tmp_path, name):
    config = ExperimentConfig.from_dict({
        **RUNS[name],
        "training": {"optimizer": "adam", "learning_rate": 0.02, "batch_size": 16, "epochs": 2, "seed": 2},
        "instrument": {"probe_size": 32, "log_every": 5},
    })
    return (config, *train_keeping_model(config, tmp_path))


def _probe_batch(config):
    from bnviz.train.training import probe_indices

    data = load_dataset(config.dataset)
    return data.x_train[probe_indices(len(data.x_train), config.instrument.probe_size)]


def _training_mode(model, layer, x):
    """The BN layer's input and output on x in training mode, computed independently, statelessly."""
    import keras

    probe = keras.Model(model.input, [layer.input, layer.output])
    trainable = [v.value for v in probe.trainable_variables]
    non_trainable = [v.value for v in probe.non_trainable_variables]
    (inp, out), _ = probe.stateless_call(trainable, non_trainable, x, training=True)
    return np.asarray(inp, dtype=np.float64), np.asarray(out, dtype=np.float64)


def _sample(values):
    values = values[: bn_steps.SAMPLE]
    return values[:, values.shape[1] // 2, values.shape[2] // 2, :] if values.ndim == 4 else values


@pytest.mark.parametrize("name", list(RUNS))
def test_steps_are_bns_own_numbers(tmp_path, name):
    import keras

    config, record, path = _run(tmp_path, name)
    model = keras.models.load_model(path)
    epoch = record["probes"][-1]["epoch"]
    assert epoch == 2 and bn_steps.step_epochs(record) == [0, 1, 2]
    layers = bn_steps.step_layers(record)
    assert layers == [layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    x_probe = _probe_batch(config)
    for layer_name in layers:
        layer = model.get_layer(layer_name)
        inp, out = _training_mode(model, layer, x_probe)
        axes = tuple(range(inp.ndim - 1))
        unit = min(2, bn_steps.unit_count(record, layer_name) - 1)
        s = bn_steps.steps(record, layer_name, unit, epoch)

        # μ_B and σ²_B are the probe batch's statistics (over batch and pixels for conv channels)
        assert s["count"] == inp.size // inp.shape[-1]
        assert s["mu_b"] == pytest.approx(inp.mean(axis=axes)[unit], abs=1e-5)
        assert s["var_b"] == pytest.approx(inp.var(axis=axes)[unit], rel=1e-4, abs=1e-6)
        np.testing.assert_allclose(s["x"], _sample(inp)[:, unit], atol=1e-6)
        assert s["counts"].sum() == s["count"]

        # y = γ·(x − μ_B)/√(σ²_B + ε) + β, and it is what the layer itself outputs in training mode
        gamma, beta = (float(layer.gamma.numpy()[unit]), float(layer.beta.numpy()[unit]))
        assert (s["gamma"], s["beta"], s["epsilon"]) == pytest.approx((gamma, beta, layer.epsilon), abs=1e-7)
        formula = gamma * (s["x"] - s["mu_b"]) / np.sqrt(s["var_b"] + s["epsilon"]) + beta
        np.testing.assert_allclose(s["y"], formula, atol=1e-5)
        np.testing.assert_allclose(s["y"], _sample(out)[:, unit], atol=1e-5)

        # inference mode uses the moving statistics: the layer itself, training=False, on the same x
        mm, mv = float(layer.moving_mean.numpy()[unit]), float(layer.moving_variance.numpy()[unit])
        assert (s["moving_mean"], s["moving_variance"]) == pytest.approx((mm, mv), abs=1e-7)
        assert abs(s["moving_mean"] - s["mu_b"]) > 1e-4  # so the check below tells the two apart
        x_all = _sample(inp).astype("float32")
        shaped = x_all.reshape(len(x_all), *([1] * (inp.ndim - 2)), inp.shape[-1])
        inference = np.asarray(layer(shaped, training=False)).reshape(len(x_all), -1)[:, unit]
        np.testing.assert_allclose(s["y_inference"], inference, atol=1e-5)
        np.testing.assert_allclose(s["y_inference"], gamma * (s["x"] - mm) / np.sqrt(mv + s["epsilon"]) + beta,
                                   atol=1e-5)


def test_linked_histograms_and_the_explanation_use_the_same_numbers(tmp_path):
    _, record, _ = _run(tmp_path, "mlp-after")
    s = bn_steps.steps(record, "dense1_bn", 1, 1)
    # the four histograms are one histogram under affine maps: the edges map exactly
    np.testing.assert_allclose(s["edges_x_hat"], (s["edges"] - s["mu_b"]) / s["std_b"])
    np.testing.assert_allclose(s["edges_y"], s["gamma"] * s["edges_x_hat"] + s["beta"])
    fig = bn_steps_figure(s)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 4 and all(list(b.y) == list(bars[0].y) for b in bars)
    marks = [t for t in fig.data if t.type == "scatter"]
    np.testing.assert_allclose(marks[2].x, s["y"])
    text = bn_steps.explanation(s)
    for value in (s["mu_b"], s["var_b"], s["y"][0], s["y_inference"][0]):
        assert f"{abs(value):.4g}" in text
    rows = bn_steps.steps_table(s)
    assert len(rows) == bn_steps.SAMPLE and rows[0]["y (training)"] == pytest.approx(s["y"][0])


def test_bad_choices_say_what_exists(tmp_path):
    _, record, _ = _run(tmp_path, "mlp-after")
    with pytest.raises(bn_steps.BNStepsError, match="its BN layers are: dense1_bn, dense2_bn"):
        bn_steps.steps(record, "nope", 0, 1)
    with pytest.raises(bn_steps.BNStepsError, match="pick 0 to 7"):
        bn_steps.steps(record, "dense1_bn", 8, 1)
    with pytest.raises(bn_steps.BNStepsError, match="recorded epochs: 0 to 2"):
        bn_steps.steps(record, "dense1_bn", 0, 9)
    with pytest.raises(bn_steps.BNStepsError, match="no BN step-by-step data"):
        bn_steps.steps({"probes": [{"epoch": 0, "positions": []}]}, "dense1_bn", 0, 0)
    assert isinstance(bn_steps.BNStepsError("x"), ValueError)


def test_large_feature_maps_use_every_position_for_the_statistics_and_the_model_is_untouched():
    from bnviz.train.models import build_model

    config = ExperimentConfig.from_dict({
        "dataset": {"name": "digits"},
        "model": {"family": "cnn", "filters": [3], "hidden": [4], "norm": {"placement": "before"}}})
    import keras

    from bnviz.train.probes import Prober

    model = build_model(config, (16, 16, 1), 10)
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(40, 16, 16, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[np.arange(40) % 10]
    before = [v.numpy().copy() for v in model.variables]
    prober = Prober(model, x, y, keras.losses.get("categorical_crossentropy"))  # BN's steps ride on its probe
    entry = prober.probe(0)["bn_steps"]["conv1_bn"]
    assert prober.probe(1)["bn_steps"]["conv1_bn"] == entry  # training-mode statistics, yet nothing was assigned:
    for a, b in zip(before, (v.numpy() for v in model.variables)):  # weights and moving statistics as they were
        np.testing.assert_array_equal(a, b)
    inp = np.asarray(model.get_layer("conv1")(x), dtype=np.float64)  # "before": BN's input is the conv output
    assert entry["count"] == 40 * 16 * 16 > bn_steps.HIST_ROWS
    np.testing.assert_allclose(entry["batch_mean"], inp.mean(axis=(0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(entry["batch_variance"], inp.var(axis=(0, 1, 2)), rtol=1e-4)
    assert [sum(c) for c in entry["hist"]["counts"]] == [bn_steps.HIST_ROWS] * 3
    assert entry["sample_pixel"] == [8, 8]
    np.testing.assert_allclose(entry["sample"], inp[: bn_steps.SAMPLE, 8, 8, :], atol=1e-5)
