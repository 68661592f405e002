"""The batch curve's points are each logged batch's own loss (`batch_loss`), not Keras' running mean
within the epoch: checked on real training against per-batch losses recorded independently."""

from __future__ import annotations

import pytest

from bnviz.train import callback as callback_module
from bnviz.train.training import train
from tests.conftest import tiny_config


def _train_spying(config, monkeypatch) -> tuple[dict, list[tuple[int, int, float, float]]]:
    """Train, keeping every (epoch, batch, running loss, running accuracy) Keras hands the callback."""
    seen: list[tuple[int, int, float, float]] = []
    original = callback_module.InstrumentCallback.on_train_batch_end

    def spy(self, batch, logs=None):
        seen.append((self.epoch, batch + 1, float(logs["loss"]), float(logs["accuracy"])))
        return original(self, batch, logs)

    monkeypatch.setattr(callback_module.InstrumentCallback, "on_train_batch_end", spy)
    record = train(config)
    monkeypatch.undo()
    assert record["status"] == "succeeded", record["summary"]["error"]
    return record, seen


def test_batch_loss_is_the_mean_of_the_batches_since_the_last_logged_one(monkeypatch):
    # 72 examples in batches of 16: 5 batches per epoch, the last one of 8 examples
    base = {"dataset.n_train": 72, "training.epochs": 2, "model.norm.placement": "before"}
    monkeypatch.setattr(callback_module, "MAX_FUSED_STEPS", 1)
    single, seen = _train_spying(tiny_config(**base, **{"instrument.log_every": 1}), monkeypatch)
    sizes = [16, 16, 16, 16, 8]
    own: dict[tuple[int, int], tuple[float, float]] = {}  # each batch's own loss and accuracy
    for epoch in (1, 2):
        running = [(b, loss, acc) for e, b, loss, acc in seen if e == epoch]
        assert [b for b, _, _ in running] == [1, 2, 3, 4, 5]
        total = prev_loss = prev_acc = 0.0
        for (b, loss, acc), size in zip(running, sizes, strict=True):
            seen_now = total + size
            own[(epoch, b)] = ((loss * seen_now - prev_loss) / size, (acc * seen_now - prev_acc) / size)
            total, prev_loss, prev_acc = seen_now, loss * seen_now, acc * seen_now
    for row in single["batches"]:
        loss, acc = own[(row["epoch"], row["batch"])]
        assert row["batch_loss"] == pytest.approx(loss, abs=1e-4)
        assert row["batch_accuracy"] == pytest.approx(acc, abs=1e-4)
    # the running mean is not the batch's own loss (the sawtooth the old curve drew)
    assert any(abs(r["loss"] - r["batch_loss"]) > 1e-3 for r in single["batches"] if r["batch"] > 1)

    # fused steps: a point every 3 batches covers batches 1-3, then 4-5 (16 + 8 examples)
    monkeypatch.setattr(callback_module, "MAX_FUSED_STEPS", 10)
    fused, _ = _train_spying(tiny_config(**base, **{"instrument.log_every": 3}), monkeypatch)
    assert [(r["epoch"], r["batch"]) for r in fused["batches"]] == [(1, 3), (1, 5), (2, 3), (2, 5)]
    for row in fused["batches"]:
        covered = [1, 2, 3] if row["batch"] == 3 else [4, 5]
        weights = [sizes[b - 1] for b in covered]
        expected = sum(own[(row["epoch"], b)][0] * w for b, w in zip(covered, weights, strict=True)) / sum(weights)
        assert row["batch_loss"] == pytest.approx(expected, abs=1e-4)
