"""Every Keras backend trains and probes the same way: TensorFlow here, JAX (and PyTorch where
installed) in a subprocess each, since a process holds one backend."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnviz.config import ExperimentConfig
from bnviz.errors import UserError
from bnviz.train import backends
from tests import backend_checks

REPO = Path(__file__).resolve().parents[1]


def _require_installed(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        reason = f"{name} is not installed"
        if os.environ.get("CI") and name != "torch":
            pytest.fail(reason + " (CI installs requirements.txt and must not skip this)")
        pytest.skip(reason + " (optional)")


def _run_checks(backend: str, workdir: Path) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "tests" / "backend_checks.py"), str(workdir)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cross_dir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("cross")
    backend_checks.save_cross_inputs(workdir)
    return workdir


@pytest.fixture(scope="module")
def results(cross_dir) -> dict:
    """The same checks on TensorFlow (this process) and on every other installed backend."""
    out = {"tensorflow": backend_checks.run_all(cross_dir)}
    if importlib.util.find_spec("jax") is not None:
        out["jax"] = _run_checks("jax", cross_dir)
    if importlib.util.find_spec("torch") is not None:
        out["torch"] = _run_checks("torch", cross_dir)
    return out


@pytest.fixture(params=["tensorflow", "jax", "torch"])
def result(request, results) -> dict:
    _require_installed(request.param)
    assert results[request.param]["backend"] == request.param
    return results[request.param]


def test_bn_output_in_training_mode_is_normalized_per_unit_and_its_input_is_not(result):
    out, inp = result["bn"]["bn_output"], result["bn"]["bn_input"]
    assert out["unit_mean_abs"] < 1e-3
    assert out["unit_std"] == pytest.approx(1.0, abs=0.02)
    assert inp["unit_mean_abs"] > 0.3 or abs(inp["unit_std"] - 1) > 0.3


def test_probing_changes_no_weight_and_no_moving_statistic(result):
    assert result["max_change"] == 0.0


def test_the_same_config_and_seed_give_the_same_history_twice(result):
    history = result["history"]
    assert history["first"] == history["second"]
    assert len(history["first"]["loss"]) == 2 and all(v == v for v in history["first"]["loss"])
    assert history["summary"]["backend"] == result["backend"]
    assert history["summary"]["device"] == result["device"]


@pytest.mark.parametrize("other", ["jax", "torch"])
@pytest.mark.parametrize("model", list(backend_checks.CROSS))
def test_probe_statistics_agree_with_tensorflow_for_identical_weights_and_batch(other, model, results):
    _require_installed(other)
    reference, probe = results["tensorflow"]["cross"][model], results[other]["cross"][model]
    assert [(p["layer"], p["kind"]) for p in probe["positions"]] == [
        (p["layer"], p["kind"]) for p in reference["positions"]]
    for a, b in zip(reference["positions"], probe["positions"]):
        assert a["hist"]["edges"] == b["hist"]["edges"], a["layer"]
        assert sum(a["hist"]["counts"]) + a["hist"]["below"] + a["hist"]["above"] == (
            sum(b["hist"]["counts"]) + b["hist"]["below"] + b["hist"]["above"])
        for name, value in a["stats"].items():
            if value is None:
                assert b["stats"][name] is None, (a["layer"], a["kind"], name)
            else:
                assert b["stats"][name] == pytest.approx(value, abs=1e-4), (a["layer"], a["kind"], name)
    for layer, norm in reference["gradients"].items():
        assert probe["gradients"][layer] == pytest.approx(norm, abs=1e-4), layer
    for mode in ("train_mode", "inference_mode"):
        for name, value in reference["probe_metrics"][mode].items():
            assert probe["probe_metrics"][mode][name] == pytest.approx(value, abs=1e-4), (mode, name)
    for layer, attrs in reference["bn_params"].items():
        for attr, stats in attrs.items():
            for stat, value in stats.items():
                assert probe["bn_params"][layer][attr][stat] == pytest.approx(value, abs=1e-5), (layer, attr, stat)


def test_the_cli_trains_on_the_backend_the_config_names(tmp_path):
    _require_installed("jax")
    config = tmp_path / "c.json"
    config.write_text(backend_checks_config().to_json())
    out = tmp_path / "r.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), "BNVIZ_HOME": str(tmp_path / "h")}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, "-m", "bnviz", "train", "--config", str(config), "--set",
                           "training.backend=jax", "--quiet", "--no-store", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["config"]["training"]["backend"] == "jax"
    assert record["summary"]["backend"] == "jax" and record["summary"]["device"] == "CPU"
    assert "jax" in done.stdout


def backend_checks_config() -> ExperimentConfig:
    from tests.conftest import tiny_config

    return tiny_config(**{"training.epochs": 1})


# --- choosing a backend -------------------------------------------------------------------

def test_tensorflow_and_jax_are_installed_and_found_without_importing_them():
    found = backends.available_backends()
    assert found[0] == "tensorflow"
    if os.environ.get("CI"):
        assert "jax" in found


def test_bnviz_backend_sets_the_default_and_a_bad_value_names_the_allowed_ones(monkeypatch):
    monkeypatch.delenv("BNVIZ_BACKEND", raising=False)
    assert backends.default_backend() == "tensorflow"
    monkeypatch.setenv("BNVIZ_BACKEND", "jaxx")
    with pytest.raises(UserError, match="BNVIZ_BACKEND must be one of tensorflow, jax, torch, got 'jaxx'"):
        backends.default_backend()


def test_a_backend_that_is_not_installed_names_the_installed_ones(monkeypatch):
    monkeypatch.setattr(backends, "available_backends", lambda: ("tensorflow", "jax"))
    with pytest.raises(backends.BackendError, match="'torch' is not installed here; installed: tensorflow, jax"):
        backends.require("torch")
    with pytest.raises(backends.BackendError, match="unknown backend 'pytorch'"):
        backends.require("pytorch")


def test_a_process_cannot_switch_backends_once_keras_is_imported():
    import keras

    assert keras.config.backend() == "tensorflow"
    assert backends.activate("tensorflow") == "tensorflow"
    if "jax" in backends.available_backends():
        with pytest.raises(backends.BackendError, match="already runs Keras on tensorflow, so it cannot train on jax"):
            backends.activate("jax")


def test_a_run_on_another_backend_than_the_process_fails_with_the_reason():
    from bnviz.train.training import train
    from tests.conftest import tiny_config

    if "jax" not in backends.available_backends():
        pytest.skip("jax is not installed")
    record = train(tiny_config(**{"training.backend": "jax"}))
    assert record["status"] == "failed"
    assert "already runs Keras on tensorflow" in record["summary"]["error"]
    assert record["summary"]["backend"] == "jax"


def test_old_configs_are_tensorflow_and_keep_their_fingerprint():
    import hashlib

    from tests.conftest import tiny_config

    config = tiny_config()
    old = config.to_dict()
    del old["training"]["backend"]  # a config written before the field existed
    del old["model"]["norm"]["groups"], old["model"]["norm"]["noise"]  # and before GroupNorm and noisy BN
    del old["instrument"]["landscape"]  # and before the loss-landscape probe
    loaded = ExperimentConfig.from_dict(old)
    assert loaded.training.backend == "tensorflow"
    canonical = json.dumps(old, sort_keys=True, separators=(",", ":"))
    assert loaded.fingerprint() == hashlib.sha256(canonical.encode()).hexdigest()[:32]
    assert config.with_updates({"training.backend": "jax"}).fingerprint() != config.fingerprint()
    assert config.with_updates({"instrument.landscape": True}).fingerprint() != config.fingerprint()
    assert ExperimentConfig.decode(config.with_updates({"training.backend": "jax"}).encode()).training.backend == "jax"


def test_a_config_file_without_a_backend_takes_bnviz_backend_and_one_with_it_keeps_it(tmp_path, monkeypatch):
    from bnviz.cli.commands import build_parser, load_config
    from tests.conftest import tiny_config

    monkeypatch.setenv("BNVIZ_BACKEND", "jax")
    monkeypatch.setattr(backends, "available_backends", lambda: ("tensorflow", "jax"))
    old = tiny_config().to_dict()
    del old["training"]["backend"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(old))
    parser = build_parser()
    assert load_config(parser.parse_args(["train", "--config", str(path)])).training.backend == "jax"
    assert load_config(parser.parse_args(["train", "--preset", "seed001-circles-after"])).training.backend == "jax"
    path.write_text(tiny_config().to_json())  # says tensorflow
    assert load_config(parser.parse_args(["train", "--config", str(path)])).training.backend == "tensorflow"
    args = parser.parse_args(["train", "--config", str(path), "--set", "training.backend=jax"])
    assert load_config(args).training.backend == "jax"


# --- XLA settings for JAX on a CPU ----------------------------------------------------------

def test_xla_flags_are_added_without_overriding_the_users_own():
    wanted = ["--xla_backend_optimization_level=1", "--xla_cpu_multi_thread_eigen=false"]
    assert backends.with_xla_flags("", wanted) == " ".join(wanted)
    assert backends.with_xla_flags("--xla_backend_optimization_level=3 --xla_dump_to=/tmp/x", wanted) == (
        "--xla_backend_optimization_level=3 --xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false")


def test_cpu_xla_tuning_applies_only_to_the_jaxlib_series_it_was_measured_on(monkeypatch):
    import importlib.metadata

    monkeypatch.setattr(backends, "has_nvidia_driver", lambda: False)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.10.7")
    flags, options = backends._jax_cpu_tuning()
    assert any("ynn_fusion_type" in flag for flag in flags) and options
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.11.0")
    assert backends._jax_cpu_tuning() == ((), {})  # an unknown flag would abort the process: XLA's defaults
