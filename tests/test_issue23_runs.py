"""Issue 23, the Runs and Run pages: downloads, notes, test metrics, rates."""

from __future__ import annotations

import json
import time

from tests.apptest_helpers import (
    BASE,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
)
from tests.fakes import make_fake_record


def _started(store, config, name: str, fake: dict) -> str:
    """A run in `store` with its start event and the probe before training, as a worker writes them."""
    run_id = store.create_run(config, owner="test", name=name, status="running")
    store.append_event(run_id, {"type": "start", "device": "CPU", "params": fake["summary"]["params"], "layers": []})
    store.append_event(run_id, {"type": "probe", "probe": fake["probes"][0]})
    return run_id


def big_run(epochs: int = 80, *, blocks: int = 3, units: int = 64, status: str = "succeeded") -> str:
    """A finished run with a probe after every epoch, about the size of a real 80-epoch MLP run's record."""
    from bnviz.store import RunStore

    config = BASE.with_updates({"training.epochs": epochs, "model.hidden": [units] * blocks})
    fake = make_fake_record(blocks=blocks, epochs=epochs, units=units, bins=64)
    with RunStore() as store:
        run_id = _started(store, config, "big", fake)
        for e in range(1, epochs + 1):
            store.append_event(run_id, {"type": "epoch", "epoch": e,
                                        "logs": {k: v[e - 1] for k, v in fake["history"].items()}})
            store.append_event(run_id, {"type": "probe", "probe": fake["probes"][e]})
        store.append_event(run_id, {"type": "end", "status": status, "summary": {
            "final": {k: v[-1] for k, v in fake["history"].items()}, "wall_time_s": 1.0, "device": "CPU",
            "epochs_completed": epochs, "diverged_at": None, "error": None}})
    return run_id


def test_the_run_record_download_is_built_on_click_and_fast():
    """An 80-epoch record (several MB) spun for over 90 s: the page built it on every rerun and the
    click's own rerun could drop the file it was making. Now nothing is built until the click, the
    click does not rerun the page, and it is the same file the CLI exports."""
    from ui import record_download
    from ui.service import manager

    run_id = big_run()
    calls = []
    real = record_download.record_json
    record_download.record_json = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        at = open_app("runs").run()
        at.session_state["table"] = {"selection": {"rows": [0], "columns": []}}
        at.run()
        assert not at.exception, at.exception
        buttons = {b.proto.label: b.proto for b in at.get("download_button")}
        record = buttons["Run record (JSON)"]
        assert record.deferred_file_id and not record.url  # made when clicked, not on every rerun
        assert record.ignore_rerun  # the click does not rerun the page (which dropped the file being made)
        assert calls == []
    finally:
        record_download.record_json = real

    started = time.perf_counter()
    data = record_download.record_json(run_id, viewer="test", is_admin=False)
    fast = time.perf_counter() - started
    cli = manager().store.export_json(run_id, viewer="test")  # what `python -m bnviz runs export` writes
    print(f"\nrun record of {len(data) / 1e6:.1f} MB built in {fast:.3f} s")
    assert len(data) > 1_000_000
    record = json.loads(data)
    assert record == json.loads(cli)
    assert len(record["probes"]) == 81 and record["mine"] is True and record["owner"] == "test"
    assert json.loads(record_download.record_json(run_id, viewer="someone else", is_admin=False))["owner"] is None


def _lagging_run(epochs_done: int = 16, probed: int = 13, total: int = 20) -> str:
    """A live run whose epochs (and the next epoch's batches) are ahead of its probes."""
    from bnviz.store import RunStore

    config = BASE.with_updates({"training.epochs": total})
    fake = make_fake_record(blocks=1, epochs=total, units=8)
    with RunStore() as store:
        run_id = _started(store, config, "lagging", fake)
        for e in range(1, epochs_done + 1):
            for b in (1, 2):
                store.append_event(run_id, {"type": "batch", "epoch": e, "batch": b, "step": 2 * e + b,
                                            "loss": 0.5, "accuracy": 0.5})
            store.append_event(run_id, {"type": "epoch", "epoch": e,
                                        "logs": {k: v[e - 1] for k, v in fake["history"].items()}})
            if e <= probed:
                store.append_event(run_id, {"type": "probe", "probe": fake["probes"][e]})
        store.append_event(run_id, {"type": "batch", "epoch": epochs_done + 1, "batch": 1, "step": 99,
                                    "loss": 0.4, "accuracy": 0.6})
    return run_id


def test_presenter_charts_all_show_the_same_epoch():
    """Loss at 16, accuracy and histogram at 13: every chart is now cut at one epoch of one snapshot."""
    from tests.apptest_helpers import chart_specs, chart_titles, page_texts

    run_id = _lagging_run()
    at = open_app("run", run=run_id, present="1").run()
    assert not at.exception, at.exception
    assert "Epoch 13 of 20" in page_texts(at)
    curves = [s for s in chart_specs(at) if "during training" in ((s["layout"].get("title") or {}).get("text") or "")]
    assert len(curves) == 2
    for spec in curves:
        xs = [x for t in spec["data"] for x in (t.get("x") or []) if isinstance(x, (int, float))]
        assert xs and max(xs) <= 13, max(xs)
    assert any("epoch 13" in t for t in chart_titles(at)), chart_titles(at)


