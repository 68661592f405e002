"""A Learn card whose data this server lacks says so on the card, before and after "Run it" (issue 22).

`fake_trainer_env` makes MNIST missing (an empty Keras cache, BNVIZ_OFFLINE=1)."""

from __future__ import annotations

from bnviz.gallery import EXPERIMENTS
from tests.apptest_helpers import (
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
)

MNIST_CARD, CIRCLES_CARD = "ioffe-fig1", "tutorial-circles"


def _failed_run(config, error: str) -> str:
    from ui.service import manager

    store = manager().store
    run_id = store.create_run(config, owner="gallery:test", name="failed arm", status="running")
    store.append_event(run_id, {"type": "end", "status": "failed", "summary": {
        "final": {}, "wall_time_s": 0.1, "device": None, "epochs_completed": 0, "diverged_at": None,
        "error": error}})
    return run_id


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def test_a_card_without_its_data_says_so_and_cannot_be_run():
    assert {a.config.dataset.name for a in EXPERIMENTS[MNIST_CARD].arms(True, 1)} == {"mnist"}
    at = open_app("learn").run()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert sum("This server has no copy of MNIST" in w for w in warnings) >= 1, warnings
    assert _button(at, f"run_{MNIST_CARD}").disabled
    assert not _button(at, f"run_{CIRCLES_CARD}").disabled  # circles is generated: always here
    # the open card (where "Run it" leads) says it too
    at = open_app("learn", exp=MNIST_CARD).run()
    assert not at.exception, at.exception
    assert any("This server has no copy of MNIST" in w.value for w in at.warning)
    assert _button(at, f"answer_run_{MNIST_CARD}").disabled


def test_after_run_it_the_card_still_says_why_its_runs_cannot_train():
    """Arms that already failed here (e.g. queued before this server lost its copy) change nothing:
    the card names the missing data, not "0/2 finished" alone."""
    for arm in EXPERIMENTS[MNIST_CARD].arms(True, 1):
        _failed_run(arm.config, "mnist could not be loaded: downloading is disabled")
    at = open_app("learn", exp=MNIST_CARD).run()
    assert not at.exception, at.exception
    assert any("This server has no copy of MNIST" in w.value for w in at.warning)


def test_a_card_whose_runs_failed_says_why():
    arms = EXPERIMENTS[CIRCLES_CARD].arms(True, 1)
    _failed_run(arms[0].config, "the kernel ran out of memory")
    at = open_app("learn").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(f"1 of {len(arms)} runs failed" in e and "ran out of memory" in e for e in errors), errors
    assert not any("no copy" in w.value for w in at.warning if "Circles" in w.value)


def test_unavailable_reads_and_downloads_nothing(monkeypatch):
    from bnviz.data.downloads import unavailable

    assert unavailable("circles") is None  # generated: every server has it
    reason = unavailable("mnist")
    assert reason is not None and "downloading is disabled" in reason
    monkeypatch.setenv("BNVIZ_OFFLINE", "0")
    assert unavailable("mnist") is None  # a download may work: the run itself says if it fails
