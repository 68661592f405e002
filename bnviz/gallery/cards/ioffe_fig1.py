"""Card: Ioffe & Szegedy's Figure 1, internal covariate shift on MNIST."""

from __future__ import annotations

from bnviz import figures as bnfig
from bnviz.figures.gallery import curves_and_drift, history
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import BN_LABELS, mnist_mlp
from bnviz.gallery.metrics import Record, arm_mean, finite_mean, joined_notes, mean_over_seeds, median_drift
from bnviz.gallery.model import Arm, Experiment, Verdict


def _fig1_build(fast: bool) -> list[Arm]:
    return [Arm(BN_LABELS[p], mnist_mlp(p, fast=fast), group=BN_LABELS[p]) for p in ("none", "before")]


def _fig1_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    plain, bn = lists.get("no BN", []), lists.get("BN before sigmoid", [])
    a, b = arm_mean(plain), arm_mean(bn)
    if a is None or b is None:
        return None, "Not judged: both arms must finish."
    ha = bnfig.aggregate_series(history(plain, "val_accuracy"))["mean"]
    hb = bnfig.aggregate_series(history(bn, "val_accuracy"))["mean"]
    pairs = [(x, y) for x, y in zip(ha, hb) if x is not None and y is not None]
    ahead = sum(1 for x, y in pairs if y >= x) / len(pairs) if pairs else 0.0
    da = mean_over_seeds(plain, lambda r: median_drift(r, 3))
    db = mean_over_seeds(bn, lambda r: median_drift(r, 3))
    drift = (f"the median of block 3's sigmoid input moved {db:.2f} (BN) vs {da:.2f} (no BN) initial "
             "15–85% widths" if da is not None and db is not None else "no percentile data")
    held = b >= a - 0.005 and ahead >= 0.8 and da is not None and db is not None and db < da
    return held, (f"Test accuracy {b:.3f} with BN vs {a:.3f} without; BN ahead at {ahead:.0%} of the epochs; "
                  f"{drift}.")


def _fig1_extra(records: list[Record]) -> str:
    drift = mean_over_seeds(records, lambda r: median_drift(r, 3))
    early = finite_mean((r.get("history") or {}).get("val_accuracy", [None])[0] for r in records)
    return joined_notes([("after epoch 1: {:.3f}", early), ("median drift {:.2f}", drift)])


_fig1_draw = curves_and_drift(
    "val_accuracy", ("Fig. 1(a): test accuracy during training", "Fig. 1(a): test accuracy during training"),
    ("Fig. 1(b, c): last hidden layer's sigmoid input",
     "Fig. 1(b, c): sigmoid input of hidden layer 3, median and 15–85th percentiles"))


FIG1 = Experiment(
    slug="ioffe-fig1",
    title="Ioffe & Szegedy, Figure 1: internal covariate shift on MNIST",
    question="Does BN keep the distribution of a layer's inputs stable while the network trains, and does the "
             "network learn faster for it?",
    claim="With BN the network reaches a higher test accuracy throughout training, and the 15th/50th/85th "
          "percentiles of the last hidden layer's sigmoid inputs stay put, while without BN they drift.",
    source="Ioffe & Szegedy 2015, “Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
           "Covariate Shift”, Fig. 1 (figure only, no numbers in the text)",
    build=_fig1_build,
    judge=_fig1_judge,
    draw=_fig1_draw,
    extra=_fig1_extra,
    claims=(
        Claim("with BN the network reaches a higher final test accuracy", better="BN before sigmoid",
              worse="no BN"),
        Claim("without BN the median of the last hidden layer's sigmoid input drifts further", better="no BN",
              worse="BN before sigmoid", metric="median drift of block 3's sigmoid input (initial 15–85% widths)",
              measure=lambda r: median_drift(r, 3)),
    ),
    setup="MNIST, 3 × 100 sigmoid units (BN before the sigmoid), SGD lr 1.0, batch 60; full: 50 epochs of "
          "60,000 digits = the paper's 50,000 steps; fast: 8,000 digits, 5 epochs",
)
