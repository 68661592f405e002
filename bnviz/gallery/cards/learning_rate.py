"""Card: how high the learning rate can go with and without BN."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bnviz.figures.gallery import sweep_figure
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import BN_LABELS, mnist_mlp
from bnviz.gallery.metrics import SKIPPED, Record
from bnviz.gallery.model import Arm, Experiment, FigureList, Verdict, sweep_points
from bnviz.states import MISSING

LR_FAST = (0.01, 0.1, 1.0, 10.0, 100.0)
LR_FULL = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
WORKS_WITHIN = 0.1  # a rate "works" when the arm ends within 0.1 of the sweep's best accuracy


def _lr_build(fast: bool) -> list[Arm]:
    return [Arm(f"{BN_LABELS[p]}, lr {lr:g}", mnist_mlp(p, fast=fast, lr=lr), group=BN_LABELS[p], x=lr)
            for p in ("none", "before") for lr in (LR_FAST if fast else LR_FULL)]


def _working_rates(points: Sequence[Mapping[str, Any]], group: str, best: float) -> list[float]:
    return sorted(float(p["x"]) for p in points if p["group"] == group and p["mean"] is not None
                  and p["mean"] >= best - WORKS_WITHIN)


def _lr_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    points = sweep_points(exp, lists)
    means = [p["mean"] for p in points if p["mean"] is not None]
    if not means:
        return None, "Not judged: no arm finished."
    best = max(means)
    plain = _working_rates(points, BN_LABELS["none"], best)
    bn = _working_rates(points, BN_LABELS["before"], best)
    broke = sorted((float(p["x"]), p["group"], p["status"]) for p in points if p["mean"] is None
                   and p["status"] not in (MISSING, SKIPPED))
    def rng(rates: list[float]) -> str:
        if not rates:
            return "none"
        return f"only {rates[0]:g}" if len(rates) == 1 else f"{rates[0]:g}–{rates[-1]:g}"

    text = (f"Within {WORKS_WITHIN:.1f} of the best accuracy ({best:.3f}): learning rates {rng(plain)} without "
            f"BN, {rng(bn)} with BN")
    if broke:
        text += "; " + ", ".join(f"{g} {s} at lr {x:g}" for x, g, s in broke)
    top_plain, top_bn = (plain[-1] if plain else -math.inf), (bn[-1] if bn else -math.inf)
    if not bn:
        return False, text + "."
    return top_bn > top_plain, text + "."


def _lr_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    return [("Final test accuracy against the learning rate",
             sweep_figure(sweep_points(exp, lists), "Final test accuracy against the learning rate (red ×: diverged)",
                          "learning rate"))]


LEARNING_RATE = Experiment(
    slug="learning-rate",
    title="Higher learning rates",
    question="How high can the learning rate go with and without BN before training breaks?",
    claim="BN makes training robust to the parameter scale, so much higher learning rates can be used without "
          "divergence or getting stuck: without BN the network breaks (diverges or stops learning) at a lower rate.",
    source="Ioffe & Szegedy 2015, §3.3 “Batch Normalization enables higher learning rates”",
    build=_lr_build,
    judge=_lr_judge,
    draw=_lr_draw,
    claims=(Claim(f"at lr 10 (ten times Fig. 1's rate) BN beats no BN by more than {WORKS_WITHIN:g}",
                  better=f"{BN_LABELS['before']}, lr 10", worse=f"{BN_LABELS['none']}, lr 10",
                  threshold=WORKS_WITHIN),),
    setup="The Fig. 1 network (MNIST, 3 × 100 sigmoid, SGD, batch 60) over learning rates 0.01–100; "
          "fast: 8,000 digits, 5 epochs",
)
