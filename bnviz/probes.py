"""Looking inside the network on one fixed probe batch, without changing it.

A probe runs the model twice on the same batch:

* in training mode through `Model.stateless_call`, which computes BN with batch
  statistics and *returns* the updated moving statistics instead of assigning them,
  so the model is left exactly as it was; the loss of this pass gives per-layer
  gradient norms;
* in inference mode, where BN uses its moving statistics.

Every recorded position is summarised as a histogram with fixed bins plus a few
statistics, small enough to store after every epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from bnviz.config import InstrumentConfig
from bnviz.models import blocks

SATURATING = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}
DEAD_PRONE = {"relu"}
_MAX_PERCENTILE_SAMPLES = 200_000
MAX_ROWS = 8192  # feature-map positions kept per tensor: 256 images x 26 x 26 would be 173,056


@dataclass(frozen=True)
class Position:
    """One recorded place in the network: which tensor, and what it means."""

    layer: str
    block: int
    kind: str
    tensor: int  # index into the probe model's outputs
    activation: str | None = None  # for saturation / dead-unit statistics
    inference: bool = False  # read from the inference-mode pass


def _round(value: float) -> float | None:
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {"mean": _round(values.mean()), "std": _round(values.std()),
            "min": _round(values.min()), "max": _round(values.max())}


class Prober:
    """Probes one model on one batch; keeps histogram edges fixed across probes."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray, loss_fn,
                 settings: InstrumentConfig | None = None) -> None:
        self.model = model
        self.settings = settings or InstrumentConfig()
        self.x = tf.constant(x)
        self.y = tf.constant(y)
        self.y_np = np.asarray(y)
        self.loss_fn = loss_fn
        self._ranges: dict[tuple[str, str], tuple[float, float, int]] = {}
        self._rng = np.random.default_rng(0)
        self.positions, tensors = self._plan()
        self.probe_model = keras.Model(model.inputs, tensors, name="bnviz_probe")
        self._layer_of = {id(v): v.path.split("/")[0] for v in self.probe_model.trainable_variables}
        self._run = tf.function(self._both_passes, reduce_retracing=True)

    # --- which tensors -------------------------------------------------------------
    def _plan(self) -> tuple[list[Position], list]:
        model = self.model
        tensors: list = []
        index: dict[str, int] = {}

        def tensor_of(key: str, tensor) -> int:
            if key not in index:
                index[key] = len(tensors)
                tensors.append(tensor)
            return index[key]

        positions: list[Position] = []
        block_of_layer: dict[str, int] = {}
        for info in blocks(model):
            block_of_layer[info.name] = info.number
            act_layer = model.get_layer(info.activation)
            act_name = act_layer.get_config().get("activation")
            act_name = act_name if isinstance(act_name, str) else None
            pre = tensor_of(act_layer.name + ":in", act_layer.input)
            positions.append(Position(act_layer.name, info.number, "pre_activation", pre, act_name))
            out = tensor_of(act_layer.name, act_layer.output)
            positions.append(Position(act_layer.name, info.number, "activation", out, act_name))

        # Every normalization layer, in model order, is recorded on both sides.
        current_block = 0
        for layer in model.layers:
            name = layer.name
            root = name.split("_")[0]
            if root in block_of_layer:
                current_block = block_of_layer[root]
            if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
                block = 0 if name == "input_bn" else current_block
                t_in = tensor_of(name + ":in", layer.input)
                t_out = tensor_of(name, layer.output)
                positions.append(Position(name, block, "bn_input", t_in))
                positions.append(Position(name, block, "bn_output", t_out))
                if isinstance(layer, keras.layers.BatchNormalization):
                    positions.append(Position(name, block, "bn_output_inference", t_out, inference=True))

        out = tensor_of("output", model.output)
        positions.insert(0, Position("input", 0, "input", tensor_of("input", model.inputs[0])))
        positions.append(Position("output", -1, "output", out))
        self._output_index = out
        self._infer_needed = sorted({p.tensor for p in positions if p.inference} | {out})
        return positions, tensors

    # --- the two passes ----------------------------------------------------------
    def _both_passes(self, x, y):
        trainable = [v.value for v in self.probe_model.trainable_variables]
        non_trainable = [v.value for v in self.probe_model.non_trainable_variables]
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            train_out, _ = self.probe_model.stateless_call(trainable, non_trainable, x, training=True)
            loss = tf.reduce_mean(self.loss_fn(y, train_out[self._output_index]))
        grads = tape.gradient(loss, trainable) if self.settings.gradients else []
        infer_all = self.probe_model(x, training=False)
        infer_out = [_rows(infer_all[i]) for i in self._infer_needed]
        return [_rows(t) for t in train_out], infer_out, grads

    def probe(self, epoch: int) -> dict:
        """Record every position at this point of training; the model is not modified."""
        train_out, infer_out, grads = self._run(self.x, self.y)
        train_np = [t.numpy() for t in train_out]
        infer_np = dict(zip(self._infer_needed, (t.numpy() for t in infer_out)))

        positions = []
        for pos in self.positions:
            values = (infer_np if pos.inference else train_np)[pos.tensor]
            positions.append(self._describe(pos, values))

        return {
            "epoch": int(epoch),
            "positions": positions,
            "gradients": self._gradient_norms(grads),
            "bn_params": self._bn_params(),
            "probe_metrics": {
                "train_mode": self._metrics(train_np[self._output_index]),
                "inference_mode": self._metrics(infer_np[self._output_index]),
            },
        }

    # --- summaries -----------------------------------------------------------------
    def _edges(self, pos: Position, flat: np.ndarray) -> tuple[float, float, int]:
        key = (pos.layer, pos.kind)
        if key not in self._ranges:
            self._ranges[key] = histogram_range(flat, pos, self.settings.bins)
        return self._ranges[key]

    def _describe(self, pos: Position, values: np.ndarray) -> dict:
        values = np.asarray(values, dtype=np.float32)
        units = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
        flat = units.reshape(-1)
        if not np.isfinite(flat).all():
            flat = flat[np.isfinite(flat)]
            units = np.where(np.isfinite(units), units, 0.0)
        lo, hi, bins = self._edges(pos, flat)
        counts, edges = np.histogram(flat, bins=bins, range=(lo, hi))
        sample = flat
        if flat.size > _MAX_PERCENTILE_SAMPLES:
            sample = self._rng.choice(flat, _MAX_PERCENTILE_SAMPLES, replace=False)
        p15, p50, p85 = (np.percentile(sample, [15, 50, 85]) if sample.size else (math.nan,) * 3)
        unit_mean = units.mean(axis=0)
        unit_std = units.std(axis=0)
        stats = {
            "mean": _round(flat.mean()) if flat.size else None,
            "std": _round(flat.std()) if flat.size else None,
            "min": _round(flat.min()) if flat.size else None,
            "max": _round(flat.max()) if flat.size else None,
            "p15": _round(p15), "p50": _round(p50), "p85": _round(p85),
            "unit_mean_abs": _round(np.abs(unit_mean).mean()),
            "unit_std": _round(unit_std.mean()),
            "saturated": None,
            "dead": None,
        }
        if pos.kind == "activation" and pos.activation in SATURATING:
            low, high = SATURATING[pos.activation]
            stats["saturated"] = _round(((flat <= low) | (flat >= high)).mean()) if flat.size else None
        if pos.kind == "activation" and pos.activation in DEAD_PRONE:
            stats["dead"] = _round((units.max(axis=0) <= 0).mean())
        return {
            "layer": pos.layer,
            "block": pos.block,
            "kind": pos.kind,
            "hist": {
                "edges": [_round(e) for e in edges],
                "counts": counts.tolist(),
                "below": int((flat < lo).sum()),
                "above": int((flat > hi).sum()),
            },
            "stats": stats,
        }

    def _gradient_norms(self, grads) -> dict[str, float | None]:
        squares: dict[str, float] = {}
        for var, grad in zip(self.probe_model.trainable_variables, grads):
            if grad is None:
                continue
            layer = self._layer_of[id(var)]
            squares[layer] = squares.get(layer, 0.0) + float(tf.reduce_sum(tf.square(grad)))
        return {layer: _round(math.sqrt(s)) if math.isfinite(s) else None for layer, s in squares.items()}

    def _bn_params(self) -> dict[str, dict]:
        result = {}
        for layer in self.model.layers:
            if not isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
                continue
            entry = {}
            for attr in ("gamma", "beta", "moving_mean", "moving_variance"):
                var = getattr(layer, attr, None)
                entry[attr] = _summary(np.asarray(var.numpy()).reshape(-1)) if var is not None else None
            result[layer.name] = entry
        return result

    def _metrics(self, probs: np.ndarray) -> dict[str, float | None]:
        y = self.y_np
        loss = float(tf.reduce_mean(self.loss_fn(tf.constant(y), tf.constant(probs))))
        if probs.shape[-1] == 1:
            predicted = (probs.reshape(-1) > 0.5).astype(np.int64)
            truth = y.reshape(-1).astype(np.int64)
        else:
            predicted = probs.argmax(axis=-1)
            truth = y.argmax(axis=-1) if y.ndim == 2 and y.shape[-1] == probs.shape[-1] else y.reshape(-1)
        return {"loss": _round(loss), "accuracy": _round((predicted == truth).mean())}


