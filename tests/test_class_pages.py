"""Issue 11's defects (and issue 9's live-follow and queue-limit pages), one AppTest each.

Each test names the defect it guards. Runs are made by the fast fake trainer (tests/fake_trainer.py)
or written into the store as training events, so every number below is a real record's.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.presets import PRESETS
from tests.fake_trainer import train as fake_train
from tests.fakes import make_fake_record
from ui import routes

APP = str(Path(__file__).resolve().parents[1] / "app.py")
BASE = PRESETS["seed001-circles-after-fast"].config


@pytest.fixture(autouse=True)
def _fake_trainer(monkeypatch, tmp_path):
    monkeypatch.setenv("BNVIZ_TRAINER", "tests.fake_trainer:train")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached downloads: MNIST is missing
    monkeypatch.delenv("BNVIZ_DATA_DIR", raising=False)
    monkeypatch.delenv("BNVIZ_ADMIN_KEY", raising=False)
    yield
    from ui.service import manager

    for job in manager().jobs():
        manager().cancel(job.run_id)


def _app(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(routes.file(page))
    return at


def _param(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def _stored_run(name="stored run", owner="test", **updates) -> str:
    from bnviz.store import RunStore

    config = BASE.with_updates({"training.epochs": 3, **updates})
    with RunStore() as store:
        run_id = store.create_run(config, owner=owner, name=name, status="queued")
        fake_train(config, sink=lambda e: store.append_event(run_id, e), run_id=run_id)
    return run_id


def _crafted_run(history: dict[str, list[float]], *, status="succeeded", name="crafted", **updates) -> str:
    """A finished run whose epochs carry exactly `history` (and fake probes for each epoch)."""
    from bnviz.store import RunStore

    epochs = len(history["loss"])
    config = BASE.with_updates({"training.epochs": epochs, **updates})
    fake = make_fake_record(blocks=1, epochs=epochs, units=8)
    with RunStore() as store:
        run_id = store.create_run(config, owner="test", name=name, status="queued")
        store.append_event(run_id, {"type": "start", "device": "CPU", "params": fake["summary"]["params"],
                                    "layers": []})
        store.append_event(run_id, {"type": "probe", "probe": fake["probes"][0]})
        for e in range(1, epochs + 1):
            store.append_event(run_id, {"type": "epoch", "epoch": e, "logs": {k: v[e - 1] for k, v in history.items()}})
            store.append_event(run_id, {"type": "probe", "probe": fake["probes"][e]})
        final = {k: v[-1] for k, v in history.items()}
        store.append_event(run_id, {"type": "end", "status": status, "summary": {
            "final": final, "wall_time_s": 1.0, "device": "CPU", "epochs_completed": epochs,
            "diverged_at": {"epoch": epochs, "batch": 3} if status == "diverged" else None, "error": None}})
    return run_id


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(at: AppTest) -> list[str]:
    return [(f["layout"].get("title") or {}).get("text", "") for f in _figures(at)]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _token(data: dict) -> str:
    """A config link for raw (possibly invalid) settings, encoded as bnviz encodes configs."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return "1" + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def _start_live_run(monkeypatch, epochs: int, epoch_s: float = 0.3) -> tuple[AppTest, str]:
    """An owner's session trains a run (slowly enough to watch); returns that session and the run id."""
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", str(epoch_s))
    owner = _app()
    owner.run()
    owner.number_input(key="f:training.epochs").set_value(epochs).run()
    _button(owner, "Train").click().run()
    assert not owner.exception, owner.exception
    return owner, _param(owner, "run")


# --- 1. Compare shows exactly the runs it was given --------------------------------

