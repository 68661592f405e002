"""Issue 23, the Experiment page: what a teacher hit while filling in the form."""

from __future__ import annotations

from tests.apptest_helpers import (
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
)


def _path_to(node, kind: str, path: tuple = ()) -> tuple | None:
    """The delta path (child indices from the root) of the first block of type `kind`."""
    if getattr(node, "type", None) == kind:
        return path
    for index, child in sorted(getattr(node, "children", {}).items()):
        found = _path_to(child, kind, (*path, index))
        if found is not None:
            return found
    return None


def test_the_form_tabs_keep_their_place_from_the_first_run_to_the_first_edit():
    """The browser keeps the open tab only while the tabs stay where they were: an element drawn
    above them on the first run only (the owner cookie's script) moved them, and the first edit
    opened Data again."""
    at = open_app().run()
    assert not at.exception, at.exception
    first = _path_to(at._tree, "tab_container")
    assert first is not None
    at.number_input(key="f:model.norm.momentum").set_value(0.9).run()  # the first edit
    assert not at.exception, at.exception
    assert _path_to(at._tree, "tab_container") == first
    at.number_input(key="f:model.norm.momentum").set_value(0.95).run()
    assert _path_to(at._tree, "tab_container") == first


PER_BLOCK = {"model.hidden": [8, 8, 8], "model.norm.placement": "before",
             "model.norm.per_layer": {2: "after", 3: "none"}}
PER_BLOCK_LABEL = "BN per block: before, after, none"


def test_a_per_block_model_is_named_by_its_blocks_everywhere():
    from bnviz.layer_plan import bn_label
    from tests.apptest_helpers import BASE, page_texts, stored_run

    config = BASE.with_updates(PER_BLOCK)
    assert bn_label(config.model) == PER_BLOCK_LABEL
    assert bn_label(BASE.model) == "BN after"
    assert bn_label(BASE.with_updates({"model.norm.placement": "none"}).model) == "no BN"
    assert bn_label(config.with_updates({"model.norm.on_input": True}).model) == PER_BLOCK_LABEL + " + input"

    run_id = stored_run(name="per block", **PER_BLOCK)
    at = open_app("run", run=run_id).run()
    assert not at.exception, at.exception
    header = page_texts(at)
    assert PER_BLOCK_LABEL in header and "BN: **before**" not in header

    runs = open_app("runs").run()
    table = runs.dataframe[0].value
    assert list(table.loc[table["name"] == "per block", "bn"]) == [PER_BLOCK_LABEL]


def test_a_per_block_link_opens_with_its_blocks_in_the_per_layer_expander():
    from tests.apptest_helpers import BASE, page_texts

    at = open_app(cfg=BASE.with_updates(PER_BLOCK).encode()).run()
    assert not at.exception, at.exception
    assert "Fix the model settings first." not in page_texts(at)
    blocks = {s.label: s.value for s in at.selectbox if s.label.startswith("Block ")}
    assert blocks == {"Block 1": "inherit", "Block 2": "after", "Block 3": "none"}, blocks
    names = [t.value for t in at.text_input if t.label == "Run name"]
    assert names and PER_BLOCK_LABEL in names[0], names


def test_a_csv_without_a_label_column_shows_only_the_hint_and_no_server_path():
    from bnviz.settings import settings
    from tests.apptest_helpers import BASE, page_texts

    home = settings().home
    upload = home / "uploads" / "0123456789abcdef01234567.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("a,b,species\n" + "".join(f"{i},{i % 3},{'setosa' if i % 2 else 'virginica'}\n"
                                                 for i in range(40)))
    config = BASE.with_updates({"dataset.name": "csv", "dataset.path": "uploads/0123456789abcdef01234567.csv",
                                "dataset.label_column": "label"})
    at = open_app(cfg=config.encode()).run()
    assert not at.exception, at.exception
    texts = page_texts(at)
    assert "'species'?" in texts.replace("\\", "")  # the hint, beside the upload
    assert "This server has no copy" not in texts
    everything = " ".join(str(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "success",
                                                   "code", "text", "title", "subheader") for e in at.get(kind))
    assert str(home) not in everything and "/uploads/" not in everything
    assert next(b for b in at.button if b.label == "Train").disabled


def test_epsilon_steps_by_orders_of_magnitude_and_keeps_a_links_value():
    """"+" on 1e-5 gave 1e-2 and "-" then gave 0, which is refused: epsilon is picked by its order."""
    from bnviz.config import decode_config_data
    from tests.apptest_helpers import BASE, query_param

    at = open_app().run()
    epsilon = at.selectbox(key="f:model.norm.epsilon")
    assert epsilon.options == ["1e-05", "1e-04", "1e-03", "1e-02"]
    for value in (1e-5, 1e-4, 1e-2):
        at.selectbox(key="f:model.norm.epsilon").set_value(value).run()
        assert not at.exception, at.exception
        assert decode_config_data(query_param(at, "cfg"))["model"]["norm"]["epsilon"] == value
    linked = open_app(cfg=BASE.with_updates({"model.norm.epsilon": 3e-4}).encode()).run()
    assert linked.selectbox(key="f:model.norm.epsilon").value == 3e-4
    assert decode_config_data(query_param(linked, "cfg"))["model"]["norm"]["epsilon"] == 3e-4


def test_group_norm_and_noisy_bn_from_the_form_and_groups_that_do_not_divide_are_named():
    from bnviz.config import decode_config_data
    from tests.apptest_helpers import BASE, query_param

    at = open_app(cfg=BASE.with_updates({"model.hidden": [8]}).encode()).run()
    assert at.radio(key="f:model.norm.kind").options == ["BatchNorm", "LayerNorm", "GroupNorm"]
    assert at.number_input(key="f:model.norm.groups").disabled  # only GroupNorm has groups
    at.radio(key="f:model.norm.placement").set_value("after").run()
    at.radio(key="f:model.norm.kind").set_value("group").run()
    at.number_input(key="f:model.norm.noise").set_value(0.5).run()
    assert not at.exception, at.exception
    norm = decode_config_data(query_param(at, "cfg"))["model"]["norm"]
    assert (norm["kind"], norm.get("groups", 2), norm["noise"]) == ("group", 2, 0.5)
    at.number_input(key="f:model.norm.groups").set_value(3).run()
    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.error)
    assert "3 groups do not divide the 8 units of block 1" in shown, shown


def test_the_experiment_form_turns_the_landscape_on_and_a_link_keeps_it():
    from bnviz.config import decode_config_data
    from tests.apptest_helpers import BASE, query_param

    at = open_app(cfg=BASE.encode()).run()
    assert at.toggle(key="f:instrument.landscape").value is False
    at.toggle(key="f:instrument.landscape").set_value(True).run()
    assert not at.exception, at.exception
    assert decode_config_data(query_param(at, "cfg"))["instrument"]["landscape"] is True
    again = open_app(cfg=BASE.with_updates({"instrument.landscape": True}).encode()).run()
    assert again.toggle(key="f:instrument.landscape").value is True
