"""The dashboard, page by page, through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.config import ExperimentConfig
from bnviz.presets import PRESETS
from tests.apptest_helpers import open_app
from tests.fake_trainer import train as fake_train
from ui import routes

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def _fake_worker(fake_worker):
    """Runs queued by the pages are trained by the fake trainer in a worker thread."""
    return fake_worker


def _stored_run(name="stored run", **updates) -> str:
    """A finished run in this test's store, produced by the fake trainer's events."""
    from bnviz.store import RunStore

    config = PRESETS["seed001-circles-after-fast"].config.with_updates({"training.epochs": 3, **updates})
    with RunStore() as store:
        run_id = store.create_run(config, owner="test", name=name, status="running")
        fake_train(config, sink=lambda e: store.append_event(run_id, e), run_id=run_id)
    return run_id


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_experiment_page_builds_a_config_and_puts_it_in_the_url():
    at = open_app()
    at.run()
    assert not at.exception
    token = at.query_params["cfg"][0] if isinstance(at.query_params["cfg"], list) else at.query_params["cfg"]
    assert ExperimentConfig.decode(token) == PRESETS["seed001-circles-after-fast"].config
    assert any("Parameters" in m.label for m in at.metric)


def test_a_shared_config_link_prefills_the_form():
    config = PRESETS["seed001-circles-before"].config.with_updates({"training.learning_rate": 0.05})
    at = open_app(None, cfg=config.encode())
    at.run()
    assert at.radio(key="f:model.norm.placement").value == "before"
    assert at.number_input(key="f:training.learning_rate").value == pytest.approx(0.05)


def test_invalid_form_values_are_explained_not_raised():
    at = open_app()
    at.run()
    at.text_input(key="f:model.hidden").set_value("50, lots").run()
    assert not at.exception
    assert any("whole numbers" in e for e in _errors(at))


def test_train_submits_a_job_and_opens_its_live_view():
    at = open_app()
    at.run()
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    run_id = at.query_params["run"]
    run_id = run_id[0] if isinstance(run_id, list) else run_id
    from ui.service import manager

    manager().wait(run_id, timeout=30)
    # Viewers share one read of a run for ui.live.FRESH_S: a page drawn right after a fast run ended may
    # still get the read from just before. A viewer sees the end on its next poll; this test at once.
    from ui.live import forget

    forget(run_id)
    at.run()
    assert not at.exception
    assert any("succeeded" in m.value for m in at.markdown)
    assert len(_charts(at)) >= 2  # loss and accuracy (one figure), and the before/after histogram


def test_train_with_and_without_bn_opens_compare_with_both_runs():
    at = open_app()
    at.run()
    next(b for b in at.button if b.label == "Train with and without BN").click().run()
    assert not at.exception
    runs = at.query_params["runs"]
    runs = runs[0] if isinstance(runs, list) else runs
    assert len(runs.split(",")) == 2


def test_run_page_renders_curves_and_histograms_of_a_stored_run():
    run_id = _stored_run()
    at = open_app(None, run=run_id)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "stored run"
    charts = _charts(at)
    assert len(charts) >= 2  # loss and accuracy in one figure, the histograms
    for view in ("animation", "percentiles", "gradients", "bn_params", "modes", "saturation"):
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception, view
        assert _charts(at), view


def test_compare_renders_two_runs_and_highlights_config_differences():
    a = _stored_run("with BN")
    b = _stored_run("without BN", **{"model.norm.placement": "none"})
    at = open_app(None, runs=f"{a},{b}")
    at.switch_page(routes.file("compare"))
    at.run()
    assert not at.exception, at.exception
    assert len(_charts(at)) >= 2
    tables = at.dataframe
    assert any("model.norm.placement" in str(t.value.index.tolist()) for t in tables if hasattr(t.value, "index"))


def test_runs_page_lists_runs():
    _stored_run("listed run")
    at = open_app()
    at.switch_page(routes.file("runs"))
    at.run()
    assert not at.exception
    assert "listed run" in at.dataframe[0].value["name"].tolist()


@pytest.mark.parametrize(
    ("params", "page", "message"),
    [
        ({"run": "../../etc/passwd"}, routes.file("run"), "does not point to a run"),
        ({"run": "<script>alert(1)</script>"}, routes.file("run"), "does not point to a run"),
        ({"run": "x" * 5000}, routes.file("run"), "does not point to a run"),
        ({"run": "NEW_ID"}, routes.file("run"), "does not exist"),
        ({"cfg": "garbage!!"}, routes.file("experiment"), "could not be opened"),
        ({"cfg": "1' OR 1=1 --"}, routes.file("experiment"), "could not be opened"),
        ({"preset": "<img src=x onerror=alert(1)>"}, routes.file("experiment"), "no preset called"),
        ({"runs": "../x,;DROP TABLE runs"}, routes.file("compare"), "not valid"),
    ],
)
def test_bad_links_get_a_friendly_message_and_a_way_back(params, page, message):
    from bnviz.ids import new_run_id

    at = open_app(None, **{k: new_run_id() if v == "NEW_ID" else v for k, v in params.items()})
    at.switch_page(page)
    at.run()
    assert not at.exception
    assert any(message in e for e in _errors(at)), _errors(at)
    assert at.get("page_link"), "a way back"


def test_root_url_with_run_opens_the_live_view():
    run_id = _stored_run("root link")
    at = open_app(None, run=run_id)
    at.run()  # no switch_page: the root URL
    assert at.title[0].value == "root link"


def test_presenter_mode_hides_the_controls():
    run_id = _stored_run("on the projector")
    at = open_app(None, run=run_id, present="1")
    at.run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Cancel run"]
    assert not at.get("expander")


def test_the_live_view_follows_a_running_job(monkeypatch):
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "0.4")
    at = open_app()
    at.run()
    at.number_input(key="f:training.epochs").set_value(6).run()
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    seen = []
    for _ in range(20):
        at.run()
        seen.append(any(p for p in at.get("progress")))
        if any("succeeded" in m.value for m in at.markdown):
            break
        time.sleep(0.3)
    assert any(seen), "a progress bar while it trained"
    assert not at.exception


def test_the_gallery_renders_every_card():
    from bnviz.gallery import EXPERIMENTS

    at = open_app()
    at.switch_page(routes.file("learn"))
    at.run()
    assert not at.exception, at.exception
    titles = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert sorted(titles) == sorted(f"#### {e.title}" for e in EXPERIMENTS.values())


def test_running_a_gallery_card_launches_its_arms_and_answers():
    at = open_app(None, exp="tutorial-circles")
    at.switch_page(routes.file("learn"))
    at.run()
    next(b for b in at.button if b.key == "answer_run_tutorial-circles").click().run()
    assert not at.exception, at.exception
    from ui.service import manager

    for row in manager().store.list_runs():
        manager().wait(row["id"], timeout=60)
    at.run()
    assert not at.exception, at.exception
    verdicts = [e.value for e in (*at.success, *at.warning, *at.info)
                if not e.value.startswith("**The report's verdict")]  # this server's runs, not the report's
    assert any("Not judged" not in v for v in verdicts), verdicts
    assert len(at.get("plotly_chart")) >= 1
