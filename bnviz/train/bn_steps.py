"""BN's arithmetic on real numbers: what one unit of one BN layer computed on the probe batch.

Recorded with every probe (the probe's `bn_steps` field), per BatchNormalization layer:
the batch statistics μ_B and σ²_B BN itself computed (per channel over batch and spatial
positions for conv layers, through `keras.ops.moments` as the layer does), γ, β, the moving
mean and variance, ε, a fixed sample of the values entering every unit (the first
`SAMPLE` probe examples; the centre pixel for conv feature maps) and a small per-unit
histogram of all of them. From that, `steps()` rebuilds the whole computation for a unit:

    x̂ = (x − μ_B) / √(σ²_B + ε),  y = γ·x̂ + β                    (training mode)
    y_inf = γ·(x − moving_mean) / √(moving_variance + ε) + β        (inference mode)

x̂, y and y_inf are affine in x per unit, so the input histogram *is* the histogram of each of
them with transformed edges: the four histograms a view shows are exactly linked.
Recording is part of the probe's training-mode `stateless_call` (bnviz.train.probes), which returns
the would-be moving statistics instead of assigning them: the model is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bnviz.errors import UserError

SAMPLE = 8  # probe examples whose values are kept per unit
BINS = 16  # bins of the per-unit input histogram
HIST_ROWS = 8192  # at most this many positions (examples x pixels) per channel go into the histogram


class BNStepsError(UserError):
    """A layer, unit or epoch that the run did not record; the message lists what it has."""


def _exact(values) -> list[float]:
    """float32 values as JSON floats that round-trip exactly (9 significant digits)."""
    return [float(f"{v:.9g}") for v in np.asarray(values, dtype=np.float32).reshape(-1).tolist()]


class BNStepsRecorder:
    """Records the `bn_steps` probe field for BatchNormalization layers.

    It rides on the probe's own training-mode pass (bnviz.train.probes): `summarize` runs inside the
    compiled probe on what enters each BN layer, `entries` turns its small results into the field.
    `layers` are (name in the record, layer, shape of what enters it without the batch axis), so a
    model read from a user's graph (bnviz.watcher) names them as its author did."""

    def __init__(self, layers: list[tuple[str, Any, tuple]], batch_size: int, sample: int = SAMPLE,
                 bins: int = BINS) -> None:
        self.names = [name for name, _, _ in layers]
        self.layers = [layer for _, layer, _ in layers]
        # per layer, the shape of what enters it for the probe batch (batch size filled in)
        self.shapes = [(batch_size, *tuple(shape)) for _, _, shape in layers]
        self.sample = sample
        self.bins = bins

    def summarize(self, inputs: list) -> list[dict[str, Any]]:
        """Per layer, from the tensors entering the BN layers (in `self.layers` order)."""
        return [self._summarize(tensor, shape) for tensor, shape in zip(inputs, self.shapes)]

    def entries(self, summaries: list[dict[str, Any]], read=None) -> dict[str, Any]:
        """The probe field, from `summarize`'s results copied to the host. `read(variable)`: the value a
        variable had at the probe (default: its value now)."""
        read = read or (lambda v: v.numpy())
        return {name: self._layer_entry(layer, {k: np.asarray(v) for k, v in stats.items()}, shape, read)
                for name, layer, stats, shape in zip(self.names, self.layers, summaries, self.shapes)}

    def _summarize(self, tensor, shape: tuple[int, ...]) -> dict[str, Any]:
        """Per-channel statistics computed where the tensor lives (compiled); only small arrays are
        copied out (a conv layer's whole feature map would be megabytes per probe)."""
        from keras import ops

        units = shape[-1]
        axes = list(range(len(shape) - 1))
        mean, variance = ops.moments(tensor, axes=axes)  # as BatchNormalization computes them
        lo, hi = ops.min(tensor, axis=axes), ops.max(tensor, axis=axes)
        hi = ops.where(hi > lo, hi, lo + 1.0)
        flat = ops.reshape(tensor, (-1, units))
        rows = int(np.prod(shape[:-1]))
        if rows > HIST_ROWS:  # the histogram is for the eye: an evenly spread subset of positions
            flat = ops.take(flat, np.linspace(0, rows - 1, HIST_ROWS).astype("int32"), axis=0)
        bins = ops.clip(ops.cast(ops.floor((flat - lo) / (hi - lo) * self.bins), "int32"), 0, self.bins - 1)
        ids = ops.reshape(bins + ops.arange(units, dtype="int32") * self.bins, (-1,))
        counts = ops.segment_sum(ops.ones_like(ids), ids, num_segments=units * self.bins)  # static size: jit-able
        counts = ops.reshape(counts, (units, self.bins))
        sample = tensor[: self.sample]
        if len(shape) == 4:  # conv feature maps: the centre pixel of each example
            sample = sample[:, shape[1] // 2, shape[2] // 2, :]
        return {"mean": mean, "variance": variance, "lo": lo, "hi": hi, "counts": counts,
                "sample": ops.reshape(sample, (-1, units))}

    def _layer_entry(self, layer, stats: dict[str, np.ndarray], shape: tuple[int, ...], read) -> dict[str, Any]:
        pixel = [shape[1] // 2, shape[2] // 2] if len(shape) == 4 else None

        def var(name: str) -> list[float] | None:
            v = getattr(layer, name, None)
            return _exact(read(v)) if v is not None else None

        return {
            "epsilon": float(layer.epsilon),
            "momentum": float(layer.momentum),
            "count": int(np.prod(shape[:-1])),
            "batch_mean": _exact(stats["mean"]),
            "batch_variance": _exact(stats["variance"]),
            "gamma": var("gamma"),
            "beta": var("beta"),
            "moving_mean": var("moving_mean"),
            "moving_variance": var("moving_variance"),
            "sample": [_exact(row) for row in stats["sample"]],
            "sample_pixel": pixel,
            "hist": {"lo": _exact(stats["lo"]), "hi": _exact(stats["hi"]),
                     "counts": stats["counts"].astype(int).tolist()},
        }


def recorder_for(model, batch_size: int) -> BNStepsRecorder | None:
    """A recorder for a probe batch of `batch_size` when the model has a BatchNormalization layer, else None."""
    import keras

    found = [(layer.name, layer, tuple(layer.input.shape[1:])) for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    return BNStepsRecorder(found, batch_size) if found else None


# --- the steps, from a record (pure) -------------------------------------------------------------

def _probes_with_steps(record: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    found = {}
    for probe in (record or {}).get("probes") or []:
        if isinstance(probe, Mapping) and isinstance(probe.get("bn_steps"), Mapping) and probe["bn_steps"]:
            found[int(probe["epoch"])] = probe["bn_steps"]
    return found


def step_layers(record: Mapping[str, Any]) -> list[str]:
    """BN layers with recorded steps, in model order."""
    found = _probes_with_steps(record)
    return list(found[max(found)]) if found else []


def step_epochs(record: Mapping[str, Any]) -> list[int]:
    """Epochs whose probe has recorded steps."""
    return sorted(_probes_with_steps(record))


def unit_count(record: Mapping[str, Any], layer: str) -> int:
    """Units (channels) of a BN layer with recorded steps; 0 when there is none."""
    found = _probes_with_steps(record)
    entry = found[max(found)].get(layer) if found else None
    return len(entry["batch_mean"]) if entry else 0


def steps(record: Mapping[str, Any], layer: str, unit: int, epoch: int) -> dict[str, Any]:
    """Every number of BN's computation for one unit at one epoch, as float64 numpy values.

    Keys: x (sample inputs), mu_b, var_b, epsilon, std_b, x_hat, gamma, beta, y,
    moving_mean, moving_variance, y_inference, count, and for the histograms edges
    (input edges), counts, and the edges of x̂, y and y_inference (same counts)."""
    found = _probes_with_steps(record)
    if not found:
        raise BNStepsError("this run has no BN step-by-step data: it has no BatchNormalization layer, "
                           "or was recorded before this view existed")
    if int(epoch) not in found:
        raise BNStepsError(f"no BN steps recorded at epoch {epoch}; recorded epochs: "
                           f"{min(found)} to {max(found)}")
    layers = found[int(epoch)]
    if layer not in layers:
        raise BNStepsError(f"no BN layer {layer!r} in this run; its BN layers are: {', '.join(layers)}")
    entry = layers[layer]
    units = len(entry["batch_mean"])
    if not isinstance(unit, (int, np.integer)) or not 0 <= int(unit) < units:
        raise BNStepsError(f"unit {unit!r} does not exist in {layer}: pick 0 to {units - 1}")
    u = int(unit)

    def at(name: str, default: float) -> float:
        values = entry.get(name)
        return float(values[u]) if values is not None else default

    eps = float(entry["epsilon"])
    x = np.array([row[u] for row in entry["sample"]], dtype=np.float64)
    mu, var = at("batch_mean", 0.0), at("batch_variance", 1.0)
    gamma, beta = at("gamma", 1.0), at("beta", 0.0)
    mm, mv = at("moving_mean", 0.0), at("moving_variance", 1.0)
    std, std_inf = float(np.sqrt(var + eps)), float(np.sqrt(mv + eps))
    x_hat = (x - mu) / std
    lo, hi = float(entry["hist"]["lo"][u]), float(entry["hist"]["hi"][u])
    edges = np.linspace(lo, hi, len(entry["hist"]["counts"][u]) + 1)
    edges_hat = (edges - mu) / std
    return {
        "layer": layer, "unit": u, "epoch": int(epoch), "count": int(entry["count"]),
        "sample_pixel": entry.get("sample_pixel"),
        "x": x, "mu_b": mu, "var_b": var, "epsilon": eps, "std_b": std, "x_hat": x_hat,
        "gamma": gamma, "beta": beta, "y": gamma * x_hat + beta,
        "moving_mean": mm, "moving_variance": mv, "std_inference": std_inf,
        "y_inference": gamma * (x - mm) / std_inf + beta,
        "scale_given": entry.get("gamma") is not None, "center_given": entry.get("beta") is not None,
        "edges": edges, "counts": np.asarray(entry["hist"]["counts"][u], dtype=np.int64),
        "edges_x_hat": edges_hat, "edges_y": gamma * edges_hat + beta,
        "edges_y_inference": gamma * (edges - mm) / std_inf + beta,
    }


def steps_table(s: Mapping[str, Any]) -> list[dict[str, float]]:
    """One row per sample example: x, x̂, y (batch statistics) and y (moving statistics)."""
    return [{"example": i + 1, "x": float(x), "x̂": float(xh), "y (training)": float(y),
             "y (inference)": float(yi)}
            for i, (x, xh, y, yi) in enumerate(zip(s["x"], s["x_hat"], s["y"], s["y_inference"]))]


def explanation(s: Mapping[str, Any], *, digits: int = 4) -> str:
    """The formula walked through with this unit's numbers (Markdown), for the text beside the view."""
    def n(value: float) -> str:
        return f"{value:.{digits}g}".replace("-", "−")

    def f(value: float) -> str:  # a factor: negative numbers in parentheses
        return f"({n(value)})" if value < 0 else n(value)

    def plus(value: float) -> str:
        return f"− {f(-value)}" if value < 0 else f"+ {f(value)}"

    x0, xh0, y0, yi0 = s["x"][0], s["x_hat"][0], s["y"][0], s["y_inference"][0]
    lines = [
        f"**{s['layer']}, unit {s['unit']}, epoch {s['epoch']}.** In training, BN normalizes each unit with "
        f"the statistics of the current batch: here the {s['count']:,} values this unit received for the "
        "probe batch.",
        f"1. Batch mean μ_B = **{n(s['mu_b'])}**, batch variance σ²_B = **{n(s['var_b'])}**.",
        f"2. Normalize: x̂ = (x − μ_B) / √(σ²_B + ε) with ε = {f(s['epsilon'])}, so √(σ²_B + ε) = "
        f"{f(s['std_b'])}. For the first example, x = {n(x0)} gives x̂ = ({n(x0)} {plus(-s['mu_b'])}) / "
        f"{f(s['std_b'])} = **{n(xh0)}**.",
        f"3. Scale and shift: y = γ·x̂ + β with γ = {n(s['gamma'])}"
        + ("" if s["scale_given"] else " (scale off: fixed at 1)")
        + f", β = {n(s['beta'])}" + ("" if s["center_given"] else " (center off: fixed at 0)")
        + f": y = {f(s['gamma'])}·{f(xh0)} {plus(s['beta'])} = **{n(y0)}**.",
        f"4. At inference there is no batch: BN uses the moving mean {n(s['moving_mean'])} and moving "
        f"variance {n(s['moving_variance'])} instead, so the same x = {n(x0)} becomes "
        f"{f(s['gamma'])}·({n(x0)} {plus(-s['moving_mean'])}) / {f(s['std_inference'])} {plus(s['beta'])} "
        f"= **{n(yi0)}**.",
    ]
    gap = abs(y0 - yi0)
    lines.append(
        f"The training-mode and inference-mode outputs differ by {n(gap)} for this example: "
        + ("the moving statistics have caught up with the batch statistics."
           if gap < 0.05 * max(1.0, abs(y0)) else
           "the moving statistics still lag behind the batch statistics (early in training, or with a momentum "
           "close to 1, they follow slowly), which is why a model can score differently in training and "
           "inference mode.")
    )
    return "\n\n".join(lines)
