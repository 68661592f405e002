"""Issue 11's defects 1-7 (and issue 9's queue limit), one AppTest each, failing on the old pages.

Runs are made by the fast fake trainer (tests/fake_trainer.py) or written into the store as
training events, so every number below is a real record's. Defects 8-11 and the live follow:
tests/test_class_views.py.
"""

from __future__ import annotations

import pytest

from bnviz.presets import PRESETS
from tests.apptest_helpers import (
    BASE,
    button,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    page_texts,
    query_param,
    raw_config_token,
    start_live_run,
    stored_run,
)
from ui import routes

# --- 1. Compare shows exactly the runs it was given --------------------------------

def test_defect1_compare_keeps_its_runs_when_a_run_with_a_shared_name_finishes(monkeypatch):
    from ui.service import manager

    older = stored_run("pair · without BN", **{"model.norm.placement": "none", "dataset.seed": 7})
    other = stored_run("pair · with BN")
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "0.2")
    live = manager().submit(BASE.with_updates({"training.epochs": 4, "model.norm.placement": "none"}),
                            owner="someone", name="pair · without BN").run_id
    at = open_app("compare", runs=f"{live},{other}")
    at.run()
    assert not at.exception, at.exception
    shown = list(at.multiselect(key="cmp_runs").values)  # the chips' labels, as the browser holds them
    manager().wait(live, timeout=30)
    from ui.live import forget

    forget(live)  # the next read sees the end at once, not the view viewers share for ui.live.FRESH_S
    at.run()
    # The browser's next rerun sends back the labels it shows; they must still mean the same runs.
    at.multiselect(key="cmp_runs").set_value(shown).run()
    at.run()
    assert not at.exception, at.exception
    assert query_param(at, "runs") == f"{live},{other}"
    assert older not in query_param(at, "runs")
    states = "\n".join(m.value for m in at.markdown)
    assert f"succeeded · 4/4 epochs · `{live}`" in states  # its chip line caught up with the finish


# --- 2. Every link the app hands out opens its page --------------------------------

def test_defect2_links_point_at_the_pages_real_addresses():
    at = open_app()
    at.run()
    link = next(c.value for c in at.code if "cfg=" in c.value)
    assert link.startswith("/?cfg="), link  # the Experiment page is the default page: the root URL
    assert routes.url("experiment", current="http://host:8501/run?run=x", cfg="T") == "http://host:8501/?cfg=T"
    assert routes.url("run", current="http://host:8501/?cfg=T", run="abc") == "http://host:8501/run?run=abc"
    assert routes.url("compare", current="https://h/base/learn?exp=x", runs="a,b") == \
        "https://h/base/compare?runs=a%2Cb"


# --- 3. Only the one who started a run may change it --------------------------------

def test_defect3_a_second_browser_sees_a_run_read_only_and_an_admin_key_unlocks_it(monkeypatch):
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "teacher-secret")
    owner, run_id = start_live_run(monkeypatch, epochs=30, epoch_s=0.5)
    owner.run()
    assert [b for b in owner.button if b.label == "Cancel run"], "the owner may cancel"

    other = open_app("run", run=run_id)
    other.run()
    assert not other.exception, other.exception
    assert not [b for b in other.button if b.label == "Cancel run"]
    assert "read-only" in page_texts(other)

    for session, mine in ((other, False), (owner, True)):  # the Runs page marks whose runs are whose
        session.switch_page(routes.file("runs")).run()
        table = session.dataframe[0].value
        assert table.loc[table["id"] == run_id, "yours"].tolist() == [mine]
    other.switch_page(routes.file("run")).run()

    form_input = next(t for t in other.text_input if t.label == "Admin key")
    form_input.set_value("wrong")
    next(b for b in other.button if b.label == "Unlock").click().run()
    assert "not the admin key" in page_texts(other)
    form_input = next(t for t in other.text_input if t.label == "Admin key")
    form_input.set_value("teacher-secret")
    next(b for b in other.button if b.label == "Unlock").click().run()
    other.run()
    button(other, "Cancel run").click().run()
    from ui.service import manager

    assert manager().wait(run_id, timeout=30) == "cancelled"


def _popovers(at) -> list[str]:
    return [p.proto.popover.label for p in at.get("popover")]


def test_defect3_the_runs_page_offers_rename_and_delete_only_on_your_own_runs(monkeypatch):
    from bnviz import access

    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "teacher-secret")
    at = open_app("runs")
    at.run()
    me = access.browser_owner(at.session_state["_owner_secret"])
    theirs = stored_run("someone else's run", owner="web-someone")
    at.session_state["table"] = {"selection": {"rows": [0], "columns": []}}  # the newest row: theirs
    at.run()
    assert not at.exception, at.exception
    assert _popovers(at) == [] and "someone else's" in page_texts(at)
    mine = stored_run("my run", owner=me)
    at.session_state["table"] = {"selection": {"rows": [0, 1], "columns": []}}  # mine (newest) and theirs
    at.run()
    assert _popovers(at) == ["Rename", "Delete"]
    assert "Delete **1** run(s) (1 selected runs are not yours and stay)" in page_texts(at)
    next(t for t in at.text_input if t.label == "Admin key").set_value("teacher-secret")
    next(b for b in at.button if b.label == "Unlock").click().run()
    at.session_state["table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert _popovers(at) == ["Rename", "Delete"], "the admin key unlocks someone else's run"
    assert mine != theirs


def test_defect3_access_rules():
    from bnviz import access

    assert access.can_change("web-1", "web-1")
    assert not access.can_change("web-1", "web-2")
    assert not access.can_change("", "")  # an ownerless (CLI) run: admins only
    assert access.can_change("web-1", "web-2", is_admin=True)
    assert access.browser_owner("s" * 32) != access.browser_owner("t" * 32)
    assert "s" * 32 not in access.browser_owner("s" * 32)  # the label does not reveal the cookie


def test_defect3_admin_key_and_token(monkeypatch):
    from bnviz import access

    monkeypatch.delenv("BNVIZ_ADMIN_KEY", raising=False)
    assert not access.check_admin_key("") and access.key_fingerprint() is None
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "k3y")
    assert access.check_admin_key("k3y") and not access.check_admin_key("k3")
    fingerprint = access.key_fingerprint()
    assert fingerprint and "k3y" not in fingerprint
    monkeypatch.setenv("BNVIZ_ADMIN_KEY", "new")
    assert access.key_fingerprint() != fingerprint  # a new key matches no session (tests/test_teacher_sessions.py)
    assert access.new_session_token() != access.new_session_token()  # what a browser keeps: random, per unlock


