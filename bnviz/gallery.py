"""The experiment gallery: one card per question about batch normalization.

Each `Experiment` is a card: the question it answers, the claim it tests (with its source),
the arms to train (all at once; a fast classroom variant and the full-size one), and the
comparison that answers the question once the runs are done: a table of numbers
(`summarize`), a one-sentence verdict (`verdict`) and figures (`figures`).

Everything here is pure: configs go out, run records (docs/run-record.md) come back in.
Nothing trains, reads files or imports Streamlit, so the dashboard's Learn page and the
headless reproduction report (bnviz.reproduce) share this one definition.

Runs are shared across cards through the config fingerprint: two arms with identical
configs (e.g. the Fig. 1 arms and the learning-rate sweep at the same rate) are trained once.

`records_by_arm` maps an arm label to its run records, one per seed (a single record or
None is accepted too). A record with status "skipped" (made by the report when a dataset
is unavailable; `summary.error` says why) or no record at all never raises: the arm is
reported as skipped / not run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz import figures as bnfig
from bnviz.config import ConfigError, ExperimentConfig
from bnviz.errors import UserError
from bnviz.presets import PRESETS

Record = Mapping[str, Any]
Verdict = tuple[bool | None, str]
FigureList = list[tuple[str, go.Figure]]

METRIC = "test_accuracy"
TOLERANCE = 0.03  # "within a few points" of a published number
WARM = 0.9  # BN moving averages count as warmed up once they hold 90% of the recent statistics
SKIPPED = "skipped"
LAG = 0.02  # probe accuracy with batch statistics this much above moving statistics = inference lags


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


# --------------------------------------------------------------------------- record helpers


def as_lists(records_by_arm: Mapping[str, Any] | None) -> dict[str, list[Record]]:
    """label -> list of records; a single record or None is accepted per label."""
    out: dict[str, list[Record]] = {}
    for label, value in (records_by_arm or {}).items():
        if value is None:
            out[label] = []
        elif isinstance(value, Mapping):
            out[label] = [value]
        else:
            out[label] = [r for r in value if isinstance(r, Mapping)]
    return out


_num = bnfig.finite  # a finite float or None


def _summary(record: Record | None) -> Mapping[str, Any]:
    summary = (record or {}).get("summary")
    return summary if isinstance(summary, Mapping) else {}


def _config(record: Record | None) -> Mapping[str, Any]:
    config = (record or {}).get("config")
    return config if isinstance(config, Mapping) else {}


def final_value(record: Record | None, metric: str = METRIC) -> float | None:
    """The metric a finished run reached (None unless the run succeeded)."""
    if not record or record.get("status") != "succeeded":
        return None
    return _num((_summary(record).get("final") or {}).get(metric))


def aggregate_arm_metric(records: Iterable[Record | None], metric: str = METRIC) -> dict[str, Any]:
    """Mean, sample std (ddof=1, 0 for one run) and the mean ± std band of a final metric
    over the seeds of one arm, via figures.aggregate_series; runs without the metric
    (diverged, failed, skipped) count in `missing`, not in the mean."""
    records = list(records)
    values = [final_value(r, metric) for r in records]
    finite = [v for v in values if v is not None]
    agg = bnfig.aggregate_series([[v] for v in finite], band="std")
    mean = agg["mean"][0] if agg["mean"] else None
    low = agg["low"][0] if agg["low"] else None
    high = agg["high"][0] if agg["high"] else None
    std = (high - mean) if mean is not None and high is not None else None
    return {"mean": mean, "std": std, "low": low, "high": high, "n": len(finite), "values": values,
            "missing": len(values) - len(finite)}


def arm_status(records: Sequence[Record]) -> str:
    """ok (all succeeded), diverged (any seed), skipped, missing (no record), or another state."""
    if not records:
        return "missing"
    statuses = [str(r.get("status")) for r in records]
    if all(s == SKIPPED for s in statuses):
        return SKIPPED
    if all(s == "succeeded" for s in statuses):
        return "ok"
    if "diverged" in statuses:
        return "diverged"
    return next(s for s in statuses if s != "succeeded")


def diverged_at(records: Sequence[Record]) -> str | None:
    for r in records:
        where = _summary(r).get("diverged_at")
        if r.get("status") == "diverged":
            if isinstance(where, Mapping) and where.get("epoch") is not None:
                return f"epoch {where.get('epoch')}, batch {where.get('batch')}"
            return "during training"
    return None


def history(records: Sequence[Record], key: str) -> list[list[Any]]:
    return [list((r.get("history") or {}).get(key) or []) for r in records]


def _shorten(text: str, limit: int = 140) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _mean(values: Iterable[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def bn_warmup(record: Record | None) -> float | None:
    """Share of the moving statistics that comes from training batches (1 - momentum^steps);
    None when the run has no BatchNormalization. Below ~0.9 inference-mode numbers are not
    meaningful yet: the moving averages still remember their initial values (mean 0, var 1)."""
    model = _config(record).get("model") or {}
    norm = model.get("norm") or {}
    per_layer = norm.get("per_layer") or {}
    enabled = norm.get("on_input") or norm.get("placement", "none") != "none" or any(
        p != "none" for p in per_layer.values())
    if not enabled or norm.get("kind", "batch") != "batch":
        return None
    momentum = _num(norm.get("momentum"))
    if momentum is None:
        momentum = 0.99
    steps = (bnfig.steps_per_epoch(record) or 0) * int(_summary(record).get("epochs_completed")
                                                   or len((record or {}).get("history", {}).get("loss") or []))
    if steps <= 0:
        return None
    return 1.0 - momentum**steps


def _warmup_note(records: Sequence[Record]) -> str:
    warm = [w for w in (bn_warmup(r) for r in records) if w is not None]
    if not warm or min(warm) >= WARM:
        return ""
    cfg = _config(records[0])
    momentum = ((cfg.get("model") or {}).get("norm") or {}).get("momentum", 0.99)
    train = _mean(_probe_accuracy(r, "train_mode") for r in records)
    infer = _mean(_probe_accuracy(r, "inference_mode") for r in records)
    if train is not None and infer is not None and train - infer < LAG:
        return ""  # the averages are young but already agree with the batch statistics
    note = (f"BN moving averages only {min(warm):.0%} warmed up (momentum {momentum}): inference-mode accuracy "
            + ("is not meaningful yet" if min(warm) < 0.5 else "may still lag"))
    if train is not None and infer is not None:
        note += f" (probe batch at the end: {train:.3f} with batch statistics, {infer:.3f} with moving ones)"
    return note


def _probe_accuracy(record: Record, mode: str) -> float | None:
    probe = bnfig.find_probe(record)
    return _num((((probe or {}).get("probe_metrics") or {}).get(mode) or {}).get("accuracy"))


# --------------------------------------------------------------------------- the card


ArmBuilder = Callable[[bool], list[Arm]]
Judge = Callable[["Experiment", dict[str, list[Record]]], Verdict]
Drawer = Callable[["Experiment", dict[str, list[Record]]], FigureList]
Extra = Callable[[list[Record]], str]


@dataclass(frozen=True)
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
            reason = next((_summary(r).get("error") for r in records if _summary(r).get("error")), "")
            return Row(label, self.metric, published, None, "skipped", f"skipped: {reason}".strip(), status=status)
        if status == "missing":
            return Row(label, self.metric, published, None, "not run", "no run for this arm", status=status)
        mean, n = agg["mean"], agg["n"]
        if mean is None:
            text = "diverged" if status == "diverged" else status
        elif n > 1:
            text = f"{mean:.3f} ± {agg['std']:.3f} (n={n})"
        else:
            text = f"{mean:.3f}"
        if status == "diverged":
            where = diverged_at(records)
            count = sum(1 for r in records if r.get("status") == "diverged")
            seeds = f"{count} of {len(records)} seeds " if len(records) > 1 else ""
            notes.append(f"{seeds}diverged (loss NaN/inf at {where})")
        elif status not in ("ok",):
            errors = {str(_summary(r).get("error")) for r in records if _summary(r).get("error")}
            notes.append(f"{status}" + (f": {'; '.join(sorted(errors))}" if errors else ""))
        shortened = self._shortened(label, records, info)
        if shortened:
            notes.append(shortened)
        warm = _warmup_note(records)
        if warm:
            notes.append(warm)
        if self.extra is not None and any(r.get("status") in ("succeeded", "diverged") for r in records):
            try:
                extra = self.extra([r for r in records if r.get("status") in ("succeeded", "diverged")])
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
        cfg = _config(records[0])
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

    def verdict(self, records_by_arm: Mapping[str, Any]) -> Verdict:
        """(True/False/None, one sentence): did the claim hold? None = nothing to judge."""
        lists = as_lists(records_by_arm)
        if not any(arm_status(v) not in (SKIPPED, "missing") for v in lists.values()):
            reasons = sorted({str(_summary(r).get("error")) for v in lists.values() for r in v
                              if _summary(r).get("error")})
            why = f" ({_shorten(reasons[0])})" if reasons else ""
            return None, f"Not judged: no arm of this experiment has run{why}."
        try:
            return self.judge(self, lists)
        except Exception as exc:  # the verdict must never take the report down
            return None, f"Not judged: the comparison failed ({type(exc).__name__}: {exc})."

    def figures(self, records_by_arm: Mapping[str, Any]) -> FigureList:
        """(title, figure) pairs that answer the question; empty figures say "No data yet"."""
        lists = as_lists(records_by_arm)
        try:
            return self.draw(self, lists)
        except Exception as exc:  # a broken figure must not lose the others
            return [(self.title, bnfig.empty_figure(self.title, f"figure failed: {type(exc).__name__}: {exc}"))]


# --------------------------------------------------------------------------- pure figures


def _finish(fig: go.Figure, title: str, xlabel: str, ylabel: str, *, height: int = bnfig.HEIGHT) -> go.Figure:
    fig.update_layout(template=bnfig.TEMPLATE, title={"text": title, "x": 0.01, "xanchor": "left"}, height=height,
                      uirevision="bnviz",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1.0},
                      margin={"l": 60, "r": 20, "t": 90, "b": 55})
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text=ylabel)
    return fig


def sweep_figure(points: Sequence[Mapping[str, Any]], title: str, xlabel: str, ylabel: str = "test accuracy",
                 *, log_x: bool = True, accuracy: bool = True) -> go.Figure:
    """A final metric against a swept setting, one line per group, ± std error bars over seeds.
    Each point: group, x, mean, std (or None), status. Diverged/failed points (no mean) are
    drawn as red crosses on the x axis, so a reader sees where a setting broke."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for p in points:
        if _num(p.get("x")) is not None:
            groups.setdefault(str(p.get("group", "")), []).append(p)
    fig = go.Figure()
    broken_x, broken_text = [], []
    for i, (group, pts) in enumerate(groups.items()):
        pts = sorted(pts, key=lambda p: float(p["x"]))
        ok = [p for p in pts if _num(p.get("mean")) is not None]
        if ok:
            errors = [(_num(p.get("std")) or 0.0) for p in ok]
            fig.add_trace(go.Scatter(
                x=[float(p["x"]) for p in ok], y=[float(p["mean"]) for p in ok], mode="lines+markers", name=group,
                line={"color": bnfig.run_color(i), "width": 2}, marker={"size": 8},
                error_y={"type": "data", "array": errors, "visible": any(e > 0 for e in errors)},
                hovertemplate=f"{xlabel} %{{x:g}}<br>{ylabel} %{{y:.3f}}<extra>{group}</extra>",
            ))
        for p in pts:
            if _num(p.get("mean")) is None and p.get("status") not in ("missing", SKIPPED):
                broken_x.append(float(p["x"]))
                broken_text.append(f"{group}: {p.get('status') or 'no result'}")
    if broken_x:
        fig.add_trace(go.Scatter(
            x=broken_x, y=[0.0] * len(broken_x), mode="markers", name="diverged / failed",
            marker={"symbol": "x", "size": 13, "color": bnfig.PALETTE["diverged"], "line": {"width": 2}},
            text=broken_text, hovertemplate="%{text}<br>" + xlabel + " %{x:g}<extra></extra>",
        ))
    if not fig.data:
        return bnfig.empty_figure(title, "no finished arm yet")
    if log_x:
        fig.update_xaxes(type="log")
    if accuracy:
        fig.update_yaxes(range=[-0.03, 1.02], tickformat=".0%")
    return _finish(fig, title, xlabel, ylabel)


