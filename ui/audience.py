"""How many sessions of this server follow a run, and the polling pace that audience gets.

One serving process redraws every viewer's live charts on its own CPU: a classroom of 100 polling
twice a second asks it for 200 curve redraws a second plus the slower views, more than a core's
worth. Each session notes itself whenever it draws a run (page or fragment); the count over the
last WINDOW_S sets the pace of the fragments it starts: the base pace up to FULL_PACE_VIEWERS
viewers, slower in proportion beyond, up to a bound per view (the curves, which a class follows
epoch by epoch, slow down least). A fragment's pace is fixed when the page is drawn (Streamlit's
`run_every`), so it is decided there, for the audience present at that moment; the first students
of a class arrive to an empty room, so a live view that sees the room grew by REPACE_RATIO redraws
its page once at the new pace (`repace_due`, `paced`).

A class opens one link within a second or two, so every student's timers start together: the
heavy views of 100 students would all redraw in the same second, and the curves' epochs would wait
behind that burst. `spread` gives each session a period of its own (up to `spread` times longer,
fixed per session), so the heavy redraws drift apart after the first.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid

import streamlit as st

WINDOW_S = 20.0  # a viewer counts while it drew the run this recently (its curves: every 0.8 s at most)
FULL_PACE_VIEWERS = 30  # measured: 30 students at full pace cost about a third of a core (bench/classroom.py)
SLOWEST_FACTOR = 4.0  # however large the room, a chart still updates at least every 4 base periods
REPACE_RATIO = 1.5  # a page drawn for a room this many times smaller (or larger) is drawn again
DRAW_WAIT_S = 5.0  # the longest a live view waits for its turn to draw (one_at_a_time)
_SESSION_KEY = "bnviz_viewer_token"

_drawing = threading.RLock()  # re-entrant: a view drawn inside another waits for nothing
_seen: dict[str, dict[str, float]] = {}  # run id -> {session token: last time it drew the run}
_lock = threading.Lock()


def note_viewer(run_id: str) -> int:
    """Note this session as following `run_id`; how many sessions followed it within WINDOW_S."""
    token = st.session_state.setdefault(_SESSION_KEY, uuid.uuid4().hex)
    now = time.monotonic()
    with _lock:
        seen = _seen.setdefault(run_id, {})
        seen[token] = now
        for key in [k for k, t in seen.items() if now - t > WINDOW_S]:
            del seen[key]
        for key in [r for r, s in _seen.items() if not s]:
            del _seen[key]
        return len(seen)


def pace(base_s: float, viewers: int, *, full: int = FULL_PACE_VIEWERS, slowest: float = SLOWEST_FACTOR,
         spread: float = 0.0) -> float:
    """The polling period for an audience of `viewers`: `base_s` up to `full` viewers, then in
    proportion to the audience, at most `slowest` times `base_s`; for a large audience, times this
    session's own factor in [1, 1 + `spread`) (see the module docstring)."""
    factor = min(slowest, max(1.0, viewers / full))
    if factor > 1.0 and spread > 0:
        factor *= 1.0 + spread * session_fraction()
    return math.floor(base_s * factor * 100 + 1e-9) / 100  # centiseconds, rounded down: [1, 1 + spread) holds


def session_fraction() -> float:
    """A number in [0, 1) fixed for this session (from its viewer token)."""
    token = st.session_state.setdefault(_SESSION_KEY, uuid.uuid4().hex)
    return int(token[:8], 16) / 16**8


def forget_all() -> None:
    """Tests: start from an empty room."""
    with _lock:
        _seen.clear()


def paced(fn, every: float | None):
    """`fn` as a fragment that reruns every `every` seconds (never when None). Its identity names
    its pace, so a page drawn again at another pace starts a new timer in the browser rather than
    keeping the one of the first draw."""
    if every is None:
        return st.fragment(fn)

    def run(*args, **kwargs):
        return fn(*args, **kwargs)

    run.__module__ = fn.__module__
    run.__name__ = run.__qualname__ = f"{fn.__qualname__}_every_{every:g}s"
    return st.fragment(run_every=every)(run)


def repace_due(run_id: str, every: float, wanted: float, ratio: float = REPACE_RATIO) -> bool:
    """Whether this session should redraw its page to poll `run_id` at `wanted` instead of `every`:
    the audience grew (or left) since the page was drawn, by more than `ratio`. True once per change,
    on the poll after the one that noticed it (a page redraw drops the charts not sent yet)."""
    key = f"bnviz_repace:{run_id}"
    if max(wanted, every) < ratio * min(wanted, every):
        st.session_state.pop(key, None)
        return False
    if st.session_state.get(key) == wanted:
        del st.session_state[key]
        return True
    st.session_state[key] = wanted
    return False


@contextlib.contextmanager
def one_at_a_time(wait_s: float = DRAW_WAIT_S):
    """Draw one live view at a time. Every session reruns in a thread of its own, and 100 of them
    wanting the interpreter at once left the one thread that sends their charts to the browsers a
    hundredth of it: the charts were drawn but not sent, and a class saw them seconds late. The
    work is the same; waiting here leaves the interpreter to the sending (measured: bench/classroom.py).
    A view that waited `wait_s` draws anyway: one stuck draw (a store that stopped answering) must not
    hold every viewer's charts."""
    turn = _drawing.acquire(timeout=wait_s)
    try:
        yield
    finally:
        if turn:
            _drawing.release()
