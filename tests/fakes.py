"""Synthetic run records in the `bnviz.run/1` format (docs/run-record.md), for tests.

No Keras: numbers come from a seeded generator, but every field has the documented shape,
bins follow the documented ladder (fixed at the first probe) and stats match the samples,
so figure code can be tested against the contract.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bnviz.config import ExperimentConfig

KINDS_PER_BLOCK = ("bn_input", "bn_output", "bn_output_inference", "pre_activation", "activation")


def _range_for(values: np.ndarray) -> float:
    """Smallest power of two covering 1.5x the 99.5th percentile of |x| (the record's ladder)."""
    q = float(np.percentile(np.abs(values), 99.5)) * 1.5
    return float(2.0 ** math.ceil(math.log2(q))) if q > 0 else 1.0


def _position(layer: str, block: int, kind: str, values: np.ndarray, edges: np.ndarray,
              activation: str) -> dict[str, Any]:
    flat = values.reshape(-1)
    counts, _ = np.histogram(flat, bins=edges)
    below, above = int((flat < edges[0]).sum()), int((flat > edges[-1]).sum())
    p15, p50, p85 = (float(v) for v in np.percentile(flat, [15, 50, 85]))
    dead = saturated = None
    if kind == "activation" and activation == "relu":
        dead = float((values <= 0).all(axis=0).mean())
    if kind == "activation" and activation in ("sigmoid", "tanh"):
        saturated = float((np.abs(values) > 0.95).mean())
    return {
        "layer": layer, "block": block, "kind": kind,
        "hist": {"edges": edges.tolist(), "counts": counts.astype(int).tolist(), "below": below, "above": above},
        "stats": {
            "mean": float(flat.mean()), "std": float(flat.std()), "min": float(flat.min()),
            "max": float(flat.max()), "p15": p15, "p50": p50, "p85": p85,
            "unit_mean_abs": float(np.abs(values.mean(axis=0)).mean()),
            "unit_std": float(values.std(axis=0).mean()), "saturated": saturated, "dead": dead,
        },
    }


def _summary(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


def _activate(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(x, 0.0)
    if activation == "tanh":
        return np.tanh(x)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-x))
    return x


def make_fake_record(
    *,
    blocks: int = 2,
    epochs: int = 3,
    probe_epochs: Sequence[int] | None = None,
    bins: int = 64,
    units: int = 16,
    probe_size: int = 128,
    steps_per_epoch: int = 20,
    log_every: int = 5,
    running_batches: int = 0,
    activation: str = "relu",
    drift: float = 0.6,
    seed: int = 0,
) -> dict[str, Any]:
    """A finished run of `epochs` epochs with probes at `probe_epochs` (default 0..epochs).

    `running_batches` > 0 makes it a live run: that many batches of epoch `epochs + 1` are
    logged, status is "running" and summary is None. `drift` moves the BN input later in
    training so before/after differ visibly (and some values fall outside the bins).
    """
    rng = np.random.default_rng(seed)
    probe_epochs = list(range(epochs + 1)) if probe_epochs is None else list(probe_epochs)
    edges_for: dict[tuple[int, str], np.ndarray] = {}

    def edges(block: int, kind: str, values: np.ndarray) -> np.ndarray:
        # fixed at the first probe, as older records have them (the recorder now widens them)
        if (block, kind) not in edges_for:
            r = _range_for(values)
            edges_for[(block, kind)] = np.linspace(-r, r, bins + 1)
        return edges_for[(block, kind)]

    probes = []
    for e in probe_epochs:
        x = rng.normal(0.0, 1.0, size=(probe_size, 2))
        positions = [_position("input", 0, "input", x, edges(0, "input", x), activation)]
        bn_params: dict[str, Any] = {}
        for b in range(1, blocks + 1):
            z = rng.normal(0.3 * b + drift * e, 1.0 + 0.4 * b * e, size=(probe_size, units))
            gamma = 1.0 + 0.05 * e * rng.uniform(-1, 1, units)
            beta = 0.02 * e * rng.uniform(-1, 1, units)
            mm = z.mean(axis=0) * (1 - 0.5 ** (e + 1))
            mv = z.var(axis=0) * (1 - 0.5 ** (e + 1)) + 0.5 ** (e + 1)
            bn = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + 1e-3) * gamma + beta
            bn_inf = (z - mm) / np.sqrt(mv + 1e-3) * gamma + beta
            act = _activate(bn, activation)
            layer = f"dense{b}"
            for kind, values in zip(KINDS_PER_BLOCK, (z, bn, bn_inf, bn, act)):
                name = f"{layer}_act" if kind in ("pre_activation", "activation") else f"{layer}_bn"
                positions.append(_position(name, b, kind, values, edges(b, kind, values), activation))
            bn_params[f"{layer}_bn"] = {"gamma": _summary(gamma), "beta": _summary(beta),
                                        "moving_mean": _summary(mm), "moving_variance": _summary(mv)}
        out = rng.dirichlet(np.ones(3), size=probe_size)
        positions.append(_position("output", -1, "output", out, edges(-1, "output", out), activation))
        grads = {f"dense{b}": float(0.5 / (b + e + 1)) for b in range(1, blocks + 1)}
        grads["output"] = float(1.0 / (e + 1))
        acc = 0.5 + 0.1 * e
        probes.append({
            "epoch": e, "positions": positions, "gradients": grads, "bn_params": bn_params,
            "probe_metrics": {"train_mode": {"loss": 1.0 / (e + 1), "accuracy": min(acc, 1.0)},
                              "inference_mode": {"loss": 1.2 / (e + 1), "accuracy": min(acc - 0.05, 1.0)}},
        })

    history = {
        "loss": [1.0 / (i + 1) for i in range(epochs)],
        "accuracy": [0.6 + 0.1 * i for i in range(epochs)],
        "val_loss": [1.1 / (i + 1) for i in range(epochs)],
        "val_accuracy": [0.55 + 0.1 * i for i in range(epochs)],
    }
    batches = []
    for e in range(1, epochs + 2):
        last = steps_per_epoch if e <= epochs else running_batches
        for n in range(log_every, last + 1, log_every):
            step = (e - 1) * steps_per_epoch + n
            batches.append({"epoch": e, "batch": n, "step": step,
                            "loss": 1.0 / (1 + step / steps_per_epoch), "accuracy": 0.5 + 0.4 * step / (
                                steps_per_epoch * (epochs + 1))})
    running = running_batches > 0
    config = {
        "dataset": {"name": "circles"},
        "model": {"hidden": [units] * blocks, "activation": activation, "norm": {"placement": "before"}},
        "training": {"epochs": epochs + (1 if running else 0)},
        "instrument": {"probe_size": probe_size, "log_every": log_every, "bins": bins},
    }
    summary = None if running else {
        "final": {k: v[-1] for k, v in history.items() if v},
        "wall_time_s": 1.0, "device": "CPU", "epochs_completed": epochs,
        "params": {"total": 100, "trainable": 90, "non_trainable": 10},
        "layers": [], "diverged_at": None, "error": None,
    }
    return {
        "format": "bnviz.run/1", "id": f"fake{seed}", "status": "running" if running else "succeeded",
        "config": ExperimentConfig.from_dict(config).to_dict(), "history": history, "batches": batches,
        "probes": probes, "summary": summary,
    }