def layer_bars(values: Mapping[str, Mapping[str, float | None]], title: str, ylabel: str,
               *, log_y: bool = False, percent: bool = False) -> go.Figure:
    """Grouped bars, one group per layer and one color per arm (saturation, gradient norms)."""
    fig = go.Figure()
    for i, (arm, per_layer) in enumerate(values.items()):
        layers = [k for k, v in per_layer.items() if _num(v) is not None and (not log_y or float(v) > 0)]
        if not layers:
            continue
        fig.add_trace(go.Bar(
            x=layers, y=[float(per_layer[k]) for k in layers], name=arm, marker={"color": bnfig.run_color(i)},
            hovertemplate="%{x}<br>%{y:.3g}<extra>" + arm + "</extra>",
        ))
    if not fig.data:
        return bnfig.empty_figure(title, "nothing recorded")
    fig.update_layout(barmode="group")
    if log_y:
        fig.update_yaxes(type="log")
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _finish(fig, title, "layer", ylabel)


def series_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float | None]]], title: str,
                  xlabel: str, ylabel: str, *, percent: bool = False, zero_line: bool = False) -> go.Figure:
    """One line per label from (x, y) pairs, e.g. the train-vs-inference gap per momentum."""
    fig = go.Figure()
    for i, (label, (xs, ys)) in enumerate(series.items()):
        if not any(_num(y) is not None for y in ys):
            continue
        fig.add_trace(go.Scatter(
            x=list(xs), y=[_num(y) for y in ys], mode="lines+markers", name=label,
            line={"color": bnfig.run_color(i), "width": 2}, marker={"size": 4},
            hovertemplate=f"{xlabel} %{{x}}<br>{ylabel} %{{y:.3g}}<extra>{label}</extra>",
        ))
    if not fig.data:
        return bnfig.empty_figure(title, "nothing recorded")
    if percent:
        fig.update_yaxes(tickformat=".0%")
    if zero_line:
        fig.add_hline(y=0, line={"color": "#999", "width": 1})
    return _finish(fig, title, xlabel, ylabel)


