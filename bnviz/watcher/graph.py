"""Reading a user's Keras model: every layer call in graph order, nested models unrolled, and from it
the probe's plan (bnviz.train.probes.Plan): each normalization layer with what enters and leaves it
and the activation beside it, under the author's own layer names.

The graph is traced again on fresh symbolic inputs, calling the model's own layers, so that the
layers inside a nested model get tensors of the outer graph (a nested model's layers are otherwise
only reachable through its own, separate graph). The probe model built on those tensors shares
every variable with the user's model and never assigns one (probes use `stateless_call`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import keras

from bnviz.train.probes import Plan, Position

NORMALIZATIONS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                  keras.layers.GroupNormalization)
SUPPORTED = ("a Sequential or functional Keras model (nested models included) with one input and one output; "
             "a subclassed model's graph cannot be read")
NOT_ACTIVATIONS = {None, "linear", "softmax", "log_softmax"}


class Unsupported(Exception):
    """A model whose graph bnviz cannot read; the message says why and what is supported."""


@dataclass
class Call:
    """One call of one layer in the traced graph."""

    layer: keras.layers.Layer
    path: tuple[str, ...]  # the enclosing models' names (outermost first) and the layer's own
    inputs: list
    output: Any
    name: str = ""  # the name the record uses (set once all calls are known)


@dataclass
class Graph:
    inputs: list
    output: Any
    calls: list[Call] = field(default_factory=list)


def readable(model: Any) -> bool:
    """A Sequential or functional model: one whose graph of layer calls Keras keeps."""
    return isinstance(model, keras.Sequential) or (
        isinstance(model, keras.Model) and hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"))


def trace(model: keras.Model) -> Graph:
    """The model's layer calls in graph order, on fresh symbolic inputs; raises Unsupported."""
    if not readable(model):
        raise Unsupported(f"{type(model).__name__} is a subclassed model")
    if not getattr(model, "built", False) or not getattr(model, "inputs", None):
        raise Unsupported("the model is not built yet (give it an input shape or a keras.Input)")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise Unsupported(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs")
    source = model.inputs[0]
    inputs = [keras.Input(shape=tuple(source.shape[1:]), dtype=source.dtype)]
    calls: list[Call] = []
    out = keras.tree.flatten(_run(model, inputs, (), calls))
    if len(out) != 1:
        raise Unsupported(f"the model has {len(out)} outputs")
    _name_calls(calls)
    return Graph(inputs, out[0], calls)


def _run(model: keras.Model, inputs: list, prefix: tuple[str, ...], calls: list[Call]):
    if isinstance(model, keras.Sequential):
        x = inputs[0]
        for layer in model.layers:
            x = _call(layer, (x,), {}, prefix, calls)
        return x

    def operation_fn(op):
        return lambda *args, **kwargs: _call(op, args, kwargs, prefix, calls)

    return model._run_through_graph(inputs, operation_fn=operation_fn)


def _call(layer, args: tuple, kwargs: dict, prefix: tuple[str, ...], calls: list[Call]):
    tensors = [t for t in keras.tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]
    if isinstance(layer, keras.Model) and readable(layer):  # a nested model: unrolled into this graph
        return _run(layer, tensors, (*prefix, layer.name), calls)
    out = layer(*args, **kwargs)
    calls.append(Call(layer, (*prefix, layer.name), tensors, keras.tree.flatten(out)[0]))
    return out


def _name_calls(calls: list[Call]) -> None:
    """The author's layer name; the nested path where two layers share a name; a count for a layer called twice."""
    distinct = {id(c.layer): c.layer.name for c in calls}
    taken = Counter(distinct.values())
    seen: Counter = Counter()
    for call in calls:
        base = call.layer.name if taken[call.layer.name] == 1 else "/".join(call.path)
        seen[id(call.layer)] += 1
        call.name = base if seen[id(call.layer)] == 1 else f"{base} (call {seen[id(call.layer)]})"


def activation_of(layer: keras.layers.Layer) -> str | None:
    """The non-linearity a layer applies last (an Activation layer's, or a Dense/Conv layer's
    `activation`), None when it applies none that bnviz summarises (linear, softmax)."""
    special = {keras.layers.ReLU: "relu", keras.layers.LeakyReLU: "leaky_relu", keras.layers.ELU: "elu"}
    for kind, name in special.items():
        if isinstance(layer, kind):
            return name
    function = getattr(layer, "activation", None)
    if function is None or not callable(function):
        return None
    try:
        name = keras.activations.serialize(function)
    except Exception:
        name = getattr(function, "__name__", None)
    name = name if isinstance(name, str) else None
    return None if name in NOT_ACTIVATIONS else name


def _pure_activation(layer: keras.layers.Layer) -> bool:
    """A layer that is nothing but an activation: what enters it is the pre-activation."""
    return isinstance(layer, (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU))


@dataclass
class NormInfo:
    """One normalization layer as the run's config describes it."""

    name: str
    kind: str  # BatchNormalization, LayerNormalization, GroupNormalization
    placement: str  # before / after (the activation it sits next to), or none
    activation: str | None
    layer: keras.layers.Layer


def plan_for(model: keras.Model) -> tuple[Plan, list[NormInfo], list[str]]:
    """The probe plan of any readable model, its normalization layers, and the hidden activations
    found (in graph order); raises Unsupported."""
    graph = trace(model)
    consumers: dict[int, list[Call]] = {}
    producer: dict[int, Call] = {}
    for call in graph.calls:
        producer[id(call.output)] = call
        for t in call.inputs:
            consumers.setdefault(id(t), []).append(call)
    output_id = id(graph.output)

    def act(call: Call | None) -> str | None:
        return None if call is None or id(call.output) == output_id else activation_of(call.layer)

    # Which activation each normalization layer sits next to: the one after it, else the one before.
    beside: dict[int, tuple[Call, str]] = {}
    claimed: set[int] = set()
    for call in graph.calls:
        if not isinstance(call.layer, NORMALIZATIONS):
            continue
        after = consumers.get(id(call.output), [])
        before = producer.get(id(call.inputs[0])) if call.inputs else None
        for candidate, placement in ((after[0] if len(after) == 1 else None, "before"), (before, "after")):
            if act(candidate) and id(candidate) not in claimed:
                beside[id(call)] = (candidate, placement)
                claimed.add(id(candidate))
                break

    tensors: list = []
    index: dict[int, int] = {}

    def tensor(t) -> int:
        if id(t) not in index:
            index[id(t)] = len(tensors)
            tensors.append(t)
        return index[id(t)]

    positions = [Position("input", 0, "input", tensor(graph.inputs[0]))]
    norms: list[NormInfo] = []
    steps, activations, block = [], [], 0

    def activation_positions(a: Call, name: str) -> list[Position]:
        found = [Position(a.name, block, "pre_activation", tensor(a.inputs[0]), name)] if _pure_activation(
            a.layer) and a.inputs else []
        return [*found, Position(a.name, block, "activation", tensor(a.output), name)]

    for call in graph.calls:
        if isinstance(call.layer, NORMALIZATIONS) and call.inputs:
            block += 1
            near = beside.get(id(call))
            name = act(near[0]) if near else None
            own = [Position(call.name, block, "bn_input", tensor(call.inputs[0])),
                   Position(call.name, block, "bn_output", tensor(call.output))]
            if isinstance(call.layer, keras.layers.BatchNormalization):
                own.append(Position(call.name, block, "bn_output_inference", tensor(call.output), inference=True))
                if call.layer.axis in (-1, len(call.inputs[0].shape) - 1):  # bn_steps reads units on the last axis
                    steps.append((call.name, call.layer, tensor(call.inputs[0])))
            side = activation_positions(near[0], name) if near else []
            positions += [*own, *side] if near and near[1] == "before" else [*side, *own]
            norms.append(NormInfo(call.name, type(call.layer).__name__, near[1] if near else "none", name,
                                  call.layer))
            if name:
                activations.append(name)
        elif act(call) and id(call) not in claimed:  # a hidden activation with no normalization beside it
            block += 1
            name = act(call)
            positions += activation_positions(call, name)
            activations.append(name)
    output = tensor(graph.output)
    positions.append(Position("output", -1, "output", output))
    grad_layers = list({id(c.layer): (c.name, c.layer) for c in graph.calls if c.layer.trainable_variables}.values())
    norm_layers = list({id(n.layer): (n.name, n.layer) for n in norms}.values())
    return Plan(graph.inputs, tensors, positions, output, norm_layers, steps, grad_layers), norms, activations


def normalization_layers(model: Any) -> list[tuple[str, keras.layers.Layer]]:
    """Normalization layers reachable through `layers` (any model, subclassed ones too): their
    γ/β and moving statistics can be recorded even when the graph cannot be read."""
    found, stack, seen = [], [model], set()
    while stack:
        current = stack.pop(0)
        for layer in getattr(current, "layers", None) or []:
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            if isinstance(layer, NORMALIZATIONS):
                found.append((layer.name, layer))
            else:
                stack.append(layer)
    return found
