"""Between the experiment form's widgets and an ExperimentConfig, both ways.

Widgets are keyed `f:<dotted config path>`, so loading a config (a preset, a shared link)
is writing session state, and reading the form is validating those values.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from bnviz.config import ConfigError, ExperimentConfig, flat_settings

FAMILY_TITLES = {
    "mlp": "MLP (dense blocks)",
    "cnn": "CNN (conv blocks + dense head)",
    "mnist_cnn_a": "Tutorial: MNIST CNN, Adam (seed000)",
    "mnist_cnn_b": "Tutorial: MNIST CNN on raw pixels (seed002)",
    "cifar10_cnn": "Tutorial: CIFAR-10 CNN (seed003)",
}
PLACEMENT_HELP = {"none": "none", "before": "before the activation", "after": "after the activation"}
_LISTS = ("model.hidden", "model.filters")


def load_config_into_widgets(config: ExperimentConfig) -> None:
    """Make every widget show `config` (called before the widgets are drawn)."""
    for path, value in flat_settings(config.to_dict()).items():
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
        if dataset.get("name") not in ("npz", "csv"):
            dataset.pop("path", None)
        elif not dataset.get("path"):
            return None, f"Upload your .{dataset['name']} file first."
        if dataset.get("name") != "csv":
            dataset.pop("label_column", None)
        config = ExperimentConfig.from_dict(data)
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
        return None, str(exc)
    return config, None


def without_bn(config: ExperimentConfig) -> ExperimentConfig:
    """The comparison arm with no normalization anywhere."""
    return config.with_updates({"model.norm.placement": "none", "model.norm.on_input": False,
                                "model.norm.per_layer": {}})


def with_bn(config: ExperimentConfig) -> ExperimentConfig:
    """The BN arm: the config's own placement, or BN after the activation as the tutorials do."""
    if config.model.norm.enabled:
        return config
    return config.with_updates({"model.norm.placement": "after"})