def test_defect1_compare_keeps_its_runs_when_a_run_with_a_shared_name_finishes(monkeypatch):
    from ui.service import manager

    older = _stored_run("pair · without BN", **{"model.norm.placement": "none", "dataset.seed": 7})
    other = _stored_run("pair · with BN")
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "0.2")
    live = manager().submit(BASE.with_updates({"training.epochs": 4, "model.norm.placement": "none"}),
                            owner="someone", name="pair · without BN").run_id
    at = _app("compare", runs=f"{live},{other}")
    at.run()
    assert not at.exception, at.exception
    shown = list(at.multiselect(key="cmp_runs").values)  # the chips' labels, as the browser holds them
    manager().wait(live, timeout=30)
    at.run()
    # The browser's next rerun sends back the labels it shows; they must still mean the same runs.
    at.multiselect(key="cmp_runs").set_value(shown).run()
    at.run()
    assert not at.exception, at.exception
    assert _param(at, "runs") == f"{live},{other}"
    assert older not in _param(at, "runs")
    states = "\n".join(m.value for m in at.markdown)
    assert f"succeeded · 4/4 epochs · `{live}`" in states  # its chip line caught up with the finish


# --- 2. Every link the app hands out opens its page --------------------------------

def test_defect2_links_point_at_the_pages_real_addresses():
    at = _app()
    at.run()
    link = next(c.value for c in at.code if "cfg=" in c.value)
    assert link.startswith("/?cfg="), link  # the Experiment page is the default page: the root URL
    assert routes.url("experiment", current="http://host:8501/run?run=x", cfg="T") == "http://host:8501/?cfg=T"
    assert routes.url("run", current="http://host:8501/?cfg=T", run="abc") == "http://host:8501/run?run=abc"
    assert routes.url("compare", current="https://h/base/learn?exp=x", runs="a,b") == \
        "https://h/base/compare?runs=a%2Cb"


# --- 3. Only the one who started a run may change it --------------------------------

def test_defect3_a_second_browser_sees_a_run_read_only_and_an_admin_key_unlocks_it(monkeypatch):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "teacher-secret")
    owner, run_id = _start_live_run(monkeypatch, epochs=30, epoch_s=0.5)
    owner.run()
    assert [b for b in owner.button if b.label == "Cancel run"], "the owner may cancel"

    other = _app("run", run=run_id)
    other.run()
    assert not other.exception, other.exception
    assert not [b for b in other.button if b.label == "Cancel run"]
    assert "read-only" in _texts(other)

    for session, mine in ((other, False), (owner, True)):  # the Runs page marks whose runs are whose
        session.switch_page(routes.file("runs")).run()
        table = session.dataframe[0].value
        assert table.loc[table["id"] == run_id, "yours"].tolist() == [mine]
    other.switch_page(routes.file("run")).run()

    form_input = next(t for t in other.text_input if t.label == "Admin key")
    form_input.set_value("wrong")
    next(b for b in other.button if b.label == "Unlock").click().run()
    assert "not the admin key" in _texts(other)
    form_input = next(t for t in other.text_input if t.label == "Admin key")
    form_input.set_value("teacher-secret")
    next(b for b in other.button if b.label == "Unlock").click().run()
    other.run()
    _button(other, "Cancel run").click().run()
    from ui.service import manager

    info = manager().wait(run_id, timeout=30)
    assert info.state == "cancelled"


def test_defect3_access_rules():
    from bnviz import access

    assert access.can_change("web-1", "web-1")
    assert not access.can_change("web-1", "web-2")
    assert not access.can_change("", "")  # an ownerless (CLI) run: admins only
    assert access.can_change("web-1", "web-2", is_admin=True)
    assert access.browser_owner("s" * 32) != access.browser_owner("t" * 32)
    assert "s" * 32 not in access.browser_owner("s" * 32)  # the label does not reveal the cookie


def test_defect3_admin_key_and_token(monkeypatch):
    from bnviz import access

    monkeypatch.delenv("BNVIZ_ADMIN_KEY", raising=False)
    assert not access.check_admin_key("") and access.admin_token() is None
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "k3y")
    assert access.check_admin_key("k3y") and not access.check_admin_key("k3")
    token = access.admin_token()
    assert token and "k3y" not in token and access.check_admin_token(token)
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "new")
    assert not access.check_admin_token(token)  # a new key revokes old browsers