def published_vs_ours(rows: Sequence[Row], title: str) -> go.Figure:
    """Our final metric per arm (bars, ± std over seeds) with the published number as a marker."""
    shown = [r for r in rows if r.ours is not None or r.published is not None]
    if not shown:
        return bnfig.empty_figure(title, "no finished arm yet")
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=[r.arm for r in shown], y=[r.ours for r in shown], name="ours", marker={"color": bnfig.run_color(0)},
        error_y={"type": "data", "array": [r.std or 0.0 for r in shown], "visible": any(r.n > 1 for r in shown)},
        text=[r.ours_text for r in shown], textposition="inside", insidetextanchor="middle",
        textfont={"color": "white"},  # inside the bar: the published marker sits at its top
        hovertemplate="%{x}<br>ours %{y:.3f}<extra></extra>",
    ))
    pub = [r for r in shown if r.published is not None]
    if pub:
        fig.add_trace(go.Scatter(
            x=[r.arm for r in pub], y=[r.published for r in pub], mode="markers", name="published",
            marker={"symbol": "diamond", "size": 14, "color": bnfig.run_color(1),
                    "line": {"width": 1, "color": "#333"}},
            hovertemplate="%{x}<br>published %{y:.3f}<extra></extra>",
        ))
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%")
    return _finish(fig, title, "arm", "test accuracy")


def curves(lists: Mapping[str, Sequence[Record]], metric: str, title: str) -> go.Figure:
    """Per arm, a history metric over epochs; with several seeds, the mean with a ± std band."""
    usable = {label: recs for label, recs in lists.items()
              if any((r.get("history") or {}).get(metric) for r in recs)}
    if any(len(recs) > 1 for recs in usable.values()):
        fig = bnfig.aggregate_band_figure({label: history(recs, metric) for label, recs in usable.items()},
                                      bnfig.metric_label(metric))
    else:
        fig = bnfig.compare_curves([recs[0] for recs in usable.values()], list(usable), metric)
    if bnfig.is_empty_figure(fig):
        return fig
    if metric.endswith("accuracy"):
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_layout(title_text=title)
    return fig


def percentile_panels(records: Sequence[Record | None], labels: Sequence[str], block: int,
                      kind: str = "pre_activation", title: str | None = None) -> go.Figure:
    """Ioffe & Szegedy's Fig. 1(b, c): one panel per run with the median and 15–85th
    percentiles of one position over training, on a shared y axis."""
    title = title or f"{bnfig.position_label(kind)} of block {block}: median and 15–85th percentiles over training"
    fig = make_subplots(rows=1, cols=max(1, len(records)), subplot_titles=list(labels), shared_yaxes=True,
                        horizontal_spacing=0.06)
    for i, rec in enumerate(records):
        panel = bnfig.percentile_bands(rec, kind, blocks=[block])
        if bnfig.is_empty_figure(panel):
            continue
        for trace in panel.data:
            trace.showlegend = i == 0 and trace.showlegend is not False
            trace.name = "median (band: 15th–85th percentile)" if trace.showlegend else trace.name
            fig.add_trace(trace, row=1, col=i + 1)
    if not fig.data:
        return bnfig.empty_figure(title, f"no {bnfig.position_label(kind)} percentiles recorded")
    fig.update_layout(template=bnfig.TEMPLATE, title={"text": title, "x": 0.01, "xanchor": "left"}, height=bnfig.HEIGHT,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "xanchor": "right", "x": 1.0},
                      margin={"l": 60, "r": 20, "t": 110, "b": 55})
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="value", col=1)
    return fig


# --------------------------------------------------------------------------- measurements


