"""Issue 11's defects 8-11 and issue 9's live follow, one test each, failing on the old pages."""

from __future__ import annotations

import itertools
import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import (
    chart_specs,
    chart_titles,
    crafted_run,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    query_param,
    start_live_run,
    stored_run,
)

# --- 8. The run page explains what students misread ----------------------------------

WARMUP = {"loss": [0.9, 0.7, 0.55, 0.45, 0.4], "accuracy": [0.6, 0.7, 0.78, 0.82, 0.85],
          "val_loss": [0.8, 0.95, 1.1, 0.9, 0.5], "val_accuracy": [0.49, 0.49, 0.5, 0.7, 0.84]}


def test_defect8_bn_warmup_is_explained_where_validation_lags():
    run_id = crafted_run(WARMUP)
    at = open_app("run", run=run_id)
    at.run()
    assert not at.exception, at.exception
    note = "\n".join(i.value for i in at.info)
    assert "Not overfitting yet" in note and "epochs 1–4" in note and "momentum 0.99" in note
    labels = [m.label for m in at.metric]
    assert "Test accuracy (= validation)" in labels and "Validation accuracy" not in labels


def test_defect8_a_run_without_bn_is_not_described_as_having_one():
    run_id = crafted_run(WARMUP, **{"model.norm.placement": "none"})
    at = open_app("run", run=run_id)
    at.run()
    text = "\n".join(m.value for m in at.markdown)
    assert "orange" not in text and "the BN layer" not in text
    assert not any("Not overfitting" in i.value for i in at.info)


def test_defect8_one_colour_meaning_per_thing():
    from bnviz import figures

    positions = {figures.PALETTE[k] for k in ("bn_input", "bn_output", "bn_output_inference")}
    curves = {figures.PALETTE["train"], figures.PALETTE["validation"]}
    assert not positions & curves
    assert not (positions | curves) & set(figures.PALETTE["runs"])


# --- 9. Compare opens where the runs differ -------------------------------------------

def test_defect9_compare_opens_on_the_metric_that_differs_most():
    a = crafted_run({"loss": [0.6, 0.42], "val_loss": [0.6, 0.45], "accuracy": [0.8, 0.86],
                      "val_accuracy": [0.8, 0.85]}, name="with BN")
    b = crafted_run({"loss": [0.7, 0.57], "val_loss": [0.7, 0.58], "accuracy": [0.8, 0.85],
                      "val_accuracy": [0.8, 0.86]}, name="without BN", **{"model.norm.placement": "none"})
    at = open_app("compare", runs=f"{a},{b}")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp_metric").value == "loss"


def test_defect9_most_different_position():
    from bnviz.report import readings

    def record(mean, std):
        return {"probes": [{"epoch": 1, "positions": [
            {"block": 1, "kind": "pre_activation", "stats": {"mean": 0.0, "std": 1.0}},
            {"block": 1, "kind": "activation", "stats": {"mean": mean, "std": std}}]}]}

    assert readings.most_different_position([record(0.1, 1.0), record(2.0, 3.0)], 1,
                                            ["pre_activation", "activation"]) == "activation"


# --- 10. Presenter mode is projector-sized --------------------------------------------

def test_defect10_presenter_mode_shows_curves_and_histograms_with_large_text():
    run_id = stored_run("on the projector")
    at = open_app("run", run=run_id, present="1")
    at.run()
    assert not at.exception, at.exception
    figures = chart_specs(at)
    titles = chart_titles(at)
    assert any(t.startswith("Loss") for t in titles) and any(t.startswith("Distributions") for t in titles)
    for fig in figures:
        layout = fig["layout"]
        assert layout["font"]["size"] >= 18
        assert layout["xaxis"]["tickfont"]["size"] >= 18 and layout["yaxis"]["tickfont"]["size"] >= 18
        assert layout["legend"]["font"]["size"] >= 18


# --- 11. Smaller ones -------------------------------------------------------------------

