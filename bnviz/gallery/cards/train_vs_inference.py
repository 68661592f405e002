"""Card: BN in training mode vs inference mode, per momentum of the moving averages."""

from __future__ import annotations

import itertools

from bnviz import figures as bnfig
from bnviz.figures.gallery import series_figure
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import preset_config
from bnviz.gallery.metrics import Record, mean_gap, mean_over_seeds, mode_gap
from bnviz.gallery.model import Arm, Experiment, FigureList, Verdict

MOMENTA = (0.0, 0.9, 0.99, 0.999)


def _mode_build(fast: bool) -> list[Arm]:
    base = preset_config("seed001-circles-after", fast)
    return [Arm(f"momentum {m:g}", base.with_updates({"model.norm.momentum": m}), group="BN after ReLU", x=m)
            for m in MOMENTA]


def _last_gap(record: Record) -> float | None:
    _, ys = mode_gap(record)
    return ys[-1] if ys else None


def _mode_extra(records: list[Record]) -> str:
    gap = mean_over_seeds(records, mean_gap)
    last = mean_over_seeds(records, _last_gap)
    if gap is None:
        return ""
    return f"probe accuracy gap (batch − moving stats): mean {gap:+.3f}, at the end {last:+.3f}"


def _mode_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    gaps = []
    for m in MOMENTA:
        g = mean_over_seeds(lists.get(f"momentum {m:g}", []), mean_gap)
        if g is not None:
            gaps.append((m, g))
    positive = [(m, g) for m, g in gaps if m > 0]
    if len(positive) < 2:
        return None, "Not judged: at least two momentum values above 0 must finish."
    rising = all(b >= a - 0.01 for (_, a), (_, b) in itertools.pairwise(positive))
    spread = positive[-1][1] - positive[0][1]
    held = rising and spread >= 0.02
    text = ", ".join(f"momentum {m:g}: {g:+.3f}" for m, g in gaps)
    return held, (f"Mean probe-accuracy gap (batch statistics − moving statistics) over training: {text}. "
                  + ("The gap grows with the momentum." if held else "The gap does not grow with the momentum."))


def _mode_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    series = {label: mode_gap(records[0]) for label, records in lists.items() if records}
    top = next((lists[label][0] for label in reversed(exp.labels(lists)) if lists.get(label)), None)
    title = exp.labels(lists)[-1] if top is not None else ""
    return [
        ("Train-mode minus inference-mode accuracy per momentum", series_figure(
            series, "Probe batch: accuracy with batch statistics minus with moving statistics", "epoch",
            "accuracy gap", zero_line=True)),
        (f"Train vs inference mode, {title}", bnfig.train_vs_inference(top)),
    ]


TRAIN_VS_INFERENCE = Experiment(
    slug="train-vs-inference",
    title="Training mode vs inference mode",
    question="BN normalizes with batch statistics while training but with moving averages at inference: how far "
             "apart are the two, and how does the momentum of the moving averages change that?",
    claim="At inference BN uses population statistics (estimated by moving averages), so the two modes agree "
          "only once the averages have caught up; a higher momentum makes the averages lag longer.",
    source="Ioffe & Szegedy 2015, §3.1 (inference with population statistics); Keras BatchNormalization docs "
           "(momentum)",
    build=_mode_build,
    judge=_mode_judge,
    draw=_mode_draw,
    extra=_mode_extra,
    claims=(Claim("with momentum 0.999 inference lags further behind training than with 0.9 (gap larger by "
                  "more than 0.02)", better="momentum 0.999", worse="momentum 0.9", threshold=0.02,
                  metric="mean probe-accuracy gap, batch − moving statistics", measure=mean_gap),),
    setup="The circles tutorial with BN after the ReLU, BN momentum 0, 0.9, 0.99 (Keras default), 0.999; "
          "fast: 30 epochs, full: 100",
)