def _acc(records: Sequence[Record], metric: str = METRIC) -> float | None:
    return aggregate_arm_metric(records, metric)["mean"]


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


def last_block(record: Record | None, kind: str = "pre_activation") -> int | None:
    blocks = [b for b in bnfig.position_blocks(record, kind) if b > 0]
    return max(blocks) if blocks else None


def median_drift(record: Record | None, block: int | None = None, kind: str = "pre_activation") -> float | None:
    """How far the median of a position moves over training, in units of its initial 15–85th
    percentile width: max over probes of |p50(e) - p50(0)| / (p85(0) - p15(0))."""
    block = block if block is not None else last_block(record, kind)
    if block is None:
        return None
    found = [bnfig.find_position(p, block, kind) for p in bnfig.probes(record)]
    stats = [(pos.get("stats") or {}) for pos in found if pos]
    if len(stats) < 2:
        return None
    p15, p50, p85 = (_num(stats[0].get(k)) for k in ("p15", "p50", "p85"))
    if None in (p15, p50, p85) or p85 <= p15:
        return None
    moves = [abs(m - p50) for s in stats[1:] if (m := _num(s.get("p50"))) is not None]
    return max(moves) / (p85 - p15) if moves else None


def saturation_by_layer(record: Record | None, epoch: int | None = None) -> dict[str, float | None]:
    """block label -> share of saturated activation values at a probe (last by default)."""
    probe = bnfig.find_probe(record, epoch)
    out: dict[str, float | None] = {}
    for pos in (probe or {}).get("positions") or []:
        if pos.get("kind") == "activation" and (_num(pos.get("block")) or 0) > 0:
            out[bnfig.block_label(int(pos["block"]))] = _num((pos.get("stats") or {}).get("saturated"))
    return out


def gradients_by_layer(record: Record | None, epoch: int | None = None) -> dict[str, float | None]:
    """Weight-gradient norm of each linear layer (BN's own γ/β left out) at a probe."""
    probe = bnfig.find_probe(record, epoch)
    grads = (probe or {}).get("gradients") or {}
    return {str(k): _num(v) for k, v in grads.items() if "_bn" not in str(k)}


def first_layer_ratio(record: Record | None) -> float | None:
    """Smallest ratio, over all probes, of the first hidden layer's gradient norm to the
    output layer's: near 0 means the first layer has stopped learning (vanishing gradients)."""
    ratios = []
    for probe in bnfig.probes(record):
        grads = {str(k): _num(v) for k, v in (probe.get("gradients") or {}).items() if "_bn" not in str(k)}
        first = grads.get("dense1", next((v for k, v in grads.items() if k != "output"), None))
        out = grads.get("output")
        if first is not None and out:
            ratios.append(first / out)
    return min(ratios) if ratios else None


def mode_gap(record: Record | None) -> tuple[list[int], list[float | None]]:
    """Per probe epoch, probe-batch accuracy with batch statistics minus with moving statistics."""
    xs, ys = [], []
    for probe in bnfig.probes(record):
        pm = probe.get("probe_metrics") or {}
        train = _num((pm.get("train_mode") or {}).get("accuracy"))
        infer = _num((pm.get("inference_mode") or {}).get("accuracy"))
        xs.append(int(probe["epoch"]))
        ys.append(train - infer if train is not None and infer is not None else None)
    return xs, ys


def mean_gap(record: Record | None) -> float | None:
    """Mean train-minus-inference probe accuracy gap after epoch 0."""
    xs, ys = mode_gap(record)
    return _mean(y for x, y in zip(xs, ys) if x >= 1)


def epochs_to(record: Record | None, threshold: float, key: str = "val_accuracy") -> int | None:
    for i, v in enumerate((record or {}).get("history", {}).get(key) or [], 1):
        if _num(v) is not None and v >= threshold:
            return i
    return None


def _over_seeds(records: Sequence[Record], fn: Callable[[Record], float | None]) -> float | None:
    return _mean(fn(r) for r in records)


# --------------------------------------------------------------------------- configs


def _preset(name: str, fast: bool) -> ExperimentConfig:
    return PRESETS[f"{name}-fast" if fast else name].config


def _published(name: str) -> float | None:
    return PRESETS[name].published.get("test_accuracy")


def _mnist_mlp(placement: str = "none", *, fast: bool, lr: float = 1.0, scale: float = 1.0,
               activation: str = "sigmoid", depth: int = 3, n_train_fast: int = 8000, epochs_fast: int = 5,
               epochs_full: int = 50) -> ExperimentConfig:
    """Ioffe & Szegedy's Fig. 1 network: MNIST, `depth` x 100 units, batch 60, plain SGD.
    Full size: 50 epochs of 60,000 digits = the paper's 50,000 steps."""
    return ExperimentConfig.from_dict({
        "dataset": {"name": "mnist", "n_train": n_train_fast if fast else None, "preprocessing": "unit"},
        "model": {"family": "mlp", "hidden": [100] * depth, "activation": activation,
                  "norm": {"placement": placement}, "weight_scale": scale},
        "training": {"optimizer": "sgd", "learning_rate": lr, "batch_size": 60,
                     "epochs": epochs_fast if fast else epochs_full, "seed": 0},
    })


BN_LABELS = {"none": "no BN", "before": "BN before sigmoid"}


# --------------------------------------------------------------------------- 1. tutorials


def _tutorial(slug: str, title: str, question: str, claim: str, source: str,
              arms: Sequence[tuple[str, str, str]], pairs: Sequence[tuple[str, str]], setup: str,
              *, report_full: bool = False, judge: Judge | None = None) -> Experiment:
    """A card over presets; arms = (label, group, preset name); pairs = (no-BN, BN) labels to compare."""

    def build(fast: bool) -> list[Arm]:
        return [Arm(label, _preset(name, fast), group=group, published=_published(name))
                for label, group, name in arms]

    def default_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
        return _judge_pairs(exp, lists, pairs)

    def draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
        rows = exp.summarize(lists)
        return [
            (f"{title}: test accuracy, ours vs published", published_vs_ours(rows, f"{title}: final test accuracy")),
            (f"{title}: validation accuracy during training",
             curves(lists, "val_accuracy", f"{title}: validation accuracy per epoch")),
        ]

    return Experiment(slug, title, question, claim, source, build, judge or default_judge, draw,
                      report_full=report_full, setup=setup)


