"""Pages read a run through typed views (RunView.config, RunView.summary), never nested dict keys.

Every record shape the tests and older stores hold must parse: the fakes' records, records folded
from the fake events, configs from before `training.backend`, runs that have not started.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bnviz.config import ExperimentConfig
from bnviz.record import Divergence, RunSummary
from bnviz.settings import DEFAULT_BACKEND
from bnviz.states import RunState
from tests.fake_events import record_of, synthetic_events
from tests.fakes import make_fake_record
from ui.live import RunView, config_table, short_labels

ROOT = Path(__file__).resolve().parents[1]
OLD_CONFIG = {"dataset": {"name": "circles"}, "model": {"hidden": [8], "norm": {"placement": "after"}},
              "training": {"epochs": 2}}  # no training.backend, no instrument: an older record


def view_of(record: dict, name: str | None = None) -> RunView:
    return RunView({**record, "name": name}, RunState(record["status"]), {}, None)


def test_a_run_without_a_summary_reads_as_an_empty_one() -> None:
    summary = RunSummary.from_dict(None)
    assert dict(summary.final) == {} and summary.device is None and summary.diverged_at is None
    assert RunSummary.from_dict({"device": "CPU"}).device == "CPU"  # a run that has started


def test_the_summary_keeps_what_pages_show() -> None:
    summary = RunSummary.from_dict({"final": {"accuracy": 0.9}, "wall_time_s": 2.5, "epochs_completed": 3,
                                    "backend": "jax", "device": "CPU", "error": None, "params": {"total": 1},
                                    "diverged_at": {"epoch": 3, "batch": 7}})
    assert summary.final["accuracy"] == 0.9 and summary.wall_time_s == 2.5 and summary.epochs_completed == 3
    assert (summary.backend, summary.device, summary.error) == ("jax", "CPU", None)
    assert summary.diverged_at == Divergence(3, 7)
    with pytest.raises(TypeError):
        summary.final["accuracy"] = 1.0  # read-only, like the snapshot it comes from


@pytest.mark.parametrize("record", [
    make_fake_record(epochs=2),
    make_fake_record(epochs=2, running_batches=5),  # live: no summary yet
    record_of(list(synthetic_events(2, blocks=1, per_block=2, bins=8, steps=4)), OLD_CONFIG, "old"),
    record_of([], ExperimentConfig().to_dict(), "queued"),
], ids=["fake", "fake-live", "folded-old-config", "not-started"])
def test_every_stored_record_shape_gives_a_typed_config_and_summary(record: dict) -> None:
    view = view_of(record)
    assert view.config == ExperimentConfig.from_dict(record["config"])
    assert view.config is view.config  # parsed once per view
    assert view.summary == RunSummary.from_dict(record["summary"])
    assert view.epochs_recorded == len(record["history"].get("loss", []))


def test_an_older_record_reads_with_the_defaults_it_trained_with() -> None:
    record = record_of(list(synthetic_events(2, blocks=1, per_block=2, bins=8, steps=4)), OLD_CONFIG, "old")
    view = view_of(record)
    assert view.config.training.backend == DEFAULT_BACKEND == view.backend  # the summary does not say
    assert view.config.model.norm.placement == "after" and view.config.training.epochs == 2
    assert view.summary.device == "CPU" and view.summary.final["loss"] == record["summary"]["final"]["loss"]
    newer = {**record, "summary": {**record["summary"], "backend": "jax"}}
    assert view_of(newer).backend == "jax"  # what trained it, once the summary says


def test_labels_and_the_config_table_read_views() -> None:
    a = view_of(make_fake_record(epochs=1, seed=1), "Circles MLP · no BN")
    b = view_of({**make_fake_record(epochs=2, seed=2), "config": ExperimentConfig.from_dict(OLD_CONFIG).to_dict()},
                "Circles MLP · BN after")
    assert short_labels([a, b]) == ["no BN", "BN after"]
    assert view_of(make_fake_record(epochs=1)).label == "fake0"  # no name: its id
    table = config_table([a, b])
    assert table.loc["training.epochs", "differs"] and not table.loc["dataset.name", "differs"]
    assert table.loc["training.backend"].iloc[0] == DEFAULT_BACKEND


def test_pages_and_ui_read_configs_and_summaries_through_attributes() -> None:
    """`view.config.training.epochs`, not `record["config"]["training"]["epochs"]`: a misspelt setting
    then fails loudly, and records older than a field read its default."""
    wrong = []
    for path in sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]):
        if path == ROOT / "ui" / "live.py":
            continue  # RunView: where they are parsed, once per view
        if path == ROOT / "ui" / "run_model.py":
            continue  # a script's run (bnviz.watch): its config describes the user's fit and is no ExperimentConfig
        for node in ast.walk(ast.parse(path.read_text())):
            key = (node.slice if isinstance(node, ast.Subscript) else
                   node.args[0] if isinstance(node, ast.Call) and node.args and
                   isinstance(node.func, ast.Attribute) and node.func.attr == "get" else None)
            if isinstance(key, ast.Constant) and key.value in ("config", "summary"):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {key.value!r}")
    assert wrong == []
