"""The gallery's data model: an `Experiment` (a card) trains `Arm`s and answers with `Row`s,
a verdict and figures.

A card is built with keyword arguments: `Experiment(slug=..., title=..., question=..., claim=...,
source=..., build=..., judge=..., draw=..., claims=...)`; `build(fast)` gives the arms, `judge`
describes the runs' numbers in a sentence, `claims` (bnviz.gallery.claims) are the written tests
whose rule over seeds decides the verdict, and `draw` makes the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import plotly.graph_objects as go

from bnviz import figures as bnfig
from bnviz.config import ExperimentConfig
from bnviz.errors import UserError
from bnviz.gallery.claims import NOT_JUDGED, Claim, Judgement, judge
from bnviz.gallery.metrics import (
    METRIC,
    SKIPPED,
    Record,
    aggregate_arm_metric,
    arm_status,
    as_lists,
    config_of,
    diverged_at,
    shorten,
    summary_of,
    warmup_note,
)
from bnviz.states import MISSING, RESULTS, RunState

Verdict = tuple[bool | None, str]
FigureList = list[tuple[str, go.Figure]]


class UnknownExperiment(UserError):
    """No card with this slug; the message lists the valid slugs."""


# --------------------------------------------------------------------------- arms and rows


@dataclass(frozen=True)
class Arm:
    """One setting of an experiment: what to train and how to show it."""

    label: str  # unique within the experiment; shared by the seeds of one setting
    config: ExperimentConfig
    group: str = ""  # series in sweep figures, e.g. "no BN" / "BN"
    x: float | None = None  # position on a sweep's x axis (learning rate, batch size, ...)
    published: float | None = None  # the source's number for this arm (test accuracy), if any
    replicate: int = 0  # 0..seeds-1

    @property
    def seed(self) -> int:
        return self.config.training.seed

    @property
    def key(self) -> str:
        """Unique per run: the label plus the seed."""
        return f"{self.label} · seed {self.seed}"


@dataclass(frozen=True)
class Row:
    """One line of an experiment's result table."""

    arm: str
    metric: str
    published: float | None
    ours: float | None  # mean over the seeds that finished
    ours_text: str  # what the table shows: "0.846", "0.846 ± 0.004 (n=3)", "diverged", "skipped"
    note: str = ""
    std: float | None = None
    n: int = 0
    status: str = "ok"  # ok | diverged | skipped | missing | failed | running ...


# --------------------------------------------------------------------------- the card


ArmBuilder = Callable[[bool], list[Arm]]

# Seeds per arm when a report does not say (`reproduce` without --seeds). Full size: enough seeds for
# the verdicts' 95% intervals to be narrow, fewer where one seed of a CNN costs minutes to hours.
FAST_SEEDS = 1  # the classroom variants: quick, never judged
SMALL_MODEL_SEEDS = 5  # full-size MLPs (circles, MNIST): cheap
CNN_SEEDS = 3  # full-size convolutional networks


def full_seeds_for(arms: list[Arm]) -> int:
    """The one rule: 5 seeds for a card whose arms are all MLPs, 3 when any arm is a CNN."""
    return SMALL_MODEL_SEEDS if all(a.config.model.family == "mlp" for a in arms) else CNN_SEEDS
