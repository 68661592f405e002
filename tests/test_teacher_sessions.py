"""Teacher sessions that cannot be forged or guessed (issue 20): each unlock its own random token,
kept on the server as a hash, ended by Lock, by its expiry or by a new key; guesses throttled per
browser and server-wide with a growing delay. The clock is a fake one: no test waits for a delay.
Each store test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest

from bnviz import access
from bnviz.store import RunStore
from bnviz.store import teachers as teachers_module
from bnviz.store.teachers import TeacherSessions

KEY = "correct horse battery staple"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(teachers_module, "clock", fake)
    return fake


@pytest.fixture
def sessions(database, tmp_path, monkeypatch, clock):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", KEY)
    store = RunStore(tmp_path / "home")
    yield TeacherSessions(store)
    store.close()


def _stored(sessions: TeacherSessions) -> list[tuple]:
    with sessions.store.read_transaction() as con:
        return [tuple(r) for r in con.execute("SELECT token_hash, key_check, browser FROM teacher_sessions")]


def test_each_unlock_gets_its_own_random_token_kept_only_as_a_hash(sessions, clock, monkeypatch):
    first = sessions.unlock(KEY, "web-a")
    second = sessions.unlock(KEY, "web-b")
    assert first.token and second.token and first.token != second.token  # nothing shared between teachers
    assert KEY not in first.token and access.key_fingerprint() not in (first.token, second.token)
    assert sessions.active(first.token) == first.expires == clock.now + 12 * 3600
    stored = _stored(sessions)
    assert len(stored) == 2 and not any(first.token in str(row) or KEY in str(row) for row in stored)
    assert sessions.active("forged-" + first.token[7:]) is None and sessions.active("") is None

    assert sessions.lock(first.token) and sessions.active(first.token) is None  # Lock: one click, for good
    assert sessions.active(second.token) is not None  # other teachers keep theirs

    clock.now += 12 * 3600 + 1
    assert sessions.active(second.token) is None  # expired

    third = sessions.unlock(KEY, "web-c")
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "a new key")
    assert sessions.active(third.token) is None  # a new key ends every session
    monkeypatch.delenv("BNVIZ_ADMIN_KEY")
    assert sessions.unlock(KEY, "web-c") == teachers_module.Unlock()  # no key: nobody unlocks


def test_guesses_from_one_browser_wait_longer_and_longer(sessions, clock):
    for _ in range(3):  # a typo or three cost nothing
        wrong = sessions.unlock("guess", "web-guesser")
        assert wrong.checked and wrong.token is None
    assert wrong.wait_s == 2.0  # ... but the next one waits
    refused = sessions.unlock(KEY, "web-guesser")  # even the right key is not looked at now
    assert (refused.checked, refused.token, refused.wait_s) == (False, None, 2.0)
    clock.now += 1.5
    assert sessions.unlock(KEY, "web-guesser").wait_s == pytest.approx(0.5)
    waits = []
    for _ in range(4):
        clock.now += sessions.wait("web-guesser")
        waits.append(sessions.unlock("guess", "web-guesser").wait_s)
    assert waits == [4.0, 8.0, 16.0, 32.0]  # doubling
    assert sessions.wait("web-other") == 0.0  # another browser is not held up (the server allows more)
    clock.now += sessions.wait("web-guesser")
    ok = sessions.unlock(KEY, "web-guesser")
    assert ok.token is not None and sessions.wait("web-guesser") == 0.0  # the right key forgives this browser


def test_guessers_who_drop_their_cookie_are_held_up_server_wide(sessions, clock):
    for n in range(10):
        assert sessions.unlock("guess", f"web-fresh-{n}").checked
    refused = sessions.unlock("guess", "web-fresh-10")
    assert not refused.checked and refused.wait_s == 1.0
    clock.now += 1.0
    assert sessions.unlock("guess", "web-fresh-11").checked
    assert sessions.wait("web-teacher") == 2.0  # growing for everyone, up to a minute at most
    clock.now += 3600
    assert sessions.wait("web-teacher") == 0.0  # an hour of quiet forgets it all


def test_attempts_at_once_are_counted_one_by_one(sessions):
    barrier = threading.Barrier(8)
    results = []

    def attempt() -> None:
        barrier.wait()
        results.append(sessions.unlock("guess", "web-burst"))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.checked for r in results) == 3  # the free ones, however many arrive together


def test_backoff_rule():
    rule = access.Backoff(free=2, base_s=1.0, cap_s=10.0, quiet_s=100.0)
    assert [rule.wait(n, last=0.0, now=0.0) for n in range(7)] == [0, 0, 1, 2, 4, 8, 10]
    assert rule.wait(5, last=0.0, now=3.0) == 5.0 and rule.wait(5, last=0.0, now=100.0) == 0.0
    assert rule.wait(10**6, last=0.0, now=0.0) == 10.0
