"""Training events without TensorFlow: realistic-size probes and a fake trainer.

`synthetic_events` yields what bnviz.train.training.train emits (start, probe 0, batches,
epoch, probe, ..., end) with probes of the documented shape and realistic size (values
rounded to 6 significant digits like the real prober). `FakeTrainer` has train()'s
signature, so a JobManager (or a UI test) can run "jobs" in milliseconds.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from bnviz.record import RunRecorder

KINDS = ("bn_input", "bn_output", "bn_output_inference", "pre_activation", "activation",
         "bn_input", "bn_output")


def _r(value: float) -> float:
    return float(f"{value:.6g}")


@functools.lru_cache(maxsize=64)
def _edges(top: float, bins: int) -> tuple[float, ...]:
    return tuple(_r(-top + 2 * top * j / bins) for j in range(bins + 1))


def _stats(rng: np.random.Generator, loc: float, scale: float) -> dict[str, float | None]:
    return {"mean": _r(loc), "std": _r(scale), "min": _r(loc - 3.2 * scale), "max": _r(loc + 3.4 * scale),
            "p15": _r(loc - scale), "p50": _r(loc + 0.01 * rng.normal()), "p85": _r(loc + scale),
            "unit_mean_abs": _r(abs(rng.normal(0, 0.2))), "unit_std": _r(scale * rng.uniform(0.8, 1.0)),
            "saturated": None, "dead": None}


def _summary(rng: np.random.Generator) -> dict[str, float]:
    mean = rng.normal(0, 1)
    return {"mean": _r(mean), "std": _r(abs(rng.normal(0.5, 0.1))), "min": _r(mean - 2), "max": _r(mean + 2)}


def synthetic_probe(epoch: int, *, blocks: int = 10, per_block: int = 7, bins: int = 64, values: int = 12_800,
                    seed: int = 0) -> dict[str, Any]:
    """One probe: `blocks` x `per_block` positions (+ input and output), histograms of `values` samples."""
    rng = np.random.default_rng(seed * 1_000_003 + epoch)
    centers = np.arange(bins) + 0.5
    positions = []
    layout = [(0, "input", "input")] + [(b, f"dense{b}_{k}", KINDS[k % len(KINDS)])
                                        for b in range(1, blocks + 1) for k in range(per_block)]
    layout.append((-1, "output", "output"))
    for i, (block, layer, kind) in enumerate(layout):
        top = 2.0 ** (i % 4)  # fixed per position, like the real ladder
        edges = list(_edges(top, bins))
        loc, scale = rng.normal(0, 0.2 + 0.01 * epoch) * top / 4, top / 4 * rng.uniform(0.8, 1.2)
        x = (-top + 2 * top * centers / bins - loc) / scale
        density = np.exp(-0.5 * x * x)
        counts = rng.multinomial(values, density / density.sum())
        positions.append({"layer": layer, "block": block, "kind": kind,
                          "hist": {"edges": edges, "counts": counts.tolist(),
                                   "below": int(rng.integers(0, 3)), "above": int(rng.integers(0, 3))},
                          "stats": _stats(rng, loc, scale)})
    grads = {f"dense{b}": _r(abs(rng.normal(0.1, 0.05))) for b in range(1, blocks + 1)}
    grads["output"] = _r(abs(rng.normal(0.3, 0.1)))
    params = {f"dense{b}_bn": {k: _summary(rng) for k in ("gamma", "beta", "moving_mean", "moving_variance")}
              for b in range(1, blocks + 1)}
    acc = min(0.99, 0.5 + 0.005 * epoch)
    return {"epoch": epoch, "positions": positions, "gradients": grads, "bn_params": params,
            "probe_metrics": {"train_mode": {"loss": _r(1 / (1 + epoch)), "accuracy": _r(acc)},
                              "inference_mode": {"loss": _r(1.1 / (1 + epoch)), "accuracy": _r(acc - 0.01)}}}


def _progress(epoch: int, epochs: int, batch: int, steps: int) -> dict[str, Any]:
    done = (epoch - 1) * steps + batch
    return {"epoch": epoch, "epochs": epochs, "batch": batch, "steps": steps,
            "fraction": round(done / (epochs * steps), 4), "samples_per_s": 1000.0,
            "eta_s": round((epochs * steps - done) * 0.01, 1)}


def synthetic_events(epochs: int = 100, *, blocks: int = 10, per_block: int = 7, bins: int = 64,
                     steps: int = 50, log_every: int = 5, status: str = "succeeded",
                     seed: int = 0) -> Iterator[dict[str, Any]]:
    """The events of a whole run, in the order train() emits them."""
    shape = {"blocks": blocks, "per_block": per_block, "bins": bins, "seed": seed}
    yield {"type": "start", "device": "CPU",
           "params": {"total": 25_000, "trainable": 24_000, "non_trainable": 1000},
           "layers": [{"name": f"dense{b}", "type": "Dense", "output_shape": [None, 50], "params": 2550}
                      for b in range(1, blocks + 1)]}
    yield {"type": "probe", "probe": synthetic_probe(0, **shape)}
    rng = np.random.default_rng(seed)
    logs: dict[str, float] = {}
    for epoch in range(1, epochs + 1):
        for batch in range(log_every, steps + 1, log_every):
            step = (epoch - 1) * steps + batch
            yield {"type": "batch", "epoch": epoch, "batch": batch, "step": step,
                   "loss": float(np.float32(1 / (1 + step / steps) + 0.01 * rng.normal())),
                   "accuracy": float(np.float32(min(0.99, 0.5 + step / (steps * epochs) / 2))),
                   "progress": _progress(epoch, epochs, batch, steps)}
        logs = {"accuracy": float(np.float32(0.5 + epoch / epochs / 2)),
                "loss": float(np.float32(1 / (1 + epoch))),
                "val_accuracy": float(np.float32(0.49 + epoch / epochs / 2)),
                "val_loss": float(np.float32(1.1 / (1 + epoch)))}
        yield {"type": "epoch", "epoch": epoch, "logs": logs,
               "progress": _progress(epoch, epochs, steps, steps)}
        yield {"type": "probe", "probe": synthetic_probe(epoch, **shape)}
    yield {"type": "end", "status": status, "summary": {
        "final": dict(logs), "wall_time_s": 12.5, "device": "CPU", "epochs_completed": epochs,
        "diverged_at": None, "error": None}}


class FakeTrainer:
    """Stands in for bnviz.train.training.train: same signature, small synthetic events, no TensorFlow.

    `gate` (an Event) holds every run before its first event; `batch_delay` slows batches so
    a test can cancel mid-run; `fail` raises inside the trainer. `calls` lists run ids in the
    order training started.
    """

    def __init__(self, *, gate: threading.Event | None = None, batch_delay: float = 0.0, steps: int = 4,
                 fail: str | None = None) -> None:
        self.gate, self.batch_delay, self.steps, self.fail = gate, batch_delay, steps, fail
        self.calls: list[str | None] = []
        self._lock = threading.Lock()

    def __call__(self, config, *, sink=None, stop_event=None, dataset=None, run_id=None, model_path=None):
        with self._lock:
            self.calls.append(run_id)
        if self.gate is not None:
            self.gate.wait(30)
        if self.fail:
            raise RuntimeError(self.fail)
        recorder = RunRecorder(config.to_dict(), run_id)

        def publish(event: dict[str, Any]) -> None:
            recorder(event)
            if sink is not None:
                sink(event)

        epochs, steps = config.training.epochs, self.steps
        started = time.perf_counter()
        publish({"type": "start", "device": "CPU (fake)", "params": {"total": 1, "trainable": 1,
                                                                      "non_trainable": 0}, "layers": []})
        publish({"type": "probe", "probe": _small_probe(0)})
        status, done = "succeeded", 0
        for epoch in range(1, epochs + 1):
            for batch in range(1, steps + 1):
                time.sleep(self.batch_delay)
                if stop_event is not None and stop_event.is_set():
                    status = "cancelled"
                    break
                publish({"type": "batch", "epoch": epoch, "batch": batch, "step": (epoch - 1) * steps + batch,
                         "loss": 1.0 / (epoch + batch), "accuracy": 0.5,
                         "progress": _progress(epoch, epochs, batch, steps)})
            if status != "succeeded":
                break
            publish({"type": "epoch", "epoch": epoch, "progress": _progress(epoch, epochs, steps, steps),
                     "logs": {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 100}})
            publish({"type": "probe", "probe": _small_probe(epoch)})
            done = epoch
        if model_path and status == "succeeded":
            with open(model_path, "wb") as fh:
                fh.write(b"fake keras model")
        final = {k: v[-1] for k, v in recorder.record["history"].items() if v}
        publish({"type": "end", "status": status, "summary": {
            "final": final, "wall_time_s": round(time.perf_counter() - started, 3), "device": "CPU (fake)",
            "epochs_completed": done, "diverged_at": None, "error": None}})
        return recorder.record


def _small_probe(epoch: int) -> dict[str, Any]:
    return synthetic_probe(epoch, blocks=1, per_block=2, bins=8, values=64)


def record_of(events: list[dict[str, Any]], config: dict[str, Any],
              run_id: str | None = None) -> dict[str, Any]:
    """What RunRecorder makes of these events: the reference a store must reproduce."""
    recorder = RunRecorder(config, run_id)
    for event in events:
        recorder(event)
    return recorder.record


def steps_for(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
