"""Run ids: random and well-formed; anything else is refused before it reaches SQL or a path."""

from __future__ import annotations

import secrets

import pytest

from bnviz.cli import main
from bnviz.ids import RUN_ID_LENGTH, InvalidRunId, is_run_id, new_run_id, validate_run_id


def _fit(text: str) -> str:
    """Pad or cut to the id length, so only the characters are wrong."""
    return (text + "A" * RUN_ID_LENGTH)[:RUN_ID_LENGTH]


BAD_IDS = [
    "../../etc/passwd",
    _fit("../../../../../../../x"),  # right length, still a traversal
    _fit("..\\..\\windows\\x"),
    _fit("AAAAAAA/BBBBBBBB"),
    _fit("/AAAAAAAAAAAAAAA"),
    _fit("AAAAAAA.AAAAAAAA"),
    "A" * (RUN_ID_LENGTH - 1) + "\x00",
    "A" * (RUN_ID_LENGTH - 1) + "\n",
    _fit("' OR '1'='1' --xxxxxxxxxxxx"),
    _fit("x'; DROP TABLE runs;--"),
    "x'; DROP TABLE runs;--" + "A" * 30,
    _fit('AAAAAAA"AAAAAAAA'),
    _fit("AAAAAAA AAAAAAAA"),
    _fit("AAAAAAA%2FAAAAAA"),
    _fit("-AAAAAAAAAAAAAAA"),  # would read as a command-line option
    "А" * RUN_ID_LENGTH,  # Cyrillic look-alikes
    "",
    "A" * (RUN_ID_LENGTH - 1),
    "A" * (RUN_ID_LENGTH + 1),
    "A" * 10_000,
    "A" * 1_000_000,
]


def test_new_ids_are_fixed_length_url_safe_and_distinct():
    assert len(secrets.token_urlsafe(16)) == RUN_ID_LENGTH
    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000
    for run_id in ids:
        assert len(run_id) == RUN_ID_LENGTH
        assert validate_run_id(run_id) == run_id
        assert run_id[0].isalnum()


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda s: repr(s[:20]))
def test_bad_ids_are_rejected_with_a_short_one_line_message(bad):
    with pytest.raises(InvalidRunId) as info:
        validate_run_id(bad)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    assert not is_run_id(bad)


@pytest.mark.parametrize("bad", [None, 12345, b"AAAAAAAAAAAAAAAA", ["AAAAAAAAAAAAAAAA"]])
def test_non_text_ids_are_rejected(bad):
    with pytest.raises(InvalidRunId, match="must be text"):
        validate_run_id(bad)


def test_invalid_run_id_is_a_value_error():
    assert issubclass(InvalidRunId, ValueError)


def test_store_and_manager_validate_before_touching_anything(database, tmp_path):
    from bnviz.jobs import JobManager
    from bnviz.jobs.queue import RunQueue
    from bnviz.store import RunStore

    store = RunStore(tmp_path / "home")
    manager = JobManager(store=store)
    queue = RunQueue(store)
    calls = [store.get_record, store.delete, store.model_path, store.export_csv, store.status,
             lambda i: store.rename(i, "x"), lambda i: store.set_status(i, "failed"),
             lambda i: store.append_event(i, {"type": "batch"}), manager.snapshot, manager.cancel,
             manager.queue_position, manager.delete, manager.forget, queue.request_cancel, queue.position]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for bad in ("../../etc/passwd", "x'; DROP TABLE runs;--", "A" * 100_000):
        for call in calls:
            with pytest.raises(InvalidRunId):
                call(bad)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert store.list_runs() == []
    store.close()


@pytest.mark.parametrize("command", ["show", "export", "delete"])
def test_cli_bad_ids_exit_2_with_one_line(command, capsys):
    assert main(["runs", command, "../../etc/passwd"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnviz: error: not a run id") and "\n" not in err


def test_cli_unknown_id_exits_2(capsys):
    assert main(["runs", "show", new_run_id()]) == 2
    assert "no run with id" in capsys.readouterr().err
