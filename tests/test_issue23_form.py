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
