"""Issue 20 on the pages: a browser in teacher mode shows it and locks in one click; a guesser is
told when to try again; a teacher stops everything one person queued with one action.
"""

from __future__ import annotations

from bnviz.store import teachers as teachers_module
from tests.apptest_helpers import (
    BASE,
    button,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    page_texts,
)

KEY = "teacher-secret"


def _unlock(at, key: str = KEY):
    next(t for t in at.text_input if t.label == "Admin key").set_value(key)
    return button(at, "Unlock").click().run()


def _expanders(at) -> list[str]:
    return [e.label for e in at.expander]


def test_teacher_mode_shows_a_badge_and_one_click_locks_it(monkeypatch):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", KEY)
    at = open_app("runs").run()
    assert "Teacher access" in _expanders(at) and "Teacher mode" not in page_texts(at)
    _unlock(at)
    assert not at.exception, at.exception
    assert "Teacher mode" in page_texts(at) and "Teacher access" not in _expanders(at)
    token = at.session_state["_teacher_token"]
    assert KEY not in token and at.session_state["_teacher_cookie"][0] == token  # what the browser keeps
    at.run()
    assert "Teacher mode" in page_texts(at)  # still a teacher on the next rerun
    button(at, "Lock").click().run()
    assert "Teacher mode" not in page_texts(at) and "Teacher access" in _expanders(at)
    assert at.session_state["_teacher_cookie"] == ("", 0)  # the browser's copy is deleted
    from bnviz.store.teachers import TeacherSessions
    from ui.service import store

    assert TeacherSessions(store()).active(token) is None  # and the token is worthless everywhere


def test_a_guesser_is_told_when_to_try_again(monkeypatch):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", KEY)
    monkeypatch.setattr(teachers_module, "clock", lambda: 5_000_000.0)  # no time passes between attempts
    at = open_app("runs").run()
    for _ in range(3):
        _unlock(at, "guess")
    assert "That is not the admin key. Wait 2 s before the next try." in page_texts(at)
    _unlock(at)  # the right key, too early: refused without being looked at
    assert "Too many attempts. Try again in 2 s." in page_texts(at)
    assert "Teacher mode" not in page_texts(at)


def test_a_teacher_cancels_all_of_one_persons_runs_from_the_runs_page(monkeypatch):
    from ui.service import manager

    monkeypatch.setenv("BNVIZ_ADMIN_KEY", KEY)
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "0.5")
    noisy = [manager().submit(BASE.with_updates({"training.epochs": 40, "training.seed": s}), owner="web-noisy",
                              name=f"noisy {s}").run_id for s in range(3)]
    quiet = manager().submit(BASE.with_updates({"training.epochs": 2, "training.seed": 9}), owner="web-quiet").run_id
    at = open_app("runs").run()
    at.session_state["table"] = {"selection": {"rows": [1], "columns": []}}  # the newest of the noisy runs
    at.run()
    popovers = [p.proto.popover.label for p in at.get("popover")]
    assert not any(label.startswith("Cancel all") for label in popovers)  # not a teacher yet
    _unlock(at)
    at.session_state["table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    popovers = [p.proto.popover.label for p in at.get("popover")]
    assert "Cancel all 3 active runs of this person" in popovers, popovers
    button(at, "Cancel them all").click().run()
    assert not at.exception, at.exception
    assert "Cancelled 3 run(s) of that person." in " ".join(s.value for s in at.success)
    assert [manager().wait(r, timeout=60) for r in noisy] == ["cancelled"] * 3
    assert manager().wait(quiet, timeout=60) == "succeeded"  # someone else's run goes on