def _judge_pairs(exp: Experiment, lists: Mapping[str, list[Record]], pairs: Sequence[tuple[str, str]]) -> Verdict:
    """Held when every BN arm beats its no-BN partner; inconclusive when a BN arm that loses
    has not warmed its moving averages up (too few steps in a fast variant)."""
    parts, results, cold = [], [], []
    for plain, bn in pairs:
        a, b = _acc(lists.get(plain, [])), _acc(lists.get(bn, []))
        if a is None or b is None:
            continue
        results.append(b > a)
        parts.append(f"{bn} {b:.3f} vs {plain} {a:.3f}")
        if b <= a and _warmup_note(lists.get(bn, [])):
            cold.append(bn)
    if not results:
        return None, "Not judged: no pair of arms (with and without BN) finished."
    detail = "; ".join(parts)
    if all(results):
        return True, f"BN raised test accuracy: {detail}."
    if cold:
        return None, (f"Inconclusive: {detail}, but the BN arm's moving averages had too few steps to warm up "
                      "(see the train-vs-inference card); run the full-size variant.")
    return False, f"BN did not raise test accuracy everywhere: {detail}."


def _judge_circles(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    rows = [r for r in exp.summarize(lists) if r.ours is not None and r.published is not None]
    if not rows:
        return None, "Not judged: no arm finished."
    close = [abs(r.ours - r.published) <= TOLERANCE for r in rows]
    numbers = "; ".join(f"{r.arm} {r.ours:.3f} (published {r.published:.3f})" for r in rows)
    speed = []
    for label, records in lists.items():
        reached = _over_seeds(records, lambda r: epochs_to(r, 0.8))
        speed.append(f"{label} {reached:.0f}" if reached is not None else f"{label} never")
    speed_text = f" Epochs to reach 80% test accuracy: {', '.join(speed)}." if speed else ""
    if all(close):
        return True, f"All arms are within {TOLERANCE:.2f} of the tutorial: {numbers}.{speed_text}"
    shortened = any(exp._shortened(r.arm, lists.get(r.arm, []), None) for r in rows)
    if shortened:
        return None, (f"Inconclusive in the fast variant (fewer epochs than the tutorial): {numbers}."
                      f"{speed_text}")
    return False, f"Some arms differ from the tutorial by more than {TOLERANCE:.2f}: {numbers}.{speed_text}"


CIRCLES = _tutorial(
    "tutorial-circles", "Circles MLP: BN before or after the activation",
    "Does BN help a one-hidden-layer MLP on the two-circles problem, and does it matter whether it goes "
    "before or after the ReLU?",
    "Test accuracy after 100 epochs is 0.846 without BN, 0.848 with BN after the ReLU and 0.830 with BN "
    "before it: on this small problem BN mostly changes how fast the network learns, not where it ends.",
    "circles tutorial (Brownlee, “How to Accelerate Learning of Deep Neural Networks With Batch Normalization”)",
    [("no BN", "circles", "seed001-circles-none"), ("BN after ReLU", "circles", "seed001-circles-after"),
     ("BN before ReLU", "circles", "seed001-circles-before")],
    [("no BN", "BN after ReLU")],
    "2-D circles (500 train / 500 test, noise 0.1), Dense(50, ReLU) → sigmoid, SGD+momentum 0.9, lr 0.01, "
    "batch 32, 100 epochs (fast: 30)",
    report_full=True, judge=_judge_circles,
)

MNIST_A = _tutorial(
    "tutorial-mnist-a", "MNIST CNN with and without BN (tutorial A)",
    "Does BN after every conv, pool and dense layer improve a small MNIST CNN?",
    "BN raises test accuracy from 0.97 to 0.992.",
    f"{PRESETS['seed000-mnist-none'].source} (preset seed000)",
    [("no BN", "mnist", "seed000-mnist-none"), ("BN", "mnist", "seed000-mnist-bn")],
    [("no BN", "BN")],
    "MNIST, Conv 32-64 + Dense 256, Adam 1e-3, batch 250, 25 epochs, 20% validation split "
    "(fast: 2,000 digits, 3 epochs)",
)

MNIST_B = _tutorial(
    "tutorial-mnist-b", "MNIST CNN on 8,000 raw digits with and without BN (tutorial B)",
    "Does BN help a CNN trained on raw (unscaled) pixels with RMSprop?",
    "BN raises test accuracy from 0.91 to 0.975.",
    f"{PRESETS['seed002-mnist-none'].source} (preset seed002)",
    [("no BN", "mnist", "seed002-mnist-none"), ("BN", "mnist", "seed002-mnist-bn")],
    [("no BN", "BN")],
    "MNIST 8,000 raw-pixel digits, Conv 32-64 + Dense 128, dropout, RMSprop 1e-3, batch 16, 30 epochs "
    "(fast: 1,000 digits, 3 epochs)",
)

CIFAR = _tutorial(
    "tutorial-cifar10", "CIFAR-10 CNN: sigmoid and ReLU, with and without BN",
    "How much does BN help a CIFAR-10 CNN with sigmoid activations, compared with ReLU?",
    "With BN both CNNs reach a higher test accuracy in the same 10 epochs; the sigmoid network, which "
    "hardly learns without BN, gains the most.",
    f"{PRESETS['seed003-cifar10-sigmoid'].source} (preset seed003; no published numbers in the preset)",
    [("sigmoid, no BN", "sigmoid", "seed003-cifar10-sigmoid"), ("sigmoid, BN", "sigmoid", "seed003-cifar10-sigmoid-bn"),
     ("ReLU, no BN", "relu", "seed003-cifar10-relu"), ("ReLU, BN", "relu", "seed003-cifar10-relu-bn")],
    [("sigmoid, no BN", "sigmoid, BN"), ("ReLU, no BN", "ReLU, BN")],
    "CIFAR-10, Conv 32-32-64-64 + Dense 128, augmentation, RMSprop 1e-3, batch 32, 10 epochs "
    "(fast: 1,000 images, 2 epochs)",
)


# --------------------------------------------------------------------------- 2. Ioffe & Szegedy Fig. 1


def _fig1_build(fast: bool) -> list[Arm]:
    return [Arm(BN_LABELS[p], _mnist_mlp(p, fast=fast), group=BN_LABELS[p]) for p in ("none", "before")]


def _fig1_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    plain, bn = lists.get("no BN", []), lists.get("BN before sigmoid", [])
    a, b = _acc(plain), _acc(bn)
    if a is None or b is None:
        return None, "Not judged: both arms must finish."
    ha = bnfig.aggregate_series(history(plain, "val_accuracy"))["mean"]
    hb = bnfig.aggregate_series(history(bn, "val_accuracy"))["mean"]
    pairs = [(x, y) for x, y in zip(ha, hb) if x is not None and y is not None]
    ahead = sum(1 for x, y in pairs if y >= x) / len(pairs) if pairs else 0.0
    da = _over_seeds(plain, lambda r: median_drift(r, 3))
    db = _over_seeds(bn, lambda r: median_drift(r, 3))
    drift = (f"the median of block 3's sigmoid input moved {db:.2f} (BN) vs {da:.2f} (no BN) initial "
             "15–85% widths" if da is not None and db is not None else "no percentile data")
    held = b >= a - 0.005 and ahead >= 0.8 and da is not None and db is not None and db < da
    return held, (f"Test accuracy {b:.3f} with BN vs {a:.3f} without; BN ahead at {ahead:.0%} of the epochs; "
                  f"{drift}.")


def _fig1_extra(records: list[Record]) -> str:
    drift = _over_seeds(records, lambda r: median_drift(r, 3))
    early = _mean((r.get("history") or {}).get("val_accuracy", [None])[0] for r in records)
    parts = []
    if early is not None:
        parts.append(f"after epoch 1: {early:.3f}")
    if drift is not None:
        parts.append(f"median drift {drift:.2f}")
    return ", ".join(parts)


def _fig1_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    labels = [label for label in exp.labels(lists) if lists.get(label)]
    firsts = [lists[label][0] for label in labels]
    seed_note = " (first seed)" if any(len(lists[label]) > 1 for label in labels) else ""
    return [
        ("Fig. 1(a): test accuracy during training", curves(lists, "val_accuracy",
                                                             "Fig. 1(a): test accuracy during training")),
        ("Fig. 1(b, c): last hidden layer's sigmoid input", percentile_panels(
            firsts, labels, 3, "pre_activation",
            f"Fig. 1(b, c): sigmoid input of hidden layer 3, median and 15–85th percentiles{seed_note}")),
    ]


FIG1 = Experiment(
    "ioffe-fig1", "Ioffe & Szegedy, Figure 1: internal covariate shift on MNIST",
    "Does BN keep the distribution of a layer's inputs stable while the network trains, and does the "
    "network learn faster for it?",
    "With BN the network reaches a higher test accuracy throughout training, and the 15th/50th/85th "
    "percentiles of the last hidden layer's sigmoid inputs stay put, while without BN they drift.",
    "Ioffe & Szegedy 2015, “Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
    "Covariate Shift”, Fig. 1 (figure only, no numbers in the text)",
    _fig1_build, _fig1_judge, _fig1_draw, extra=_fig1_extra,
    setup="MNIST, 3 × 100 sigmoid units (BN before the sigmoid), SGD lr 1.0, batch 60; full: 50 epochs of "
          "60,000 digits = the paper's 50,000 steps; fast: 8,000 digits, 5 epochs",
)


# --------------------------------------------------------------------------- 3. learning rates


LR_FAST = (0.01, 0.1, 1.0, 10.0, 100.0)
LR_FULL = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
WORKS_WITHIN = 0.1  # a rate "works" when the arm ends within 0.1 of the sweep's best accuracy


def _lr_build(fast: bool) -> list[Arm]:
    return [Arm(f"{BN_LABELS[p]}, lr {lr:g}", _mnist_mlp(p, fast=fast, lr=lr), group=BN_LABELS[p], x=lr)
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
                   and p["status"] not in ("missing", SKIPPED))
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
    held = top_bn > top_plain
    return held, text + (". BN trains at higher rates." if held else ". BN did not extend the usable range.")


def _lr_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    return [("Final test accuracy against the learning rate",
             sweep_figure(sweep_points(exp, lists), "Final test accuracy against the learning rate (red ×: diverged)",
                          "learning rate"))]


LEARNING_RATE = Experiment(
    "learning-rate", "Higher learning rates",
    "How high can the learning rate go with and without BN before training breaks?",
    "BN makes training robust to the parameter scale, so much higher learning rates can be used without "
    "divergence or getting stuck: without BN the network breaks (diverges or stops learning) at a lower rate.",
    "Ioffe & Szegedy 2015, §3.3 “Batch Normalization enables higher learning rates”",
    _lr_build, _lr_judge, _lr_draw,
    setup="The Fig. 1 network (MNIST, 3 × 100 sigmoid, SGD, batch 60) over learning rates 0.01–100; "
          "fast: 8,000 digits, 5 epochs",
)


# --------------------------------------------------------------------------- 4. saturation


SAT_SETTINGS = {"tanh": 0.5, "sigmoid": 1.0}  # activation -> learning rate


def _sat_build(fast: bool) -> list[Arm]:
    arms = []
    for act, lr in SAT_SETTINGS.items():
        for p in ("none", "before"):
            label = f"{act}, {'no BN' if p == 'none' else 'BN'}"
            cfg = _mnist_mlp(p, fast=fast, lr=lr, activation=act, depth=6, n_train_fast=4000, epochs_fast=4,
                             epochs_full=20)
            arms.append(Arm(label, cfg, group=act))
    return arms


def _mean_saturation(record: Record) -> float | None:
    return _mean(saturation_by_layer(record).values())


def _sat_extra(records: list[Record]) -> str:
    sat = _over_seeds(records, _mean_saturation)
    ratio = _over_seeds(records, first_layer_ratio)
    parts = []
    if sat is not None:
        parts.append(f"saturated at the end: {sat:.1%}")
    if ratio is not None:
        parts.append(f"min ‖∇W‖ layer 1 / output: {ratio:.2g}")
    return ", ".join(parts)


def _sat_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    parts, held = [], []
    for act in SAT_SETTINGS:
        plain, bn = lists.get(f"{act}, no BN", []), lists.get(f"{act}, BN", [])
        a, b = _acc(plain), _acc(bn)
        if a is None or b is None:
            continue
        ra, rb = _over_seeds(plain, first_layer_ratio), _over_seeds(bn, first_layer_ratio)
        sa, sb = _over_seeds(plain, _mean_saturation), _over_seeds(bn, _mean_saturation)
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
    "saturation", "Saturating activations and vanishing gradients",
    "Can a deep network with saturating activations (sigmoid, tanh) train without BN, and what does BN "
    "change in its units and gradients?",
    "Without BN a deep sigmoid/tanh network gets stuck: units saturate and the gradients reaching the first "
    "layers vanish. BN keeps the nonlinearity inputs in the responsive range, so gradients reach every layer "
    "and saturating nonlinearities become usable.",
    "Ioffe & Szegedy 2015, §1 and §3.3 (saturating nonlinearities)",
    _sat_build, _sat_judge, _sat_draw, extra=_sat_extra,
    setup="MNIST, 6 × 100 tanh (SGD lr 0.5) or sigmoid (SGD lr 1.0) units, BN before the activation, batch 60; "
          "fast: 4,000 digits, 4 epochs; full: 60,000 digits, 20 epochs",
)


