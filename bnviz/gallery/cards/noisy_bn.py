"""Card: Santurkar et al. 2018, noisy BN: BN helps even when the distributions it stabilizes are shaken."""

from __future__ import annotations

from bnviz.figures.gallery import curves_and_drift
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import mnist_mlp
from bnviz.gallery.metrics import (
    TOLERANCE,
    Record,
    final_value,
    joined_notes,
    mean_over_seeds,
    median_drift,
)
from bnviz.gallery.model import Arm, Experiment, Verdict

NOISE = 1.0  # shift U(-1, 1) and scale U(1, 2) per unit and step: as large as BN's own unit spread
NOISY_LABELS = ("no BN", "BN", "noisy BN")
TRAIN_METRIC = "accuracy"  # the training accuracy of the last epoch (Keras' running mean, noise on)
# Fig. 2's two panels: training accuracy per arm, and the drift noisy BN puts back on purpose
_noisy_draw = curves_and_drift(
    TRAIN_METRIC, ("Fig. 2 (left): training accuracy", "Training accuracy per epoch"),
    ("Fig. 2 (right): the last hidden layer's sigmoid input",
     "Sigmoid input of hidden layer 3 (after the noise), median and 15–85th percentiles"))


def train_accuracy(record: Record) -> float | None:
    """The final training accuracy (the paper's Fig. 2 plots training accuracy)."""
    return final_value(record, TRAIN_METRIC)


def _noisy_build(fast: bool) -> list[Arm]:
    plain, bn = mnist_mlp("none", fast=fast), mnist_mlp("before", fast=fast)  # the Fig. 1 arms: shared runs
    noisy = bn.with_updates({"model.norm.noise": NOISE})
    return [Arm(label, cfg, group=label) for label, cfg in zip(NOISY_LABELS, (plain, bn, noisy))]


def _noisy_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    acc = {label: mean_over_seeds(lists.get(label, []), train_accuracy) for label in NOISY_LABELS}
    drift = {label: mean_over_seeds(lists.get(label, []), lambda r: median_drift(r, 3)) for label in NOISY_LABELS}
    if any(acc[label] is None for label in NOISY_LABELS):
        return None, "Not judged: all three arms must finish."
    text = "Final training accuracy " + ", ".join(f"{label} {acc[label]:.3f}" for label in NOISY_LABELS)
    if drift["noisy BN"] is not None and drift["BN"] is not None:
        text += (f"; the median of block 3's sigmoid input moved {drift['noisy BN']:.2f} initial 15–85% widths "
                 f"with noisy BN vs {drift['BN']:.2f} with BN")
    held = abs(acc["noisy BN"] - acc["BN"]) <= TOLERANCE and acc["noisy BN"] > acc["no BN"]
    return held, text + "."


def _noisy_extra(records: list[Record]) -> str:
    return joined_notes([("training accuracy {:.3f}", mean_over_seeds(records, train_accuracy)),
                         ("median drift {:.2f}", mean_over_seeds(records, lambda r: median_drift(r, 3)))])


NOISY_BN = Experiment(
    slug="noisy-bn",
    title="Santurkar et al.: BN with noise that shakes its distributions (noisy BN)",
    question="If BN works by keeping each layer's input distribution stable, does it stop working when the "
             "distributions are made unstable on purpose?",
    claim="No: with time-varying noise of non-zero mean and non-unit variance injected after every BN layer, the "
          "layers' input distributions are visibly unstable, yet the network trains about as well as with "
          "standard BN and better than without BN, so BN's benefit does not come from reducing internal "
          "covariate shift.",
    source="Santurkar, Tsipras, Ilyas & Madry 2018, “How Does Batch Normalization Help Optimization?”, §2.1 and "
           "Fig. 2",
    paper_figure="Santurkar et al.'s Fig. 2 (VGG on CIFAR-10, training accuracy over steps, figure only, no "
                 "numbers in the text): the “noisy” BatchNorm curve lies on top of the standard BatchNorm curve, "
                 "both above the network without BN, while the histograms of a layer's activations move and "
                 "widen from step to step with noisy BN. Ours is Ioffe & Szegedy's MNIST network, so compare "
                 "the ordering of the curves, not the numbers.",
    build=_noisy_build,
    judge=_noisy_judge,
    draw=_noisy_draw,
    extra=_noisy_extra,
    claims=(
        Claim(f"noisy BN trains about as well as BN: final training accuracies within {TOLERANCE:g}",
              better="noisy BN", worse="BN", threshold=TOLERANCE, kind="near", metric="final training accuracy",
              measure=train_accuracy),
        Claim("noisy BN trains better than no BN", better="noisy BN", worse="no BN",
              metric="final training accuracy", measure=train_accuracy),
    ),
    setup=f"The Fig. 1 network (MNIST, 3 × 100 sigmoid units, BN before the sigmoid, SGD lr 1.0, batch 60; "
          f"fast: 8,000 digits, 5 epochs; full: 60,000 digits, 50 epochs); noisy BN: after each BN layer, every "
          f"unit is scaled by U(1, {1 + NOISE:g}) and shifted by U(−{NOISE:g}, {NOISE:g}), drawn afresh at every "
          "training step, in training only (the paper also draws per example). The no-BN and BN arms are "
          "the Fig. 1 card's runs",
)
