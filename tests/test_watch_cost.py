"""What `bnviz.watch` costs a fit: probes on a budget of the fit's time, and a probe compiled once per machine.

No wall-clock assertions: the budget's arithmetic is checked with the costs set by hand, and the
compiled program's cache by its file and its numbers.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bnviz.watcher import callback
from bnviz.watcher.probing import ProbeThread


class StubProber:
    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def snapshot(self):
        return ([], [])

    def probe(self, epoch, snapshot=None):
        time.sleep(self.seconds)
        return {"epoch": epoch}


def test_the_first_probe_compiles_so_its_cost_is_not_a_measure_of_the_next():
    emitted = []
    thread = ProbeThread(StubProber(0.02), emitted.append, lambda e: {"epoch": e}, print)
    thread.submit(0)
    thread.submit(1)
    thread.drain(timeout=30)
    assert [p["epoch"] for p in emitted] == [0, 1]
    assert thread.taken == 2 and thread.last >= 0.02  # the estimate of the next: the second probe's cost
    assert thread.spent >= thread.last + 0.02  # what probing cost: both, the first one's compile included


def test_probes_told_to_wait_wait_until_started_and_a_full_queue_starts_them():
    emitted = []
    thread = ProbeThread(StubProber(), emitted.append, lambda e: {"epoch": e}, print, depth=2, started=False)
    thread.submit(0)
    time.sleep(0.2)
    assert emitted == [] and not thread.started  # the first probe waits (fit's first epoch compiles)
    thread.submit(1)
    thread.submit(2)  # the queue was full: waiting longer would block training, so probing starts
    assert thread.started
    thread.drain(timeout=30)
    assert [p["epoch"] for p in emitted] == [0, 1, 2]


def test_auto_probes_while_probing_stays_within_its_share_of_the_fit():
    thread = ProbeThread(StubProber(), lambda p: None, lambda e: {"epoch": e}, print)
    thread.probe_s, thread.copy_s, thread.last = 0.15, 0.05, 0.01
    assert thread.affordable(elapsed=10.0, budget=0.03)  # 0.21 s of 0.30 s allowed
    assert not thread.affordable(elapsed=6.0, budget=0.03)  # 0.21 s of 0.18 s allowed
    thread.drain(timeout=30)


@pytest.mark.parametrize(("every", "affordable", "probed"), [
    ("auto", True, [1, 2, 3, 4, 5]),
    ("auto", False, [5]),  # a tiny model's epochs: only the last one (and the one before training)
    (2, False, [2, 4, 5]),
    (0, True, [5]),
])
def test_which_epochs_are_probed(every, affordable, probed):
    class Probing:
        def affordable(self, elapsed, budget):
            assert budget == callback.AUTO_BUDGET
            return affordable

    watcher = callback.WatchCallback(probe_every=every)
    watcher.epochs, watcher.probing, watcher._started = 5, Probing(), time.perf_counter()
    assert [e for e in range(1, 6) if watcher._probe_due(e)] == probed


def test_probe_every_says_what_is_allowed():
    for wrong in ("sometimes", -1, 1.5, True):
        with pytest.raises(ValueError, match="'auto' .* 0 .* number of epochs"):
            callback.WatchCallback(probe_every=wrong)
    assert callback.WatchCallback().probe_every == "auto"


def test_a_probe_program_compiled_once_is_read_back_by_the_next_fit(tmp_path):
    pytest.importorskip("jax")
    import jax.numpy as jnp

    from bnviz.train.probe_cache import cached_jit

    def summarise(weights, x):
        return {"mean": jnp.mean(x @ weights), "norm": jnp.sqrt(jnp.sum(weights ** 2))}

    weights, x = np.arange(6, dtype="float32").reshape(3, 2), np.ones((4, 3), dtype="float32")
    first = cached_jit(summarise, {}, tmp_path)(weights, x)
    files = list(tmp_path.glob("*.xla"))
    assert len(files) == 1
    again = cached_jit(summarise, {}, tmp_path)(weights, x)  # a new fit: read from the file
    assert {k: float(v) for k, v in again.items()} == {k: float(v) for k, v in first.items()}
    assert float(first["mean"]) == pytest.approx(float(np.mean(x @ weights)))

    files[0].write_bytes(b"not a program")  # a damaged file is compiled again, not trusted
    damaged = cached_jit(summarise, {}, tmp_path)(weights, x)
    assert float(damaged["norm"]) == pytest.approx(float(np.sqrt((weights ** 2).sum())))
