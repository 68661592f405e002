"""`bnviz.watch`: the four tutorials' own models, trained with one callback line, give stored runs whose
BN views are BN's own numbers, on TensorFlow (here) and JAX (in a subprocess: a process holds one backend)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests import watch_checks

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ["tensorflow", "jax"]
BN_CASES = ["000-bn", "001-after", "001-before", "002-bn", "003-bn"]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = {"tensorflow": watch_checks.run_all()}
    if importlib.util.find_spec("jax") is not None:
        env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO),
               "BNVIZ_HOME": str(tmp_path_factory.mktemp("jax-home"))}
        done = subprocess.run([sys.executable, str(REPO / "tests" / "watch_checks.py")], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        out["jax"] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _result(results: dict, backend: str, case: str) -> dict:
    if backend not in results:
        if os.environ.get("CI"):
            pytest.fail(f"{backend} is not installed (CI installs requirements.txt and must not skip this)")
        pytest.skip(f"{backend} is not installed")
    result = results[backend][case]
    assert result["backend"] == backend
    return result


def _positions(probe: dict, kind: str) -> dict[str, dict]:
    return {p["layer"]: p for p in probe["positions"] if p["kind"] == kind}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(watch_checks.CASES))
def test_a_watched_fit_is_a_stored_run_with_the_models_normalization_layers_by_name(results, backend, case):
    r = _result(results, backend, case)
    assert r["status"] == "succeeded" and r["origin"] == "script"
    assert r["printed"].count("bnviz: watching run") == 1
    assert f"http://localhost:8501/?run={r['run_id']}" in r["printed"]
    for metric, values in r["history"].items():  # the curves are exactly what fit() returned
        assert r["stored_history"][metric] == pytest.approx(values, rel=1e-6), metric
    assert r["probe_epochs"] == [0, 1, 2]
    for probe in (r["first"], r["last"]):
        assert set(_positions(probe, "bn_output")) == set(r["norm_layers"])
        assert set(_positions(probe, "bn_output_inference")) == set(r["bn_layers"])
        assert set(probe["bn_params"]) == set(r["norm_layers"])
        assert set(probe.get("bn_steps", {})) == set(r["bn_layers"])
        assert probe["gradients"] and all(v is not None and v >= 0 for v in probe["gradients"].values())
        assert probe["probe_metrics"]["train_mode"]["loss"] is not None
    assert [n["name"] for n in r["config"]["model"]["norm"]["layers"]] == r["norm_layers"]
    assert r["config"]["training"]["backend"] == backend and r["summary"]["params"]["total"] > 0
    assert r["unchanged"], "a probe changed a weight or a moving statistic"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", BN_CASES)
def test_the_bn_histograms_are_bns_own_numbers(results, backend, case):
    """Before γ/β, each BN layer's training-mode output has per-unit mean 0 and std √(σ²/(σ²+ε)) ≈ 1."""
    r = _result(results, backend, case)
    first = _positions(r["first"], "bn_output")
    for name in r["bn_layers"]:
        steps = r["first"]["bn_steps"][name]  # γ = 1, β = 0 at epoch 0: the output is x̂ itself
        variance = np.asarray(steps["batch_variance"])
        expected = float(np.mean(np.sqrt(variance / (variance + steps["epsilon"]))))
        dense = r["own"][name]["dense"]
        stats = first[name]["stats"]
        assert stats["unit_mean_abs"] < (1e-4 if dense else 0.02), name  # conv: a fixed subset of pixels
        assert stats["unit_std"] == pytest.approx(expected, abs=1e-3 if dense else 0.03), name
        assert expected > 0.5, name
    last = _positions(r["last"], "bn_output")
    for name, own in r["own"].items():  # after training: this module's own pass over the final weights
        assert own["x_hat_mean_abs"] < 1e-3 and own["x_hat_std_error"] < 1e-3, name
        stored = last[name]["stats"]
        tolerance = 1e-3 if own["dense"] else 0.05
        assert stored["mean"] == pytest.approx(own["out_mean"], abs=tolerance), name
        assert stored["std"] == pytest.approx(own["out_std"], rel=tolerance), name
        assert r["last"]["bn_steps"][name]["batch_mean"] == pytest.approx(own["mean"], abs=1e-4), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_activation_beside_each_bn_layer_is_recorded_with_its_dead_or_saturated_share(results, backend):
    def beside_bn(r: dict) -> dict[str, dict]:
        block = _positions(r["first"], "bn_output")[r["bn_layers"][0]]["block"]
        return {p["kind"]: p for p in r["first"]["positions"] if p["block"] == block}

    def layer_type(r: dict, name: str) -> str:
        return {row["name"]: row["type"] for row in r["summary"]["layers"]}[name]

    r = _result(results, backend, "001-before")  # Dense(32) → BN → Activation('relu')
    found = beside_bn(r)
    assert {"bn_input", "bn_output", "bn_output_inference", "pre_activation", "activation"} <= set(found)
    assert layer_type(r, found["activation"]["layer"]) == "Activation" and found["activation"]["stats"]["dead"] == 0
    r = _result(results, backend, "001-after")  # Dense(50, relu) → BN
    found = beside_bn(r)
    assert layer_type(r, found["activation"]["layer"]) == "Dense" and "pre_activation" not in found
    assert found["activation"]["stats"]["dead"] is not None
    sigmoid = _result(results, backend, "003-none")["first"]  # no BN: each sigmoid layer is its own block
    shares = [p["stats"]["saturated"] for p in sigmoid["positions"] if p["kind"] == "activation"]
    assert len(shares) == 5 and all(s is not None and 0 <= s <= 1 for s in shares)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_functional_model_with_a_residual_a_nested_model_and_group_norm_has_every_normalization_found(
        results, backend):
    r = _result(results, backend, "residual")
    assert r["norm_layers"] == ["inner_bn", "ln", "gn"]
    kinds = {n["name"]: n["type"] for n in r["config"]["model"]["norm"]["layers"]}
    assert kinds == {"inner_bn": "BatchNormalization", "ln": "LayerNormalization", "gn": "GroupNormalization"}
    bn = _positions(r["first"], "bn_output")["inner_bn"]["stats"]
    assert bn["unit_mean_abs"] < 1e-4 and bn["unit_std"] == pytest.approx(1.0, abs=0.01)
    assert set(r["first"]["gradients"]) == {"stem", "inner_dense", "inner_bn", "ln", "gn", "head"}


