"""The loss-landscape probe (Santurkar et al.'s Fig. 4) and its gallery card: measuring never changes
the model, the numbers are what a direct computation gives, and the verdict follows stored numbers."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bnviz.config import LANDSCAPE_MULTIPLIERS
from bnviz.gallery import EXPERIMENTS, get_experiment
from bnviz.gallery import claims as cl
from tests.conftest import REPO, tiny_config
from tests.fakes import make_fake_record

SLUG = "santurkar-landscape"


def _values(model) -> list[np.ndarray]:
    return [np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True) for v in model.variables]


# --------------------------------------------------------------------------- the measurement


def test_measuring_the_landscape_changes_no_weight_and_no_moving_statistic():
    import keras

    from bnviz.train import models
    from bnviz.train.landscape import LandscapeRecorder

    config = tiny_config(**{"model.norm.placement": "before", "model.hidden": [8, 8]})
    model = models.build_model(config, (2,), 2)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 2)) * 3 + 2).astype("float32")  # far from BN's moving stats (0, 1)
    y = (x[:, :1] > 2).astype("float32")
    before = _values(model)
    land = LandscapeRecorder(model, x, y, keras.losses.get("binary_crossentropy"), 0.5)()
    after = _values(model)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert any("moving_mean" in v.path for v in model.non_trainable_variables)
    assert land["steps"] == pytest.approx([m * 0.5 for m in LANDSCAPE_MULTIPLIERS])
    assert len(land["losses"]) == len(land["grad_changes"]) == len(LANDSCAPE_MULTIPLIERS)
    assert land["beta"] > 0 and land["grad_norm"] > 0


def test_losses_and_gradient_changes_match_a_direct_computation_on_a_linear_model():
    """L(w) = mean((x·w − y)²): gradient 2/N·xᵀ(xw − y), Hessian H = 2/N·xᵀx, so the gradient change
    at w − η·g is η·‖H g‖ and the effective β-smoothness is ‖H g‖ / ‖g‖ for every η."""
    import keras

    from bnviz.train.landscape import LandscapeRecorder

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    w = np.array([[0.5], [-1.0], [2.0]], dtype="float32")
    model.layers[0].kernel.assign(w)
    x = np.array([[1, 2, 0], [0, 1, 1], [2, 0, 1], [1, 1, 1]], dtype="float32")
    y = np.array([[1.0], [0.0], [2.0], [-1.0]], dtype="float32")
    multipliers = (0.1, 1.0, 3.0)
    land = LandscapeRecorder(model, x, y, keras.losses.get("mean_squared_error"), 0.05, multipliers)()

    def loss(v):
        return float(np.mean((x @ v - y) ** 2))

    def grad(v):
        return 2 / len(x) * x.T @ (x @ v - y)

    g = grad(w.astype("float64"))
    steps = [m * 0.05 for m in multipliers]
    assert land["loss"] == pytest.approx(loss(w), rel=1e-5)
    assert land["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-5)
    assert land["losses"] == pytest.approx([loss(w - eta * g) for eta in steps], rel=1e-5)
    assert land["grad_changes"] == pytest.approx([np.linalg.norm(g - grad(w - eta * g)) for eta in steps], rel=1e-4)
    hessian = 2 / len(x) * x.T @ x
    assert land["beta"] == pytest.approx(np.linalg.norm(hessian @ g) / np.linalg.norm(g), rel=1e-4)


def test_the_switch_is_off_by_default_and_off_keeps_the_old_fingerprint():
    config = tiny_config()
    assert config.instrument.landscape is False
    on = config.with_updates({"instrument.landscape": True})
    assert on.fingerprint() != config.fingerprint()
    assert on.with_updates({"instrument.landscape": False}).fingerprint() == config.fingerprint()


# --------------------------------------------------------------------------- the card's verdict


def _record(config: dict, betas: list[float], spread: float, change: float) -> dict:
    """A finished run whose probes store landscape numbers: losses span `spread`, the largest gradient
    change is `change`, and β takes the values `betas` (one probe each)."""
    record = copy.deepcopy(make_fake_record(seed=0, activation="sigmoid", blocks=3))
    record["config"] = copy.deepcopy(config)
    record["probes"] = [{"epoch": e, "landscape": {"losses": [1.0, 1.0 + spread], "grad_changes": [0.1, change],
                                                   "beta": b}} for e, b in enumerate(betas)]
    return record


def _lists(plain: list[tuple], bn: list[tuple]) -> dict[str, list[dict]]:
    configs = {a.label: a.config.to_dict() for a in get_experiment(SLUG).build(False)}
    return {"no BN": [_record(configs["no BN"], *numbers) for numbers in plain],
            "BN": [_record(configs["BN"], *numbers) for numbers in bn]}


def test_the_verdict_follows_the_stored_numbers_by_the_written_rule():
    exp = get_experiment(SLUG)
    rough = [([40.0, 60.0], 2.0, 5.0), ([45.0, 55.0], 2.2, 5.5), ([50.0, 50.0], 1.8, 4.5)]
    smooth = [([5.0, 7.0], 0.3, 1.0), ([6.0, 6.0], 0.35, 1.1), ([4.0, 8.0], 0.25, 0.9)]
    verdict = exp.judgement(_lists(rough, smooth))
    assert verdict.outcome == cl.REPRODUCED, verdict.words
    assert [r.difference[0] for r in verdict.results] == pytest.approx([1.7, 4.0, 44.0])  # means over training
    held, words = exp.verdict(_lists(rough, smooth))
    assert held is True and "mean effective β-smoothness over training 6 with BN vs 50 without" in words
    # BN rougher in β only: that claim is not reproduced, so the card is not
    rougher = [([90.0, 95.0], spread, change) for _, spread, change in smooth]
    verdict = exp.judgement(_lists(rough, rougher))
    assert [r.outcome for r in verdict.results] == [cl.REPRODUCED, cl.REPRODUCED, cl.NOT_REPRODUCED]
    assert exp.verdict(_lists(rough, rougher))[0] is False
    # seeds that overlap: depends on the seed; one seed: not enough to judge
    noisy = [([5.0, 7.0], 0.3, 1.0), ([80.0, 90.0], 0.35, 1.1), ([4.0, 8.0], 0.25, 0.9)]
    assert exp.judgement(_lists(rough, noisy)).results[2].outcome == cl.DEPENDS
    assert exp.judgement(_lists(rough[:1], smooth[:1])).outcome == cl.ONE_SEED
    # runs without landscape numbers are not judged, and the figure says so instead of failing
    bare = {label: [make_fake_record(seed=0, activation="sigmoid", blocks=3)] for label in ("no BN", "BN")}
    assert exp.verdict(bare)[0] is None
    assert exp.figures(bare)[0][1].layout.annotations


def test_the_figure_draws_the_stored_bands_and_beta():
    from bnviz.figures.landscape import landscape_figure, landscape_series

    lists = _lists([([40.0, 60.0], 2.0, 5.0)], [([5.0, 7.0], 0.3, 1.0)])
    series = landscape_series(lists["BN"][0])
    assert series["epoch"] == [0, 1] and series["beta"] == [5.0, 7.0]
    assert series["loss_min"] == [1.0, 1.0] and series["loss_max"] == [1.3, 1.3]
    fig = landscape_figure(lists, ["no BN", "BN"], "t")
    assert len(fig.data) == 2 * 5 and {t.name for t in fig.data} == {"no BN", "BN"}


# --------------------------------------------------------------------------- the card trains


def _few_steps(config):
    return config.with_updates({"dataset.n_train": 240, "dataset.n_test": 120, "training.epochs": 1,
                                "instrument.probe_size": 64})


def test_the_card_is_registered_and_its_fast_arms_store_landscape_numbers(mnist_dir, monkeypatch):
    from bnviz.train.training import train

    monkeypatch.setenv("BNVIZ_DATA_DIR", str(mnist_dir))
    exp = EXPERIMENTS[SLUG]
    arms = exp.arms(True)
    assert [a.label for a in arms] == ["no BN", "BN"]
    assert arms[0].config.training.learning_rate == arms[1].config.training.learning_rate
    assert all(a.config.instrument.landscape for a in arms) and "fast: 4,000 digits, 10 epochs" in exp.setup
    lists = {}
    for arm in arms:
        record = train(_few_steps(arm.config))
        assert record["status"] == "succeeded", record["summary"]["error"]
        lands = [p["landscape"] for p in record["probes"]]
        assert len(lands) == 2 and all(len(x["losses"]) == len(LANDSCAPE_MULTIPLIERS) for x in lands)
        assert all(x["beta"] is not None and x["beta"] > 0 for x in lands)
        lists[arm.label] = [record]
    assert exp.verdict(lists)[0] is None  # one seed: never judged held
    assert "effective β-smoothness" in exp.summarize(lists)[1].note


def test_the_landscape_is_measured_on_jax_too(mnist_dir):
    pytest.importorskip("jax")
    arm = next(a for a in EXPERIMENTS[SLUG].arms(True) if a.label == "BN")
    script = ("import json, sys; from bnviz.train.training import train; from bnviz.config import ExperimentConfig; "
              "r = train(ExperimentConfig.from_json(sys.stdin.read())); "
              "print(json.dumps([r['status'], r['summary']['error'], [p.get('landscape') for p in r['probes']]]))")
    config = _few_steps(arm.config).with_updates({"training.backend": "jax"})
    env = {**os.environ, "KERAS_BACKEND": "jax", "BNVIZ_DATA_DIR": str(mnist_dir), "BNVIZ_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], input=config.to_json(), env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    status, error, lands = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == "succeeded", error
    assert len(lands) == 2 and all(x["beta"] > 0 and None not in x["losses"] for x in lands)