def test_defect11_bn_momentum_takes_0999_and_the_three_momenta_have_distinct_labels():
    at = open_app()
    at.run()
    at.number_input(key="f:model.norm.momentum").set_value(0.999).run()
    assert not at.exception
    from bnviz.config import ExperimentConfig

    assert ExperimentConfig.decode(query_param(at, "cfg")).model.norm.momentum == pytest.approx(0.999)
    labels = [w.label for w in (*at.number_input, *at.slider)]
    assert "BN momentum (moving statistics)" in labels and "SGD momentum (optimizer)" in labels
    assert at.selectbox(key="f:training.optimizer").format_func("momentum") == "SGD + momentum"


def test_defect11_an_empty_run_link_says_so():
    at = open_app(run="")
    at.run()
    assert not at.exception
    assert any("has no run id" in e.value for e in at.error)


def test_defect11_a_diverged_runs_epoch_slider_spans_its_epochs():
    history = {"loss": [1.0] * 11, "accuracy": [0.5] * 11}
    run_id = crafted_run(history, status="diverged", **{"training.epochs": 10000})
    at = open_app("run", run=run_id)
    at.run()
    assert not at.exception, at.exception
    slider = next(s for s in at.slider if s.label.startswith("Epoch"))
    assert slider.max == 11 and slider.value == 11


def test_defect11_gallery_runs_have_distinct_names_and_no_none_published():
    from bnviz.gallery import EXPERIMENTS
    from ui.service import manager, store

    # a card whose data every server has (MNIST is missing here: its card cannot be run)
    slug = "tutorial-circles"
    title = EXPERIMENTS[slug].title
    at = open_app("learn", exp=slug)
    at.run()
    next(b for b in at.button if b.key == f"answer_run_{slug}").click().run()
    for row in manager().store.list_runs():
        manager().wait(row["id"], timeout=60)
    at.run()
    assert not at.exception, at.exception
    names = [r["name"] for r in store().list_runs()]
    assert len(names) >= 2 and len(set(names)) == len(names), names
    assert all(not n.startswith(title[:12]) for n in names), names
    table = next(d.value for d in at.dataframe if "ours" in d.value.columns)  # this server's runs, not the report's
    assert "None" not in table["published"].astype(str).tolist()


def test_defect11_published_bars_keep_their_values_clear_of_the_markers():
    from bnviz.gallery import Row, published_vs_ours

    rows = [Row(arm="a", metric="test_accuracy", published=0.85, ours=0.84, ours_text="0.840", note="", std=None, n=1)]
    bar = published_vs_ours(rows, "t").data[0]
    assert bar.textposition == "inside"


def test_defect11_the_cli_progress_writes_plain_lines_into_logs():
    import io

    from bnviz.cli.commands import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(out)
    for epoch in (1, 2):
        for batch in (1, 2):
            bar({"type": "batch", "progress": {"epoch": epoch, "epochs": 2, "batch": batch, "steps": 2,
                                               "fraction": 0.25 * batch}})
        bar({"type": "epoch", "logs": {"loss": 0.5}, "progress": {"epoch": epoch, "epochs": 2, "batch": 2,
                                                                   "steps": 2, "fraction": 0.5 * epoch}})
    bar.close()
    text = out.getvalue()
    assert "\r" not in text and text.count("\n") == 2


def test_defect11_eta_counts_down_smoothly(monkeypatch):
    from bnviz.train import callback, pace

    clock = [0.0]
    monkeypatch.setattr(pace.time, "perf_counter", lambda: clock[0])
    cb = callback.InstrumentCallback(None, None, steps_per_epoch=10, epochs=5, batch_size=32)
    etas = []
    for epoch in range(5):
        cb.on_epoch_begin(epoch)
        for batch in range(10):
            cb.on_train_batch_begin(batch)
            clock[0] += 0.1 if batch else 1.0  # each epoch's first batch is slow (validation, probes)
            cb.on_train_batch_end(batch)
            etas.append(cb.progress(batch + 1)["eta_s"])
    assert etas[-1] == 0.0
    waiting = etas.index(next(e for e in etas if e is not None))
    assert 0 < waiting <= 11 and etas[:waiting] == [None] * waiting  # "estimating…" for the first epoch (issue 23)
    etas = etas[waiting:]
    assert all(e > 0 for e in etas[:-1]), etas
    jumps = [b - a for a, b in itertools.pairwise(etas)]
    assert max(jumps) < 1.0, max(jumps)  # never jumps up by whole seconds (it was 3 s -> 14 s)