# --- 4. Out-of-range values never train ---------------------------------------------

def test_defect4_out_of_range_values_disable_train_and_name_the_field():
    at = _app()
    at.run()
    at.number_input(key="f:training.epochs").set_value(0)
    at.number_input(key="f:training.batch_size").set_value(100000)
    at.number_input(key="f:training.learning_rate").set_value(-1.0).run()
    assert not at.exception, at.exception
    assert _button(at, "Train").disabled and _button(at, "Train with and without BN").disabled
    message = "\n".join(e.value for e in at.error)
    assert "**Epochs**" in message and "1 to 10,000 (got 0)" in message
    assert "**Batch size**" in message and "1 to 65,536 (got 100000)" in message
    assert "**Learning rate**" in message and "above 0 to 100 (got -1" in message


def test_defect4_a_config_link_with_bad_values_shows_them_and_disables_train():
    at = _app(cfg=_token({"training": {"epochs": 0, "learning_rate": 0.05}, "model": {"dropout": 5}}))
    at.run()
    assert not at.exception, at.exception
    assert at.number_input(key="f:training.epochs").value == 0  # shown as the link has it, not replaced
    assert at.number_input(key="f:training.learning_rate").value == pytest.approx(0.05)
    assert _button(at, "Train").disabled
    message = "\n".join(e.value for e in at.error)
    assert "**Epochs**" in message and "Dropout: 5 is outside the form's range, 0 to 0.9" in message


# --- 5. The queue limit is a message ------------------------------------------------

def test_defect5_the_queue_limit_says_how_many_runs_wait_and_what_to_do(monkeypatch):
    monkeypatch.setenv("BNVIZ_MAX_QUEUED_PER_OWNER", "1")
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "1.0")
    at = _app()
    at.run()
    for attempt in range(3):
        if attempt:  # back to the form, as the sidebar link does (no query parameters)
            for key in list(at.query_params):
                del at.query_params[key]
            at.switch_page(routes.file("experiment")).run()
        at.toggle(key="fresh").set_value(True).run()  # a new run each time, not the identical one
        _button(at, "Train").click().run()
        assert not at.exception, at.exception
    assert any("You already have 1 run waiting" in e.value and "cancel one" in e.value for e in at.error)
    assert at.get("page_link"), "a way to the runs"


# --- 6. A missing dataset: a student's message, no failed run -------------------------

def test_defect6_a_missing_dataset_disables_train_and_creates_no_run():
    from ui.service import store

    at = _app()
    at.run()
    at.selectbox(key="f:dataset.name").set_value("mnist")
    at.selectbox(key="f:model.family").set_value("mlp").run()
    assert not at.exception, at.exception
    warning = "\n".join(w.value for w in at.warning)
    assert "This server has no copy of MNIST" in warning and "Pick another dataset" in warning
    assert "BNVIZ_DATA_DIR" not in warning  # the admin's details are in the expander
    assert any("Details for whoever runs the server" in e.label for e in at.expander)
    assert _button(at, "Train").disabled and _button(at, "Train with and without BN").disabled
    assert store().list_runs() == []


# --- 7. First screen: human preset names, "custom", a pointer to Learn ---------------

def test_defect7_presets_have_human_names_in_groups_and_turn_custom_when_changed():
    at = _app()
    at.run()
    box = at.selectbox(key="preset")
    labels = list(box.options)
    assert any(label.startswith("Tutorials · Circles tutorial") for label in labels), labels
    assert any(label.startswith("Papers · ") for label in labels), labels
    assert not any("seed00" in label for label in labels)
    description = "\n".join(c.value for c in at.caption)
    assert "30 epochs" in description and "(classroom: epochs=30)" not in description
    assert any("learn" in str(p.proto.page) or "Learn" in p.proto.label for p in at.get("page_link"))
    at.selectbox(key="f:model.family").set_value("mnist_cnn_a").run()
    at.run()
    assert at.selectbox(key="preset").value is None  # "custom settings", not the circles preset


