"""The pages show a run recorded from a script (`bnviz.watch`) like any other, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import open_app
from ui import routes
from ui.run_model import SCRIPT_NOTE

APP = str(Path(__file__).resolve().parents[1] / "app.py")
VIEWS = ("histograms", "animation", "percentiles", "gradients", "bn_params", "modes", "saturation", "bn_steps")


@pytest.fixture(autouse=True)
def _no_workers(fake_worker):
    return fake_worker


def _script_run(name: str = "my script run") -> str:
    """A finished run of a functional model of the user's own, recorded by bnviz.watch."""
    import keras

    import bnviz

    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    x = keras.layers.Dense(16, name="hidden")(inputs)
    x = keras.layers.BatchNormalization(name="my_bn")(x)
    x = keras.layers.Activation("relu", name="my_relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(x), name="mine")
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    data = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    labels = (data[:, 0] * data[:, 1] > 0).astype("float32")
    watcher = bnviz.watch(name=name, probe=(data[:32], labels[:32]), probe_every=1)
    model.fit(data, labels, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[watcher])
    assert watcher.wait(timeout=120)
    return watcher.run_id


def _form_run() -> str:
    from bnviz.presets import PRESETS
    from bnviz.store import RunStore
    from tests.fake_trainer import train as fake_train

    config = PRESETS["seed001-circles-after-fast"].config.with_updates({"training.epochs": 2})
    with RunStore() as store:
        run_id = store.create_run(config, owner="test", name="form run", status="running")
        fake_train(config, sink=lambda e: store.append_event(run_id, e), run_id=run_id)
    return run_id


def _text(at: AppTest) -> str:
    return " ".join(str(m.value) for m in [*at.markdown, *at.caption])


def test_the_run_page_shows_a_script_run_with_its_origin_model_and_every_view():
    run_id = _script_run()
    at = open_app(None, run=run_id)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "my script run"
    text = _text(at)
    assert "from a script" in text and "`my_bn`" in text and SCRIPT_NOTE in text
    assert not [link for link in at.get("page_link") if "Edit a copy" in str(link.proto.label)]
    assert any("Model: 4 layers" in e.label for e in at.expander)
    assert at.selectbox(key="block").options == ["my_bn"]  # the author's layer name, not "block 1"
    for view in VIEWS:
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception, view
        assert at.get("plotly_chart"), view


def test_presenter_mode_and_the_runs_page_show_a_script_run():
    run_id = _script_run("presented")
    at = open_app(None, run=run_id, present="1")
    at.run()
    assert not at.exception, at.exception
    at = open_app()
    at.switch_page(routes.file("runs"))
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table.loc[table["name"] == "presented", "origin"].tolist() == ["from a script"]


def test_compare_puts_a_script_run_beside_a_form_run():
    script, form = _script_run("scripted"), _form_run()
    at = open_app(None, runs=f"{script},{form}")
    at.switch_page(routes.file("compare"))
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) >= 2
    assert "from a script" in _text(at)
    assert "my_bn / block 1" in at.selectbox(key="cmp_block").options
    tables = [t.value for t in at.dataframe if hasattr(t.value, "index")]
    assert any("origin" in t.index.tolist() for t in tables)


def test_the_cli_shows_and_exports_a_script_run(capsys, tmp_path):
    from bnviz.cli.commands import main

    run_id = _script_run("from the cli")
    capsys.readouterr()
    assert main(["runs", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert "origin" in shown and "script" in shown and "mine (Functional, from a script) normalization=my_bn" in shown
    assert main(["runs", "export", run_id, "--format", "tensorboard", "--out", str(tmp_path)]) == 0
    assert list(tmp_path.rglob("events.out.tfevents.*"))
