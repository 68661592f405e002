"""A large audience polls a live run more slowly (ui.audience), so one serving process keeps up."""

from __future__ import annotations

import pytest

from ui import audience


class FakeSessionState(dict):
    pass


@pytest.fixture()
def room(monkeypatch):
    clock = {"now": 1000.0}
    sessions = {"current": FakeSessionState()}
    monkeypatch.setattr(audience.time, "monotonic", lambda: clock["now"])

    class St:
        @property
        def session_state(self):
            return sessions["current"]

    monkeypatch.setattr(audience, "st", St())
    audience.forget_all()
    yield clock, sessions
    audience.forget_all()


def test_each_session_counts_once_and_leaves_after_the_window(room):
    clock, sessions = room
    for _ in range(3):
        sessions["current"] = FakeSessionState()
        audience.note_viewer("run-a")
    assert audience.note_viewer("run-a") == 3  # the same session again: still three
    assert audience.note_viewer("run-b") == 1  # another run has its own audience
    clock["now"] += audience.WINDOW_S + 1
    assert audience.note_viewer("run-a") == 1  # only the session that just drew it


def test_the_pace_is_the_base_up_to_a_full_room_then_slower_in_proportion_and_bounded():
    full = audience.FULL_PACE_VIEWERS
    assert audience.pace(0.5, 1) == audience.pace(0.5, full) == 0.5
    assert audience.pace(0.5, 2 * full) == 1.0
    assert audience.pace(0.5, 100 * full) == 0.5 * audience.SLOWEST_FACTOR
    assert audience.pace(2.0, 3 * full) == 6.0


def test_the_run_page_paces_its_fragments_by_the_audience(monkeypatch):
    """The Run page's curves poll at the base pace for one viewer and slower for a lecture hall."""
    from bnviz.states import RunState
    from pages import run as run_page

    class View:
        status = RunState.RUNNING

    assert run_page._curves_every(View(), audience=1) == run_page.CURVES_EVERY_S
    assert run_page._curves_every(View(), audience=100) > 2 * run_page.CURVES_EVERY_S
    assert run_page._curves_every(View(), eager=True, audience=100) == run_page.FIRST_POINT_EVERY_S

    class Done:
        status = RunState.SUCCEEDED

    assert run_page._curves_every(Done(), audience=100) is None
