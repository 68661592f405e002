"""How many sessions of this server follow a run, and the polling pace that audience gets.

One serving process redraws every viewer's live charts on its own CPU: a classroom of 100 polling
twice a second asks it for 200 curve redraws a second plus the slower views, more than a core's
worth. Each session notes itself whenever it draws a run (page or fragment); the count over the
last WINDOW_S sets the pace of the fragments it starts: the base pace up to FULL_PACE_VIEWERS
viewers, slower in proportion beyond, so the server's work per second stays about what
FULL_PACE_VIEWERS viewers cost. A fragment's pace is fixed when the page is drawn (Streamlit's
`run_every`), so it is decided there, for the audience present at that moment.
"""

from __future__ import annotations

import threading
import time
import uuid

import streamlit as st

WINDOW_S = 20.0  # a viewer counts while any of its fragments ran this recently (the slowest polls every 8 s)
FULL_PACE_VIEWERS = 30  # measured: 30 students at full pace cost about a third of a core (bench/classroom.py)
SLOWEST_FACTOR = 4.0  # however large the room, a chart still updates at least every 4 base periods
_SESSION_KEY = "bnviz_viewer_token"

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


def pace(base_s: float, viewers: int) -> float:
    """The polling period for an audience of `viewers`: `base_s` up to FULL_PACE_VIEWERS, then in
    proportion to the audience, at most SLOWEST_FACTOR times `base_s`."""
    factor = min(SLOWEST_FACTOR, max(1.0, viewers / FULL_PACE_VIEWERS))
    return round(base_s * factor, 2)


def forget_all() -> None:
    """Tests: start from an empty room."""
    with _lock:
        _seen.clear()