def test_defect11_no_cuinit_error_on_a_machine_without_a_gpu_driver():
    import os
    import subprocess
    import sys

    from bnviz.train.backends import has_nvidia_driver

    if has_nvidia_driver():
        pytest.skip("this machine has an NVIDIA driver")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    start = "from bnviz.train import backends as b; b.activate('tensorflow'); b.configure()"
    out = subprocess.run([sys.executable, "-c", start], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cuInit" not in out.stderr


# --- issue 9: every viewer follows a live run to its end ------------------------------------

def _hist_epoch(at: AppTest) -> int | None:
    for title in chart_titles(at):
        if title.startswith("Distributions"):
            return int(title.split("epoch ")[1].split()[0])
    return None


def _loss_epochs(at: AppTest) -> int:
    for fig in chart_specs(at):
        if str((fig["layout"].get("title") or {}).get("text", "")).startswith("Loss"):
            return max((len(t.get("x") or []) for t in fig["data"] if t.get("name") == "train"), default=0)
    return 0


@pytest.mark.parametrize("present", ["", "1"])
def test_a_second_viewer_follows_a_running_run_to_its_last_epoch(monkeypatch, present):
    epochs = 8
    _owner, run_id = start_live_run(monkeypatch, epochs=epochs, epoch_s=0.3)
    viewer = open_app("run", run=run_id, **({"present": present} if present else {}))
    viewer.run()
    assert not viewer.exception, viewer.exception
    from ui.live import forget
    from ui.service import manager

    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # A browser's rerun can carry back the epoch slider value it showed before the last update;
        # the page must not take that for the viewer choosing an old epoch.
        sliders = [s for s in viewer.slider if s.label.startswith("Epoch")]
        if sliders and manager().snapshot(run_id).status == "running" and sliders[0].value > 0:
            sliders[0].set_value(sliders[0].value - 1)
        viewer.run()
        assert not viewer.exception, viewer.exception
        seen.add(_hist_epoch(viewer))
        if manager().snapshot(run_id).status == "succeeded":
            forget(run_id)  # the next read sees the end at once, not the view viewers share for ui.live.FRESH_S
            viewer.run()
            break
        time.sleep(0.3)
    assert _hist_epoch(viewer) == epochs, seen
    assert _loss_epochs(viewer) == epochs
    assert len(seen - {None}) >= 2, "it updated while the run trained"


def test_a_slower_read_of_older_data_never_replaces_the_view_viewers_share(monkeypatch):
    """Two sessions read a run as it ends: the one whose read started first but finished last (a busy
    server) must not put the older, still-training view back. A page drawn with the run ended would
    then draw its views from it, and a finished run's views never poll again to correct them."""
    from ui import live

    run_id = stored_run(name="ending")
    ended = live.read_run(run_id)
    assert ended.store_version >= 0
    older = live.RunView({**ended.record, "status": "running"}, live.RunState.RUNNING, {}, None,
                         ("older",), ended.store_version - 1)
    monkeypatch.setattr(live, "FRESH_S", 0.0)  # every call reads
    monkeypatch.setattr(live, "_read", lambda rid: older)
    assert live.read_run(run_id) is ended


def test_an_epoch_slider_a_browser_mounts_again_starts_at_the_epoch_it_shows():
    """A browser that mounts a slider again (the page around it changed as the run ended) starts it at
    the widget's default and sends that back: the default must be the epoch shown, not epoch 0, or a
    viewer who never touched it sees the run's first histograms (seen in the e2e share test)."""
    run_id = stored_run(name="finished")
    at = open_app("run", run=run_id)
    for _ in range(2):  # the first draw, then a redraw that does not set the widget's value
        at.run()
        assert not at.exception, at.exception
        slider = next(s for s in at.slider if s.label.startswith("Epoch"))
        assert slider.value == 3 and list(slider.proto.default) == [3], (slider.value, slider.proto.default)
    assert _hist_epoch(at) == 3
