"""Between the experiment form's widgets and an ExperimentConfig, both ways.

Widgets are keyed `f:<dotted config path>`, so loading a config (a preset, a shared link)
is writing session state, and reading the form is validating those values.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from bnviz.config import ConfigError, ExperimentConfig, flat_settings
from bnviz.data import registry
from bnviz.data.offered import NotOffered, check_offered, resolve_offered
from bnviz.settings import settings

FAMILY_TITLES = {
    "mlp": "MLP (dense blocks)",
    "cnn": "CNN (conv blocks + dense head)",
    "mnist_cnn_a": "Tutorial: MNIST CNN, Adam (seed000)",
    "mnist_cnn_b": "Tutorial: MNIST CNN on raw pixels (seed002)",
    "cifar10_cnn": "Tutorial: CIFAR-10 CNN (seed003)",
}
NORM_KIND_NAMES = {"batch": "BatchNorm", "layer": "LayerNorm", "group": "GroupNorm"}
PLACEMENT_HELP = {"none": "none", "before": "before the activation", "after": "after the activation"}
_LISTS = ("model.hidden", "model.filters")
# Widgets with a fixed range (sliders): a link's value outside it cannot be shown, only reported.
SLIDER_RANGES = {"dataset.noise": (0.0, 1.0), "dataset.n_classes": (2, 10), "model.dropout": (0.0, 0.9),
                 "training.momentum": (0.0, 0.99), "training.validation_split": (0.05, 0.5),
                 "instrument.bins": (8, 256)}
WEIGHT_SCALES = [0.01, 0.1, 0.5, 1.0, 2.0, 10.0]
EPSILONS = [1e-5, 1e-4, 1e-3, 1e-2]  # an order of magnitude per step; a link's other value is offered as well
_OPTIONAL_NUMBERS = ("dataset.n_train", "dataset.n_test")
# What the form calls each setting, for messages that name the field the way the page does.
LABELS = {
    "dataset.n_train": "Training examples", "dataset.n_test": "Test examples", "dataset.seed": "Data seed",
    "dataset.noise": "Noise", "model.dropout": "Dropout", "model.weight_scale": "Initial weight scale",
    "model.norm.momentum": "BN momentum", "model.norm.epsilon": "Epsilon", "model.norm.groups": "GroupNorm groups",
    "model.norm.noise": "Noisy BN",
    "training.learning_rate": "Learning rate", "training.momentum": "SGD momentum",
    "training.batch_size": "Batch size", "training.epochs": "Epochs", "training.seed": "Seed",
    "training.validation_split": "Validation split", "instrument.probe_size": "Probe batch size",
    "instrument.log_every": "Log every N batches", "instrument.bins": "Histogram bins",
    "instrument.landscape": "Loss landscape",
    "model.hidden": "Dense layer widths", "model.filters": "Conv filters per block",
}


def field_message(message: str) -> str:
    """A validation message with each dotted field also named as the form labels it."""
    lines = []
    for part in message.split("; "):
        path, sep, rest = part.partition(": ")
        label = LABELS.get(path)
        lines.append(f"**{label}** (`{path}`): {rest}" if sep and label else part)
    return "\n\n".join(lines)


def _showable(path: str, value: Any, default: Any) -> str | None:
    """Why a link's value cannot be put into its widget, or None if it can."""
    label = LABELS.get(path, path)
    if path in _LISTS:
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        return None if ok else f"{label}: {value!r} is not a list of whole numbers"
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"{label}: {value!r} is not on/off"
    if isinstance(default, (int, float)) or path in _OPTIONAL_NUMBERS:
        if value is None and path in _OPTIONAL_NUMBERS:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{label}: {value!r} is not a number"
        if path in SLIDER_RANGES:
            low, high = SLIDER_RANGES[path]
            if not low <= value <= high:
                return f"{label}: {value:g} is outside the form's range, {low:g} to {high:g}"
        if path == "model.weight_scale" and value not in WEIGHT_SCALES:
            return f"{label}: {value:g} is not one of {', '.join(f'{w:g}' for w in WEIGHT_SCALES)}"
        return None
    if isinstance(default, str):
        if not isinstance(value, str):
            return f"{label}: {value!r} is not text"
        try:
            ExperimentConfig().with_updates({path: value})
        except ConfigError as exc:
            return str(exc)
    return None


