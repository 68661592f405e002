"""The Keras callback that turns a fit() into a stream of events for live views."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import keras

from bnviz.train.pace import Pace
from bnviz.train.probes import Prober
from bnviz.train.sink import Sink, StopRun, emit

__all__ = ["InstrumentCallback", "Sink", "StopRun", "emit"]  # Sink, StopRun, emit: bnviz.train.sink, kept here

MAX_FUSED_STEPS = 10


class InstrumentCallback(keras.callbacks.Callback):
    """Records batch metrics, epoch metrics and probes, and honours a stop flag after every
    executed group of batches (see `fused_steps`).

    A NaN/inf loss ends the run as *diverged* before garbage reaches any chart.
    """

    def __init__(self, prober: Prober | None, sink: Sink | None, *, steps_per_epoch: int, epochs: int,
                 batch_size: int, log_every: int = 10, stop_event: threading.Event | None = None,
                 extras: dict[str, Callable[[], Any]] | None = None, examples_per_epoch: int | None = None) -> None:
        super().__init__()
        self.examples = examples_per_epoch or max(1, steps_per_epoch) * batch_size
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
        self.pace = Pace(min_steps=min(self.steps, 50))  # samples/s and the ETA (bnviz/train/pace.py)
        self._logged: tuple[int, dict[str, float]] = (0, {})  # examples, sums at the epoch's last logged batch

    # --- lifecycle -----------------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        self._probe(0)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch + 1
        self._logged = (0, {})

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        # With fused steps (steps_per_execution) Keras calls this once per group, with the group's
        # last step, which for the last group of an epoch may lie past its end.
        done = min(batch + 1, self.steps)
        self.global_step = (self.epoch - 1) * self.steps + done
        self.pace.mark(self.global_step)
        loss = _to_float((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            self.diverged_at = {"epoch": self.epoch, "batch": done}
            raise StopRun("diverged")
        if self.stop_event is not None and self.stop_event.is_set():
            raise StopRun("cancelled")
        if done % self.log_every == 0 or done == self.steps:
            self._emit_batch(done, loss, _to_float((logs or {}).get("accuracy")))

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
        emit(self.sink, {"type": "batch", "epoch": self.epoch, "batch": batch, "step": self.global_step,
                         "loss": loss, "accuracy": accuracy, **self._own_means(batch, loss=loss, accuracy=accuracy),
                         "progress": self.progress(batch)})

    def _own_means(self, batch: int, **running: float | None) -> dict[str, float | None]:
        """`batch_loss`, `batch_accuracy`: the mean over exactly the batches since the epoch's previous
        logged batch. Keras logs running means within the epoch, weighted by examples, so with N_j
        examples seen at the previous logged batch and N_k now: (mean_k·N_k − mean_j·N_j) / (N_k − N_j),
        the examples-weighted mean of those batches' own values (their plain mean when all are full)."""
        seen, sums = self._logged
        now = min(batch * self.batch_size, self.examples)
        out: dict[str, float | None] = {}
        new_sums: dict[str, float] = {}
        for name, mean in running.items():
            if mean is None or not math.isfinite(mean) or now <= seen or (seen and name not in sums):
                out[f"batch_{name}"] = None
                continue
            new_sums[name] = mean * now
            out[f"batch_{name}"] = (new_sums[name] - sums.get(name, 0.0)) / (now - seen)
        self._logged = (now, new_sums)
        return out

    def progress(self, batch: int) -> dict[str, Any]:
        done = (self.epoch - 1) * self.steps + batch
        remaining = self.epochs * self.steps - done
        return {
            "epoch": self.epoch,
            "epochs": self.epochs,
            "batch": batch,
            "steps": self.steps,
            "fraction": round(done / (self.epochs * self.steps), 4),
            "samples_per_s": self.pace.samples_per_s(self.batch_size),
            "eta_s": self.pace.eta_s(remaining),
        }


def fused_steps(log_every: int, steps_per_epoch: int, fuse: bool = True) -> int:
    """Batches per compiled execution (Keras' steps_per_execution): the largest divisor of `log_every`
    up to MAX_FUSED_STEPS (1 where the backend cannot fuse, see backends.fuses_steps). Batch events still
    come every `log_every` batches, exactly as without fusing, while the per-batch Python work of
    small models (a third of a circles epoch on TensorFlow) is done once per group; cancelling and
    divergence are noticed per group."""
    limit = max(1, min(MAX_FUSED_STEPS if fuse else 1, steps_per_epoch))
    return max(d for d in range(1, limit + 1) if log_every % d == 0)


def _to_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