def test_presenter_text_is_projector_sized():
    import re

    from ui.common import PRESENTER_CSS, PROJECTOR_FONT_PX

    for part in ("stMarkdownContainer", "stCaptionContainer", "h1"):
        assert part in PRESENTER_CSS
    sizes = [int(px) for px in re.findall(r"font-size: (\d+)px", PRESENTER_CSS)]
    assert sizes and min(sizes) >= PROJECTOR_FONT_PX


def test_the_rate_is_smoothed_and_the_eta_waits_for_enough_batches():
    """Samples/s jumped between 2,003 and 55,566 and the first ETA said 6.6 min for a 90 s run."""
    from bnviz.train.pace import MIN_MARKS, Pace
    from ui.live import progress_text

    now = [0.0]
    pace = Pace(clock=lambda: now[0], min_steps=20)
    rates, etas = [], []
    for step in range(1, 201):  # 200 steps of 32 examples, alternately fast and slow, 0.01 s on average
        now[0] += 0.002 if step % 2 else 0.018
        pace.mark(step)
        rates.append(pace.samples_per_s(32))
        etas.append(pace.eta_s(400 - step))
    assert etas[:20] == [None] * 20 and MIN_MARKS <= 20  # "estimating…" until enough batches
    steady = [r for r in rates[20:]]
    assert min(steady) > 0.8 * 3200 and max(steady) < 1.2 * 3200  # 32 examples per 0.01 s, not 1,778 vs 16,000
    assert abs(etas[-1] - 200 * 0.01) < 0.3  # 200 steps left at 0.01 s each
    assert "ETA estimating…" in progress_text({"epoch": 1, "epochs": 5, "batch": 1, "steps": 10,
                                               "samples_per_s": None, "eta_s": None})


def test_a_cancelled_run_shows_no_test_accuracy():
    from tests.apptest_helpers import crafted_run

    run_id = crafted_run({"loss": [0.6, 0.4], "accuracy": [0.7, 0.9], "val_loss": [0.5, 0.3],
                          "val_accuracy": [0.8, 1.0]}, status="cancelled")
    at = open_app("run", run=run_id).run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert not any("Test accuracy" in label for label in labels), labels
    assert "Validation accuracy" in labels


def test_notes_saved_with_rename_are_shown_on_the_run_page_as_text():
    from tests.apptest_helpers import stored_run
    from ui.service import store

    run_id = stored_run(name="noted")
    store().rename(run_id, "noted", "**lr 0.1** diverged ![p](http://host/p.png)\nsecond line")
    at = open_app("run", run=run_id).run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.markdown if "diverged" in m.value]
    assert shown, "the notes are on the page"
    assert "\\*\\*lr 0\\.1\\*\\*" in shown[0] and "\\!\\[p\\]" in shown[0] and "second line" in shown[0]


def test_the_bn_step_table_has_one_precision():
    from ui.bn_steps_view import steps_table_columns

    s = {"x": [0.123456789, 12.5], "x_hat": [-1.0000000001, 1.0], "y": [0.3333333333333333, 2.0],
         "y_inference": [1e-9, 3.0]}
    frame, columns = steps_table_columns(s)
    numbers = [c for c in frame.columns if c != "example"]
    assert numbers == ["x", "x̂", "y (training)", "y (inference)"]
    assert {columns[c]["type_config"]["format"] if "type_config" in columns[c] else columns[c].get("format")
            for c in numbers} == {"%.4f"}


def test_compare_presenter_fits_one_screen_at_one_epoch():
    """`/compare?runs=a,b&present=1`: both losses and both runs' histograms (no 2-D boundary in these
    fake probes), one epoch counter that every chart names, chart text projector-sized, no tables."""
    from tests.apptest_helpers import chart_specs, chart_titles, page_texts
    from ui.common import PROJECTOR_FONT_PX

    ahead = _lagging_run(epochs_done=16, probed=13)
    behind = _lagging_run(epochs_done=10, probed=10)
    at = open_app("compare", runs=f"{ahead},{behind}", present="1").run()
    assert not at.exception, at.exception
    assert "Epoch 10 of 20" in page_texts(at)
    specs = chart_specs(at)
    assert len(specs) == 2
    loss = specs[0]
    assert len(loss["data"]) == 2 and all(max(t["x"]) <= 10 for t in loss["data"])
    assert chart_titles(at)[0] == "Loss to epoch 10" and "epoch 10" in chart_titles(at)[1]
    for spec in specs:
        assert spec["layout"]["font"]["size"] >= PROJECTOR_FONT_PX
        assert spec["layout"]["height"] <= 720  # with the title and the counter, within 1080 px
    assert not at.dataframe and "Configurations" not in [s.value for s in at.subheader]
