"""Probes of a user's fit(), taken off the training thread.

A probe (forward and backward on the probe batch, compiled on first use) costs a small model more than
its epoch: on the training thread, probing every epoch would slow a user's fit by half. Here the
training thread only copies the variables at the probe's moment (`Prober.snapshot`); one daemon
thread runs the probes on those copies, in order, and hands each to `emit`. At most `depth` probes
wait: a fit whose epochs outrun its probes waits for them instead of piling up copies of its weights.

The thread also keeps what probing cost so far (`spent`, wall seconds inside probes after the first,
whose one-off compile says nothing about the next ones), for `probe_every="auto"`: a probe is taken
when that stays within a budget of the fit's time (`affordable`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from bnviz.train.probes import Prober


class ProbeThread:
    """Runs `prober.probe(epoch, snapshot)` on its own thread; `fallback(epoch)` when a probe fails."""

    def __init__(self, prober: Prober, emit: Callable[[dict[str, Any]], None],
                 fallback: Callable[[int], dict[str, Any]], tell: Callable[[str], None], depth: int = 2) -> None:
        self.prober, self._emit, self._fallback, self._tell = prober, emit, fallback, tell
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.failed = False
        self.spent, self.last, self.taken = 0.0, 0.0, 0  # seconds inside probes after the first; the latest's
        self._thread = threading.Thread(target=self._serve, name="bnviz-watch-probes", daemon=True)
        self._thread.start()

    def submit(self, epoch: int) -> None:
        """Copy the weights now and probe them soon (blocks while `depth` probes are still waiting)."""
        if self.failed:
            self._emit(self._fallback(epoch))
            return
        try:
            snapshot = self.prober.snapshot()
        except Exception as exc:
            self._fail(exc)
            self._emit(self._fallback(epoch))
            return
        self._queue.put((epoch, snapshot))

    def affordable(self, elapsed: float, budget: float) -> bool:
        """Whether one more probe keeps probing within `budget` of `elapsed` seconds of fit(): none is
        waiting, and what probes cost so far plus the latest one's cost is at most that share."""
        return self._queue.empty() and self.spent + self.last <= budget * elapsed

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted probe is emitted; True when they all were within `timeout`."""
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            epoch, snapshot = item
            probe = None
            if not self.failed:
                start = time.perf_counter()
                try:
                    probe = self.prober.probe(epoch, snapshot)
                except Exception as exc:
                    self._fail(exc)
                if self.taken:  # the first one compiles: a one-off
                    self.last = time.perf_counter() - start
                    self.spent += self.last
                self.taken += 1
            self._emit(probe if probe is not None else self._fallback(epoch))

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        self._tell(f"probing failed ({type(exc).__name__}: {exc}); recording curves and γ/β only")