# --- what must never break a user's fit ---------------------------------------------------------------

def _circles(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    model, x, y, _ = watch_checks.tutorial_001("after")
    return model, x, y


def test_an_unreachable_store_warns_once_and_the_fit_goes_on(monkeypatch, capsys):
    import bnviz

    monkeypatch.setenv("BNVIZ_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    model, x, y = _circles()
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[bnviz.watch(probe=(x[:32], y[:32]))])
    assert len(history.history["loss"]) == 2
    err = capsys.readouterr().err
    assert err.count("cannot record this run") == 1 and "training goes on" in err


def test_a_store_that_fails_during_the_fit_warns_once_and_the_fit_goes_on(capsys):
    import bnviz
    from bnviz.store import RunStore
    from bnviz.watcher.writer import StoreWriter

    class Failing(RunStore):
        def append_events(self, run_id, batch):
            if any(event["type"] == "epoch" for event in batch):
                raise OSError("disk full")
            return super().append_events(run_id, batch)

    writer = StoreWriter(open_store=Failing)
    model, x, y = _circles()
    watcher = bnviz.watch(probe=(x[:32], y[:32]), writer=writer)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[watcher])
    assert len(history.history["loss"]) == 3 and watcher.wait(timeout=120)
    err = capsys.readouterr().err
    assert err.count("cannot record this run") == 1 and "disk full" in err
    assert writer.stopped


