"""The Keras callback that turns a fit() into a stream of events for live views."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import keras

from bnviz.probes import Prober

Sink = Callable[[dict[str, Any]], None] | queue.Queue


class StopRun(Exception):
    """Raised inside fit() to leave it at once (cancel or divergence)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def emit(sink: Sink | None, event: dict[str, Any]) -> None:
    if sink is None:
        return
    if isinstance(sink, queue.Queue):
        sink.put(event)
    else:
        sink(event)


class InstrumentCallback(keras.callbacks.Callback):
    """Records batch metrics, epoch metrics and probes, and honours a stop flag every batch.

    A NaN/inf loss ends the run as *diverged* before garbage reaches any chart.
    """

    def __init__(self, prober: Prober | None, sink: Sink | None, *, steps_per_epoch: int, epochs: int,
                 batch_size: int, log_every: int = 10, stop_event: threading.Event | None = None,
                 extras: dict[str, Callable[[], Any]] | None = None) -> None:
        super().__init__()
        self.prober = prober
        self.extras = extras or {}  # more probe fields: name -> recorder (boundary, bn_steps)
        self.sink = sink
        self.steps = max(1, steps_per_epoch)
        self.epochs = epochs
        self.batch_size = batch_size
        self.log_every = max(1, log_every)
        self.stop_event = stop_event
        self.diverged_at: dict[str, int] | None = None
        self.epoch = 0
        self.global_step = 0
        self.epochs_completed = 0
        self._epoch_start = 0.0
        self._rate = 0.0
        self._fit_start: float | None = None  # first batch of the run: the ETA's clock
        self._eta: float | None = None

    # --- lifecycle -----------------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        self._probe(0)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch + 1
        self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        if self._fit_start is None:
            self._fit_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.global_step += 1
        loss = _to_float((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            self.diverged_at = {"epoch": self.epoch, "batch": batch + 1}
            raise StopRun("diverged")
        if self.stop_event is not None and self.stop_event.is_set():
            raise StopRun("cancelled")
        if (batch + 1) % self.log_every == 0 or batch + 1 == self.steps:
            self._emit_batch(batch + 1, loss, _to_float((logs or {}).get("accuracy")))

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        values = {k: _to_float(v) for k, v in (logs or {}).items()}
        self.epochs_completed = epoch + 1
        emit(self.sink, {"type": "epoch", "epoch": epoch + 1, "logs": values,
                         "progress": self.progress(self.steps)})
        if any(v is not None and not math.isfinite(v) for k, v in values.items() if k.endswith("loss")):
            self.diverged_at = {"epoch": epoch + 1, "batch": self.steps}
            raise StopRun("diverged")
        self._probe(epoch + 1)

    # --- helpers -------------------------------------------------------------------
    def _probe(self, epoch: int) -> None:
        if self.prober is not None:
            probe = self.prober.probe(epoch)
            probe.update((name, record()) for name, record in self.extras.items())
            emit(self.sink, {"type": "probe", "probe": probe})

    def _emit_batch(self, batch: int, loss: float | None, accuracy: float | None) -> None:
        elapsed = time.perf_counter() - self._epoch_start
        if elapsed > 0:  # samples/s of this epoch's batches so far (excludes probes and validation)
            self._rate = batch * self.batch_size / elapsed
        emit(self.sink, {"type": "batch", "epoch": self.epoch, "batch": batch, "step": self.global_step,
                         "loss": loss, "accuracy": accuracy, "progress": self.progress(batch)})

    def progress(self, batch: int) -> dict[str, Any]:
        done = (self.epoch - 1) * self.steps + batch
        remaining = self.epochs * self.steps - done
        return {
            "epoch": self.epoch,
            "epochs": self.epochs,
            "batch": batch,
            "steps": self.steps,
            "fraction": round(done / (self.epochs * self.steps), 4),
            "samples_per_s": round(self._rate, 1),
            "eta_s": self._smoothed_eta(done, remaining),
        }

    def _smoothed_eta(self, done: int, remaining: int) -> float | None:
        """Seconds left from the whole run's pace so far (probes and validation included),
        smoothed so it counts down steadily instead of jumping with each epoch's first batches."""
        if self._fit_start is None or done <= 0:
            return None
        raw = (time.perf_counter() - self._fit_start) / done * remaining
        self._eta = raw if self._eta is None else 0.7 * self._eta + 0.3 * raw
        self._eta = min(self._eta, raw * 2 + 1) if remaining else 0.0
        return round(self._eta, 1)


def _to_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
