"""Issue 23's class view on the Runs page: a teacher sees every run grouped by an anonymous label
of its owner, and the queue in start order, where a waiting run is moved up/down or cancelled.
A student sees none of it. The queued runs are for JAX, which the test's fake worker (TensorFlow)
never claims, so they stay queued however long the test takes."""

from __future__ import annotations

from bnviz.jobs.queue import RunQueue
from tests.apptest_helpers import (
    BASE,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    page_texts,
)
from tests.test_teacher_pages import KEY, _unlock

EMAIL = "ann@example.org"


def _queued() -> list[str]:
    from ui.service import store

    config = BASE.with_updates({"training.backend": "jax"})
    ids = []
    for seed, owner, name in [(1, EMAIL, "ann first"), (2, EMAIL, "ann second"), (3, "web-bob", "bob first")]:
        ids.append(store().create_run(config.with_updates({"training.seed": seed}), owner=owner, name=name))
    return ids


def _buttons(at) -> dict[str, object]:
    return {b.key: b for b in at.button if b.key}


def test_a_student_sees_no_class_view(monkeypatch):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", KEY)
    _queued()
    at = open_app("runs").run()
    assert not at.exception, at.exception
    assert "Class view" not in [h.value for h in at.subheader]
    assert not [k for k in _buttons(at) if k.startswith("q_")]
    assert "person " not in page_texts(at)


def test_a_teacher_sees_everyone_by_label_and_reorders_and_cancels_the_queue(monkeypatch):
    from ui.class_view import owner_label
    from ui.service import manager

    monkeypatch.setenv("BNVIZ_ADMIN_KEY", KEY)
    ann1, ann2, bob1 = _queued()
    at = _unlock(open_app("runs").run())
    assert not at.exception, at.exception
    texts = page_texts(at) + " ".join(e.label for e in at.expander) + str([d.value for d in at.dataframe])
    assert "Class view" in [h.value for h in at.subheader]
    assert EMAIL not in texts and "ann@" not in texts  # never an email
    expanders = [e.label for e in at.expander]
    ann, bob = owner_label(EMAIL), owner_label("web-bob")
    assert ann != bob and any(label.startswith(f"{ann} · 2 runs") for label in expanders), expanders
    assert any(label.startswith(f"{bob} · 1 runs") for label in expanders), expanders
    assert [q.run_id for q in manager().queued()] == [ann1, bob1, ann2]  # owners in turn
    keys = _buttons(at)
    assert {f"q_up_{r}" for r in (ann1, ann2, bob1)} <= keys.keys()
    assert keys[f"q_up_{ann1}"].disabled and keys[f"q_down_{ann2}"].disabled

    _buttons(at)[f"q_up_{ann2}"].click().run()  # ann's second run before bob's first
    assert not at.exception, at.exception
    assert "Moved to place 2." in " ".join(s.value for s in at.success)
    assert [q.run_id for q in manager().queued()] == [ann1, ann2, bob1]
    _buttons(at)[f"q_down_{ann1}"].click().run()
    assert [q.run_id for q in manager().queued()] == [ann2, ann1, bob1]
    _buttons(at)[f"q_cancel_{ann1}"].click().run()
    assert not at.exception, at.exception
    assert [q.run_id for q in manager().queued()] == [ann2, bob1]
    assert manager().snapshot(ann1).status == "cancelled"
    assert f"q_up_{ann1}" not in _buttons(at)  # gone from the queue on the page too
    claimed = [RunQueue(manager().store).claim(f"w{i}", "jax").run_id for i in range(2)]
    assert claimed == [ann2, bob1]  # the claim follows the teacher's order