def test_a_cancel_from_the_dashboard_stops_the_recording_not_the_training(capsys):
    import keras

    import bnviz
    from bnviz.jobs.queue import RunQueue
    from bnviz.store import RunStore

    watcher = bnviz.watch(name="cancel me", probe=None)

    class CancelAfterFirstEpoch(keras.callbacks.Callback):
        """Cancels after epoch 0, then holds epoch 1 until the writer has seen the request: the writer
        is asynchronous, and a fast fit could otherwise end before it wrote anything after the cancel."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                with RunStore() as store:
                    RunQueue(store).request_cancel(watcher.run_id)
            elif epoch == 1:
                deadline = time.monotonic() + 120
                while not watcher.writer.stopped and time.monotonic() < deadline:
                    time.sleep(0.05)

    model, x, y = _circles()
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[watcher, CancelAfterFirstEpoch()])
    assert len(history.history["loss"]) == 4 and watcher.wait(timeout=120)
    with RunStore() as store:
        record = store.get_record(watcher.run_id)
    assert record["status"] == "cancelled" and len(record["history"]["loss"]) < 4
    assert "cancelled from the dashboard" in record["summary"]["error"]
    err = capsys.readouterr().err
    assert "no probe batch given" in err and err.count("was cancelled from the dashboard") == 1


def test_a_subclassed_model_records_its_curves_and_says_once_what_is_supported(capsys):
    import keras

    import bnviz
    from bnviz.store import RunStore

    class Mine(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.bn = keras.layers.BatchNormalization(name="my_bn")
            self.out = keras.layers.Dense(1, activation="sigmoid")

        def call(self, x, training=False):
            return self.out(self.bn(self.hidden(x), training=training))

    keras.utils.set_random_seed(0)
    model = Mine()
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    watcher = bnviz.watch(probe=(x[:32], y[:32]))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[watcher])
    assert watcher.wait(timeout=120)
    err = capsys.readouterr().err
    assert err.count("Mine is a subclassed model") == 1 and "Sequential or functional" in err
    with RunStore() as store:
        record = store.get_record(watcher.run_id)
    assert record["status"] == "succeeded" and len(record["history"]["loss"]) == 2
    assert [p["epoch"] for p in record["probes"]] == [0, 1, 2]
    assert record["probes"][-1]["positions"] == [] and "my_bn" in record["probes"][-1]["bn_params"]
    assert record["config"]["model"]["norm"]["layers"][0]["name"] == "my_bn"


def test_probe_every_and_the_dashboard_address_are_settings(monkeypatch, capsys):
    import bnviz
    from bnviz.store import RunStore

    monkeypatch.setenv("BNVIZ_DASHBOARD_URL", "https://bn.example.edu/")
    model, x, y = _circles()
    watcher = bnviz.watch(probe=(x[:32], y[:32]), probe_every=2, log_every=2)
    model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[watcher])
    assert watcher.wait(timeout=120)
    assert f"bnviz: watching run {watcher.run_id} at https://bn.example.edu/?run={watcher.run_id}" in (
        capsys.readouterr().out)
    with RunStore() as store:
        record = store.get_record(watcher.run_id)
    assert [p["epoch"] for p in record["probes"]] == [0, 2, 3]  # every 2nd epoch, and the last one
    assert [b["batch"] for b in record["batches"] if b["epoch"] == 1] == [2, 4]
    assert all(math.isfinite(b["loss"]) for b in record["batches"])
    assert record["config"]["instrument"]["probe_every"] == 2


def test_importing_bnviz_stays_cheap_and_watch_is_on_the_facade():
    code = ("import sys, bnviz; assert callable(bnviz.watch); assert 'keras' not in sys.modules; "
            "assert 'bnviz.watcher' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_probe_of_a_snapshot_is_the_probe_of_that_moment_however_training_went_on():
    """Probes run off the training thread on copies of the weights: a copy taken after one epoch and probed
    after a second one gives exactly the probe of the first moment (γ/β and moving statistics included)."""
    import keras

    from bnviz.train.probes import Prober
    from bnviz.watcher.graph import plan_for

    model, x, y = _circles()
    model.fit(x, y, epochs=1, verbose=0)
    plan, _, _ = plan_for(model)
    prober = Prober(model, x[:64], y[:64].reshape(-1, 1), keras.losses.get("binary_crossentropy"), plan=plan)
    then = prober.probe(1)
    snapshot = prober.snapshot()
    model.fit(x, y, epochs=1, verbose=0)
    assert prober.probe(1, snapshot) == then
    assert prober.probe(2) != then


SCRIPT_MODEL = (
    "import keras, numpy as np, bnviz\n"
    "model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),\n"
    "                          keras.layers.Dense(1, activation='sigmoid')])\n"
    "model.compile('sgd', 'binary_crossentropy')\n"
    "x = np.random.default_rng(0).normal(size=(64, 2)).astype('float32'); y = (x[:, 0] > 0) * 1.0\n")


def _run_script(tmp_path, fit: str) -> tuple[subprocess.CompletedProcess, dict]:
    """A user's script (a small BN model, then `fit`) run in its own interpreter: its output and run."""
    script = tmp_path / "mine.py"
    script.write_text(SCRIPT_MODEL + fit)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    run_id = re.search(r"watching run ([\w-]+)", done.stdout).group(1)
    from bnviz.store import RunStore

    with RunStore() as store:
        return done, store.get_record(run_id)


