"""Card: BN makes training insensitive to the initial weight scale."""

from __future__ import annotations

from bnviz.figures.gallery import curves, sweep_figure
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import BN_LABELS, mnist_mlp
from bnviz.gallery.metrics import SKIPPED, Record
from bnviz.gallery.model import Arm, Experiment, FigureList, Verdict, sweep_points
from bnviz.states import MISSING

SCALES = (0.01, 1.0, 10.0)


def _scale_build(fast: bool) -> list[Arm]:
    return [Arm(f"{BN_LABELS[p]}, scale {s:g}", mnist_mlp(p, fast=fast, scale=s), group=BN_LABELS[p], x=s)
            for p in ("none", "before") for s in SCALES]


def _scale_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    points = sweep_points(exp, lists)
    spreads = {}
    for group in (BN_LABELS["none"], BN_LABELS["before"]):
        vals = [p["mean"] if p["mean"] is not None else 0.0 for p in points
                if p["group"] == group and p["status"] not in (MISSING, SKIPPED)]
        if len(vals) >= 2:
            spreads[group] = (min(vals), max(vals))
    if len(spreads) < 2:
        return None, "Not judged: both groups need at least two finished scales."
    (pl, ph), (bl, bh) = spreads[BN_LABELS["none"]], spreads[BN_LABELS["before"]]
    held = (bh - bl) <= 0.05 and (ph - pl) > (bh - bl) + 0.05
    return held, (f"Across initial weight scales {', '.join(f'{s:g}' for s in SCALES)} test accuracy spans "
                  f"{bl:.3f}–{bh:.3f} with BN and {pl:.3f}–{ph:.3f} without.")


def _scale_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    return [("Final test accuracy against the initial weight scale",
             sweep_figure(sweep_points(exp, lists), "Final test accuracy against the initial weight scale",
                          "weight scale (multiplies every initial kernel)")),
            ("Test accuracy during training", curves(lists, "val_accuracy", "Test accuracy per epoch"))]


SCALE = Experiment(
    slug="scale-invariance",
    title="Scale invariance of BN",
    question="Does it matter how large the initial weights are when the layers are batch-normalized?",
    claim="BN(Wu) = BN((aW)u): a layer followed by BN computes the same function whatever the scale of its weights "
          "(and its gradient shrinks as the weights grow), so training with BN is insensitive to the initial weight "
          "scale, while without BN the scale matters (tiny weights shrink the signal and the gradients).",
    source="Ioffe & Szegedy 2015, §3.3",
    build=_scale_build,
    judge=_scale_judge,
    draw=_scale_draw,
    claims=(Claim("with initial weights scaled by 0.01, BN beats no BN by more than 0.05",
                  better=f"{BN_LABELS['before']}, scale 0.01", worse=f"{BN_LABELS['none']}, scale 0.01",
                  threshold=0.05),),
    setup="The Fig. 1 network (MNIST, 3 × 100 sigmoid, SGD lr 1.0, batch 60) with every initial kernel "
          "multiplied by 0.01, 1 or 10 (the output layer too, which BN does not protect); fast: 8,000 digits, "
          "5 epochs",
)
