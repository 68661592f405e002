"""Issue 20's budgets, enforced: a link cannot make the server build or queue a huge model, students of a
lecture cannot train, teachers may go past the per-run limits, and a run stops at the server's time limit."""

from __future__ import annotations

import pytest

from bnviz import limits
from bnviz.config import ExperimentConfig
from bnviz.jobs import JobManager
from bnviz.jobs.recorded import TIME_LIMIT, train_recorded
from bnviz.states import RunState
from bnviz.store import RunStore
from tests.apptest_helpers import (
    BASE,
    button,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    page_texts,
    query_param,
)
from tests.fake_trainer import train as fake_train

ATTACK = ExperimentConfig.from_dict({"model": {"hidden": [4096] * 32}, "training": {"epochs": 10000, "batch_size": 1}})
LINE = "model: 520,237,057 parameters; this server allows at most 5,000,000"
TRAIN_BUTTONS = ("Train", "Train with and without BN")


@pytest.fixture
def summaries(monkeypatch) -> list:
    """Every config the model summary helper is asked to build (none cached from an earlier test)."""
    import streamlit as st

    from bnviz.train import describe

    st.cache_data.clear()

    asked: list = []

    def helper(config, timeout=120.0):
        asked.append(config)
        return describe.model_summary(config)

    monkeypatch.setattr(describe, "model_summary_isolated", helper)
    return asked


def _unlock(at, key: str = "teacher-secret"):
    next(t for t in at.text_input if t.label == "Admin key").set_value(key)
    return button(at, "Unlock").click().run()


def test_the_104_character_link_is_refused_on_the_page_without_building_the_model(summaries):
    """Attack: `hidden=[4096]*32, epochs=10000, batch_size=1` in a 104-character link built a 520M model on load."""
    token = ATTACK.encode()
    assert len(token) == 104
    at = open_app(cfg=token).run()
    assert not at.exception, at.exception
    assert any(LINE in e.value for e in at.error), [e.value for e in at.error]
    assert all(button(at, label).disabled for label in TRAIN_BUTTONS)
    assert summaries == []  # the helper was never asked to build it
    assert "520,237,057" in [m.value for m in at.metric if m.label == "Parameters"]
    at.session_state["f:model.hidden"] = "50"  # the same link made small: counted, built and trainable
    at.run()
    assert not any(LINE in e.value for e in at.error) and not button(at, "Train").disabled
    assert len(summaries) == 1


def test_the_job_api_refuses_it_and_a_teacher_or_the_gallery_may_queue_it():
    manager = JobManager(RunStore())
    with pytest.raises(limits.OverBudget, match=LINE):
        manager.submit(ATTACK, owner="web-student")
    assert manager.store.list_runs() == []
    assert manager.submit(ATTACK, owner="web-teacher", teacher=True).state == RunState.QUEUED
    gallery = manager.submit(ATTACK.with_updates({"training.seed": 1}), owner="gallery:x", lift_limits=True)
    assert gallery.state == RunState.QUEUED


def test_your_own_file_is_counted_before_it_is_queued(monkeypatch):
    import numpy as np

    from bnviz.settings import settings

    path = settings().home / "uploads" / "0123456789abcdef01234567.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, x=np.zeros((20, 12), "float32"), y=np.arange(20) % 2)
    config = BASE.with_updates({"dataset.name": "npz", "dataset.path": str(path), "dataset.n_train": None,
                                "training.epochs": 3})
    monkeypatch.setenv("BNVIZ_MAX_PARAMS", "200")
    monkeypatch.setenv("BNVIZ_MAX_RUN_WORK", "10")
    with pytest.raises(limits.OverBudget) as refused:
        JobManager(RunStore()).submit(config, owner="web-x")
    # 12 features -> Dense(50) + BN (4 x 50) -> Dense(1); 16 of the 20 examples train (20% held out)
    assert "model: 901 parameters; this server allows at most 200" in str(refused.value)
    assert "training.epochs × training examples: 3 × 16 = 48; this server allows at most 10" in str(refused.value)