Judge = Callable[["Experiment", dict[str, list[Record]]], Verdict]
Drawer = Callable[["Experiment", dict[str, list[Record]]], FigureList]
Extra = Callable[[list[Record]], str]


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """A gallery card. `build(fast)` gives one arm per setting (seed as configured)."""

    slug: str
    title: str
    question: str
    claim: str
    source: str
    build: ArmBuilder = field(repr=False)
    judge: Judge = field(repr=False)
    draw: Drawer = field(repr=False)
    extra: Extra | None = field(default=None, repr=False)  # per-arm measurement for the note column
    metric: str = METRIC
    report_full: bool = False  # the --fast report runs this card at full size (it is cheap enough)
    setup: str = ""  # one line: model, data, optimizer (what all arms share)
    claims: tuple[Claim, ...] = ()  # the written tests; no claims: never judged held or not
    paper_figure: str = ""  # what the source's own figure shows, in its numbers, stated beside ours
    full_seeds: int | None = None  # seeds per arm at full size; None: full_seeds_for(its full-size arms)

    # --- arms -------------------------------------------------------------------
    def arms(self, fast: bool, seeds: int = 1) -> list[Arm]:
        """All arms to train; with seeds=N each setting is repeated with training.seed = base + i."""
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        base = self.build(fast)
        if seeds == 1:
            return base
        out = []
        for arm in base:
            for i in range(seeds):
                cfg = arm.config.with_updates({"training.seed": arm.config.training.seed + i})
                out.append(replace(arm, config=cfg, replicate=i))
        return out

    def default_seeds(self, fast: bool) -> int:
        """Seeds per arm when the user names none: FAST_SEEDS for the fast variant, else `full_seeds`."""
        if fast:
            return FAST_SEEDS
        return self.full_seeds if self.full_seeds is not None else full_seeds_for(self.build(False))

    def arm_info(self, label: str) -> Arm | None:
        """The arm with this label (full variant first, then fast)."""
        for fast in (False, True):
            for arm in self.build(fast):
                if arm.label == label:
                    return arm
        return None

    def labels(self, records_by_arm: Mapping[str, Any] | None = None, fast: bool | None = None) -> list[str]:
        """Arm labels in card order; labels only present in the records come last."""
        order: list[str] = []
        for f in ((fast,) if fast is not None else (False, True)):
            for arm in self.build(f):
                if arm.label not in order:
                    order.append(arm.label)
        given = list((records_by_arm or {}).keys())
        if records_by_arm is not None:
            order = [label for label in order if label in given]
        return order + [label for label in given if label not in order]

    # --- answers -----------------------------------------------------------------
    def summarize(self, records_by_arm: Mapping[str, Any]) -> list[Row]:
        """One row per arm: published number, ours (mean ± std over seeds), and a note."""
        lists = as_lists(records_by_arm)
        rows = []
        for label in self.labels(lists):
            records = lists.get(label, [])
            info = self.arm_info(label)
            published = info.published if info else None
            rows.append(self._row(label, records, published, info))
        return rows

    def _row(self, label: str, records: list[Record], published: float | None, info: Arm | None) -> Row:
        status = arm_status(records)
        agg = aggregate_arm_metric(records, self.metric)
        notes: list[str] = []
        if status == SKIPPED:
            reason = next((summary_of(r).get("error") for r in records if summary_of(r).get("error")), "")
            return Row(label, self.metric, published, None, "skipped", f"skipped: {reason}".strip(), status=status)
        if status == MISSING:
            return Row(label, self.metric, published, None, "not run", "no run for this arm", status=status)
        mean, n = agg["mean"], agg["n"]
        if mean is None:
            text = "diverged" if status == RunState.DIVERGED else status
        elif n > 1:
            text = f"{mean:.3f} ± {agg['std']:.3f} (n={n})"
        else:
            text = f"{mean:.3f}"
        if status == RunState.DIVERGED:
            where = diverged_at(records)
            count = sum(1 for r in records if r.get("status") == RunState.DIVERGED)
            seeds = f"{count} of {len(records)} seeds " if len(records) > 1 else ""
            notes.append(f"{seeds}diverged (loss NaN/inf at {where})")
        elif status not in ("ok",):
            errors = {str(summary_of(r).get("error")) for r in records if summary_of(r).get("error")}
            notes.append(f"{status}" + (f": {'; '.join(sorted(errors))}" if errors else ""))
        shortened = self._shortened(label, records, info)
        if shortened:
            notes.append(shortened)
        warm = warmup_note(records)
        if warm:
            notes.append(warm)
        if self.extra is not None and any(r.get("status") in RESULTS for r in records):
            try:
                extra = self.extra([r for r in records if r.get("status") in RESULTS])
            except Exception as exc:  # a broken measurement must not lose the table
                extra = f"(measurement failed: {type(exc).__name__})"
            if extra:
                notes.append(extra)
        return Row(label, self.metric, published, mean, text, "; ".join(notes), std=agg["std"], n=n, status=status)

    def _shortened(self, label: str, records: list[Record], info: Arm | None) -> str:
        """'30 of 100 epochs' when the runs are smaller than the card's full-size arm."""
        full = next((a for a in self.build(False) if a.label == label), None)
        if full is None or not records:
            return ""
        cfg = config_of(records[0])
        parts = []
        epochs = (cfg.get("training") or {}).get("epochs")
        if isinstance(epochs, int) and epochs < full.config.training.epochs:
            parts.append(f"{epochs} of {full.config.training.epochs} epochs")
        n_train = (cfg.get("dataset") or {}).get("n_train")
        whole = full.config.dataset.n_train
        if isinstance(n_train, int) and whole is None:
            parts.append(f"{n_train:,} training examples instead of the whole set")
        elif isinstance(n_train, int) and n_train < whole:
            parts.append(f"{n_train:,} of {whole:,} training examples")
        return "fast variant: " + ", ".join(parts) if parts else ""

    def judgement(self, records_by_arm: Mapping[str, Any]) -> Judgement:
        """The card's claims judged by the rule over seeds (bnviz.gallery.claims)."""
        lists = as_lists(records_by_arm)
        published = {label: info.published for label in self.labels(lists) if (info := self.arm_info(label))}
        return judge(self.claims, lists, published)

    def verdict(self, records_by_arm: Mapping[str, Any]) -> Verdict:
        """(True/False/None, sentences): did the claim hold? True only when the rule over seeds says
        reproduced for every claim; None = not judged, one seed, depends on the seed, or the card's
        own check found a reason the numbers cannot be trusted (e.g. BN's moving averages are cold)."""
        lists = as_lists(records_by_arm)
        if not any(arm_status(v) not in (SKIPPED, MISSING) for v in lists.values()):
            reasons = sorted({str(summary_of(r).get("error")) for v in lists.values() for r in v
                              if summary_of(r).get("error")})
            why = f" ({shorten(reasons[0])})" if reasons else ""
            return None, f"Not judged: no arm of this experiment has run{why}."
        try:
            card_held, numbers = self.judge(self, lists)
            verdict = self.judgement(lists)
        except Exception as exc:  # the verdict must never take the report down
            return None, f"Not judged: the comparison failed ({type(exc).__name__}: {exc})."
        if not self.claims:
            return None, numbers
        if card_held is None and verdict.held is not None:  # the card's own reason to distrust the numbers
            return None, f"{numbers} Rule over seeds: {verdict.words}"
        if verdict.outcome == NOT_JUDGED and card_held is None:
            return None, numbers
        return verdict.held, f"{verdict.words} Numbers: {numbers}"

    def figures(self, records_by_arm: Mapping[str, Any]) -> FigureList:
        """(title, figure) pairs that answer the question; empty figures say "No data yet"."""
        lists = as_lists(records_by_arm)
        try:
            return self.draw(self, lists)
        except Exception as exc:  # a broken figure must not lose the others
            return [(self.title, bnfig.empty_figure(self.title, f"figure failed: {type(exc).__name__}: {exc}"))]


def sweep_points(exp: Experiment, records_by_arm: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One point per swept arm: group, x, mean and std of the final metric over seeds, status."""
    points = []
    for label, records in as_lists(records_by_arm).items():
        info = exp.arm_info(label)
        if info is None or info.x is None:
            continue
        agg = aggregate_arm_metric(records, exp.metric)
        points.append({"label": label, "group": info.group, "x": info.x, "mean": agg["mean"], "std": agg["std"],
                       "status": arm_status(records)})
    return points
