"""The reproduction report end to end on a tiny patched card (real training, seconds)."""

from __future__ import annotations

import dataclasses
import json
import os

import plotly.graph_objects as go
import pytest

from bnviz import gallery
from bnviz.cli import main
from bnviz.gallery import Arm
from bnviz.report import arms as reproduce_arms
from bnviz.report import figure_export, reproduce
from bnviz.store import RunStore
from tests.conftest import tiny_config

HEADER = "| Experiment | Arm | Published | Ours | Seeds | Diverged or stuck | Note |"


@pytest.fixture
def tiny_circles(monkeypatch, tmp_path):
    """The circles card with 2-epoch tiny arms, plus an MNIST arm whose data is not available."""
    exp = gallery.get_experiment("tutorial-circles")

    def build(fast: bool) -> list[Arm]:
        return [
            Arm("no BN", tiny_config(), group="circles", published=0.846),
            Arm("BN after ReLU", tiny_config(**{"model.norm.placement": "after"}), group="circles", published=0.848),
            Arm("BN before ReLU", tiny_config(**{"dataset.name": "mnist", "dataset.n_train": 64,
                                                 "dataset.n_test": 32, "model.norm.placement": "before"}),
                group="circles", published=0.830),
        ]

    monkeypatch.setitem(gallery.EXPERIMENTS, exp.slug, dataclasses.replace(exp, build=build))
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # no Keras cache either
    monkeypatch.setenv("BNVIZ_OFFLINE", "1")
    return empty


def test_run_report_writes_the_table_figures_and_records_the_runs(tiny_circles, tmp_path):
    lines: list[str] = []
    out = tmp_path / "report"
    before = os.environ.get("BNVIZ_DATA_DIR")
    report = reproduce.run_report(out, fast=True, only=["tutorial-circles"], data_dir=tiny_circles,
                                  progress=lines.append, figure_format="html")
    assert os.environ.get("BNVIZ_DATA_DIR") == before  # restored
    text = report.read_text()
    assert report == out / "report.md"
    assert HEADER in text
    assert "✓" not in text.split("## Results")[1].split("## Where")[0]  # arm rows never say ✓
    assert "| Experiment | Verdict | Seeds per arm |" in text
    assert "| Circles MLP: BN before or after the activation | — one seed: not enough to judge | 1 |" in text
    assert "| Circles MLP: BN before or after the activation | no BN | 0.846 |" in text
    assert "skipped: dataset unavailable" in text
    assert "Skipped: dataset unavailable (mnist)" in text and "mnist could not be loaded" in text
    assert "no MNIST-like image set is available offline here" in text  # the circles card is still judged:
    assert "the arms that need it are skipped" in text and "`tutorial-circles` is not judged" not in text
    figures = sorted((out / reproduce.FIGURE_DIR).glob("*.html"))
    assert figures and (out / reproduce.FIGURE_DIR / "plotly.min.js").is_file()
    assert f"]({reproduce.FIGURE_DIR}/{figures[0].name})" in text
    assert "## Where our numbers differ from the published ones, and why" in text and "## Timing" in text

    timing = json.loads((out / "timing.json").read_text())
    assert [a["source"] for a in timing["arms"]] == ["trained", "trained", "skipped"]
    assert timing["total_s"] > 0
    with RunStore() as store:
        runs = store.list_runs()
    assert sorted(r["status"] for r in runs) == ["succeeded", "succeeded"]
    assert all(r["name"].startswith("reproduce · tutorial-circles") for r in runs)
    ids = {a["run_id"] for a in timing["arms"] if a["source"] == "trained"}
    assert ids == {r["id"] for r in runs}

    # the second report reuses the finished runs instead of training again
    lines.clear()
    reproduce.run_report(out, fast=True, only=["tutorial-circles"], data_dir=tiny_circles, progress=lines.append,
                         figure_format="html")
    assert sum("reused from the store" in line for line in lines) == 2
    with RunStore() as store:
        assert len(store.list_runs()) == 2


def test_identical_arms_are_trained_once_and_seeds_are_aggregated(tiny_circles, tmp_path, monkeypatch):
    calls = []

    def fake_trainer(arm, name, store):
        calls.append(arm.key)
        record = {"status": "succeeded", "config": arm.config.to_dict(), "history": {"val_accuracy": [0.5, 0.6]},
                  "probes": [], "summary": {"final": {"test_accuracy": 0.8 + 0.01 * arm.seed}}}
        return record

    exp = gallery.get_experiment("tutorial-circles")
    twins = dataclasses.replace(exp, build=lambda fast: [Arm("no BN", tiny_config(), published=0.846),
                                                         Arm("BN after ReLU", tiny_config(), published=0.848)])
    with RunStore() as store:
        results, _ = reproduce_arms.run_arms([twins], fast=True, seeds=2, store=store, progress=lambda _: None,
                                             trainer=fake_trainer)
    assert len(calls) == 2  # 2 labels x 2 seeds, but the two labels have identical configs
    assert [r.source.split(" ")[0] for r in results] == ["trained", "trained", "shared", "shared"]
    rows = twins.summarize({"no BN": [r.record for r in results[:2]]})
    assert rows[0].ours_text == "0.835 ± 0.007 (n=2)"


def test_png_export_falls_back_to_html_and_says_why(monkeypatch, tmp_path):
    def broken(figs, paths):
        raise RuntimeError("Kaleido requires Google Chrome to be installed")

    monkeypatch.setattr(figure_export, "_export_png", broken)
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    paths, note = figure_export.export_figures([("a", fig)], tmp_path / "figs")
    assert [p.name for p in paths] == ["a.html"] and paths[0].is_file()
    assert "fell back to HTML" in note and "Chrome" in note
    with pytest.raises(RuntimeError, match="PNG export failed"):
        figure_export.export_figures([("a", fig)], tmp_path / "figs", "png")


def test_png_export_writes_small_pngs_or_falls_back(tmp_path):
    """Real static export when Chromium is there (PNG), HTML otherwise; never an exception."""
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))
    fig.update_layout(height=420)
    paths, note = figure_export.export_figures([("one", fig)], tmp_path / "figs")
    assert len(paths) == 1 and paths[0].is_file()
    if paths[0].suffix == ".png":
        assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size < 150_000
        assert note.startswith("PNG")
    else:
        assert "HTML" in note


def test_cli_rejects_an_unknown_experiment_and_lists_the_slugs(tmp_path, capsys):
    code = main(["reproduce", "--fast", "--out", str(tmp_path / "r"), "--only", "fig-one"])
    err = capsys.readouterr().err
    assert code == 2 and "fig-one" in err and "ioffe-fig1" in err
    assert not (tmp_path / "r").exists()