# --------------------------------------------------------------------------- 5. batch size


BS_FAST = (2, 8, 32, 128)
BS_FULL = (2, 4, 8, 16, 32, 64, 128, 256)
NORM_LABELS = {"batch": "BatchNorm", "layer": "LayerNorm"}


def _bs_epochs(batch: int, n_train: int, steps: int) -> int:
    """Enough epochs for about `steps` updates, so large batches get as many updates as small ones."""
    return max(1, math.ceil(steps / math.ceil(n_train / batch)))


def _bs_build(fast: bool) -> list[Arm]:
    n_train, steps = (2000, 300) if fast else (60000, 3000)
    arms = []
    for kind in ("batch", "layer"):
        for bs in (BS_FAST if fast else BS_FULL):
            cfg = ExperimentConfig.from_dict({
                "dataset": {"name": "mnist", "n_train": n_train if fast else None, "preprocessing": "unit"},
                "model": {"family": "mlp", "hidden": [100, 100, 100], "activation": "relu",
                          "initializer": "he_uniform", "norm": {"placement": "before", "kind": kind}},
                "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": bs,
                             "epochs": _bs_epochs(bs, n_train, steps), "seed": 0},
                "instrument": {"log_every": max(1, 64 // bs)},
            })
            arms.append(Arm(f"{NORM_LABELS[kind]}, batch {bs}", cfg, group=NORM_LABELS[kind], x=float(bs)))
    return arms


def _bs_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    points = sweep_points(exp, lists)
    drops: dict[str, tuple[float, float, float]] = {}
    for group in NORM_LABELS.values():
        pts = sorted((p for p in points if p["group"] == group and p["mean"] is not None), key=lambda p: p["x"])
        if len(pts) >= 2:
            best = max(p["mean"] for p in pts)
            drops[group] = (pts[0]["x"], pts[0]["mean"], best - pts[0]["mean"])
    if "BatchNorm" not in drops:
        return None, "Not judged: BatchNorm needs at least two finished batch sizes."
    bx, bacc, bdrop = drops["BatchNorm"]
    text = f"At batch {bx:g} BatchNorm reaches {bacc:.3f}, {bdrop:.3f} below its best"
    if "LayerNorm" in drops:
        lx, lacc, ldrop = drops["LayerNorm"]
        text += f"; LayerNorm reaches {lacc:.3f} at batch {lx:g}, {ldrop:.3f} below its best"
        held = bdrop >= TOLERANCE and bdrop > ldrop + 0.02
    else:
        held = bdrop >= TOLERANCE
    return held, text + "."


def _bs_extra(records: list[Record]) -> str:
    steps = _over_seeds(records, _updates)
    epochs = _over_seeds(records, lambda r: _num(_summary(r).get("epochs_completed")))
    if steps is None:
        return ""
    return f"{steps:,.0f} updates" + (f" in {epochs:.0f} epoch{'s' if epochs != 1 else ''}" if epochs else "")


def _updates(record: Record) -> float | None:
    per_epoch = bnfig.steps_per_epoch(record)
    epochs = _num(_summary(record).get("epochs_completed"))
    return per_epoch * epochs if per_epoch and epochs else None


def _last_gap(record: Record) -> float | None:
    _, ys = mode_gap(record)
    return ys[-1] if ys else None


def _bs_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    points = sweep_points(exp, lists)
    fig = sweep_figure(points, "Final test accuracy against the batch size", "batch size")
    if not bnfig.is_empty_figure(fig):
        ticks = sorted({p["x"] for p in points})
        fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{x:g}" for x in ticks])
    return [("Final test accuracy against the batch size", fig),
            ("Training loss per epoch", curves(lists, "loss", "Training loss per epoch (batch statistics)"))]


BATCH_SIZE = Experiment(
    "batch-size", "Batch-size dependence: BatchNorm vs LayerNorm",
    "How small can the batch be before BN's batch statistics hurt, and does a per-example normalization "
    "(LayerNorm) avoid it?",
    "BN's error grows quickly as the batch gets small, because the batch statistics become noisy estimates "
    "and disagree with the moving statistics used at inference; LayerNorm does not depend on the batch.",
    "Wu & He 2018, “Group Normalization”, Fig. 1; Ioffe 2017, “Batch Renormalization”; Ba et al. 2016, "
    "“Layer Normalization”",
    _bs_build, _bs_judge, _bs_draw, extra=_bs_extra,
    setup="MNIST, 3 × 100 ReLU, normalization before the ReLU, Adam 1e-3; epochs chosen so that every arm makes "
          "about the same number of updates (≈300 in the fast variant: 2,000 digits, batch 2–128; ≈3,000 at full "
          "size: 60,000 digits, batch 2–256), so large batches are not starved of steps and BN's moving averages "
          "are equally warmed up",
)


# --------------------------------------------------------------------------- 6. train vs inference


MOMENTA = (0.0, 0.9, 0.99, 0.999)


def _mode_build(fast: bool) -> list[Arm]:
    base = _preset("seed001-circles-after", fast)
    return [Arm(f"momentum {m:g}", base.with_updates({"model.norm.momentum": m}), group="BN after ReLU", x=m)
            for m in MOMENTA]


def _mode_extra(records: list[Record]) -> str:
    gap = _over_seeds(records, mean_gap)
    last = _over_seeds(records, _last_gap)
    if gap is None:
        return ""
    return f"probe accuracy gap (batch − moving stats): mean {gap:+.3f}, at the end {last:+.3f}"


def _mode_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    gaps = []
    for m in MOMENTA:
        g = _over_seeds(lists.get(f"momentum {m:g}", []), mean_gap)
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
                  + ("The higher the momentum, the longer inference lags." if held else
                     "The gap does not grow with the momentum here."))


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
    "train-vs-inference", "Training mode vs inference mode",
    "BN normalizes with batch statistics while training but with moving averages at inference: how far "
    "apart are the two, and how does the momentum of the moving averages change that?",
    "At inference BN uses population statistics (estimated by moving averages), so the two modes agree "
    "only once the averages have caught up; a higher momentum makes the averages lag longer.",
    "Ioffe & Szegedy 2015, §3.1 (inference with population statistics); Keras BatchNormalization docs "
    "(momentum)",
    _mode_build, _mode_judge, _mode_draw, extra=_mode_extra,
    setup="The circles tutorial with BN after the ReLU, BN momentum 0, 0.9, 0.99 (Keras default), 0.999; "
          "fast: 30 epochs, full: 100",
)


