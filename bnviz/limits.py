"""What one run may cost this server, and who may start one: checked from the config, before anything is built.

A link can carry any config the form accepts (`hidden=[4096]*32`, 10,000 epochs, batches of one), and
building that model just to show its summary would already cost gigabytes. So the cost is computed here
from the config alone, with arithmetic (`bnviz.layer_plan` walks the same plan `build_model` builds):
parameters, float32 activations of one batch, and the run's work (epochs × training examples). Each
limit it exceeds is one line naming the field, the value and the limit. The Experiment page shows them
and keeps Train off; `JobManager.submit` refuses them; a teacher (BNVIZ_ADMIN_KEY) and the gallery's
server-made configs may exceed them. Who may train at all (BNVIZ_WHO_MAY_TRAIN) is the rule below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bnviz.config import ExperimentConfig
from bnviz.data import registry
from bnviz.data.source import DatasetError
from bnviz.errors import UserError
from bnviz.layer_plan import planned_layers
from bnviz.settings import Settings, settings

__all__ = ["BYTES_PER_VALUE", "Cost", "DataShape", "OverBudget", "TrainingNotAllowed", "check", "check_may_train",
           "cost", "data_shape", "problems", "refusal", "time_limit_message"]

BYTES_PER_VALUE = 4  # float32
MB = 1024 * 1024


class OverBudget(UserError):
    """A run this server's per-run limits refuse; the message has one line per limit it exceeds."""


class TrainingNotAllowed(UserError):
    """This visitor may not start runs on this server (BNVIZ_WHO_MAY_TRAIN)."""


@dataclass(frozen=True)
class DataShape:
    """What the model's size depends on in the data: one example's shape, the classes, the training examples.

    `None` where it is unknown without reading a file (your own npz/csv)."""

    input_shape: tuple[int, ...] | None = None
    n_classes: int | None = None
    n_train: int | None = None


@dataclass(frozen=True)
class Cost:
    """What a run would cost; None where it cannot be known from the config (an unread file, a model
    that cannot be built: its own error says why, when it is built)."""

    params: int | None
    activation_bytes: int | None
    batch: int  # the largest batch the run pushes through the model: a training batch or the probe batch
    epochs: int
    examples: int | None  # training examples

    @property
    def work(self) -> int | None:
        return None if self.examples is None else self.epochs * self.examples

    @property
    def activation_mb(self) -> float | None:
        return None if self.activation_bytes is None else self.activation_bytes / MB


def data_shape(config: ExperimentConfig, *, read_files: bool = False) -> DataShape:
    """The data facts the registry knows; with `read_files`, your own file is read (cached) for the rest.

    A file that cannot be read gives what is known without it: training says what is wrong with it."""
    entry = registry.get(config.dataset.name)
    known = entry.known_shape(config.dataset)
    shape, classes = known if known is not None else (None, None)
    n_train = config.dataset.n_train or entry.n_train
    if entry.is_file and read_files and config.dataset.path:
        from bnviz.data.uploads import inspect_upload

        try:
            summary = inspect_upload(config.dataset.path, config.dataset.name, config.dataset.label_column,
                                     seed=config.dataset.seed, n_train=config.dataset.n_train,
                                     n_test=config.dataset.n_test)
        except (DatasetError, OSError):
            return DataShape(None, None, config.dataset.n_train)
        return DataShape(tuple(summary.shape[1:]), len(summary.class_names), summary.n_train)
    if entry.is_file:
        n_train = config.dataset.n_train  # an upper limit: the file may hold fewer
    return DataShape(shape, classes, n_train)


def cost(config: ExperimentConfig, data: DataShape | None = None) -> Cost:
    """The run's cost from its config (and `data` where the config cannot say); nothing is built."""
    data = data if data is not None else data_shape(config)
    batch = max(config.training.batch_size, config.instrument.probe_size)
    params = activations = None
    if data.input_shape is not None and data.n_classes is not None:
        try:
            layers = planned_layers(config, data.input_shape, data.n_classes)
        except ValueError:  # a model Keras would refuse too: the model summary says why
            layers = None
        if layers is not None:
            params = sum(layer.params for layer in layers)
            values = math.prod(data.input_shape) + sum(math.prod(layer.output_shape) for layer in layers)
            activations = values * batch * BYTES_PER_VALUE
    return Cost(params, activations, batch, config.training.epochs, data.n_train)


def problems(config: ExperimentConfig, data: DataShape | None = None, limits: Settings | None = None) -> list[str]:
    """One line per per-run limit the config exceeds (field, value, limit); empty when it fits."""
    limits = limits or settings()
    spent = cost(config, data)
    found = []
    if spent.params is not None and spent.params > limits.max_params:
        found.append(f"model: {spent.params:,} parameters; this server allows at most {limits.max_params:,}")
    if spent.activation_mb is not None and spent.activation_mb > limits.max_activation_mb:
        which = ("training.batch_size" if spent.batch == config.training.batch_size else "instrument.probe_size")
        found.append(f"{which}: a batch of {spent.batch:,} needs about {math.ceil(spent.activation_mb):,} MB of "
                     f"activations in this model; this server allows at most {limits.max_activation_mb:,} MB")
    if spent.work is not None and spent.work > limits.max_run_work:
        found.append(f"training.epochs × training examples: {spent.epochs:,} × {spent.examples:,} = "
                     f"{spent.work:,}; this server allows at most {limits.max_run_work:,}")
    return found


def check(config: ExperimentConfig, data: DataShape | None = None, *, lift: bool = False) -> None:
    """Raise OverBudget naming every per-run limit the config exceeds, unless `lift` (a teacher, the gallery)."""
    if lift:
        return
    found = problems(config, data)
    if found:
        raise OverBudget("This run is too big for this server: " + "; ".join(found))


def refusal(*, signed_in: bool, teacher: bool, limits: Settings | None = None) -> str | None:
    """Why this visitor may not start runs (one sentence), or None when they may."""
    who = (limits or settings()).who_may_train
    if teacher or who == "everyone" or (who == "signed_in" and signed_in):
        return None
    if who == "signed_in":
        return "On this server only signed-in users may train: sign in to start runs. You can still watch every run."
    return ("On this server only teachers may start runs (students watch): a teacher enters the admin key under "
            "Teacher access. You can still watch every run.")


def check_may_train(*, signed_in: bool, teacher: bool) -> None:
    """Raise TrainingNotAllowed when BNVIZ_WHO_MAY_TRAIN does not let this visitor start runs."""
    reason = refusal(signed_in=signed_in, teacher=teacher)
    if reason is not None:
        raise TrainingNotAllowed(reason)


def time_limit_message(seconds: int) -> str:
    """The reason a run stopped by BNVIZ_MAX_RUN_SECONDS carries in its summary (`summary.error`)."""
    return f"stopped at this server's time limit ({seconds:,} s)"
