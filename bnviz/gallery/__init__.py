"""The experiment gallery: one card per question about batch normalization.

Modules: `model` (Experiment, Arm, Row), `metrics` (what is measured in run records),
`claims` (each card's claim as written tests, and the one rule over seeds that decides a verdict),
`configs` (shared arm configs), `cards/` (one module per card); the figures are in
`bnviz.figures.gallery`. Everything importers use is re-exported here.

Each `Experiment` is a card: the question it answers, the claim it tests (with its source),
the arms to train (all at once; a fast classroom variant and the full-size one), and the
comparison that answers the question once the runs are done: a table of numbers
(`summarize`), a one-sentence verdict (`verdict`) and figures (`figures`).

Everything here is pure: configs go out, run records (docs/run-record.md) come back in.
Nothing trains, reads files or imports Streamlit, so the dashboard's Learn page and the
headless reproduction report (bnviz.report.reproduce) share this one definition.

Runs are shared across cards through the config fingerprint: two arms with identical
configs (e.g. the Fig. 1 arms and the learning-rate sweep at the same rate) are trained once.

`records_by_arm` maps an arm label to its run records, one per seed (a single record or
None is accepted too). A record with status "skipped" (made by the report when a dataset
is unavailable; `summary.error` says why) or no record at all never raises: the arm is
reported as skipped / not run.
"""

from __future__ import annotations

from bnviz.config import ConfigError
from bnviz.figures.gallery import (
    curves,
    history,
    layer_bars,
    percentile_panels,
    published_vs_ours,
    series_figure,
    sweep_figure,
)
from bnviz.gallery.cards.batch_size import (
    BATCH_SIZE,
    BS_FAST,
    BS_FULL,
    NORM_LABELS,
)
from bnviz.gallery.cards.circles_extensions import (
    EXTENSIONS,
)
from bnviz.gallery.cards.ioffe_fig1 import (
    FIG1,
)
from bnviz.gallery.cards.landscape import (
    LANDSCAPE,
    LANDSCAPE_LABELS,
)
from bnviz.gallery.cards.learning_rate import (
    LEARNING_RATE,
    LR_FAST,
    LR_FULL,
    WORKS_WITHIN,
)
from bnviz.gallery.cards.noisy_bn import (
    NOISE,
    NOISY_BN,
    NOISY_LABELS,
)
from bnviz.gallery.cards.saturation import (
    SAT_SETTINGS,
    SATURATION,
)
from bnviz.gallery.cards.scale_invariance import (
    SCALE,
    SCALES,
)
from bnviz.gallery.cards.train_vs_inference import (
    MOMENTA,
    TRAIN_VS_INFERENCE,
)
from bnviz.gallery.cards.tutorial_cifar10 import (
    CIFAR,
)
from bnviz.gallery.cards.tutorial_circles import (
    CIRCLES,
)
from bnviz.gallery.cards.tutorial_mnist_a import (
    MNIST_A,
)
from bnviz.gallery.cards.tutorial_mnist_b import (
    MNIST_B,
)
from bnviz.gallery.configs import (
    BN_LABELS,
)
from bnviz.gallery.metrics import (
    LAG,
    METRIC,
    SKIPPED,
    TOLERANCE,
    WARM,
    Record,
    aggregate_arm_metric,
    arm_status,
    as_lists,
    bn_warmup,
    diverged_at,
    epochs_to,
    final_value,
    first_layer_ratio,
    gradients_by_layer,
    last_block,
    mean_gap,
    median_drift,
    mode_gap,
    saturation_by_layer,
)
from bnviz.gallery.model import (
    Arm,
    ArmBuilder,
    Drawer,
    Experiment,
    Extra,
    FigureList,
    Judge,
    Row,
    UnknownExperiment,
    Verdict,
    sweep_points,
)

__all__ = [
    "BATCH_SIZE",
    "BN_LABELS",
    "BS_FAST",
    "BS_FULL",
    "CIFAR",
    "CIRCLES",
    "EXPERIMENTS",
    "EXTENSIONS",
    "FIG1",
    "LAG",
    "LANDSCAPE",
    "LANDSCAPE_LABELS",
    "LEARNING_RATE",
    "LR_FAST",
    "LR_FULL",
    "METRIC",
    "MNIST_A",
    "MNIST_B",
    "MOMENTA",
    "NOISE",
    "NOISY_BN",
    "NOISY_LABELS",
    "NORM_LABELS",
    "SATURATION",
    "SAT_SETTINGS",
    "SCALE",
    "SCALES",
    "SKIPPED",
    "TOLERANCE",
    "TRAIN_VS_INFERENCE",
    "WARM",
    "WORKS_WITHIN",
    "Arm",
    "ArmBuilder",
    "Drawer",
    "Experiment",
    "Extra",
    "FigureList",
    "Judge",
    "Record",
    "Row",
    "UnknownExperiment",
    "Verdict",
    "aggregate_arm_metric",
    "arm_status",
    "as_lists",
    "bn_warmup",
    "check_configs",
    "curves",
    "diverged_at",
    "epochs_to",
    "final_value",
    "first_layer_ratio",
    "get_experiment",
    "gradients_by_layer",
    "history",
    "last_block",
    "layer_bars",
    "mean_gap",
    "median_drift",
    "mode_gap",
    "percentile_panels",
    "published_vs_ours",
    "saturation_by_layer",
    "series_figure",
    "sweep_figure",
    "sweep_points",
]

# --------------------------------------------------------------------------- the gallery


EXPERIMENTS: dict[str, Experiment] = {e.slug: e for e in (
    CIRCLES, MNIST_A, MNIST_B, CIFAR, FIG1, LEARNING_RATE, SATURATION, BATCH_SIZE, TRAIN_VS_INFERENCE,
    EXTENSIONS, SCALE, NOISY_BN, LANDSCAPE,
)}


def get_experiment(slug: str) -> Experiment:
    try:
        return EXPERIMENTS[slug]
    except KeyError:
        raise UnknownExperiment(f"unknown experiment {slug!r}; one of: {', '.join(EXPERIMENTS)}") from None


def check_configs() -> None:
    """Build every arm of every card (fast, full): raises ConfigError on a broken definition."""
    for exp in EXPERIMENTS.values():
        for fast in (True, False):
            labels = [a.label for a in exp.arms(fast)]
            if len(set(labels)) != len(labels):
                raise ConfigError(f"{exp.slug}: duplicate arm labels")