# --------------------------------------------------------------------------- 7. circles extensions


def _ext_build(fast: bool) -> list[Arm]:
    bn = _preset("seed001-circles-after", fast)
    return [
        Arm("no BN", _preset("seed001-circles-none", fast), group="no BN"),
        Arm("BN after ReLU", bn, group="BN"),
        Arm("BN without γ and β", bn.with_updates({"model.norm.center": False, "model.norm.scale": False}),
            group="BN"),
        Arm("BN with momentum 0", bn.with_updates({"model.norm.momentum": 0.0}), group="BN"),
        Arm("BN on the input too", bn.with_updates({"model.norm.on_input": True}), group="BN"),
    ]


def _ext_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    base = _acc(lists.get("BN after ReLU", []))
    if base is None:
        return None, "No claim to test (open questions from the tutorial); the BN baseline did not finish."
    parts = []
    for label in exp.labels(lists):
        if label == "BN after ReLU":
            continue
        v = _acc(lists.get(label, []))
        if v is not None:
            parts.append(f"{label} {v:.3f} ({v - base:+.3f})")
    return None, (f"No claim to test (the tutorial leaves these as exercises). Against BN after the ReLU "
                  f"({base:.3f}): " + ", ".join(parts) + ".")


def _ext_draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
    rows = exp.summarize(lists)
    return [("Final test accuracy per variant", published_vs_ours(rows, "Circles: final test accuracy per variant")),
            ("Test accuracy during training", curves(lists, "val_accuracy", "Circles: test accuracy per epoch"))]