def test_a_script_that_dies_during_fit_leaves_its_run_interrupted_with_what_it_recorded(tmp_path):
    done, record = _run_script(tmp_path, (
        "class Boom(keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        if epoch == 1:\n"
        "            raise RuntimeError('the script failed')\n"
        "watcher = bnviz.watch(name='dies', probe=(x[:32], y[:32]), probe_every=1)\n"
        "model.fit(x, y, epochs=5, verbose=0, callbacks=[watcher, Boom()])\n"))
    assert done.returncode != 0 and "the script failed" in done.stderr
    assert record["status"] == "interrupted" and "before fit() ended" in record["summary"]["error"]
    assert len(record["history"]["loss"]) == 2 and [p["epoch"] for p in record["probes"]] == [0, 1, 2]


def test_a_script_that_ends_right_after_fit_still_records_its_last_probes_and_its_end(tmp_path):
    """fit() returns before a short fit's probes are written (they wait for the first epoch's compile,
    then run in the background): a script that exits at once still leaves a complete run."""
    done, record = _run_script(tmp_path, (
        "model.fit(x, y, epochs=3, verbose=0, callbacks=[bnviz.watch(name='short', probe=(x[:32], y[:32]))])\n"))
    assert done.returncode == 0, done.stderr
    assert record["status"] == "succeeded" and len(record["history"]["loss"]) == 3
    probed = [p["epoch"] for p in record["probes"]]
    assert probed[0] == 0 and probed[-1] == 3 and probed == sorted(set(probed))
    assert all(p["positions"] for p in record["probes"])  # real probes, not the fallback's γ/β only


def test_a_script_run_is_recorded_in_sqlite_and_in_postgresql(database):
    import bnviz
    from bnviz.store import RunStore

    model, x, y = _circles()
    watcher = bnviz.watch(name=f"on {database}", probe=(x[:32], y[:32]), probe_every=1)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[watcher])
    assert watcher.wait(timeout=120)
    with RunStore() as store:
        record, listed = store.get_record(watcher.run_id), store.list_runs()
    assert record["status"] == "succeeded" and record["origin"] == "script" and len(record["probes"]) == 3
    assert [(r["id"], r["origin"], r["family"]) for r in listed] == [(watcher.run_id, "script", "script")]


def test_watching_changes_nothing_in_training_even_a_sequential_built_by_its_first_batch():
    """The same seed trains to the same losses with and without the callback; a Sequential without an input
    shape is built from the probe batch's shape, as fit() would build it."""
    import keras

    import bnviz
    from bnviz.store import RunStore

    def fit(callbacks):
        keras.utils.set_random_seed(7)
        model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(name="late_bn"),
                                  keras.layers.Activation("tanh"), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
        x = np.random.default_rng(3).normal(size=(96, 3)).astype("float32")
        y = (x.sum(axis=1) > 0).astype("float32")
        return model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=callbacks(x, y)).history

    watchers = []
    plain = fit(lambda x, y: [])
    watched = fit(lambda x, y: watchers.append(bnviz.watch(probe=(x[:32], y[:32]))) or watchers)
    assert watched["loss"] == pytest.approx(plain["loss"], rel=1e-6) and watchers[0].wait(timeout=120)
    with RunStore() as store:
        record = store.get_record(watchers[0].run_id)
    kinds = {p["kind"] for p in record["probes"][0]["positions"] if p["block"] == 1}
    assert kinds == {"bn_input", "bn_output", "bn_output_inference", "pre_activation", "activation"}
    saturated = next(p for p in record["probes"][-1]["positions"] if p["kind"] == "activation")["stats"]["saturated"]
    assert saturated is not None
