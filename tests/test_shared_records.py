"""What is shared names no one and no server folder (issue 20): the run record's JSON export and
the "Edit a copy" link of a run started by a signed-in user carry neither their email nor the
server path of the file they uploaded; the link still opens the form on that file, and the
exported config trains again (as the same run) on this server.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bnviz import access
from bnviz.config import ExperimentConfig
from bnviz.data.offered import NotOffered, resolve_offered, shareable_path
from bnviz.settings import settings
from tests.apptest_helpers import (
    BASE,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
)

EMAIL = "ana.student@example.edu"
UPLOAD = "0123456789abcdef01234567.csv"


@pytest.fixture
def signed_in_run() -> tuple[str, str, Path]:
    """A run queued by a signed-in user on a file they uploaded: (run id, owner label, file)."""
    from ui.service import manager

    upload = settings().home / "uploads" / UPLOAD
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    config = BASE.with_updates({"dataset.name": "csv", "dataset.path": str(upload), "dataset.label_column": "label"})
    owner = access.user_owner(EMAIL)
    run_id = manager().submit(config, owner=owner, name="mine").run_id
    return run_id, owner, upload


def _leaks(text: str, upload: Path) -> list[str]:
    home = str(settings().home)
    return [what for what in (EMAIL, "user:", home, str(upload.parent)) if what in text]


def test_the_json_export_names_no_one_and_no_server_folder(signed_in_run):
    from ui.service import manager, store

    run_id, owner, upload = signed_in_run
    text = store().export_json(run_id)  # anyone
    assert _leaks(text, upload) == []
    record = json.loads(text)
    assert record["owner"] is None and record["mine"] is False
    assert record["config"]["dataset"]["path"] == f"uploads/{UPLOAD}"

    theirs = json.loads(store().export_json(run_id, viewer=owner))
    assert (theirs["owner"], theirs["mine"]) == (owner, True)  # the owner sees it is theirs ...
    assert theirs["config"]["dataset"]["path"] == f"uploads/{UPLOAD}"  # ... and still no server folder
    teacher = json.loads(store().export_json(run_id, viewer="web-teacher", is_admin=True))
    assert (teacher["owner"], teacher["mine"]) == (owner, False)

    again = manager().submit(record["config"], owner="web-someone-else")  # the shared config, on this server
    assert again.reused and again.run_id == run_id


def test_the_edit_a_copy_link_names_no_one_and_opens_the_form_on_the_file(signed_in_run):
    run_id, _, upload = signed_in_run
    at = open_app("run", run=run_id).run()  # another browser
    assert not at.exception, at.exception
    link = next(p.proto for p in at.get("page_link") if p.proto.label == "Edit a copy")
    token = parse_qs(link.query_string)["cfg"][0]
    decoded = ExperimentConfig.decode(token).to_dict()
    assert _leaks(token, upload) == [] and _leaks(json.dumps(decoded), upload) == []
    assert decoded["dataset"]["path"] == f"uploads/{UPLOAD}"

    form = open_app(cfg=token).run()
    assert not form.exception and not form.error, [e.value for e in form.error]
    assert form.session_state["f:dataset.path"] == str(upload)  # this server's file again
    assert not next(b for b in form.button if b.label == "Train").disabled
    assert _leaks(form.query_params["cfg"][0] if isinstance(form.query_params["cfg"], list)
                  else form.query_params["cfg"], upload) == []  # the address bar too


def test_relative_paths_resolve_inside_the_offered_folders_only(tmp_path):
    home, data = tmp_path / "home", tmp_path / "data"
    (home / "uploads").mkdir(parents=True)
    data.mkdir()
    assert resolve_offered(f"uploads/{UPLOAD}", home=home, data_dir=None) == str(home / "uploads" / UPLOAD)
    assert resolve_offered("class/iris.csv", home=home, data_dir=data) == str(data / "class" / "iris.csv")
    for bad in ("uploads/../../etc/passwd", "../secrets/keys.csv", "uploads/notes.csv", "x.csv"):
        with pytest.raises(NotOffered):
            resolve_offered(bad, home=home, data_dir=data if bad != "x.csv" else None)
    assert shareable_path(str(home / "uploads" / UPLOAD)) == f"uploads/{UPLOAD}"
    assert shareable_path(str(data / "class" / "iris.csv"), data_dir=data) == "class/iris.csv"
    assert shareable_path("/home/ana/private/mine.csv") == "mine.csv"