# --- 4. Out-of-range values never train ---------------------------------------------

def test_defect4_out_of_range_values_disable_train_and_name_the_field():
    at = open_app()
    at.run()
    at.number_input(key="f:training.epochs").set_value(0)
    at.number_input(key="f:training.batch_size").set_value(100000)
    at.number_input(key="f:training.learning_rate").set_value(-1.0).run()
    assert not at.exception, at.exception
    assert button(at, "Train").disabled and button(at, "Train with and without BN").disabled
    message = "\n".join(e.value for e in at.error)
    assert "**Epochs**" in message and "1 to 10,000 (got 0)" in message
    assert "**Batch size**" in message and "1 to 65,536 (got 100000)" in message
    assert "**Learning rate**" in message and "above 0 to 100 (got -1" in message


def test_defect4_a_config_link_with_bad_values_shows_them_and_disables_train():
    at = open_app(cfg=raw_config_token({"training": {"epochs": 0, "learning_rate": 0.05}, "model": {"dropout": 5}}))
    at.run()
    assert not at.exception, at.exception
    assert at.number_input(key="f:training.epochs").value == 0  # shown as the link has it, not replaced
    assert at.number_input(key="f:training.learning_rate").value == pytest.approx(0.05)
    assert button(at, "Train").disabled
    message = "\n".join(e.value for e in at.error)
    assert "**Epochs**" in message and "Dropout: 5 is outside the form's range, 0 to 0.9" in message


# --- 5. The queue limit is a message ------------------------------------------------

def test_defect5_the_queue_limit_says_how_many_runs_wait_and_what_to_do(monkeypatch):
    monkeypatch.setenv("BNVIZ_MAX_QUEUED_PER_OWNER", "1")
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "1.0")
    at = open_app()
    at.run()
    for attempt in range(3):
        if attempt:  # back to the form, as the sidebar link does (no query parameters)
            for key in list(at.query_params):
                del at.query_params[key]
            at.switch_page(routes.file("experiment")).run()
        at.toggle(key="fresh").set_value(True).run()  # a new run each time, not the identical one
        button(at, "Train").click().run()
        assert not at.exception, at.exception
    assert any("You already have 1 run waiting" in e.value and "cancel one" in e.value for e in at.error)
    assert at.get("page_link"), "a way to the runs"


# --- 6. A missing dataset: a student's message, no failed run -------------------------

def test_defect6_a_missing_dataset_disables_train_and_creates_no_run():
    from ui.service import store

    at = open_app()
    at.run()
    at.selectbox(key="f:dataset.name").set_value("mnist")
    at.selectbox(key="f:model.family").set_value("mlp").run()
    assert not at.exception, at.exception
    warning = "\n".join(w.value for w in at.warning)
    assert "This server has no copy of MNIST" in warning and "Pick another dataset" in warning
    assert "BNVIZ_DATA_DIR" not in warning  # the admin's details are in the expander
    assert any("Details for whoever runs the server" in e.label for e in at.expander)
    assert button(at, "Train").disabled and button(at, "Train with and without BN").disabled
    assert store().list_runs() == []


# --- 7. First screen: human preset names, "custom", a pointer to Learn ---------------

def test_defect7_presets_have_human_names_in_groups_and_turn_custom_when_changed():
    at = open_app()
    at.run()
    box = at.selectbox(key="preset")
    labels = list(box.options)
    assert any(label.startswith("Tutorials · Circles tutorial") for label in labels), labels
    assert any(label.startswith("Papers · ") for label in labels), labels
    assert not any("seed00" in label for label in labels)
    description = "\n".join(c.value for c in at.caption)
    assert "30 epochs" in description and "(classroom: epochs=30)" not in description
    assert any("learn" in str(p.proto.page) or "Learn" in p.proto.label for p in at.get("page_link"))
    at.selectbox(key="f:model.family").set_value("mnist_cnn_a").run()
    at.run()
    assert at.selectbox(key="preset").value is None  # "custom settings", not the circles preset


def test_defect7_fast_preset_descriptions_do_not_contradict_their_configs():
    for name, preset in PRESETS.items():
        t = preset.config.training
        assert f"{t.epochs} epochs" in preset.description, name
        assert preset.title and preset.group in ("Tutorials", "Papers"), name
        if t.optimizer == "adam":
            assert "SGD" not in preset.description, name