def _rows(t):
    """Feature maps as (positions, channels), keeping a fixed, evenly spread subset of positions.

    Statistics of a conv layer's channels don't need every pixel of every probe image, and
    copying them all out of TensorFlow would double a small CNN's epoch time. Dense outputs
    (one row per example) are returned whole."""
    if t.shape.rank is None or t.shape.rank <= 2:
        return t
    flat = tf.reshape(t, [-1, t.shape[-1]])
    rows = flat.shape[0]
    if rows is None or rows <= MAX_ROWS:
        return flat
    keep = np.sort(np.random.default_rng(0).choice(rows, MAX_ROWS, replace=False))
    return tf.gather(flat, tf.constant(keep))


def histogram_range(flat: np.ndarray, pos: Position, bins: int) -> tuple[float, float, int]:
    """Bins from a power-of-two ladder, so ranges of different runs and layers nest."""
    if pos.kind == "output" or (pos.kind == "activation" and pos.activation == "sigmoid"):
        return 0.0, 1.0, bins // 2
    if pos.kind == "activation" and pos.activation == "tanh":
        return -1.0, 1.0, bins
    if flat.size == 0:
        return -1.0, 1.0, bins
    q = float(np.percentile(np.abs(flat), 99.5)) * 1.5
    exponent = min(max(math.ceil(math.log2(q)) if q > 0 else 0, -4), 20)
    top = float(2.0**exponent)
    if flat.min() >= 0:
        return 0.0, top, bins // 2
    return -top, top, bins
