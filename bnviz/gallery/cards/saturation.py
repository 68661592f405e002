"""Card: saturating activations and vanishing gradients with and without BN."""

from __future__ import annotations

import math

from bnviz.figures.gallery import curves, layer_bars
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import mnist_mlp
from bnviz.gallery.metrics import (
    Record,
    arm_mean,
    finite_mean,
    first_layer_ratio,
    gradients_by_layer,
    joined_notes,
    mean_over_seeds,
    saturation_by_layer,
)
from bnviz.gallery.model import Arm, Experiment, FigureList, Verdict

SAT_SETTINGS = {"tanh": 0.5, "sigmoid": 1.0}  # activation -> learning rate


def _sat_build(fast: bool) -> list[Arm]:
    arms = []
    for act, lr in SAT_SETTINGS.items():
        for p in ("none", "before"):
            label = f"{act}, {'no BN' if p == 'none' else 'BN'}"
            cfg = mnist_mlp(p, fast=fast, lr=lr, activation=act, depth=6, n_train_fast=4000, epochs_fast=4,
                             epochs_full=20)
            arms.append(Arm(label, cfg, group=act))
    return arms


def _mean_saturation(record: Record) -> float | None:
    return finite_mean(saturation_by_layer(record).values())


def _log_ratio(record: Record) -> float | None:
    ratio = first_layer_ratio(record)
    return math.log10(ratio) if ratio is not None and ratio > 0 else None


def _sat_extra(records: list[Record]) -> str:
    sat = mean_over_seeds(records, _mean_saturation)
    ratio = mean_over_seeds(records, first_layer_ratio)
    return joined_notes([("saturated at the end: {:.1%}", sat), ("min ‖∇W‖ layer 1 / output: {:.2g}", ratio)])


def _sat_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    parts, held = [], []
    for act in SAT_SETTINGS:
        plain, bn = lists.get(f"{act}, no BN", []), lists.get(f"{act}, BN", [])
        a, b = arm_mean(plain), arm_mean(bn)
        if a is None or b is None:
            continue
        ra, rb = mean_over_seeds(plain, first_layer_ratio), mean_over_seeds(bn, first_layer_ratio)
        sa, sb = mean_over_seeds(plain, _mean_saturation), mean_over_seeds(bn, _mean_saturation)
        ok = b > a and ra is not None and rb is not None and rb > 10 * ra
        if sa is not None and sb is not None and sa > 0.05:
            ok = ok and sb < sa
        held.append(ok)
        parts.append(f"{act}: accuracy {b:.3f} with BN vs {a:.3f} without, saturated {_pct(sb)} vs {_pct(sa)}, "
                     f"layer-1/output gradient ratio {_g(rb)} vs {_g(ra)}")
    if not held:
        return None, "Not judged: no activation has both arms finished."
    return all(held), "; ".join(parts) + "."


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _g(v: float | None) -> str:
    return "—" if v is None else f"{v:.2g}"


def _sat_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    labels = [label for label in exp.labels(lists) if lists.get(label)]
    first = {label: lists[label][0] for label in labels}
    sat = {label: saturation_by_layer(r) for label, r in first.items()}
    sat = {label: v for label, v in sat.items() if any(x is not None for x in v.values())}
    return [
        ("Saturated units per layer at the end", layer_bars(
            sat, "Share of saturated activations per hidden layer, end of training", "saturated share",
            percent=True)),
        ("Gradient norm per layer at the start", layer_bars(
            {label: gradients_by_layer(r, 0) for label, r in first.items()},
            "Weight-gradient norm per layer before training (log)", "‖∇W‖₂", log_y=True)),
        ("Gradient norm per layer at the end", layer_bars(
            {label: gradients_by_layer(r) for label, r in first.items()},
            "Weight-gradient norm per layer at the end of training (log)", "‖∇W‖₂", log_y=True)),
        ("Test accuracy during training", curves(lists, "val_accuracy", "Test accuracy during training")),
    ]


SATURATION = Experiment(
    slug="saturation",
    title="Saturating activations and vanishing gradients",
    question="Can a deep network with saturating activations (sigmoid, tanh) train without BN, and what does BN "
             "change in its units and gradients?",
    claim="Without BN a deep sigmoid/tanh network gets stuck: units saturate and the gradients reaching the first "
          "layers vanish. BN keeps the nonlinearity inputs in the responsive range, so gradients reach every layer "
          "and saturating nonlinearities become usable.",
    source="Ioffe & Szegedy 2015, §1 and §3.3 (saturating nonlinearities)",
    build=_sat_build,
    judge=_sat_judge,
    draw=_sat_draw,
    extra=_sat_extra,
    claims=tuple(claim for act in SAT_SETTINGS for claim in (
        Claim(f"{act}: BN reaches a higher final test accuracy", better=f"{act}, BN", worse=f"{act}, no BN"),
        Claim(f"{act}: with BN ten times more of the gradient reaches the first layer", better=f"{act}, BN",
              worse=f"{act}, no BN", threshold=1.0, metric="log10 of the smallest layer-1/output gradient ratio",
              measure=_log_ratio),
    )),
    setup="MNIST, 6 × 100 tanh (SGD lr 0.5) or sigmoid (SGD lr 1.0) units, BN before the activation, batch 60; "
          "fast: 4,000 digits, 4 epochs; full: 60,000 digits, 20 epochs",
)
