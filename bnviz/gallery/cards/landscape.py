"""Card: Santurkar et al. 2018, the loss landscape: BN makes the loss and its gradient change less
along the gradient (their Fig. 4)."""

from __future__ import annotations

from bnviz.config import LANDSCAPE_MULTIPLIERS as MULTIPLIERS
from bnviz.figures.landscape import landscape_figure, landscape_series
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import mnist_mlp
from bnviz.gallery.metrics import Record, finite_mean, joined_notes, mean_over_seeds
from bnviz.gallery.model import Arm, Experiment, FigureList, Verdict

LANDSCAPE_LABELS = ("no BN", "BN")
FAST_DIGITS, FAST_EPOCHS = 4000, 10  # as many steps as the Fig. 1 card's fast runs, twice the measurements


def _mean_of(key: str):
    """A run's mean over its measurements (before training and after every epoch) of one series."""
    def measure(record: Record) -> float | None:
        return finite_mean(landscape_series(record)[key])
    return measure


def loss_range(record: Record) -> float | None:
    """Fig. 4(a): the mean over training of (max − min) loss over the step sizes along the gradient."""
    series = landscape_series(record)
    return finite_mean(hi - lo for lo, hi in zip(series["loss_min"], series["loss_max"])
                       if lo is not None and hi is not None)


grad_change = _mean_of("change_max")  # Fig. 4(b): the largest gradient change over the step sizes
beta = _mean_of("beta")  # Fig. 4(c): effective β-smoothness
MEASURES = (("loss range", loss_range), ("gradient change", grad_change), ("effective β-smoothness", beta))


def _build(fast: bool) -> list[Arm]:
    out = []
    for label, placement in zip(LANDSCAPE_LABELS, ("none", "before")):
        cfg = mnist_mlp(placement, fast=fast, n_train_fast=FAST_DIGITS, epochs_fast=FAST_EPOCHS)
        out.append(Arm(label, cfg.with_updates({"instrument.landscape": True}), group=label))
    return out


def _judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    """The numbers the claims test (each claim's own measure), in one sentence."""
    means = {label: [mean_over_seeds(lists.get(label, []), c.measure) for c in exp.claims]
             for label in LANDSCAPE_LABELS}
    if any(v is None for values in means.values() for v in values):
        return None, "Not judged: both arms must finish with landscape measurements."
    plain, bn = means["no BN"], means["BN"]
    text = "; ".join(f"{c.metric} {b:.3g} with BN vs {a:.3g} without" for c, a, b in zip(exp.claims, plain, bn))
    return all(b < a for a, b in zip(plain, bn)), f"{text[0].upper()}{text[1:]}."


def _draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    shown = [label for label in exp.labels(lists) if lists.get(label)]
    seeds = " (mean over seeds)" if any(len(lists[label]) > 1 for label in shown) else ""
    return [("Fig. 4: the loss landscape along the gradient",
             landscape_figure(lists, shown, f"Along the gradient, at η = {MULTIPLIERS[0]:g}–{MULTIPLIERS[-1]:g} × "
                                            f"the learning rate, over training{seeds}"))]


def _extra(records: list[Record]) -> str:
    return joined_notes([(f"{name} {{:.3g}}", mean_over_seeds(records, fn)) for name, fn in MEASURES])


def _claim(name: str, fig: str, measure) -> Claim:
    return Claim(f"with BN the {name} along the gradient is smaller ({fig})", better="no BN", worse="BN",
                 metric=f"mean {name} over training", measure=measure)


LANDSCAPE = Experiment(
    slug="santurkar-landscape",
    title="Santurkar et al.: BN makes the loss landscape smoother",
    question="If you take a step along the gradient, how much do the loss and the gradient itself change, with "
             "and without BN?",
    claim="With BN the loss changes less as you move along the gradient, the gradient changes less (it "
          "predicts the next gradient better), and the effective β-smoothness (the largest gradient change per "
          "unit moved) is lower: BN makes the landscape smoother, which is why larger steps work.",
    source="Santurkar, Tsipras, Ilyas & Madry 2018, “How Does Batch Normalization Help Optimization?”, §3.1 and "
           "Fig. 4",
    paper_figure="Santurkar et al.'s Fig. 4 (VGG on CIFAR-10, over training steps, figure only, no numbers in "
                 "the text): with BN the band of loss values along the gradient (a) and the l2 change of the "
                 "gradient (b) are much narrower, and the effective β-smoothness (c) is much lower, throughout "
                 "training. They move up to η = 0.4 × the gradient; we go up to 4 × the learning rate. Ours is "
                 "Ioffe & Szegedy's MNIST network, so compare which arm lies lower, not the numbers.",
    build=_build,
    judge=_judge,
    draw=_draw,
    extra=_extra,
    claims=(
        _claim("loss range", "Fig. 4a", loss_range),
        _claim("gradient change", "Fig. 4b", grad_change),
        _claim("effective β-smoothness", "Fig. 4c", beta),
    ),
    setup="The Fig. 1 network (MNIST, 3 × 100 sigmoid units, BN before the sigmoid, SGD lr 1.0 for both arms, "
          f"batch 60; full: 60,000 digits, 50 epochs; fast: {FAST_DIGITS:,} digits, {FAST_EPOCHS} epochs). "
          "Before training and after every epoch, on the fixed 256-digit probe batch: the training-mode gradient "
          "g, then the loss and gradient at w − η·g for η = "
          f"{', '.join(f'{m:g}' for m in MULTIPLIERS)} × the learning rate (the model is never changed). "
          "Each claim compares the mean over training of one run, over seeds",
)
