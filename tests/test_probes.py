"""Probes see BN do its job, and leave the model exactly as they found it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bnviz.config import ExperimentConfig
from bnviz.train.models import build_model
from bnviz.train.probes import Prober


def _model_and_batch(placement="before", activation="relu", hidden=(16, 16)):
    import keras

    config = ExperimentConfig.from_dict({"model": {"hidden": list(hidden), "activation": activation,
                                                   "norm": {"placement": placement}}})
    model = build_model(config, (3,), 2)
    rng = np.random.default_rng(0)
    # Inputs far from zero mean / unit variance, so un-normalized positions clearly are not.
    x = (rng.normal(size=(128, 3)) * [3.0, 0.5, 2.0] + [4.0, -2.0, 1.0]).astype("float32")
    y = (x[:, 0] > 4).astype("float32").reshape(-1, 1)
    return model, Prober(model, x, y, keras.losses.get("binary_crossentropy"))


def _pos(probe, layer, kind):
    return next(p for p in probe["positions"] if p["layer"] == layer and p["kind"] == kind)


@pytest.mark.parametrize("placement", ["before", "after"])
def test_first_probe_bn_output_is_normalized_per_unit_and_its_input_is_not(placement):
    _, prober = _model_and_batch(placement)
    probe = prober.probe(0)
    out = _pos(probe, "dense1_bn", "bn_output")["stats"]
    inp = _pos(probe, "dense1_bn", "bn_input")["stats"]
    assert out["unit_mean_abs"] < 1e-3
    assert out["unit_std"] == pytest.approx(1.0, abs=0.02)
    assert inp["unit_mean_abs"] > 0.3 or abs(inp["unit_std"] - 1) > 0.3


def test_batch_statistics_match_a_hand_computed_normalization():
    from keras import ops

    model, prober = _model_and_batch("before")
    train_out, infer_out = prober.raw_outputs()
    pre = ops.convert_to_numpy(model.get_layer("dense1")(prober.x))
    by_hand = (pre - pre.mean(0)) / np.sqrt(pre.var(0) + 1e-3)
    idx = next(p.tensor for p in prober.positions if p.layer == "dense1_bn" and p.kind == "bn_output")
    np.testing.assert_allclose(train_out[idx], by_hand, atol=1e-4)
    # Moving statistics start at mean 0, variance 1: inference output is the input / sqrt(1 + eps).
    np.testing.assert_allclose(infer_out[idx], pre / np.sqrt(1 + 1e-3), rtol=1e-4, atol=1e-5)


def test_summaries_on_the_device_equal_those_on_the_host_even_with_non_finite_values():
    """A CPU run summarises with numpy, a GPU run inside the compiled probe: same record either way."""
    model, host = _model_and_batch("after", "tanh")
    _, device = _model_and_batch("after", "tanh")
    device.model.set_weights(model.get_weights())
    kernel = model.get_layer("dense1").kernel
    bad = np.array(kernel.numpy() if hasattr(kernel, "numpy") else kernel)
    bad[0, :3] = [np.inf, -np.inf, np.nan]
    for m in (model, device.model):
        m.get_layer("dense1").kernel.assign(bad)
    device.on_device, host.on_device = True, False
    a, b = host.probe(0), device.probe(0)
    for pa, pb in zip(a["positions"], b["positions"]):
        assert pa["hist"]["edges"] == pb["hist"]["edges"]
        assert pa["hist"]["below"] + pa["hist"]["above"] == pb["hist"]["below"] + pb["hist"]["above"]
        assert pa["hist"]["counts"] == pb["hist"]["counts"], (pa["layer"], pa["kind"])
        for name, value in pa["stats"].items():
            assert (pb["stats"][name] is None) == (value is None), (pa["layer"], pa["kind"], name)
            if value is not None:
                assert pb["stats"][name] == pytest.approx(value, rel=1e-4, abs=1e-5), (pa["layer"], pa["kind"], name)
    assert _pos(a, "dense1_act", "activation")["stats"]["saturated"] is not None


def test_probing_changes_no_weight_and_no_moving_statistic():
    model, prober = _model_and_batch("after")
    model.get_layer("dense1_bn").moving_mean.assign(np.full(16, 0.25, "float32"))
    before = [v.numpy().copy() for v in model.variables]
    for epoch in range(3):
        prober.probe(epoch)
    after = [v.numpy() for v in model.variables]
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("on_device", [False, True])
def test_histograms_keep_their_edges_until_the_values_outgrow_them(on_device):
    model, prober = _model_and_batch("before")
    prober.on_device = on_device
    first = prober.probe(0)
    assert prober.probe(1)["positions"] == first["positions"]  # nothing changed: the same bins
    model.get_layer("dense1").kernel.assign(model.get_layer("dense1").kernel * 50)
    later = prober.probe(2)
    n = 128 * 16
    for a, b in zip(first["positions"], later["positions"]):
        hist, start = b["hist"], a["hist"]["edges"]
        lo, hi = hist["edges"][0], hist["edges"][-1]
        assert lo <= start[0] and hi >= start[-1]  # ranges only widen ...
        assert math.log2(hi / start[-1]).is_integer()  # ... along the power-of-two ladder
        assert (hist["below"] + hist["above"]) <= 0.01 * (sum(hist["counts"]) + hist["below"] + hist["above"])
    pos, before = _pos(later, "dense1_bn", "bn_input"), _pos(first, "dense1_bn", "bn_input")
    assert sum(pos["hist"]["counts"]) + pos["hist"]["below"] + pos["hist"]["above"] == n
    assert pos["hist"]["edges"][-1] >= 32 * before["hist"]["edges"][-1]  # the scaled weights widened it
    normalized = [_pos(p, "dense1_bn", "bn_output")["hist"]["edges"] for p in (first, later)]
    assert normalized[0] == normalized[1]  # BN's output did not grow: its bins stay


def test_relu_dead_units_sigmoid_saturation_gradients_and_bn_params():
    model, prober = _model_and_batch("none", "relu")
    model.get_layer("dense1").bias.assign(np.r_[np.full(4, -1000.0), np.zeros(12)].astype("float32"))
    probe = prober.probe(0)
    assert _pos(probe, "dense1_act", "activation")["stats"]["dead"] == pytest.approx(4 / 16)
    assert set(probe["gradients"]) == {"dense1", "dense2", "output"}
    assert all(g is not None and g >= 0 for g in probe["gradients"].values())

    model, prober = _model_and_batch("after", "sigmoid")
    model.get_layer("dense1").kernel.assign(model.get_layer("dense1").kernel * 1000)
    probe = prober.probe(0)
    assert _pos(probe, "dense1_act", "activation")["stats"]["saturated"] > 0.8
    params = probe["bn_params"]["dense1_bn"]
    assert params["gamma"]["mean"] == 1.0 and params["moving_variance"]["mean"] == 1.0
    assert probe["probe_metrics"]["train_mode"]["accuracy"] is not None