def test_a_teacher_may_train_over_the_limits_and_the_page_says_so(monkeypatch, summaries):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "teacher-secret")
    monkeypatch.setenv("BNVIZ_MAX_PARAMS", "300")
    at = open_app(cfg=BASE.encode()).run()  # 401 parameters
    assert "model: 401 parameters; this server allows at most 300" in page_texts(at)
    assert button(at, "Train").disabled
    _unlock(at)
    assert not at.exception, at.exception
    assert "You hold the teacher key, so you may train it anyway" in page_texts(at)
    assert not button(at, "Train").disabled
    button(at, "Train").click().run()
    assert not at.exception, at.exception
    from ui.service import manager

    assert manager().store.status(query_param(at, "run")) in (RunState.QUEUED, RunState.RUNNING,
                                                               RunState.SUCCEEDED)


def test_who_may_train_teachers_refuses_a_student_on_the_page_and_in_the_api(monkeypatch, summaries):
    monkeypatch.setenv("BNVIZ_WHO_MAY_TRAIN", "teachers")
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "teacher-secret")
    at = open_app(cfg=BASE.encode()).run()
    assert "only teachers may start runs" in page_texts(at)
    assert all(button(at, label).disabled for label in TRAIN_BUTTONS)
    manager = JobManager(RunStore())
    with pytest.raises(limits.TrainingNotAllowed, match="only teachers"):
        manager.submit(BASE, owner="web-student", signed_in=True)
    with pytest.raises(limits.TrainingNotAllowed):  # the gallery's configs too
        manager.submit(BASE, owner="gallery:x", lift_limits=True)
    assert manager.submit(BASE, owner="web-teacher", teacher=True).state == RunState.QUEUED
    _unlock(at)
    assert "only teachers" not in page_texts(at) and not button(at, "Train").disabled


def test_signed_in_only(monkeypatch):
    monkeypatch.setenv("BNVIZ_WHO_MAY_TRAIN", "signed_in")
    at = open_app(cfg=BASE.encode()).run()
    assert "only signed-in users may train" in page_texts(at) and button(at, "Train").disabled
    manager = JobManager(RunStore())
    with pytest.raises(limits.TrainingNotAllowed):
        manager.submit(BASE, owner="web-visitor")
    assert manager.submit(BASE, owner="user:a@b.c", signed_in=True).state == RunState.QUEUED


def test_a_run_stops_at_the_time_limit_keeping_its_epochs(monkeypatch, fake_worker):
    monkeypatch.setenv("BNVIZ_MAX_RUN_SECONDS", "1")
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "0.5")
    from ui.service import manager

    run_id = manager().submit(BASE.with_updates({"training.epochs": 60}), owner="web-x").run_id
    assert manager().wait(run_id, timeout=60) == RunState.CANCELLED
    record = manager().snapshot(run_id).to_record()
    assert record["summary"]["error"] == "stopped at this server's time limit (1 s)"
    # every epoch it finished (on a busy machine the limit may come before the first one ends)
    assert len(record["history"].get("loss", [])) == record["summary"]["epochs_completed"]
    at = open_app("run", run=run_id).run()
    assert not at.exception, at.exception
    assert "Stopped at this server's time limit (1 s); every epoch it finished is kept." in page_texts(at)


def test_the_time_limit_keeps_every_epoch_recorded_before_it():
    """The same stop, at a known point: after epoch 2 of 5."""
    def trainer(config, *, sink, stop_event, **kwargs):
        def at_epoch_two(event):
            sink(event)
            if event["type"] == "epoch" and event["epoch"] == 2:
                stop_event.request(TIME_LIMIT, limits.time_limit_message(7))
        return fake_train(config, sink=at_epoch_two, stop_event=stop_event, **kwargs)

    config = BASE.with_updates({"training.epochs": 5})
    with RunStore() as store:
        run_id = store.create_run(config, owner="web-x", status=RunState.RUNNING)
        assert train_recorded(store, run_id, config, trainer=trainer, save_model=False) == RunState.CANCELLED
        record = JobManager(store).snapshot(run_id).to_record()
    assert record["status"] == RunState.CANCELLED
    assert record["summary"]["error"] == "stopped at this server's time limit (7 s)"
    assert len(record["history"]["loss"]) == 2 == record["summary"]["epochs_completed"]