def test_defect7_fast_preset_descriptions_do_not_contradict_their_configs():
    for name, preset in PRESETS.items():
        t = preset.config.training
        assert f"{t.epochs} epochs" in preset.description, name
        assert preset.title and preset.group in ("Tutorials", "Papers"), name
        if t.optimizer == "adam":
            assert "SGD" not in preset.description, name


# --- 8. The run page explains what students misread ----------------------------------

WARMUP = {"loss": [0.9, 0.7, 0.55, 0.45, 0.4], "accuracy": [0.6, 0.7, 0.78, 0.82, 0.85],
          "val_loss": [0.8, 0.95, 1.1, 0.9, 0.5], "val_accuracy": [0.49, 0.49, 0.5, 0.7, 0.84]}


def test_defect8_bn_warmup_is_explained_where_validation_lags():
    run_id = _crafted_run(WARMUP)
    at = _app("run", run=run_id)
    at.run()
    assert not at.exception, at.exception
    note = "\n".join(i.value for i in at.info)
    assert "Not overfitting yet" in note and "epochs 1–4" in note and "momentum 0.99" in note
    labels = [m.label for m in at.metric]
    assert "Test accuracy (= validation)" in labels and "Validation accuracy" not in labels


def test_defect8_a_run_without_bn_is_not_described_as_having_one():
    run_id = _crafted_run(WARMUP, **{"model.norm.placement": "none"})
    at = _app("run", run=run_id)
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
    a = _crafted_run({"loss": [0.6, 0.42], "val_loss": [0.6, 0.45], "accuracy": [0.8, 0.86],
                      "val_accuracy": [0.8, 0.85]}, name="with BN")
    b = _crafted_run({"loss": [0.7, 0.57], "val_loss": [0.7, 0.58], "accuracy": [0.8, 0.85],
                      "val_accuracy": [0.8, 0.86]}, name="without BN", **{"model.norm.placement": "none"})
    at = _app("compare", runs=f"{a},{b}")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp_metric").value == "loss"


def test_defect9_most_different_position():
    from bnviz import readings

    def record(mean, std):
        return {"probes": [{"epoch": 1, "positions": [
            {"block": 1, "kind": "pre_activation", "stats": {"mean": 0.0, "std": 1.0}},
            {"block": 1, "kind": "activation", "stats": {"mean": mean, "std": std}}]}]}

    assert readings.most_different_position([record(0.1, 1.0), record(2.0, 3.0)], 1,
                                            ["pre_activation", "activation"]) == "activation"


# --- 10. Presenter mode is projector-sized --------------------------------------------

def test_defect10_presenter_mode_shows_curves_and_histograms_with_large_text():
    run_id = _stored_run("on the projector")
    at = _app("run", run=run_id, present="1")
    at.run()
    assert not at.exception, at.exception
    figures = _figures(at)
    titles = _titles(at)
    assert any(t.startswith("Loss") for t in titles) and any(t.startswith("Distributions") for t in titles)
    for fig in figures:
        layout = fig["layout"]
        assert layout["font"]["size"] >= 18
        assert layout["xaxis"]["tickfont"]["size"] >= 18 and layout["yaxis"]["tickfont"]["size"] >= 18
        assert layout["legend"]["font"]["size"] >= 18


# --- 11. Smaller ones -------------------------------------------------------------------

def test_defect11_bn_momentum_takes_0999_and_the_three_momenta_have_distinct_labels():
    at = _app()
    at.run()
    at.number_input(key="f:model.norm.momentum").set_value(0.999).run()
    assert not at.exception
    from bnviz.config import ExperimentConfig

    assert ExperimentConfig.decode(_param(at, "cfg")).model.norm.momentum == pytest.approx(0.999)
    labels = [w.label for w in (*at.number_input, *at.slider)]
    assert "BN momentum (moving statistics)" in labels and "SGD momentum (optimizer)" in labels
    assert at.selectbox(key="f:training.optimizer").format_func("momentum") == "SGD + momentum"


