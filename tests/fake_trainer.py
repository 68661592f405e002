"""A fast stand-in for bnviz.train.training.train with the same signature and events, for UI tests.

Trained by the `fake_worker` fixture (tests/conftest.py). BNVIZ_FAKE_EPOCH_S sets how long an
epoch takes, so live views can be watched.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from bnviz.record import RunRecorder
from tests.fakes import make_fake_record


def train(config, *, sink=None, stop_event=None, dataset=None, run_id=None, model_path=None) -> dict[str, Any]:
    epochs = config.training.epochs
    fake = make_fake_record(blocks=len(config.model.hidden) if config.model.family == "mlp" else 2,
                            epochs=epochs, activation=config.model.activation, seed=config.training.seed)
    recorder = RunRecorder(config.to_dict(), run_id)
    delay = float(os.environ.get("BNVIZ_FAKE_EPOCH_S", "0"))

    def publish(event):
        recorder(event)
        if sink is not None:
            sink(event)

    publish({"type": "start", "device": "CPU", "params": fake["summary"]["params"], "layers": []})
    publish({"type": "probe", "probe": fake["probes"][0]})
    status = "succeeded"
    for epoch in range(1, epochs + 1):
        for batch in (b for b in fake["batches"] if b["epoch"] == epoch):
            if stop_event is not None and stop_event.is_set():
                status = "cancelled"
                break
            time.sleep(delay / 4)
            progress = {"epoch": epoch, "epochs": epochs, "batch": batch["batch"], "steps": 20,
                        "fraction": batch["step"] / (20 * epochs), "samples_per_s": 1000.0, "eta_s": 1.0}
            publish({"type": "batch", **batch, "progress": progress})
        if status != "succeeded":
            break
        publish({"type": "epoch", "epoch": epoch,
                 "logs": {k: v[epoch - 1] for k, v in fake["history"].items()}, "progress": progress})
        publish({"type": "probe", "probe": fake["probes"][epoch]})
    final = {k: v[-1] for k, v in recorder.record["history"].items() if v}
    if status == "succeeded":
        final["test_accuracy"] = final.get("val_accuracy")
    publish({"type": "end", "status": status, "summary": {
        "final": final, "wall_time_s": 0.1, "device": "CPU", "epochs_completed": len(recorder.record["history"].get(
            "loss", [])), "diverged_at": None, "error": None}})
    return recorder.record


# --- misbehaving runs, for real worker processes (`python -m bnviz worker --trainer tests.fake_trainer:misbehaving`)

EAT_MEMORY_SEED = 9001  # a run with this training seed allocates memory until its worker is stopped
STALL_SEED = 9002  # a run with this training seed records its start, then nothing (its heartbeat goes on)
MEMORY_CAP_MB = 2048  # the greedy run stops growing here, so a broken supervisor fails a test, not the machine


def misbehaving(config, *, sink=None, stop_event=None, dataset=None, run_id=None, model_path=None) -> dict[str, Any]:
    """`train`, except for the two seeds above."""
    seed = config.training.seed
    if seed not in (EAT_MEMORY_SEED, STALL_SEED):
        return train(config, sink=sink, stop_event=stop_event, run_id=run_id)
    if sink is not None:
        sink({"type": "start", "device": "CPU", "params": {"total": 1, "trainable": 1, "non_trainable": 0},
              "layers": []})
    held = []
    while stop_event is None or not stop_event.is_set():
        if seed == EAT_MEMORY_SEED and len(held) * 32 < MEMORY_CAP_MB:
            held.append(np.ones(32 << 20, dtype=np.uint8))  # written, so resident
        time.sleep(0.05)
    return {"status": "cancelled", "summary": {"error": None}}
