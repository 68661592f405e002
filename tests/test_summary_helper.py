"""The model-summary helper stays contained (issue 20): capped in memory, killed when it hangs, and
replaced when it dies, so every visitor's next summary works without a server restart.

On main, a helper that died (out of memory) left every visitor's summary an error until restart.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from bnviz.train import describe
from bnviz.train.describe import SummaryUnavailable, helper_pid, model_summary_isolated
from tests.apptest_helpers import BASE, fake_trainer_env, open_app  # noqa: F401 - an autouse fixture
from tests.waiting import wait_for

CONFIG = BASE.with_updates({"model.hidden": [12, 12]})


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def _fresh_helper(monkeypatch, memory_mb: int) -> None:
    """A new memory limit starts a new helper at the next summary (the old one is retired)."""
    monkeypatch.setenv("BNVIZ_HELPER_MEMORY_MB", str(memory_mb))


def test_a_normal_summary_works_under_the_memory_cap() -> None:
    summary = model_summary_isolated(CONFIG)
    assert summary["params"]["total"] == model_summary_isolated(CONFIG)["params"]["total"] > 0
    pid = helper_pid()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    data_mb = int(status["VmData"].split()[0]) // 1024
    limit = Path(f"/proc/{pid}/limits").read_text()
    print(f"\nhelper after a summary: {data_mb} MB of data (cap 2,048 MB), RSS {status['VmRSS'].strip()}")
    assert "Max data size" in limit and str(2048 << 20) in limit.split("Max data size")[1].splitlines()[0]


def test_a_helper_killed_between_summaries_is_replaced() -> None:
    first = model_summary_isolated(CONFIG)
    pid = helper_pid()
    _kill(pid)
    assert model_summary_isolated(CONFIG) == first
    assert helper_pid() not in (None, pid)


def test_a_helper_killed_while_it_summarises_is_replaced_and_the_summary_still_comes(monkeypatch) -> None:
    first = model_summary_isolated(CONFIG)
    old = helper_pid()
    _fresh_helper(monkeypatch, 2047)  # a fresh helper: its first summary imports Keras, which takes seconds
    result: dict = {}
    call = threading.Thread(target=lambda: result.update(summary=model_summary_isolated(CONFIG)))
    call.start()
    victim = wait_for(lambda: (helper_pid() not in (None, old)) and helper_pid(), every=0.005,
                      what="the fresh helper")
    _kill(victim)  # it is building the model now
    call.join(180)
    assert result["summary"] == first
    assert helper_pid() not in (None, old, victim)  # this very call started a third helper


def test_a_hung_summary_times_out_with_a_clear_message_and_its_helper_is_replaced() -> None:
    model_summary_isolated(CONFIG)
    pid = helper_pid()
    # The helper's one process is made to hang (a loaded machine may finish a real summary within any
    # short timeout before the server even waits for it): the summary queued behind it cannot come.
    describe._helper.pool.submit(time.sleep, 600)
    with pytest.raises(SummaryUnavailable) as err:
        model_summary_isolated(CONFIG.with_updates({"model.hidden": [13]}), timeout=0.5)
    assert str(err.value).startswith("building this model's summary took more than 0.5 s, so it was stopped")
    assert helper_pid() is None
    wait_for(lambda: not _running(pid), what="the hung helper to be killed")
    assert model_summary_isolated(CONFIG)["params"]["total"] > 0 and helper_pid() != pid


def test_a_helper_over_its_memory_says_so_and_the_next_one_works(monkeypatch) -> None:
    _fresh_helper(monkeypatch, 256)  # less than Keras' import needs
    with pytest.raises(SummaryUnavailable) as err:
        model_summary_isolated(CONFIG)
    message = str(err.value)
    assert "needs more memory than the helper may use (256 MB" in message or "may use 256 MB" in message, message
    monkeypatch.delenv("BNVIZ_HELPER_MEMORY_MB")
    assert model_summary_isolated(CONFIG)["params"]["total"] > 0


def test_the_experiment_page_shows_the_summary_again_after_its_helper_was_killed() -> None:
    at = open_app().run()
    assert not at.exception and any(m.label == "Parameters" for m in at.metric)
    pid = helper_pid()
    assert pid is not None
    _kill(pid)
    again = open_app(cfg=CONFIG.with_updates({"model.hidden": [11]}).encode()).run()  # not in the page's cache
    assert not again.exception and not again.error, [e.value for e in again.error]
    params = next(m for m in again.metric if m.label == "Parameters")
    assert params.value == f"{model_summary_isolated(CONFIG.with_updates({'model.hidden': [11]}))['params']['total']:,}"
    assert helper_pid() not in (None, pid)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed helper stays a zombie until its pool reaps it)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line for line in status)
    except FileNotFoundError:
        return False


def teardown_module() -> None:
    describe.stop_helper()  # leave no helper with a test's limit to the next module