EXTENSIONS = Experiment(
    "circles-extensions", "The circles tutorial's extensions",
    "What happens to the circles MLP with BN when γ and β are removed, the moving averages have momentum 0, "
    "or the input is normalized too?",
    "The tutorial suggests these as exercises and makes no claim; this card reports what happens.",
    "circles tutorial, “Extensions” section",
    _ext_build, _ext_judge, _ext_draw,
    setup="The circles tutorial (BN after the ReLU), one change per arm; fast: 30 epochs, full: 100",
)


# --------------------------------------------------------------------------- 8. scale invariance


SCALES = (0.01, 1.0, 10.0)


def _scale_build(fast: bool) -> list[Arm]:
    return [Arm(f"{BN_LABELS[p]}, scale {s:g}", _mnist_mlp(p, fast=fast, scale=s), group=BN_LABELS[p], x=s)
            for p in ("none", "before") for s in SCALES]


def _scale_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    points = sweep_points(exp, lists)
    spreads = {}
    for group in (BN_LABELS["none"], BN_LABELS["before"]):
        vals = [p["mean"] if p["mean"] is not None else 0.0 for p in points
                if p["group"] == group and p["status"] not in ("missing", SKIPPED)]
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
    "scale-invariance", "Scale invariance of BN",
    "Does it matter how large the initial weights are when the layers are batch-normalized?",
    "BN(Wu) = BN((aW)u): a layer followed by BN computes the same function whatever the scale of its weights "
    "(and its gradient shrinks as the weights grow), so training with BN is insensitive to the initial weight "
    "scale, while without BN the scale matters (tiny weights shrink the signal and the gradients).",
    "Ioffe & Szegedy 2015, §3.3",
    _scale_build, _scale_judge, _scale_draw,
    setup="The Fig. 1 network (MNIST, 3 × 100 sigmoid, SGD lr 1.0, batch 60) with every initial kernel "
          "multiplied by 0.01, 1 or 10 (the output layer too, which BN does not protect); fast: 8,000 digits, "
          "5 epochs",
)


# --------------------------------------------------------------------------- the gallery


EXPERIMENTS: dict[str, Experiment] = {e.slug: e for e in (
    CIRCLES, MNIST_A, MNIST_B, CIFAR, FIG1, LEARNING_RATE, SATURATION, BATCH_SIZE, TRAIN_VS_INFERENCE,
    EXTENSIONS, SCALE,
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
