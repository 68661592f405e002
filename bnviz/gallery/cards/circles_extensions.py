"""Card: the circles tutorial's extensions (no γ/β, momentum 0, BN on the input)."""

from __future__ import annotations

from bnviz.figures.gallery import curves, published_vs_ours
from bnviz.gallery.configs import preset_config
from bnviz.gallery.metrics import Record, arm_mean
from bnviz.gallery.model import Arm, Experiment, FigureList, Verdict


def _ext_build(fast: bool) -> list[Arm]:
    bn = preset_config("seed001-circles-after", fast)
    return [
        Arm("no BN", preset_config("seed001-circles-none", fast), group="no BN"),
        Arm("BN after ReLU", bn, group="BN"),
        Arm("BN without γ and β", bn.with_updates({"model.norm.center": False, "model.norm.scale": False}),
            group="BN"),
        Arm("BN with momentum 0", bn.with_updates({"model.norm.momentum": 0.0}), group="BN"),
        Arm("BN on the input too", bn.with_updates({"model.norm.on_input": True}), group="BN"),
    ]


def _ext_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    base = arm_mean(lists.get("BN after ReLU", []))
    if base is None:
        return None, "No claim to test (open questions from the tutorial); the BN baseline did not finish."
    parts = []
    for label in exp.labels(lists):
        if label == "BN after ReLU":
            continue
        v = arm_mean(lists.get(label, []))
        if v is not None:
            parts.append(f"{label} {v:.3f} ({v - base:+.3f})")
    return None, (f"No claim to test (the tutorial leaves these as exercises). Against BN after the ReLU "
                  f"({base:.3f}): " + ", ".join(parts) + ".")


def _ext_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    rows = exp.summarize(lists)
    return [("Final test accuracy per variant", published_vs_ours(rows, "Circles: final test accuracy per variant")),
            ("Test accuracy during training", curves(lists, "val_accuracy", "Circles: test accuracy per epoch"))]


EXTENSIONS = Experiment(
    slug="circles-extensions",
    title="The circles tutorial's extensions",
    question="What happens to the circles MLP with BN when γ and β are removed, the moving averages have momentum 0, "
             "or the input is normalized too?",
    claim="The tutorial suggests these as exercises and makes no claim; this card reports what happens.",
    source="circles tutorial, “Extensions” section",
    build=_ext_build,
    judge=_ext_judge,
    draw=_ext_draw,
    setup="The circles tutorial (BN after the ReLU), one change per arm; fast: 30 epochs, full: 100",
)
