"""What the process-level and browser tests share: waiting for a condition, reading a run's
stored row, and what a run interrupted by a killed worker must keep."""

from __future__ import annotations

import time

import pytest


def wait_for(predicate, timeout: float = 120, what: str = "the condition", every: float = 0.05, seen=None):
    """Poll `predicate` until it returns something truthy (returned), failing the test after `timeout` s
    (with `seen()`, what was there instead, in the message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f": {seen()}" if seen else ""))
        time.sleep(every)


def stored_row(store, run_id: str, columns: str) -> tuple:
    """Columns of a run's row in the store, read directly (pid, worker, timestamps...)."""
    with store.read_transaction() as con:
        return con.execute(f"SELECT {columns} FROM runs WHERE id=?", (run_id,)).fetchone()


def assert_interrupted_keeping_its_epochs(store, run_id: str, at_least: int = 2) -> None:
    """A run whose worker was killed ends interrupted with every epoch it finished, and says why."""
    record = store.get_record(run_id)
    epochs = len(record["history"]["loss"])
    assert epochs >= at_least and record["summary"]["epochs_completed"] == epochs
    assert "interrupted" in record["summary"]["error"]