def load_settings_into_widgets(data: dict[str, Any]) -> list[str]:
    """Show a link's settings in the form, bad values included wherever a widget can hold them
    (so validation names them and Train stays off); returns what could not be shown."""
    defaults = flat_settings(ExperimentConfig().to_dict())
    wanted = {**defaults, **flat_settings(data)}
    problems, shown = [], {}
    file_problem = _file_problem(wanted)
    if file_problem:  # the dataset and its file are one setting: refused together, before anything is read
        problems.append(file_problem)
        for path in _FILE_SETTINGS:
            wanted[path] = defaults[path]
    for path, value in wanted.items():
        if path in _FILE_SETTINGS:
            shown[path] = value
            continue
        if path not in defaults:
            problems.append(f"{path}: unknown setting")
            continue
        if path == "model.norm.per_layer":
            if not isinstance(value, dict):
                problems.append(f"{path}: {value!r} is not a block -> placement map")
                continue
            shown[path] = value
            continue
        why = _showable(path, value, defaults[path])
        if why:
            problems.append(why)
            value = defaults[path]
        shown[path] = value
    _load_flat(shown)
    return problems


_FILE_SETTINGS = ("dataset.name", "dataset.path", "dataset.label_column")


def _file_problem(wanted: dict[str, Any]) -> str | None:
    """Why a link's dataset, file and label column cannot be shown together, or None. A shared
    link's relative path (`uploads/<content id>.csv`) becomes this server's file in `wanted`."""
    try:
        here = settings()
        file_path = wanted.get("dataset.path") if isinstance(wanted.get("dataset.path"), str) else None
        if file_path:
            wanted["dataset.path"] = resolve_offered(file_path, home=here.home, data_dir=here.data_dir)
        ExperimentConfig().with_updates({path: wanted.get(path) for path in _FILE_SETTINGS})
    except (NotOffered, ConfigError) as exc:
        return str(exc)
    return None


def load_config_into_widgets(config: ExperimentConfig) -> None:
    """Make every widget show `config` (called before the widgets are drawn)."""
    _load_flat(flat_settings(config.to_dict()))


def _load_flat(settings: dict[str, Any]) -> None:
    for path, value in settings.items():
        if path == "model.norm.per_layer":
            for key in [k for k in st.session_state if str(k).startswith("f:per_layer.")]:
                del st.session_state[key]
            for block, placement in value.items():
                st.session_state[f"f:per_layer.{block}"] = placement
            continue
        if path in _LISTS:
            value = ", ".join(str(v) for v in value)
        if path == "dataset.path" and value is None:
            st.session_state.pop("f:dataset.path", None)
            continue
        st.session_state[f"f:{path}"] = value


def _parse_widths(path: str, text: Any) -> list[int]:
    parts = [p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"{path}: write whole numbers separated by commas, e.g. 64, 32 (got {text!r})") from None


def collect_config() -> tuple[ExperimentConfig | None, str | None]:
    """The form's values as a validated config, or the reason they are not one."""
    data: dict[str, Any] = {}
    try:
        for key, value in st.session_state.items():
            key = str(key)
            if not key.startswith("f:") or key.startswith("f:per_layer."):
                continue
            path = key[2:]
            if path in _LISTS:
                value = _parse_widths(path, value)
            node = data
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        dataset = data.get("dataset", {})
        entry = dataset_entry(dataset.get("name"))  # None: validation below names the allowed datasets
        if entry is None or not entry.is_file:
            dataset.pop("path", None)
        elif not dataset.get("path"):
            return None, f"Upload your .{entry.name} file first."
        if entry is None or "label_column" not in entry.options:
            dataset.pop("label_column", None)
        config = ExperimentConfig.from_dict(data)
        home = settings()
        check_offered(config.dataset.path, home=home.home, data_dir=home.data_dir)  # before anything reads it
        st.session_state["_n_blocks"] = blocks = config.model.n_blocks
        per_layer = {}
        for key, value in st.session_state.items():
            if str(key).startswith("f:per_layer.") and value not in (None, "inherit"):
                block = int(str(key).split(".")[-1])
                if block <= blocks:
                    per_layer[block] = value
        if per_layer:
            config = config.with_updates({"model.norm.per_layer": per_layer})
    except ConfigError as exc:
        return None, field_message(str(exc))
    except NotOffered as exc:
        return None, str(exc)
    return config, None


def dataset_entry(name: Any) -> registry.DatasetEntry | None:
    """The registry's entry for the form's dataset, or None for a name it does not know."""
    return registry.get(name) if isinstance(name, str) and name in registry.REGISTRY else None


def without_bn(config: ExperimentConfig) -> ExperimentConfig:
    """The comparison arm with no normalization anywhere."""
    return config.with_updates({"model.norm.placement": "none", "model.norm.on_input": False,
                                "model.norm.per_layer": {}})


def with_bn(config: ExperimentConfig) -> ExperimentConfig:
    """The BN arm: the config's own placement, or BN after the activation as the tutorials do."""
    if config.model.norm.enabled:
        return config
    return config.with_updates({"model.norm.placement": "after"})
