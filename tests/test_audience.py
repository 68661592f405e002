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
    # a lecture hall: slower, but an epoch still reaches every student's curves within about a second
    hall = run_page._curves_every(View(), audience=100)
    assert run_page.CURVES_EVERY_S < hall <= 1.0
    assert run_page._curves_every(View(), eager=True, audience=100) == run_page.FIRST_POINT_EVERY_S

    class Done:
        status = RunState.SUCCEEDED

    assert run_page._curves_every(Done(), audience=100) is None


def test_each_session_of_a_large_room_gets_a_period_of_its_own_for_the_heavy_views(room):
    """100 students open the link in the same second: their heavy redraws must not stay in step."""
    _, sessions = room
    periods = set()
    for _ in range(20):
        sessions["current"] = FakeSessionState()
        period = audience.pace(2.0, 100, full=10, slowest=5.0, spread=0.5)
        assert 10.0 <= period < 15.0
        periods.add(period)
    assert len(periods) >= 15
    assert audience.pace(2.0, 5, full=10, spread=0.5) == 2.0  # a small room: the base, no spread
    for token, expected in (("0" * 32, 10.0), ("f" * 32, 14.99)):  # the ends of [1, 1 + spread)
        sessions["current"] = FakeSessionState({audience._SESSION_KEY: token})
        assert audience.pace(2.0, 100, full=10, slowest=5.0, spread=0.5) == expected


def test_a_page_drawn_for_a_small_room_is_redrawn_once_at_the_pace_of_the_room_now(room):
    """The first students of a class arrive to an empty room: their pages must not keep the fast pace."""
    assert not audience.repace_due("run-a", 0.5, 0.6)  # within REPACE_RATIO: keep the page
    assert not audience.repace_due("run-a", 0.5, 0.8)  # noticed: this poll still draws the charts
    assert audience.repace_due("run-a", 0.5, 0.8)  # the next poll redraws the page at the new pace
    assert not audience.repace_due("run-a", 0.8, 0.8)  # drawn at the new pace: nothing more


def test_a_fragment_at_another_pace_is_another_fragment():
    """Streamlit identifies a fragment by its function and place; the browser keeps the first timer
    of an identity, so the pace is part of it."""
    def curves():
        return None

    names = {audience.paced(curves, every).__wrapped__.__qualname__ for every in (0.5, 0.8, 0.5)}
    assert len(names) == 2 and all("curves" in n for n in names)


def test_live_views_are_drawn_one_at_a_time_and_a_nested_draw_does_not_wait():
    import threading

    order = []

    def other():
        with audience.one_at_a_time():
            order.append("other")

    with audience.one_at_a_time():
        with audience.one_at_a_time():  # re-entrant
            order.append("nested")
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive() and order == ["nested"]  # waits while this view draws
    thread.join(5)
    assert order == ["nested", "other"]


def test_a_stuck_view_does_not_hold_every_viewers_charts():
    """A draw that never ends (a store that stopped answering) delays the others by the wait, not forever."""
    import threading

    stuck, release, drawn = threading.Event(), threading.Event(), threading.Event()

    def hang():
        with audience.one_at_a_time():
            stuck.set()
            release.wait(30)

    holder = threading.Thread(target=hang)
    holder.start()
    assert stuck.wait(10)

    def draw():
        with audience.one_at_a_time(wait_s=0.2):
            drawn.set()

    other = threading.Thread(target=draw)
    other.start()
    assert drawn.wait(10)  # drew after its wait, while the stuck one still holds the turn
    release.set()
    holder.join(10)
    other.join(10)
