"""One Settings object: every BNVIZ_* variable read and validated in one place, documented from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bnviz.settings import Settings, SettingsError, settings, table, variable

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_the_settings_table() -> None:
    """The README documents exactly the variables Settings reads, with their defaults."""
    readme = (REPO / "README.md").read_text()
    assert table() in readme
    assert len(Settings.model_fields) >= 15


def test_every_variable_is_read_only_by_the_settings_module() -> None:
    """No other module reads a BNVIZ_* variable from the environment itself."""
    offenders = []
    for folder in ("bnviz", "ui", "pages"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            text = path.read_text()
            if "os.environ.get(\"BNVIZ_" in text or "os.getenv(\"BNVIZ_" in text or "environ[\"BNVIZ_" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


@pytest.mark.parametrize(("name", "value", "words"), [
    ("BNVIZ_MAX_JOBS", "many", ["BNVIZ_MAX_JOBS must be a whole number from 1 to 64, got 'many'"]),
    ("BNVIZ_MAX_JOBS", "0", ["BNVIZ_MAX_JOBS must be a whole number from 1 to 64, got '0'"]),
    ("BNVIZ_WORKER_TIMEOUT_S", "1", ["BNVIZ_WORKER_TIMEOUT_S must be a whole number from 5 to 86400, got '1'"]),
    ("BNVIZ_BACKEND", "theano", ["BNVIZ_BACKEND must be one of tensorflow, jax, torch, got 'theano'"]),
    ("BNVIZ_EXECUTOR", "kubernetes", ["BNVIZ_EXECUTOR must be one of local, ray, none, got 'kubernetes'"]),
    ("BNVIZ_WORKER_CPUS", "half", ["BNVIZ_WORKER_CPUS must be one of rest, all, got 'half'"]),
    ("BNVIZ_RAY_GPU_BACKENDS", "jax,cuda", ["BNVIZ_RAY_GPU_BACKENDS must be a comma-separated list", "cuda"]),
    ("BNVIZ_RAY_GPUS_PER_JOB", "-1", ["BNVIZ_RAY_GPUS_PER_JOB must be a number from 0 to 64, got '-1'"]),
    ("BNVIZ_OFFLINE", "maybe", ["BNVIZ_OFFLINE must be 1 or 0", "got 'maybe'"]),
])
def test_a_bad_value_names_the_variable_and_what_is_allowed(monkeypatch, name: str, value: str,
                                                           words: list[str]) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        settings()
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_values_are_parsed_and_follow_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BNVIZ_MAX_JOBS", "4")
    monkeypatch.setenv("BNVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("BNVIZ_RAY_GPU_BACKENDS", " jax , torch")
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "   ")
    s = settings()
    assert (s.max_jobs, s.home, s.gpu_backends, s.admin_key) == (4, tmp_path, {"jax", "torch"}, None)
    monkeypatch.setenv("BNVIZ_MAX_JOBS", "2")
    assert settings().max_jobs == 2
    assert variable("max_jobs") == "BNVIZ_MAX_JOBS"


def test_importing_bnviz_changes_no_environment_and_imports_no_framework() -> None:
    code = ("import os, sys, json; before = dict(os.environ); import bnviz, bnviz.cli, bnviz.jobs, bnviz.store, "
            "bnviz.data, bnviz.train.backends, bnviz.figures, bnviz.gallery, bnviz.report.reproduce; "
            "print(json.dumps({'changed': sorted(k for k in set(os.environ) | set(before) "
            "if os.environ.get(k) != before.get(k)), "
            "'frameworks': sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules)}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == {"changed": [], "frameworks": []}


def test_a_jax_run_never_imports_tensorflow(tmp_path) -> None:
    code = ("import sys; from bnviz import get_preset, train; "
            "c = get_preset('seed001-circles-after-fast').config.with_updates({'training.backend': 'jax', "
            "'training.epochs': 2}); r = train(c); "
            "print(r['status'], 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={**_env(), "BNVIZ_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[:2] == ["succeeded", "False"], out.stdout


def test_the_cli_prints_nothing_on_stderr_but_its_own_lines(tmp_path) -> None:
    """TensorFlow's start-up lines (oneDNN, CUDA probe, absl) stay out of the CLI's output."""
    out = subprocess.run([sys.executable, "-m", "bnviz", "train", "--preset", "seed001-circles-after-fast",
                          "--epochs", "2", "--out", str(tmp_path / "r.json")], capture_output=True, text=True,
                         cwd=REPO, timeout=300, env={**_env(), "BNVIZ_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    foreign = [line for line in out.stderr.replace("\r", "\n").splitlines() if line.strip()
               and not line.startswith("[")]  # bnviz's progress bar: "[#####-----] epoch 2/2 ..."
    assert foreign == []


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
