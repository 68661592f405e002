"""What a watched script's run stores as its config and model summary.

A script's run has no ExperimentConfig: the model is the user's own. Its config (`origin: "script"`,
docs/run-record.md) keeps the sections the pages read (dataset, model, training, instrument) and
fills them with what the script's fit actually used, so the Run, Runs and Compare pages show it
like any other run. Nothing in it is guessed: what bnviz cannot know is null.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import keras

from bnviz.record import ORIGIN_SCRIPT

SCRIPT_DATA = "script data"  # the dataset column of a script's run: its data is the script's own


def _number(value: Any) -> float | None:
    try:
        number = float(keras.ops.convert_to_numpy(value))
    except Exception:
        return None
    return float(f"{number:.6g}") if math.isfinite(number) else None


def loss_name(loss: Any) -> str | None:
    """The compiled loss as a name: "binary_crossentropy", a Loss object's name, a function's name."""
    if isinstance(loss, str):
        return loss
    if loss is None or isinstance(loss, (dict, list, tuple)):
        return None
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def placement_of(norms: list) -> str:
    """none (no normalization), before or after (every one on the same side of its activation), else mixed."""
    if not norms:
        return "none"
    sides = {n.placement for n in norms}
    return sides.pop() if len(sides) == 1 and sides != {"none"} else "mixed"


def norm_section(norms: list) -> dict[str, Any]:
    """The config's model.norm: where normalization sits, its kind, and every layer by its author's name."""
    batch = [n.layer for n in norms if n.kind == "BatchNormalization"]
    kinds = {n.kind for n in norms}
    kind = "batch" if batch else ("layer" if kinds == {"LayerNormalization"} else
                                  "group" if kinds == {"GroupNormalization"} else "mixed" if kinds else "batch")

    def same(attr: str) -> Any:
        values = {getattr(layer, attr, None) for layer in batch}
        return values.pop() if len(values) == 1 else None

    return {
        "placement": placement_of(norms), "kind": kind,
        "momentum": same("momentum"), "epsilon": same("epsilon"), "center": same("center"), "scale": same("scale"),
        "on_input": False, "per_layer": {},
        "layers": [{"name": n.name, "type": n.kind, "placement": n.placement, "activation": n.activation}
                   for n in norms],
    }


def script_config(model: keras.Model, *, norms: list, activations: list[str], epochs: int, steps: int | None,
                  probe_size: int, log_every: int, bins: int, gradients: bool, probe_every: int | str,
                  backend: str) -> dict[str, Any]:
    """The config a script's run is stored with (see the module docstring)."""
    optimizer = getattr(model, "optimizer", None)
    common = Counter(activations).most_common(1)
    inputs = getattr(model, "inputs", None) or []
    shape = list(inputs[0].shape[1:]) if len(inputs) == 1 else None
    return {
        "origin": ORIGIN_SCRIPT,
        "dataset": {"name": SCRIPT_DATA, "input_shape": shape},
        "model": {"family": ORIGIN_SCRIPT, "name": model.name, "class": type(model).__name__,
                  "activation": common[0][0] if common else "none", "norm": norm_section(norms)},
        "training": {
            "optimizer": type(optimizer).__name__.lower() if optimizer is not None else None,
            "learning_rate": _number(getattr(optimizer, "learning_rate", None)) if optimizer is not None else None,
            "batch_size": None, "epochs": int(epochs), "steps_per_epoch": steps, "seed": None,
            "loss": loss_name(getattr(model, "loss", None)), "validation": ORIGIN_SCRIPT, "backend": backend,
        },
        "instrument": {"probe_size": probe_size, "log_every": log_every, "bins": bins, "gradients": gradients,
                       "probe_every": probe_every},
    }


def layer_rows(model: keras.Model) -> list[dict[str, Any]]:
    """The model summary as data (name, type, output shape, parameters), for any model."""
    rows = []
    for layer in getattr(model, "layers", None) or []:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            shape = list(layer.output.shape)
        except Exception:  # never called on symbolic tensors (a subclassed model's layers)
            shape = None
        try:
            params = int(layer.count_params())
        except Exception:
            params = 0
        rows.append({"name": layer.name, "type": type(layer).__name__, "output_shape": shape, "params": params})
    return rows

