"""Looking inside the network on one fixed probe batch, without changing it (any Keras backend).

A probe runs the model twice on the same batch, both through `Model.stateless_call`, which
takes the variable values as arguments and *returns* updated moving statistics instead of
assigning them, so the model is left exactly as it was:

* in training mode, where BN uses batch statistics; the loss of this pass gives per-layer
  gradient norms;
* in inference mode, where BN uses its moving statistics.

Every recorded position is summarised on the device (bnviz.train.summaries) as a histogram with
ladder bins (widened when the values outgrow them) plus a few statistics, small enough to store
after every epoch. The whole probe is one function compiled once per run (bnviz.train.backends.compile_function).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from bnviz.config import InstrumentConfig
from bnviz.train import backends, bn_steps
from bnviz.train.models import blocks
from bnviz.train.summaries import (
    STAT_NAMES,
    flat_summaries,
    histogram_range,
    host_summaries,
    host_unit_stats,
    rows,
    unit_stats,
)

SATURATING = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}
DEAD_PRONE = {"relu"}


@dataclass(frozen=True)
class Position:
    """One recorded place in the network: which tensor, and what it means."""

    layer: str
    block: int
    kind: str
    tensor: int  # index into the probe model's outputs
    activation: str | None = None  # for saturation / dead-unit statistics
    inference: bool = False  # read from the inference-mode pass


@dataclass
class Plan:
    """What a probe records: symbolic tensors of one graph and what each position means.

    `block_plan` reads it off a model built by bnviz.train.models; bnviz.watcher reads it off any
    user's graph. The probe model is `keras.Model(inputs, tensors)`: its layers are the model's own,
    so it shares their variables and sees the weights as they are at each probe."""

    inputs: list
    tensors: list
    positions: list[Position]
    output: int  # index of the network's output in `tensors`
    norm_layers: list[tuple[str, keras.layers.Layer]]  # normalization layers for `bn_params`, by record name
    steps: list[tuple[str, keras.layers.Layer, int]]  # BatchNormalization layers for `bn_steps`: input tensor
    grad_layers: list[tuple[str, keras.layers.Layer]] | None = None  # gradient norms per layer (None: by path)


def rounded(value: float) -> float | None:
    """A recorded number: six significant digits, None where not finite (JSON has no NaN)."""
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {"mean": rounded(values.mean()), "std": rounded(values.std()),
            "min": rounded(values.min()), "max": rounded(values.max())}


class Prober:
    """Probes one model on one batch; histogram edges are kept from probe to probe, and widened
    (on the same power-of-two ladder) when the values outgrow them."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray, loss_fn,
                 settings: InstrumentConfig | None = None, on_device: bool | None = None,
                 plan: Plan | None = None) -> None:
        """`on_device`: summarise inside the compiled probe (default: when the backend uses a GPU).
        `plan`: what to record (default: the blocks of a model built by bnviz.train.models)."""
        self.model = model
        self.settings = settings or InstrumentConfig()
        self.x, self.y = _tensor(x), _tensor(y)
        self.loss_fn = loss_fn
        self.threshold = 0.5  # a single output's class boundary: 0 where the model outputs logits
        self.plan = plan or block_plan(model)
        self.positions = self.plan.positions
        self._output_index = self.plan.output
        self._bn_inputs = [index for _, _, index in self.plan.steps]
        self._infer_needed = sorted({p.tensor for p in self.positions if p.inference} | {self._output_index})
        self.probe_model = keras.Model(self.plan.inputs, self.plan.tensors, name="bnviz_probe")
        self._grad_layers, self._grad_groups = _gradient_groups(self.probe_model.trainable_variables,
                                                                self.plan.grad_layers)
        self._ranges: list[tuple[float, float, int]] | None = None  # per position, from the first probe on
        self._first_ranges = [(-1.0, 1.0, self.settings.bins)] * len(self.positions)
        self._saturating = [SATURATING.get(p.activation) if p.kind == "activation" else None for p in self.positions]
        self._dead = [p.kind == "activation" and p.activation in DEAD_PRONE for p in self.positions]
        self.on_device = bool(backends.list_gpus()) if on_device is None else on_device
        steps = [(name, layer, tuple(self.plan.tensors[i].shape[1:])) for name, layer, i in self.plan.steps]
        self.bn_steps = bn_steps.BNStepsRecorder(steps, len(x)) if steps else None  # rides on the training pass
        self._compiled = None

    # --- the passes ---------------------------------------------------------------
    def _values(self) -> tuple[list, list]:
        # The backend's own variable values (tf.Variable, jax.Array, torch.Tensor): no copies.
        return ([v.value for v in self.probe_model.trainable_variables],
                [v.value for v in self.probe_model.non_trainable_variables])

    def _forward(self, trainable, non_trainable, x, y):
        outputs, _ = self.probe_model.stateless_call(trainable, non_trainable, x, training=True)
        return ops.mean(self.loss_fn(y, outputs[self._output_index])), outputs

    def raw_outputs(self) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
        """Both passes uncompiled, as numpy (position rows): the training-mode tensors, and the
        inference-mode ones by tensor index (for tests and debugging; probes never copy them)."""
        trainable, non_trainable = self._values()
        _, train_out = self._forward(trainable, non_trainable, self.x, self.y)
        infer_all, _ = self.probe_model.stateless_call(trainable, non_trainable, self.x, training=False)
        train = [np.asarray(backends.to_numpy(rows(t))) for t in train_out]
        infer = {i: np.asarray(backends.to_numpy(rows(infer_all[i]))) for i in self._infer_needed}
        return train, infer

    def _summarise(self, trainable, non_trainable, x, y, lo, hi, bins):
        """The whole probe in one compiled call: both passes, gradient norms, metrics, and either every
        position's values (summarised on the host) or, on an accelerator, their summaries."""
        if self.settings.gradients:
            _, train_out, grads = backends.value_and_grad(self._forward)(trainable, non_trainable, x, y)
        else:
            _, train_out = self._forward(trainable, non_trainable, x, y)
            grads = []
        infer_all, _ = self.probe_model.stateless_call(trainable, non_trainable, x, training=False)
        passes = {False: [rows(t) for t in train_out], True: {i: rows(infer_all[i]) for i in self._infer_needed}}
        values = [passes[p.inference][p.tensor] for p in self.positions]
        squares = []
        for group in self._grad_groups:
            parts = [ops.sum(ops.square(grads[i])) for i in group if i < len(grads) and grads[i] is not None]
            squares.append(sum(parts[1:], parts[0]) if parts else ops.convert_to_tensor(math.nan))
        grad_sq = ops.stack(squares) if self.settings.gradients and squares else ops.zeros((0,))
        metrics = ops.concatenate([self._metrics(train_out[self._output_index], y),
                                   self._metrics(infer_all[self._output_index], y)])
        common = {"grad_sq": grad_sq, "metrics": metrics,
                  "bn_steps": self.bn_steps.summarize([train_out[i] for i in self._bn_inputs]) if self.bn_steps else []}
        if not self.on_device:
            unique = {(p.inference, p.tensor): v for p, v in zip(self.positions, values)}
            return {"values": unique, **common}
        flat = flat_summaries(values, lo, hi, bins, self._saturating, self.settings.bins)
        units, cache = [], {}
        for pos, tensor, dead in zip(self.positions, values, self._dead):
            key = (pos.inference, pos.tensor, dead)
            if key not in cache:
                cache[key] = unit_stats(tensor, dead)
            units.append(cache[key])
        return {**flat, "units": ops.stack(units), **common}

    def snapshot(self) -> tuple[list, list]:
        """The variables' values now, copied: `probe(epoch, values=...)` can then run later, in another
        thread, while training goes on (bnviz.watcher probes off the training thread)."""
        trainable, non_trainable = self._values()
        return [_copy(v) for v in trainable], [_copy(v) for v in non_trainable]

    def _reader(self, values: tuple[list, list] | None):
        """variable -> its numpy value at the probe: from `values` (a snapshot) when given, else now."""
        lookup = {}
        if values is not None:
            pairs = zip([*self.probe_model.trainable_variables, *self.probe_model.non_trainable_variables],
                        [*values[0], *values[1]])
            lookup = {id(var): value for var, value in pairs}
        return lambda var: np.asarray(ops.convert_to_numpy(lookup.get(id(var), var)))

    def _call(self, values: tuple[list, list] | None = None) -> dict[str, np.ndarray]:
        """One probe. The first one picks each position's bins; a later one widens those whose values
        outgrew them (`widened`), so what lies outside the drawn range stays a sliver. On the device
        path that costs one more run of the compiled probe, on the host path only re-binning."""
        if self._compiled is None:
            self._compiled = backends.compile_function(self._summarise)
        trainable, non_trainable = values or self._values()
        out = self._run(trainable, non_trainable)
        if "values" in out:  # the host path
            arrays = [out["values"][(p.inference, p.tensor)] for p in self.positions]
            summary = host_summaries(arrays, self._ranges or self._first_ranges, self._saturating, self.settings.bins)
            ranges = self._widened(summary)
            if ranges != self._ranges:
                self._ranges = ranges
                summary = host_summaries(arrays, ranges, self._saturating, self.settings.bins)
            summary["units"] = np.array([host_unit_stats(v, dead) for v, dead in zip(arrays, self._dead)])
            return {**summary, "grad_sq": np.asarray(out["grad_sq"]), "metrics": np.asarray(out["metrics"]),
                    "bn_steps": out["bn_steps"]}
        ranges = self._widened(out)
        if ranges != self._ranges:
            self._ranges = ranges
            out = self._run(trainable, non_trainable)
        return out

    def _run(self, trainable, non_trainable) -> dict:
        lo, hi, bins = (np.array(column, dtype=dtype) for column, dtype in
                        zip(zip(*(self._ranges or self._first_ranges)), ("float32", "float32", "int32")))
        out = backends.to_numpy(self._compiled(trainable, non_trainable, self.x, self.y, lo, hi, bins))
        if "values" in out:
            return out
        return {k: v if k == "bn_steps" else np.asarray(v) for k, v in out.items()}

    def _widened(self, summary: dict[str, np.ndarray]) -> list[tuple[float, float, int]]:
        """Each position's bins: at the first probe from the ladder (`histogram_range`); later, the
        smallest ladder range covering both the current range and this probe's values' range. Ranges
        only grow, so a run's ranges still nest and differ by powers of two."""
        ranges = []
        for i, p in enumerate(self.positions):
            low = float(summary["stats"][i][2])
            wanted = histogram_range(float(summary["abs_q995"][i]), low if np.isfinite(low) else None, p.kind,
                                     p.activation, self.settings.bins)
            current = self._ranges[i] if self._ranges is not None else None
            if current is None:
                ranges.append(wanted)
            elif not np.isfinite(low) or (wanted[0] >= current[0] and wanted[1] <= current[1]):
                ranges.append(current)  # nothing finite, or the values fit: keep the bins
            else:
                lo, hi = min(current[0], wanted[0]), max(current[1], wanted[1])
                ranges.append((lo, hi, self.settings.bins if lo < 0 else self.settings.bins // 2))
        return ranges

    def probe(self, epoch: int, values: tuple[list, list] | None = None) -> dict:
        """Record every position at this point of training (or on `values`, a `snapshot()`); the model
        is not modified."""
        out = self._call(values)
        read = self._reader(values)
        hists, units, grad_sq, metrics = out["hist"], out["units"], out["grad_sq"], out["metrics"]
        width = hists.shape[1] - 2
        positions = []
        for i, pos in enumerate(self.positions):
            stats = [*out["stats"][i], units[i][0], units[i][1], out["saturated"][i], units[i][2]]
            positions.append(self._describe(pos, stats, hists[i], self._ranges[i], width))
        gradients = {}
        if self.settings.gradients:
            gradients = {layer: rounded(math.sqrt(s)) if math.isfinite(s) else None
                         for layer, s in zip(self._grad_layers, grad_sq.tolist())}
        probe = {
            "epoch": int(epoch),
            "positions": positions,
            "gradients": gradients,
            "bn_params": bn_params(self.plan.norm_layers, read),
            "probe_metrics": {
                "train_mode": {"loss": rounded(metrics[0]), "accuracy": rounded(metrics[1])},
                "inference_mode": {"loss": rounded(metrics[2]), "accuracy": rounded(metrics[3])},
            },
        }
        if self.bn_steps is not None:
            probe["bn_steps"] = self.bn_steps.entries(out["bn_steps"], read)
        return probe

    # --- summaries -----------------------------------------------------------------
    @staticmethod
    @functools.cache
    def _edges(lo: float, hi: float, bins: int) -> tuple[float | None, ...]:
        return tuple(rounded(e) for e in np.linspace(lo, hi, bins + 1))

    def _describe(self, pos: Position, stats: list, hist: np.ndarray, edges: tuple[float, float, int],
                  width: int) -> dict:
        lo, hi, bins = edges
        return {
            "layer": pos.layer,
            "block": pos.block,
            "kind": pos.kind,
            "hist": {
                "edges": list(self._edges(lo, hi, bins)),
                "counts": [int(c) for c in hist[:bins]],
                "below": int(hist[width]),
                "above": int(hist[width + 1]),
            },
            "stats": {name: rounded(value) for name, value in zip(STAT_NAMES, stats)},
        }

    def _metrics(self, probs, y):
        """[loss, accuracy] of the probe batch, as a tensor."""
        loss = ops.mean(self.loss_fn(y, probs))
        if probs.shape[-1] == 1:
            predicted = ops.cast(ops.reshape(probs, (-1,)) > self.threshold, "int32")
            truth = ops.cast(ops.reshape(y, (-1,)), "int32")
        else:
            predicted = ops.cast(ops.argmax(probs, axis=-1), "int32")
            one_hot = len(y.shape) == 2 and y.shape[-1] == probs.shape[-1]
            truth = ops.cast(ops.argmax(y, axis=-1) if one_hot else ops.reshape(y, (-1,)), "int32")
        accuracy = ops.mean(ops.cast(predicted == truth, "float32"))
        return ops.stack([ops.cast(loss, "float32"), accuracy])


def bn_params(norm_layers: list[tuple[str, keras.layers.Layer]], read=None) -> dict[str, dict]:
    """The `bn_params` probe field: γ, β and the moving statistics of each normalization layer, summarised.
    `read(variable)`: its value at the probe (default: now)."""
    read = read or (lambda var: np.asarray(ops.convert_to_numpy(var)))
    result = {}
    for name, layer in norm_layers:
        entry = {}
        for attr in ("gamma", "beta", "moving_mean", "moving_variance"):
            var = getattr(layer, attr, None)
            entry[attr] = _summary(read(var).reshape(-1)) if var is not None else None
        result[name] = entry
    return result


def _gradient_groups(variables: list, grad_layers: list[tuple[str, keras.layers.Layer]] | None):
    """(layer names, per layer the indices of its variables among `variables`): by the layers given,
    else by the first part of each variable's path (a block-built model's layer names)."""
    if grad_layers is None:
        layer_of = [v.path.split("/")[0] for v in variables]
    else:
        owner = {id(v): name for name, layer in grad_layers for v in layer.trainable_variables}
        layer_of = [owner.get(id(v), v.path) for v in variables]
    names = list(dict.fromkeys(layer_of))
    return names, [[i for i, name in enumerate(layer_of) if name == layer] for layer in names]


def block_plan(model: keras.Model) -> Plan:
    """The plan of a model built block by block (bnviz.train.models): every block's activation, and
    every normalization layer on both sides, in model order."""
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

    current_block = 0
    norm_layers, steps = [], []
    for layer in model.layers:
        name = layer.name
        root = name.split("_")[0]
        if root in block_of_layer:
            current_block = block_of_layer[root]
        if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                              keras.layers.GroupNormalization)):
            block = 0 if name == "input_bn" else current_block
            t_in = tensor_of(name + ":in", layer.input)
            t_out = tensor_of(name, layer.output)
            positions.append(Position(name, block, "bn_input", t_in))
            positions.append(Position(name, block, "bn_output", t_out))
            norm_layers.append((name, layer))
            if isinstance(layer, keras.layers.BatchNormalization):
                positions.append(Position(name, block, "bn_output_inference", t_out, inference=True))
                steps.append((name, layer, t_in))

    out = tensor_of("output", model.output)
    positions.insert(0, Position("input", 0, "input", tensor_of("input", model.inputs[0])))
    positions.append(Position("output", -1, "output", out))
    return Plan(list(model.inputs), tensors, positions, out, norm_layers, steps)


def _tensor(array):
    """The probe batch on the backend's device. On JAX `device_put`, not `ops.convert_to_tensor`:
    jnp.asarray compiles a conversion program, 35 ms of a small model's fit (bnviz.watch builds its
    prober on the training thread)."""
    if keras.config.backend() == "jax":
        import jax

        return jax.device_put(np.asarray(array))
    return ops.convert_to_tensor(array)


def _copy(value):
    """A copy of a variable's value that outlives the training step (JAX donates its buffers). On JAX
    a device copy, not `ops.copy`: that compiles a copy program per shape, 45 ms at the start of a
    small model's fit (bnviz.watch snapshots on the training thread)."""
    if keras.config.backend() == "jax":
        import jax

        return jax.device_put(value, may_alias=False)
    return ops.copy(value)
