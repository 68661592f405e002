"""Every sentence the app writes about a run follows a written rule over that run's numbers and is
silent when the rule does not hold (issue 22): the BN warm-up note, rule by rule."""

from __future__ import annotations

from bnviz.report.readings import steps_per_epoch, warmup_note

LAGGING = {"loss": [0.9, 0.7, 0.55, 0.45, 0.4], "accuracy": [0.6, 0.7, 0.78, 0.82, 0.85],
           "val_loss": [0.8, 0.95, 1.1, 0.9, 0.5], "val_accuracy": [0.49, 0.49, 0.5, 0.7, 0.84]}


def _record(history=LAGGING, *, placement="after", momentum=0.99, n_train=500, batch_size=32,
            probe_lag: float | None = 0.05, batches=None) -> dict:
    epochs = len(history["loss"])
    probes = [] if probe_lag is None else [
        {"epoch": e, "positions": [], "probe_metrics": {"train_mode": {"loss": 0.5, "accuracy": 0.8},
                                                         "inference_mode": {"loss": 0.6, "accuracy": 0.8 - probe_lag}}}
        for e in range(epochs + 1)]
    return {"config": {"dataset": {"name": "circles", "n_train": n_train},
                       "model": {"norm": {"placement": placement, "momentum": momentum}},
                       "training": {"batch_size": batch_size, "validation": "test"}},
            "history": history, "batches": batches or [], "probes": probes,
            "summary": {"data": {"n_train": n_train}}}


def test_it_names_the_epochs_where_bn_is_warming_up_and_validation_lags():
    note = warmup_note(_record())
    assert note is not None and "epochs 1–4" in note and "momentum 0.99" in note and "about 100 batches" in note


def test_silent_without_batch_norm():
    assert warmup_note(_record(placement="none")) is None


def test_silent_when_validation_beat_training_every_epoch():
    # validation loss rises while training loss falls (the old rule fired on that alone)
    history = {**LAGGING, "val_accuracy": [a + 0.01 for a in LAGGING["accuracy"]]}
    assert warmup_note(_record(history)) is None


def test_silent_after_warm_up():
    # 500 examples / 32 = 16 batches an epoch; with momentum 0.9, 1 - 0.9^16 = 0.81 after epoch 1 and
    # 0.97 after epoch 2: only epoch 1 is warming up
    note = warmup_note(_record(momentum=0.9))
    assert note is not None and "In epoch 1 " in note
    # momentum 0.5: warm after the first epoch's batches, so the lag is something else
    assert warmup_note(_record(momentum=0.5)) is None
    # bigger data: the same lag in epoch 1 comes after BN had 2,000 batches to warm up
    assert warmup_note(_record(n_train=64_000)) is None


def test_silent_when_the_probes_show_the_moving_statistics_already_agree():
    assert warmup_note(_record(probe_lag=0.0)) is None
    assert warmup_note(_record(probe_lag=None)) is not None  # no probes recorded: rules 1-4 decide


def test_silent_when_the_batches_per_epoch_are_unknown():
    record = _record()
    record["config"]["dataset"].pop("n_train")
    record["summary"] = {}
    assert steps_per_epoch(record) is None and warmup_note(record) is None


def test_batches_per_epoch_come_from_the_logged_batches_first():
    logged = [{"epoch": 1, "batch": 10}, {"epoch": 1, "batch": 20}, {"epoch": 2, "batch": 20}]
    assert steps_per_epoch(_record(batches=logged)) == 20
    assert steps_per_epoch(_record()) == 16
