"""`python -m bnviz`: presets, train, and a clear one-line reason for every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnviz.cli import main
from bnviz.presets import PRESETS
from tests.conftest import tiny_config

REPO = Path(__file__).resolve().parents[1]


def test_presets_lists_every_preset_with_a_description(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(PRESETS)
    for name, line in zip(PRESETS, lines):
        assert line.startswith(name) and len(line.split(None, 1)[1]) > 20
    assert main(["presets", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(PRESETS)


def test_train_writes_a_run_record_with_the_documented_fields(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(tiny_config().to_json())
    out = tmp_path / "r.json"
    code = main(["train", "--config", str(config), "--set", "model.norm.placement=before", "--epochs", "3",
                 "--quiet", "--out", str(out)])
    assert code == 0
    record = json.loads(out.read_text())
    assert {"config", "history", "probes", "summary"} <= set(record)
    assert record["config"]["model"]["norm"]["placement"] == "before"
    assert len(record["history"]["val_accuracy"]) == 3 and len(record["probes"]) == 4
    assert {"final", "wall_time_s", "device", "params"} <= set(record["summary"])
    assert "succeeded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["train", "--preset", "nope", "--out", "r.json"], "unknown preset 'nope'"),
        (["train", "--config", "missing.json"], "config file not found: missing.json"),
        (["train", "--config", "{bad}"], "not valid JSON"),
        (["train", "--config", "{cfg}", "--set", "training.epoch=3"], "unknown setting 'training.epoch'"),
        (["train", "--config", "{cfg}", "--set", "model.norm.placement=middle"], "model.norm.placement"),
        (["train", "--config", "{cfg}", "--set", "nonsense"], "--set expects key=value"),
        (["train", "--config", "{cfg}", "--set", "training.learning_rate=-1"], "training.learning_rate"),
        (["train", "--config", "{cfg}", "--out", "/no/such/dir/r.json"], "directory /no/such/dir does not exist"),
        (["runs", "show", "../../etc/passwd"], "not a run id"),
        (["runs", "show", "x' OR '1'='1"], "not a run id"),
        (["runs", "export", "a" * 500, "--format", "json"], "not a run id"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_reason(args, reason, tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(tiny_config().to_json())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    args = [a.replace("{cfg}", str(good)).replace("{bad}", str(bad)) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert reason in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_argparse_errors_also_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--preset", "seed001-circles-after", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_the_module_entry_point_runs_as_a_program(tmp_path):
    env = {**os.environ, "BNVIZ_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bnviz", "train", "--preset", "nope"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "bnviz: error: unknown preset 'nope'; run `python -m bnviz presets` to list them")
