"""The backend in the dashboard: offered in the form, kept by shared links, shown on the run page
and in Compare's configuration table."""

from __future__ import annotations

from bnviz.presets import PRESETS
from tests.apptest_helpers import (
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    stored_run,
)


def test_the_form_offers_the_installed_backends_and_a_link_keeps_the_choice():
    at = open_app()
    at.run()
    box = at.selectbox(key="f:training.backend")
    assert box.value == "tensorflow" and {"TensorFlow", "JAX"} <= set(box.options)  # shown by name
    box.set_value("jax").run()
    assert not at.exception, at.exception
    token = at.query_params["cfg"]
    token = token[0] if isinstance(token, list) else token
    shared = open_app(cfg=token)
    shared.run()
    assert shared.selectbox(key="f:training.backend").value == "jax"


def test_a_link_to_a_backend_this_server_lacks_disables_train_and_says_so(monkeypatch):
    from bnviz.train import backends

    monkeypatch.setattr(backends, "available_backends", lambda: ("tensorflow", "jax"))  # a server without torch
    config = PRESETS["seed001-circles-after-fast"].config.with_updates({"training.backend": "torch"})
    at = open_app(cfg=config.encode())
    at.run()
    assert not at.exception, at.exception
    train = next(b for b in at.button if b.label == "Train")
    assert train.disabled
    assert any("torch" in e.value and "not installed" in e.value for e in at.error)


def test_run_page_and_compare_say_which_backend_trained_it():
    tf_run = stored_run("on tf")
    jax_run = stored_run("on jax", **{"training.backend": "jax"})
    at = open_app("run", run=jax_run)
    at.run()
    assert not at.exception, at.exception
    assert any("jax on **CPU**" in m.value for m in at.markdown)
    cmp = open_app("compare", runs=f"{tf_run},{jax_run}")
    cmp.run()
    assert not cmp.exception, cmp.exception
    differing = [d.value for d in cmp.dataframe if "training.backend" in d.value.index]  # "only what differs"
    assert differing and list(differing[0].loc["training.backend"]) == ["tensorflow", "jax"]
