"""The trust boundary: what a visitor's link, form or run name can make the server read or show.

Each test is an attack from issue 20, as the exact input, refused with one clear line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bnviz.data.offered import REFUSED, NotOffered, check_offered
from tests.apptest_helpers import (
    BASE,
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
    stored_run,
)

SECRET = "password,label\nhunter2,1\nswordfish,0\n"


def _csv_config(path: str):
    return BASE.with_updates({"dataset.name": "csv", "dataset.path": path, "dataset.label_column": "label"})


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secrets" / "keys.csv"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def _upload(home: Path, name: str = "0123456789abcdef01234567.csv") -> Path:
    path = home / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    return path


def test_a_link_naming_a_server_file_is_refused_without_reading_it(secret: Path) -> None:
    """Attack 1: a `?cfg=` link whose dataset path names any .csv on the server's disk."""
    for path in (str(secret), str(secret.parent / "missing.csv"), f"{os.environ['BNVIZ_HOME']}/../secrets/keys.csv"):
        at = open_app(cfg=_csv_config(path).encode()).run()
        assert not at.exception
        shown = " ".join(e.value for e in at.error)
        assert REFUSED in shown, shown  # the same words whether the file exists or not: nothing to probe
        assert "hunter2" not in str(at) and "password" not in " ".join(str(df.value) for df in at.dataframe)
        train = next(b for b in at.button if b.label == "Train")
        assert train.disabled


def test_the_job_api_refuses_what_the_server_does_not_offer(tmp_path: Path, secret: Path) -> None:
    from bnviz.jobs import JobManager
    from bnviz.settings import settings
    from bnviz.store import RunStore

    home = settings().home
    manager = JobManager(RunStore(home))
    with pytest.raises(NotOffered, match="uploaded to it"):
        manager.submit(_csv_config(str(secret)))
    upload = _upload(home)
    assert manager.submit(_csv_config(str(upload))).run_id  # an upload, by its content id
    assert manager.submit(_csv_config(str(secret)), local_files=True).run_id  # a script on its own machine


def test_paths_escaping_the_offered_folders_are_refused(tmp_path: Path, secret: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    upload = _upload(home)
    data.mkdir()
    (data / "mine.csv").write_text(SECRET)
    link = home / "uploads" / "fedcba9876543210fedcba98.csv"
    link.symlink_to(secret)  # a link inside the uploads folder that points outside it
    check_offered(str(upload), home=home, data_dir=None)
    check_offered(str(data / "mine.csv"), home=home, data_dir=data)
    for bad in (str(secret), str(home / "uploads" / ".." / ".." / "secrets" / "keys.csv"), str(link),
                str(home / "uploads" / "notes.csv"), str(data / ".." / "secrets" / "keys.csv"), "/etc/passwd",
                "uploads/x\x00.csv"):
        with pytest.raises(NotOffered) as caught:
            check_offered(bad, home=home, data_dir=data)
        assert str(caught.value) == REFUSED


@pytest.mark.parametrize("name", ["![p](http://host/pixel.png)", "<img src=http://host/p.png> :red[big]"])
def test_a_run_name_is_shown_as_text(name: str) -> None:
    """Attack 6: a run name rendered as Markdown made every viewer's browser fetch an outside image."""
    run_id = stored_run(name=name)
    at = open_app("run", run=run_id).run()
    assert not at.exception
    title = at.title[0].value
    assert "](" not in title.replace("\\](", "") and "<img" not in title
    assert title.replace("\\", "").replace("&lt;", "<").replace("&gt;", ">") == name
