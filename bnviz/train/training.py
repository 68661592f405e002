"""Train one experiment: data -> model -> fit (instrumented) -> evaluate -> run record.

This is the single training path. The CLI, the job service and the benchmarks all call
`train()`, so what the dashboard shows is exactly what a script gets.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.data.loading import Dataset, load_dataset
from bnviz.record import RunRecorder
from bnviz.states import RunState
from bnviz.train import backends, ordering
from bnviz.train.sink import Sink, StopRun, emit

PROBE_SEED = 20150211  # same probe examples for every run on a dataset, so runs compare


def prepare_labels(y, loss: str, n_classes: int):
    """Labels in the form the loss expects."""
    import numpy as np

    if loss == "binary_crossentropy":
        return np.asarray(y, dtype="float32").reshape(-1, 1)
    if loss == "categorical_crossentropy":
        return np.eye(n_classes, dtype="float32")[np.asarray(y, dtype="int64")]
    return np.asarray(y, dtype="int64")


def data_facts(data: Dataset) -> dict[str, Any]:
    """What the run actually trained on, for the record: counts can differ from the config's
    limits (your own files clamp a limit larger than the file, and say so in `notes`)."""
    return {"n_train": len(data.y_train), "n_test": len(data.y_test), "class_names": list(data.class_names),
            "split": data.split, "notes": list(data.notes)}


def probe_indices(n: int, size: int):
    import numpy as np

    rng = np.random.default_rng(PROBE_SEED)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def probe_extras(model, data: Dataset) -> dict[str, Any]:
    """Probe fields the Prober does not record itself: the decision boundary (2-D inputs only)."""
    from bnviz.train import boundary

    extras = {"boundary": boundary.recorder_for(model, data.x_train, data.x_test)}
    return {name: recorder for name, recorder in extras.items() if recorder is not None}


def train(config: ExperimentConfig, *, sink: Sink | None = None, stop_event: threading.Event | None = None,
          dataset: Dataset | None = None, run_id: str | None = None,
          model_path: str | None = None) -> dict[str, Any]:
    """Train `config` and return its run record; events also go to `sink` as they happen.

    `stop_event` is checked after every group of fused batches (at most `instrument.log_every`
    batches, see callback.fused_steps): setting it ends the run as cancelled,
    keeping everything recorded so far. With `model_path`, a finished model is saved there
    as a `.keras` file. The run trains on `config.training.backend`, which must be the backend
    of this process (or keras not imported yet); otherwise it fails with the reason.
    """
    recorder = RunRecorder(config.to_dict(), run_id)
    backend, device_name = config.training.backend, None

    def publish(event: dict[str, Any]) -> None:
        recorder(event)
        emit(sink, event)

    started = time.perf_counter()
    status, error, callback, data = RunState.SUCCEEDED, None, None, None
    try:
        backends.activate(backend)
        device_name = backends.configure(backend=backend)
        import keras

        from bnviz.train import landscape, models
        from bnviz.train.callback import InstrumentCallback, fused_steps
        from bnviz.train.probes import Prober

        # --- data --------------------------------------------------------------
        data = dataset or load_dataset(config.dataset)
        t = config.training
        loss_name = models.resolve_loss(config, data.n_classes)
        y_train = prepare_labels(data.y_train, loss_name, data.n_classes)
        y_test = prepare_labels(data.y_test, loss_name, data.n_classes)

        # --- model -------------------------------------------------------------
        backends.seed_everything(t.seed, backend)
        model = models.build_model(config, data.input_shape, data.n_classes)
        publish({"type": "start", "backend": backend, "device": device_name, "params": models.param_counts(model),
                 "layers": models.layer_table(model)})

        # --- fit, instrumented -------------------------------------------------------
        x_fit, y_fit = data.x_train, y_train
        fit_kwargs: dict[str, Any] = {}
        if t.validation == "test":
            fit_kwargs["validation_data"] = (data.x_test, y_test)
        elif t.validation == "split":
            (x_fit, y_fit), fit_kwargs["validation_data"] = ordering.split_validation(x_fit, y_fit,
                                                                                      t.validation_split)
        n_fit = len(x_fit)
        steps = math.ceil(n_fit / t.batch_size)
        fused = fused_steps(config.instrument.log_every, steps, backends.fuses_steps(backend))
        model.compile(optimizer=models.make_optimizer(config), loss=loss_name, metrics=["accuracy"],
                      steps_per_execution=fused)
        idx = probe_indices(n_fit, config.instrument.probe_size)
        loss_fn = keras.losses.get(loss_name)
        prober = Prober(model, data.x_train[idx], y_train[idx], loss_fn, config.instrument)
        extras = probe_extras(model, data)
        measure = landscape.recorder_for(config, model, data.x_train[idx], y_train[idx], loss_fn)
        if measure is not None:  # the same probe batch
            extras["landscape"] = measure
        callback = InstrumentCallback(prober, publish, steps_per_epoch=steps, epochs=t.epochs,
                                      batch_size=t.batch_size, log_every=config.instrument.log_every,
                                      stop_event=stop_event, extras=extras,
                                      examples_per_epoch=n_fit)
        try:
            # A new order every epoch, from the run's seed, on every backend (see ordering)
            batches, set_epoch = ordering.epoch_batches(x_fit, y_fit, batch_size=t.batch_size, seed=t.seed,
                                                        backend=backend)
            model.fit(batches, epochs=t.epochs, shuffle=False, callbacks=[set_epoch, callback], verbose=0,
                      **fit_kwargs)
        except StopRun as stop:
            status = stop.status

        # --- evaluate ------------------------------------------------------------
        final = {k: v[-1] for k, v in recorder.record["history"].items() if v}
        if status == RunState.SUCCEEDED and t.validation == "test" and "val_loss" in final:
            # The last validation already evaluated the final weights on the test set: reuse it
            # (another evaluate() would compile a second evaluation program for nothing).
            final.update({f"test_{k[4:]}": v for k, v in list(final.items()) if k.startswith("val_")})
        elif status == RunState.SUCCEEDED:
            test = model.evaluate(data.x_test, y_test, batch_size=max(t.batch_size, 256), verbose=0,
                                  return_dict=True)
            final.update({f"test_{k}": float(v) for k, v in test.items()})
        if model_path and status in (RunState.SUCCEEDED, RunState.CANCELLED):
            model.save(model_path)
    except Exception as exc:
        status, error = RunState.FAILED, str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        final = {}
    publish({"type": "end", "status": status, "summary": {
        "final": final,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "backend": backend,
        "device": device_name,
        "epochs_completed": callback.epochs_completed if callback else 0,
        "diverged_at": callback.diverged_at if callback else None,
        "error": error,
        **({"data": data_facts(data)} if data is not None else {}),
    }})
    return recorder.record

