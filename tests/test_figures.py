"""Figures from run records: right traces, right numbers, and never an exception on partial data."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from bnviz import figures as F  # noqa: N812
from bnviz.figures.curves import BATCH_OWN, BATCH_RUNNING
from tests.fakes import make_fake_record


@pytest.fixture(scope="module")
def record() -> dict:
    return make_fake_record(blocks=2, epochs=3, bins=64)


@pytest.fixture(scope="module")
def live() -> dict:
    return make_fake_record(blocks=2, epochs=2, running_batches=10, seed=1)


def annotation_texts(fig: go.Figure) -> list[str]:
    return [str(a.text) for a in fig.layout.annotations]


def assert_no_data(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure)
    assert any(t.startswith(F.NO_DATA) for t in annotation_texts(fig)), annotation_texts(fig)
    assert F.is_empty_figure(fig)
    json.loads(fig.to_json())


def assert_good(fig: go.Figure, uirevision: str = "bnviz") -> None:
    """Every non-empty figure: data, the shared template, a title, a stable uirevision, valid JSON."""
    assert isinstance(fig, go.Figure)
    assert fig.data
    assert not F.is_empty_figure(fig)
    assert fig.layout.uirevision == uirevision
    assert fig.layout.title.text
    assert fig.layout.height and fig.layout.height >= 300
    assert fig.layout.template == pio.templates[F.TEMPLATE]
    json.loads(fig.to_json())


def bars(fig: go.Figure) -> list[go.Bar]:
    return [t for t in fig.data if isinstance(t, go.Bar)]


def area(bar: go.Bar) -> float:
    return float(np.sum(np.asarray(bar.y, dtype=float) * np.asarray(bar.width, dtype=float)))


EMPTY_RECORDS = [
    {},
    None,
    {"format": "bnviz.run/1", "status": "queued", "history": {}, "batches": [], "probes": [], "summary": None},
    {"status": "running", "history": {"loss": []}, "batches": None, "probes": None},
]


# --------------------------------------------------------------------------- helpers


def test_position_label_covers_every_documented_kind() -> None:
    assert F.position_label("bn_input") == "before BN"
    assert F.position_label("bn_output") == "after BN (batch stats)"
    assert F.position_label("bn_output_inference") == "after BN (moving stats)"
    assert F.position_label("pre_activation") == "pre-activation"
    assert F.position_label("activation") == "activation"
    assert F.position_label("input") and F.position_label("output")
    assert F.position_label("something_new") == "something new"


def test_palette_separates_before_and_after_and_has_distinct_run_colors() -> None:
    assert F.PALETTE["bn_input"] != F.PALETTE["bn_output"]
    assert len(set(F.PALETTE["runs"])) == len(F.PALETTE["runs"]) >= 8
    assert F.run_color(0) == F.run_color(len(F.PALETTE["runs"]))


def test_probe_helpers(record: dict) -> None:
    assert F.probe_epochs(record) == [0, 1, 2, 3]
    assert F.find_probe(record, 2)["epoch"] == 2
    assert F.find_probe(record, 99)["epoch"] == 3  # closest earlier
    assert F.find_probe(record, None)["epoch"] == 3
    assert F.find_probe(record, -1) is None
    pos = F.find_position(F.find_probe(record, 1), 2, "bn_output")
    assert pos["layer"] == "dense2_bn" and pos["kind"] == "bn_output"
    assert F.find_position(F.find_probe(record, 1), 7, "bn_output") is None
    assert F.position_blocks(record) == [0, 1, 2, -1]
    assert F.position_blocks(record, "bn_input") == [1, 2]
    assert F.position_kinds(record, 1)[:2] == ["bn_input", "bn_output"]
    assert F.bn_layers(record) == ["dense1_bn", "dense2_bn"]


def test_probe_helpers_sort_and_deduplicate() -> None:
    rec = {"probes": [{"epoch": 2, "positions": [], "tag": "a"}, {"epoch": 0}, {"epoch": 2, "tag": "b"}]}
    assert F.probe_epochs(rec) == [0, 2]
    assert F.find_probe(rec, 2)["tag"] == "b"


def test_hist_arrays_density_counts_outside_values() -> None:
    hist = {"edges": [0.0, 1.0, 3.0], "counts": [2, 4], "below": 1, "above": 1}
    centers, widths, heights = F.hist_arrays(hist)
    assert centers == [0.5, 2.0] and widths == [1.0, 2.0]
    assert heights == pytest.approx([2 / 8, 4 / 16])
    assert F.hist_arrays(hist, density=False)[2] == [2.0, 4.0]
    assert F.hist_arrays({"edges": [0.0, 1.0], "counts": [1, 2]}) is None
    assert F.hist_arrays(None) is None


def test_steps_per_epoch_uses_completed_epochs(live: dict) -> None:
    assert F.steps_per_epoch(live) == 20  # not 10 from the epoch in progress
    only_current = {"history": {}, "batches": [{"epoch": 1, "batch": 5}, {"epoch": 1, "batch": 10}]}
    assert F.steps_per_epoch(only_current) == 10
    assert F.steps_per_epoch({}) is None


# --------------------------------------------------------------------------- aggregate_series


def test_aggregate_series_std_exact() -> None:
    agg = F.aggregate_series([[1.0, 2.0, 3.0], [3.0, 4.0], [5.0]], band="std")
    assert agg["n"] == [3, 2, 1]
    assert agg["mean"] == [3.0, 3.0, 3.0]
    assert agg["low"] == [1.0, 3.0 - math.sqrt(2), 3.0]
    assert agg["high"] == [5.0, 3.0 + math.sqrt(2), 3.0]


def test_aggregate_series_minmax_exact_and_skips_non_finite() -> None:
    agg = F.aggregate_series([[1.0, 10.0], [3.0, float("nan")], [2.0, None, 7.0]], band="minmax")
    assert agg == {"mean": [2.0, 10.0, 7.0], "low": [1.0, 10.0, 7.0], "high": [3.0, 10.0, 7.0], "n": [3, 1, 1]}


def test_aggregate_series_edge_cases() -> None:
    assert F.aggregate_series([]) == {"mean": [], "low": [], "high": [], "n": []}
    assert F.aggregate_series([[None], [float("inf")]]) == {"mean": [None], "low": [None], "high": [None], "n": [0]}
    with pytest.raises(ValueError):
        F.aggregate_series([[1.0]], band="iqr")


def test_seed_band_is_a_closed_polygon_plus_line() -> None:
    band, line = F.seed_band([1.0, 2.0, 3.0], [0.5, 1.5, None], [1.5, 2.5, None], "A", x=[0, 1, 2])
    assert band.fill == "toself" and band.showlegend is False
    assert list(band.x) == [0, 1, 1, 0] and list(band.y) == [1.5, 2.5, 1.5, 0.5]
    assert list(line.x) == [0, 1, 2] and list(line.y) == [1.0, 2.0, 3.0]
    assert band.legendgroup == line.legendgroup == "A"


def test_aggregate_band_figure() -> None:
    fig = F.aggregate_band_figure({"BN": [[0.5, 0.7], [0.6, 0.8]], "no BN": [[0.4], [0.5, 0.6]]},
                                  "val accuracy", band="minmax", uirevision="seeds")
    assert_good(fig, "seeds")
    lines = [t for t in fig.data if t.fill != "toself"]
    assert [t.name for t in lines] == ["BN (n=2)", "no BN (n=2)"]
    assert list(lines[0].y) == pytest.approx([0.55, 0.75])
    assert lines[0].line.color != lines[1].line.color
    assert_no_data(F.aggregate_band_figure({}, "loss"))
    assert_no_data(F.aggregate_band_figure({"a": [[], []]}, "loss"))


# --------------------------------------------------------------------------- curves


def test_loss_curves(record: dict) -> None:
    fig = F.loss_curves(record)
    assert_good(fig)
    names = [t.name for t in fig.data]
    assert names == [BATCH_RUNNING, "train", "validation"]  # the fake record is an older one
    train = fig.data[1]
    assert list(train.x) == [1, 2, 3] and list(train.y) == record["history"]["loss"]
    batch = fig.data[0]
    assert batch.line.width == 1
    # the line starts before training, at the epoch-0 probe's loss; batch 5 of 20 in epoch 1 sits
    # at 0.25; batch 20 of epoch 3 at the end of epoch 3
    assert batch.x[0] == 0 and batch.y[0] == record["probes"][0]["probe_metrics"]["train_mode"]["loss"] == 1.0
    assert batch.x[1] == pytest.approx(0.25) and batch.x[-1] == pytest.approx(3.0)
    assert fig.layout.xaxis.title.text == "epoch"


def test_loss_curves_draw_each_logged_batch_own_loss_when_recorded(record: dict) -> None:
    """Records with `batch_loss` draw it (no sawtooth reset each epoch); older ones draw the running
    mean, named as such."""
    batches = [{**b, "batch_loss": 10.0 + i, "batch_accuracy": 0.01 * i} for i, b in enumerate(record["batches"])]
    for metric, key in (("loss", "batch_loss"), ("accuracy", "batch_accuracy")):
        fig = F.loss_curves({**record, "batches": batches}, metric)
        line = fig.data[0]
        assert line.name == BATCH_OWN
        assert list(line.y[1:]) == [b[key] for b in batches]
        old = F.loss_curves(record, metric).data[0]
        assert old.name == BATCH_RUNNING and list(old.y[1:]) == [b[metric] for b in record["batches"]]


def test_loss_curves_start_before_the_first_batch(record: dict) -> None:
    """A run that has only probed (its first steps still compile) already shows where it starts."""
    started = {**record, "history": {}, "batches": [], "probes": record["probes"][:1]}
    for metric in ("loss", "accuracy"):
        fig = F.loss_curves(started, metric)
        assert_good(fig)
        (start,) = fig.data
        assert start.name == BATCH_OWN and start.mode == "markers"
        assert list(start.x) == [0] and start.y[0] == F.initial_value(started, metric) is not None
    assert F.initial_value({**record, "probes": record["probes"][1:]}, "loss") is None
    assert_no_data(F.loss_curves({**started, "probes": []}))


def test_loss_curves_accuracy_and_no_batches(record: dict) -> None:
    fig = F.loss_curves(record, metric="accuracy", show_batches=False)
    assert_good(fig)
    assert [t.name for t in fig.data] == ["train", "validation"]
    assert list(fig.data[1].y) == record["history"]["val_accuracy"]
    assert "ccuracy" in fig.layout.yaxis.title.text


def test_loss_curves_live_run_places_current_epoch_batches(live: dict) -> None:
    fig = F.loss_curves(live)
    assert_good(fig)
    batch = fig.data[0]
    assert batch.x[-1] == pytest.approx(2.5)  # batch 10 of ~20 in epoch 3


def test_loss_curves_marks_divergence(record: dict) -> None:
    rec = dict(record, summary=dict(record["summary"], diverged_at={"epoch": 2, "batch": 10}))
    fig = F.loss_curves(rec)
    assert any(s.x0 == pytest.approx(1.5) for s in fig.layout.shapes)
    nan_rec = {"history": {"loss": [0.5, float("nan")]}, "batches": []}
    assert_good(F.loss_curves(nan_rec))


def test_compare_curves(record: dict, live: dict) -> None:
    fig = F.compare_curves([record, live, {}], ["A", "B", "C"], metric="val_loss")
    assert_good(fig)
    assert [t.name for t in fig.data] == ["A", "B"]
    assert fig.data[0].line.color == F.run_color(0) and fig.data[1].line.color == F.run_color(1)
    assert list(fig.data[1].x) == [1, 2]
    assert [t.name for t in F.compare_curves([record], []).data] == ["run 1"]
    assert_no_data(F.compare_curves([], []))


# --------------------------------------------------------------------------- histograms


def test_histogram_overlay_densities(record: dict) -> None:
    fig = F.histogram_overlay(record, 1, 0)  # at the first probe every value lies inside the edges
    assert_good(fig)
    bs = bars(fig)
    assert len(bs) == 2 and len(fig.data) == 2
    assert not any(isinstance(t, go.Histogram) for t in fig.data)
    for b in bs:
        assert len(b.x) == 64 and len(b.width) == 64
        assert area(b) == pytest.approx(1.0)
    assert bs[0].name.startswith("before BN (μ=") and bs[1].name.startswith("after BN (batch stats) (μ=")
    assert bs[0].marker.color == F.PALETTE["bn_input"] and bs[1].marker.color == F.PALETTE["bn_output"]
    assert fig.layout.barmode == "overlay" and 0 < bs[0].opacity < 1
    assert "epoch 0" in fig.layout.title.text


def test_histogram_overlay_area_excludes_out_of_range_values(record: dict) -> None:
    pos = F.find_position(F.find_probe(record, 3), 2, "bn_input")
    hist = pos["hist"]
    outside = hist["below"] + hist["above"]
    assert outside > 0  # the fake's drift pushes values past the edges fixed at epoch 0
    total = sum(hist["counts"]) + outside
    fig = F.histogram_overlay(record, 2, 3, kinds=("bn_input",))
    assert area(bars(fig)[0]) == pytest.approx(1 - outside / total)
    assert "outside range" in bars(fig)[0].hovertemplate


def test_histogram_overlay_picks_closest_earlier_probe() -> None:
    rec = make_fake_record(epochs=4, probe_epochs=[0, 2, 4])
    fig = F.histogram_overlay(rec, 1, 3)
    assert_good(fig)
    assert "epoch 2" in fig.layout.title.text
    expected = F.hist_arrays(F.find_position(F.find_probe(rec, 2), 1, "bn_input")["hist"])[2]
    assert list(bars(fig)[0].y) == pytest.approx(expected)


def test_histogram_overlay_all_kinds_and_missing(record: dict) -> None:
    kinds = ("bn_input", "bn_output", "bn_output_inference", "pre_activation", "activation")
    fig = F.histogram_overlay(record, 1, 1, kinds=kinds)
    assert [b.name.split(" (μ")[0] for b in bars(fig)] == [F.position_label(k) for k in kinds]
    assert_no_data(F.histogram_overlay(record, 9, 1))
    assert_no_data(F.histogram_overlay(record, 1, -5))


def test_bn_mode_overlay(record: dict) -> None:
    fig = F.bn_mode_overlay(record, 2, 3)
    assert_good(fig)
    assert [b.marker.color for b in bars(fig)] == [F.PALETTE["bn_output"], F.PALETTE["bn_output_inference"]]
    assert "moving stats" in bars(fig)[1].name


def test_histogram_animation(record: dict) -> None:
    fig = F.histogram_animation(record, 1)
    assert_good(fig)
    assert [f.name for f in fig.frames] == ["0", "1", "2", "3"]
    assert all(len(f.data) == 2 and all(isinstance(t, go.Bar) for t in f.data) for f in fig.frames)
    assert len(fig.layout.sliders[0].steps) == 4
    assert fig.layout.updatemenus[0].buttons[0].label.endswith("Play")
    # fixed axes: the ranges cover every frame
    lo, hi = fig.layout.xaxis.range
    ymax = fig.layout.yaxis.range[1]
    for frame in fig.frames:
        for b in frame.data:
            assert lo <= min(b.x) and max(b.x) <= hi
            assert max(b.y) <= ymax
    assert fig.layout.xaxis.autorange is False and fig.layout.yaxis.autorange is False


def test_histogram_animation_keeps_traces_when_a_position_is_missing(record: dict) -> None:
    rec = json.loads(json.dumps(record))
    rec["probes"][1]["positions"] = [p for p in rec["probes"][1]["positions"] if p["kind"] != "bn_output"]
    fig = F.histogram_animation(rec, 1)
    assert all(len(f.data) == 2 for f in fig.frames)
    assert len(fig.frames[1].data[1].x) == 0
    assert_no_data(F.histogram_animation(record, 5))


def test_compare_histograms(record: dict, live: dict) -> None:
    fig = F.compare_histograms([record, live, {}], ["BN", "live", "empty"], 1, 3)
    assert_good(fig)
    bs = bars(fig)
    assert len(bs) == 2
    assert bs[0].name.startswith("BN (") and bs[1].name.startswith("live @ epoch 2")
    assert bs[0].marker.color == F.run_color(0) and bs[1].marker.color == F.run_color(1)
    assert all(area(b) == pytest.approx(1.0) for b in bs)
    assert_no_data(F.compare_histograms([{}], ["x"], 1, 0))


# --------------------------------------------------------------------------- over time


def test_percentile_bands(record: dict) -> None:
    fig = F.percentile_bands(record)
    assert_good(fig)
    lines = [t for t in fig.data if t.fill != "toself"]
    assert [t.name for t in lines] == ["block 1", "block 2"]
    for block, line in zip((1, 2), lines):
        assert list(line.x) == [0, 1, 2, 3]
        expected = [F.find_position(p, block, "pre_activation")["stats"]["p50"] for p in record["probes"]]
        assert list(line.y) == expected
    band = fig.data[0]
    p15 = [F.find_position(p, 1, "pre_activation")["stats"]["p15"] for p in record["probes"]]
    p85 = [F.find_position(p, 1, "pre_activation")["stats"]["p85"] for p in record["probes"]]
    assert list(band.y) == p85 + p15[::-1]


def test_percentile_bands_chosen_blocks_and_kind(record: dict) -> None:
    fig = F.percentile_bands(record, kind="bn_input", blocks=[2])
    assert [t.name for t in fig.data if t.fill != "toself"] == ["block 2"]
    assert_no_data(F.percentile_bands(record, blocks=[8]))


def test_gradient_norms(record: dict) -> None:
    fig = F.gradient_norms(record)
    assert_good(fig)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[0].x) == ["dense1", "dense2", "output"]
    assert list(fig.data[0].y) == list(record["probes"][-1]["gradients"].values())
    assert "epoch 3" in fig.layout.title.text
    assert list(F.gradient_norms(record, epoch=0).data[0].y) == list(record["probes"][0]["gradients"].values())


def test_gradient_norms_over_time(record: dict) -> None:
    fig = F.gradient_norms_over_time(record)
    assert_good(fig)
    assert fig.layout.yaxis.type == "log"
    assert [t.name for t in fig.data] == ["dense1", "dense2", "output"]
    assert list(fig.data[2].x) == [0, 1, 2, 3]
    assert list(fig.data[2].y) == [p["gradients"]["output"] for p in record["probes"]]


def test_bn_parameters(record: dict) -> None:
    fig = F.bn_parameters(record)
    assert_good(fig)
    titles = annotation_texts(fig)
    assert titles[:4] == list(F.BN_PARAM_TITLES)
    lines = [t for t in fig.data if t.fill != "toself"]
    assert len(lines) == 2 * 4  # two BN layers x four parameters
    assert sum(bool(t.showlegend) for t in lines) == 2
    gamma = next(t for t in lines if t.name == "dense1_bn" and t.xaxis == "x")
    assert list(gamma.y) == [p["bn_params"]["dense1_bn"]["gamma"]["mean"] for p in record["probes"]]


def test_bn_parameters_without_scale_and_without_bn(record: dict) -> None:
    rec = json.loads(json.dumps(record))
    for p in rec["probes"]:
        for params in p["bn_params"].values():
            params["gamma"] = None
    fig = F.bn_parameters(rec)
    assert_good(fig)
    assert not [t for t in fig.data if t.xaxis == "x"]
    for p in rec["probes"]:
        p["bn_params"] = {}
    assert_no_data(F.bn_parameters(rec))


def test_train_vs_inference(record: dict) -> None:
    fig = F.train_vs_inference(record)
    assert_good(fig)
    assert len(fig.data) == 4
    assert sorted(t.name for t in fig.data if t.showlegend is not False) == [
        "inference mode (moving stats)", "training mode (batch stats)"]
    acc_train = next(t for t in fig.data if t.legendgroup == "train_mode" and t.xaxis == "x")
    assert list(acc_train.y) == [p["probe_metrics"]["train_mode"]["accuracy"] for p in record["probes"]]


def test_saturation_dead_and_saturated() -> None:
    relu = make_fake_record(activation="relu")
    fig = F.saturation(relu)
    assert_good(fig)
    assert [t.name for t in fig.data] == ["block 1 – dead", "block 2 – dead"]
    tanh = make_fake_record(activation="tanh")
    assert [t.name for t in F.saturation(tanh).data] == ["block 1 – saturated", "block 2 – saturated"]
    assert_no_data(F.saturation(make_fake_record(activation="linear")))


# --------------------------------------------------------------------------- empty and partial records


@pytest.mark.parametrize("rec", EMPTY_RECORDS)
def test_every_record_figure_survives_empty_records(rec: dict | None) -> None:
    makers = [
        lambda r: F.loss_curves(r), lambda r: F.loss_curves(r, metric="accuracy"),
        lambda r: F.compare_curves([r], ["a"]), lambda r: F.histogram_overlay(r, 1, 0),
        lambda r: F.histogram_animation(r, 1), lambda r: F.percentile_bands(r),
        lambda r: F.gradient_norms(r), lambda r: F.gradient_norms_over_time(r), lambda r: F.bn_parameters(r),
        lambda r: F.train_vs_inference(r), lambda r: F.bn_mode_overlay(r, 1, 0), lambda r: F.saturation(r),
        lambda r: F.compare_histograms([r], ["a"], 1, 0),
    ]
    for make in makers:
        assert_no_data(make(rec))


def test_partial_probe_fields_do_not_raise(record: dict) -> None:
    rec = json.loads(json.dumps(record))
    probe = rec["probes"][-1]
    probe["gradients"] = None
    probe["bn_params"] = None
    probe["probe_metrics"] = None
    probe["positions"][1]["hist"] = None
    probe["positions"][1]["stats"] = None
    figs = [F.gradient_norms(rec), F.gradient_norms_over_time(rec), F.bn_parameters(rec),
            F.train_vs_inference(rec), F.histogram_overlay(rec, 1, 3), F.percentile_bands(rec),
            F.histogram_animation(rec, 1)]
    for fig in figs:
        json.loads(fig.to_json())
    assert_no_data(figs[0])


def test_uirevision_is_passed_through(record: dict) -> None:
    for fig in (F.loss_curves(record, uirevision="run-7"), F.histogram_overlay(record, 1, 1, uirevision="run-7"),
                F.bn_parameters(record, uirevision="run-7"), F.empty_figure(uirevision="run-7")):
        assert fig.layout.uirevision == "run-7"


# --------------------------------------------------------------------------- dataset previews


def test_scatter_2d() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(90, 2)), np.repeat([0, 1, 2], 30)
    fig = F.scatter_2d(x, y, class_names=["a", "b", "c"], title="circles")
    assert_good(fig)
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    assert sum(len(t.x) for t in fig.data) == 90
    assert len({t.marker.color for t in fig.data}) == 3
    assert fig.layout.yaxis.scaleanchor == "x"
    one_hot = np.eye(3)[y]
    assert [t.name for t in F.scatter_2d(x, one_hot).data] == ["0", "1", "2"]
    assert len(F.scatter_2d(x, None).data) == 1
    assert sum(len(t.x) for t in F.scatter_2d(x, y, max_points=30).data) == 30
    assert_no_data(F.scatter_2d(np.empty((0, 2)), np.empty(0)))
    assert_no_data(F.scatter_2d(np.ones((5, 1)), np.zeros(5)))


@pytest.mark.parametrize("shape", [(20, 8, 8), (20, 8, 8, 1), (20, 6, 10, 3)])
def test_image_grid(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=shape)
    y = np.arange(20) % 10
    fig = F.image_grid(x, y, n=16, class_names=[f"c{i}" for i in range(10)])
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    z = np.asarray(fig.data[0].z)
    assert z.ndim == 3 and z.shape[2] == 3 and z.dtype == np.uint8
    assert annotation_texts(fig) == [f"c{i % 10}" for i in range(16)]
    json.loads(fig.to_json())


def test_image_grid_ranges_and_empty() -> None:
    standardized = np.random.default_rng(1).normal(size=(4, 5, 5))
    fig = F.image_grid(standardized, None, n=4)
    z = np.asarray(fig.data[0].z)
    assert z.min() == 0 and z.max() == 255
    assert not annotation_texts(fig)
    assert_no_data(F.image_grid(np.empty((0, 5, 5)), None))
    assert_no_data(F.image_grid(np.ones((3, 5)), None))


# --------------------------------------------------------------------------- static export


def test_static_png_export(record: dict, tmp_path) -> None:
    """The Markdown report exports PNGs; skipped where Kaleido has no browser to drive."""
    try:
        go.Figure().to_image(format="png", width=100, height=100)
    except Exception as exc:
        pytest.skip(f"static export unavailable: {exc}")
    figs = [F.loss_curves(record), F.histogram_overlay(record, 1, 2), F.bn_parameters(record),
            F.histogram_animation(record, 1), F.image_grid(np.zeros((4, 8, 8)), [0, 1, 2, 3]), F.empty_figure("t")]
    paths = [tmp_path / f"fig{i}.png" for i in range(len(figs))]
    pio.write_images(figs, paths, width=700)  # one browser for all figures
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
