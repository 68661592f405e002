"""`bnviz.watch`: one Keras callback that records a user's own fit() into the run store.

    model.fit(x, y, epochs=10, callbacks=[bnviz.watch(name="my-cnn", probe=(x[:256], y[:256]))])

The run appears on the dashboard like any other, live: curves, and on the probe batch every
normalization layer's input and output in training and inference mode, the activation beside it,
γ/β and the moving statistics, BN step by step and gradient norms (bnviz.watcher.graph reads the
model; bnviz.train.probes probes it without changing it). Watching never makes fit fail: whatever
goes wrong is said once on stderr and training goes on.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from typing import Any

import keras
import numpy as np
from pydantic import ValidationError

from bnviz.config import InstrumentConfig, describe_validation_error
from bnviz.events import EventKind
from bnviz.settings import settings
from bnviz.states import RunState
from bnviz.store import MAX_NAME
from bnviz.train import backends
from bnviz.train.callback import InstrumentCallback
from bnviz.train.models import param_counts
from bnviz.train.pace import Pace
from bnviz.train.probes import Prober, bn_params
from bnviz.watcher import describe
from bnviz.watcher.graph import SUPPORTED, NormInfo, Unsupported, normalization_layers, plan_for, readable
from bnviz.watcher.probing import ProbeThread
from bnviz.watcher.writer import StoreWriter, say

MAX_PROBE = 4096  # examples of the probe batch that are used (InstrumentConfig.probe_size's limit)
AUTO = "auto"  # probe_every: every epoch while probing stays within AUTO_BUDGET of the fit's time
# Measured (bench/bench_watch.py): a probe of the circles MLP costs its 24 ms epoch about 10 ms on JAX,
# and a probe every epoch made that fit 1.5x slower. The budget counts every probe, the first one's
# compile included, and the snapshots taken on the training thread.
AUTO_BUDGET = 0.03
# The first probe traces and compiles the probe program: 0.19 s of the interpreter on JAX and 0.26 s on
# TensorFlow for the circles MLP, taken from fit's first epoch (the compile of its training step) when
# it ran at once. With probe_every="auto" probes wait until the first epoch is over and the fit has run
# long enough for that to be within AUTO_BUDGET; a shorter fit is probed after training, in the
# background, once fit() has returned.
FIRST_PROBE_S = 0.2
FINISH_WAIT_S = 60.0  # how long the interpreter's exit waits for a run's last probes and its end
UNFINISHED = "the script stopped before fit() ended"


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


class WatchCallback(InstrumentCallback):
    """Records each fit() it is passed to as a new run of the run store (see the module docstring)."""

    async_safe = True  # its batch hook only queues an event: Keras may call it off the training thread

    def __init__(self, name: str | None = None, probe: tuple[Any, Any] | None = None, *, probe_every: int | str = AUTO,
                 log_every: int = 10, bins: int = 64, gradients: bool = True, notes: str = "",
                 dashboard_url: str | None = None, writer: StoreWriter | None = None) -> None:
        super().__init__(None, None, steps_per_epoch=1, epochs=1, batch_size=0, log_every=log_every)
        counted = isinstance(probe_every, int) and not isinstance(probe_every, bool) and probe_every >= 0
        if probe_every != AUTO and not counted:
            raise ValueError(f"probe_every must be 'auto' (the default), 0 (before and after training only) or a "
                             f"number of epochs, got {probe_every!r}")
        if probe is not None and (not isinstance(probe, (tuple, list)) or len(probe) != 2):
            raise ValueError("probe must be a pair (x, y) of arrays, e.g. probe=(x[:256], y[:256])")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            raise ValueError(f"name must be text of at most {MAX_NAME} characters")
        try:  # what is allowed, said before fit starts
            InstrumentConfig(log_every=log_every, bins=bins, gradients=gradients)
        except ValidationError as exc:
            raise ValueError(describe_validation_error(exc)) from None
        self.name, self.notes, self.probe_data = name, notes, probe
        self.probe_every, self.bins, self.gradients = probe_every, int(bins), bool(gradients)
        self.dashboard_url = dashboard_url
        self._make_writer = (lambda: writer) if writer is not None else StoreWriter
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self.writer: StoreWriter | None = None
        self.probing: ProbeThread | None = None
        self._finishers: list[threading.Thread] = []  # each writes one fit's last probes and its end
        self._exit_hook = False
        self.run_id: str | None = None
        self.active = False

    # --- one fit() = one run ----------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        self.active, self.run_id, self.diverged_at = False, None, None
        self.epoch = self.epochs_completed = self.global_step = 0
        self.pace = Pace()  # samples/s and the ETA over this fit (bnviz/train/pace.py)
        self._last_step, self._probed = 0, -1  # the last logged step; the last probed epoch
        self._last_logs: dict[str, float | None] = {}
        try:
            self._begin()
        except Exception as exc:  # a bug or an odd model must not stop the user's training
            self.tell(f"could not start watching ({type(exc).__name__}: {exc}); training goes on without recording")
            self.active = False

    def _begin(self) -> None:
        model, params = self.model, self.params or {}
        self._known_steps = bool(params.get("steps"))
        self.steps, self.epochs = max(1, int(params.get("steps") or 1)), max(1, int(params.get("epochs") or 1))
        self.prober, norms, activations = self._make_prober(model)
        self.norm_layers = [(n.name, n.layer) for n in norms]
        backend = keras.config.backend()
        gpus = backends.list_gpus(backend)
        self.device = f"GPU ({gpus[0]})" if gpus else "CPU"
        config = describe.script_config(
            model, norms=norms, activations=activations, epochs=self.epochs,
            steps=self.steps if self._known_steps else None,
            probe_size=len(self.prober.x) if self.prober else 0, log_every=self.log_every, bins=self.bins,
            gradients=self.gradients, probe_every=self.probe_every, backend=backend)
        self.writer = self._make_writer()
        self.run_id = self.writer.start(config, self.name or model.name, self.notes)
        if self.run_id is None:
            return
        base = (self.dashboard_url or settings().dashboard_url).rstrip("/")
        print(f"bnviz: watching run {self.run_id} at {base}/?run={self.run_id}", flush=True)
        self.sink, self.active, self._started = self.writer.put, True, time.perf_counter()
        sink = self.sink  # this fit's: its probes may still be written while the next fit runs
        self.probing = ProbeThread(self.prober, lambda probe: sink({"type": EventKind.PROBE, "probe": probe}),
                                   self._bare_probe, self.tell, started=self.probe_every != AUTO
                                   ) if self.prober is not None else None
        if not self._exit_hook:
            atexit.register(self._at_exit)
            self._exit_hook = True
        self.sink({"type": EventKind.START, "backend": backend, "device": self.device,
                   "params": param_counts(model), "layers": describe.layer_rows(model)})
        self._probe(0)

    def _make_prober(self, model: keras.Model) -> tuple[Prober | None, list[NormInfo], list[str]]:
        """The prober of this model, its normalization layers and hidden activations; what cannot be
        probed is said once and only curves and γ/β are recorded."""
        if self.probe_data is not None and isinstance(model, keras.Sequential) and not model.built:
            model.build((None, *np.shape(self.probe_data[0])[1:]))  # as fit() would on its first batch
        if self.probe_data is None:
            self.tell("no probe batch given: pass probe=(x[:256], y[:256]) to see histograms, BN step by step "
                      "and gradient norms; recording curves and γ/β only")
        try:
            plan, norms, activations = plan_for(model)
        except Unsupported as exc:
            if self.probe_data is not None or not readable(model):
                self.tell(f"{exc}: this run records its curves and γ/β only. Histograms, BN step by step and "
                          f"gradient norms need {SUPPORTED}.")
            found = [NormInfo(name, type(layer).__name__, "none", None, layer)
                     for name, layer in normalization_layers(model)]
            return None, found, []
        if self.probe_data is None:
            return None, norms, activations
        loss = getattr(model, "loss", None)
        loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss if callable(loss) else None
        if loss_fn is None:
            self.tell("the model's compiled loss is not one loss function: probes record no loss, accuracy or "
                      "gradients, only curves and γ/β")
            return None, norms, activations
        try:
            x, y = self._probe_arrays(model)
            settings_ = InstrumentConfig(probe_size=min(max(len(x), 8), MAX_PROBE), log_every=self.log_every,
                                         bins=self.bins, gradients=self.gradients)
            prober = Prober(model, x, y, loss_fn, settings_, plan=plan)
        except Exception as exc:
            self.tell(f"cannot probe this model ({type(exc).__name__}: {exc}); recording curves and γ/β only")
            return None, norms, activations
        prober.threshold = 0.0 if getattr(loss_fn, "from_logits", False) else 0.5
        return prober, norms, activations

    def _probe_arrays(self, model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
        """The probe batch as the model takes it: at most MAX_PROBE examples, floats in the input's
        dtype, labels with the output's rank where the loss would broadcast them otherwise."""
        x, y = (np.asarray(a)[:MAX_PROBE] for a in self.probe_data)
        if len(x) != len(y):
            raise ValueError(f"the probe's x and y differ in length ({len(x)} and {len(y)})")
        if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer):
            x = x.astype(model.inputs[0].dtype or "float32")
        out_shape = model.outputs[0].shape
        if y.ndim == len(out_shape) - 1 and out_shape[-1] == 1:
            y = y.reshape(*y.shape, 1)
        if np.issubdtype(y.dtype, np.floating):
            y = y.astype("float32")
        return x, y

    # --- during fit ---------------------------------------------------------------
    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if not self.active:
            return
        with self._lock:  # Keras may run batch hooks on a thread pool, several at once
            done = batch + 1 if not self._known_steps else min(batch + 1, self.steps)
            if not self._known_steps and self.epoch == 1:
                self.steps = max(self.steps, done)
            step = (self.epoch - 1) * self.steps + done
            loss = _float((logs or {}).get("loss"))
            if loss is not None and not math.isfinite(loss) and self.diverged_at is None:
                self.diverged_at = {"epoch": self.epoch, "batch": done}
            self.pace.mark(step)
            if (done % self.log_every == 0 or done == self.steps) and step > self._last_step:
                self._last_step = self.global_step = step
                self._emit_batch(done, loss, _float((logs or {}).get("accuracy")))

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if not self.active:
            return
        values = {k: _float(v) for k, v in (logs or {}).items()}
        self.epochs_completed, self._last_logs = epoch + 1, values
        self.sink({"type": EventKind.EPOCH, "epoch": epoch + 1, "logs": values, "progress": self.progress(self.steps)})
        bad = [k for k, v in values.items() if k.endswith("loss") and v is not None and not math.isfinite(v)]
        if bad and self.diverged_at is None:
            self.diverged_at = {"epoch": epoch + 1, "batch": self.steps}
        if self.probing is not None and not self.probing.started and (
                time.perf_counter() - self._started) * AUTO_BUDGET >= FIRST_PROBE_S:
            self.probing.start()
        if self._probe_due(epoch + 1):
            self._probe(epoch + 1)

    def _probe_due(self, epoch: int) -> bool:
        """The last epoch always; every `probe_every` epochs; or, for "auto", while affordable."""
        if epoch == self.epochs:
            return True
        if self.probe_every == AUTO:
            return self.probing is None or self.probing.affordable(time.perf_counter() - self._started, AUTO_BUDGET)
        return bool(self.probe_every) and epoch % self.probe_every == 0

    def on_train_end(self, logs=None) -> None:
        """Take the last probe's snapshot and return: the probes still waiting and the run's end are
        written by a background thread (`wait()` waits for it; so does the interpreter's exit)."""
        if not self.active:
            return
        if self._probed < self.epochs_completed:  # stopped early, or probe_every skipped the last epoch
            self._probe(self.epochs_completed)
        end = self._end_event(RunState.DIVERGED if self.diverged_at else RunState.SUCCEEDED, None)
        self.active = False
        finisher = threading.Thread(target=self._finish, args=(self.probing, self.writer, end),
                                    name="bnviz-watch-finish", daemon=True)
        finisher.start()
        self._finishers = [f for f in self._finishers if f.is_alive()] + [finisher]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (at most `timeout` seconds) until every fit's run is completely written, its last probes
        and its end; True when it is. fit() returns before that: the last probes take a moment."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for finisher in list(self._finishers):
            finisher.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(f.is_alive() for f in self._finishers)

    @staticmethod
    def _finish(probing: ProbeThread | None, writer: StoreWriter, end: dict[str, Any]) -> None:
        if probing is not None:
            probing.drain()
        writer.put(end)
        writer.close()

    def _end_event(self, status: str, error: str | None) -> dict[str, Any]:
        return {"type": EventKind.END, "status": status, "summary": {
            "final": {k: v for k, v in self._last_logs.items() if v is not None},
            "wall_time_s": round(time.perf_counter() - self._started, 3), "backend": keras.config.backend(),
            "device": self.device, "epochs_completed": self.epochs_completed, "diverged_at": self.diverged_at,
            "error": error}}

    def _at_exit(self) -> None:
        """The interpreter exits: wait for a finished fit's last writes, or, while fit() still runs (an
        exception, Ctrl-C), end the run as interrupted."""
        if self.active and self.writer is not None:
            self.active = False
            if self.probing is not None:
                self.probing.drain(timeout=10)
            self.sink(self._end_event(RunState.INTERRUPTED, UNFINISHED))
            self.writer.close(timeout=10)
        elif not self.wait(FINISH_WAIT_S):
            self.tell(f"stopped waiting after {FINISH_WAIT_S:.0f} s for run {self.run_id}'s last probes: "
                      "it may miss its end")

    def _probe(self, epoch: int) -> None:
        """A probe of the weights as they are now: taken off the training thread (bnviz.watcher.probing)."""
        self._probed = epoch
        if self.probing is not None:
            self.probing.submit(epoch)
        else:
            self.sink({"type": EventKind.PROBE, "probe": self._bare_probe(epoch)})

    def _bare_probe(self, epoch: int) -> dict[str, Any]:
        """What is recorded without a probe batch (or once probing failed): γ/β and the moving statistics."""
        try:
            params = bn_params(self.norm_layers)
        except Exception:  # variables being updated by the training thread (JAX holds them elsewhere then)
            params = {}
        empty = {"loss": None, "accuracy": None}
        return {"epoch": int(epoch), "positions": [], "gradients": {}, "bn_params": params,
                "probe_metrics": {"train_mode": dict(empty), "inference_mode": dict(empty)}}

    def tell(self, message: str) -> None:
        """Say a message on stderr, once per callback."""
        if message not in self._said:
            self._said.add(message)
            say(message)


def watch(name: str | None = None, probe: tuple[Any, Any] | None = None, **options: Any) -> WatchCallback:
    """A Keras callback that records fit() into the dashboard's run store (BNVIZ_HOME or
    BNVIZ_DATABASE_URL) and prints the run's link once. `probe=(x, y)`: the fixed batch every probe
    looks at (e.g. 256 training examples). Options: probe_every (default "auto": every epoch while
    probing takes at most 3 % of fit's time, as on any model whose epoch takes a second or more, less
    often on a tiny one; a number of epochs; 0 = only before and after training), log_every (batches
    between batch-loss points, default 10), bins, gradients, notes, dashboard_url (default
    BNVIZ_DASHBOARD_URL). fit() returns before the last probes and the run's end are written;
    `callback.wait()` waits for them, and so does the interpreter's exit."""
    return WatchCallback(name, probe, **options)