def test_defect11_an_empty_run_link_says_so():
    at = _app(run="")
    at.run()
    assert not at.exception
    assert any("has no run id" in e.value for e in at.error)


def test_defect11_a_diverged_runs_epoch_slider_spans_its_epochs():
    history = {"loss": [1.0] * 11, "accuracy": [0.5] * 11}
    run_id = _crafted_run(history, status="diverged", **{"training.epochs": 10000})
    at = _app("run", run=run_id)
    at.run()
    assert not at.exception, at.exception
    slider = next(s for s in at.slider if s.label.startswith("Epoch"))
    assert slider.max == 11 and slider.value == 11


def test_defect11_gallery_runs_have_distinct_names_and_no_none_published():
    from ui.service import manager, store

    at = _app("learn", exp="ioffe-fig1")
    at.run()
    next(b for b in at.button if b.key == "answer_run_ioffe-fig1").click().run()
    for job in manager().jobs():
        manager().wait(job.run_id, timeout=60)
    at.run()
    assert not at.exception, at.exception
    names = [r["name"] for r in store().list_runs()]
    assert len(set(names)) == len(names) and all(not n.startswith("Ioffe") for n in names), names
    table = at.dataframe[0].value
    assert "None" not in table["published"].astype(str).tolist()


def test_defect11_published_bars_keep_their_values_clear_of_the_markers():
    from bnviz.gallery import Row, published_vs_ours

    rows = [Row(arm="a", metric="test_accuracy", published=0.85, ours=0.84, ours_text="0.840", note="", std=None, n=1)]
    bar = published_vs_ours(rows, "t").data[0]
    assert bar.textposition == "inside"


def test_defect11_the_cli_progress_writes_plain_lines_into_logs():
    import io

    from bnviz.cli import ProgressBar

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
    from bnviz import callback

    clock = [0.0]
    monkeypatch.setattr(callback.time, "perf_counter", lambda: clock[0])
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
    assert all(e > 0 for e in etas[:-1]), etas
    jumps = [b - a for a, b in itertools.pairwise(etas)]
    assert max(jumps) < 1.0, max(jumps)  # never jumps up by whole seconds (it was 3 s -> 14 s)


def test_defect11_no_cuinit_error_on_a_machine_without_a_gpu_driver():
    import os
    import subprocess
    import sys

    if os.path.exists("/proc/driver/nvidia"):
        pytest.skip("this machine has an NVIDIA driver")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", "import bnviz, bnviz.device as d; d.configure()"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cuInit" not in out.stderr


# --- issue 9: every viewer follows a live run to its end ------------------------------------

def _hist_epoch(at: AppTest) -> int | None:
    for title in _titles(at):
        if title.startswith("Distributions"):
            return int(title.split("epoch ")[1].split()[0])
    return None


def _loss_epochs(at: AppTest) -> int:
    for fig in _figures(at):
        if str((fig["layout"].get("title") or {}).get("text", "")).startswith("Loss"):
            return max((len(t.get("x") or []) for t in fig["data"] if t.get("name") == "train"), default=0)
    return 0


@pytest.mark.parametrize("present", ["", "1"])
def test_a_second_viewer_follows_a_running_run_to_its_last_epoch(monkeypatch, present):
    epochs = 8
    _owner, run_id = _start_live_run(monkeypatch, epochs=epochs, epoch_s=0.3)
    viewer = _app("run", run=run_id, **({"present": present} if present else {}))
    viewer.run()
    assert not viewer.exception, viewer.exception
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
            viewer.run()
            break
        time.sleep(0.3)
    assert _hist_epoch(viewer) == epochs, seen
    assert _loss_epochs(viewer) == epochs
    assert len(seen - {None}) >= 2, "it updated while the run trained"
