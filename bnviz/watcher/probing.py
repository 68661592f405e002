"""Probes of a user's fit(), taken off the training thread.

A probe (forward and backward on the probe batch, compiled on first use) costs a small model more than
its epoch: on the training thread, probing every epoch would slow a user's fit by half. Here the
training thread only copies the variables at the probe's moment (`Prober.snapshot`); one daemon
thread runs the probes on those copies, in order, and hands each to `emit`. At most `depth` probes
wait: a fit whose epochs outrun its probes waits for them instead of piling up copies of its weights.

The thread may be told to wait before its first probe (`started=False`, then `start()`): its first
probe traces and compiles the probe program, which on a small model costs more than the rest of the
probes together, and it would compete with fit's own first epoch, the compile of the training step.

The thread also keeps what probing cost so far (`spent`: the snapshots' seconds on the training thread
and the probes' on this one, the first probe's compile included) and what the latest probe after the
first cost (`last`: the first one's compile says nothing about the next ones), for
`probe_every="auto"`: a probe is taken when that stays within a budget of the fit's time (`affordable`).
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
                 fallback: Callable[[int], dict[str, Any]], tell: Callable[[str], None], depth: int = 2,
                 started: bool = True) -> None:
        self.prober, self._emit, self._fallback, self._tell = prober, emit, fallback, tell
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._go = threading.Event()  # set: probes are taken as they come; clear: they wait in the queue
        if started:
            self._go.set()
        self.failed = False
        self.probe_s, self.copy_s = 0.0, 0.0  # seconds in probes (this thread), in snapshots (the training one)
        self.last, self.taken = 0.0, 0  # the latest probe's seconds after the first; probes taken
        self._thread = threading.Thread(target=self._serve, name="bnviz-watch-probes", daemon=True)
        self._thread.start()

    def submit(self, epoch: int) -> None:
        """Copy the weights now and probe them soon (blocks while `depth` probes are still waiting)."""
        if self.failed:
            self._emit(self._fallback(epoch))
            return
        if self._queue.full():
            self.start()  # a waiting queue must drain, or the training thread would wait for ever
        start = time.perf_counter()
        try:
            snapshot = self.prober.snapshot()
        except Exception as exc:
            self._fail(exc)
            self._emit(self._fallback(epoch))
            return
        self.copy_s += time.perf_counter() - start
        self._queue.put((epoch, snapshot))

    @property
    def spent(self) -> float:
        """What probing cost this fit so far, in seconds."""
        return self.probe_s + self.copy_s

    @property
    def started(self) -> bool:
        return self._go.is_set()

    def start(self) -> None:
        """Begin probing what was submitted (nothing happens before, when made with started=False)."""
        self._go.set()

    def affordable(self, elapsed: float, budget: float) -> bool:
        """Whether one more probe keeps probing within `budget` of `elapsed` seconds of fit(): none is
        waiting, and what probes cost so far plus the latest one's cost is at most that share."""
        return self._queue.empty() and self.spent + self.last <= budget * elapsed

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted probe is emitted; True when they all were within `timeout`."""
        self.start()
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _serve(self) -> None:
        self._go.wait()
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
                took = time.perf_counter() - start
                self.probe_s += took
                if self.taken:  # the first one compiles: a one-off, no estimate of the next
                    self.last = took
                self.taken += 1
            self._emit(probe if probe is not None else self._fallback(epoch))

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        self._tell(f"probing failed ({type(exc).__name__}: {exc}); recording curves and γ/β only")
