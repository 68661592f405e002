"""The reproduction report: run the gallery headless and write what came out, in Markdown.

    python -m bnviz reproduce --fast --out DIR [--only SLUG ...] [--seeds N] [--data-dir DIR]

Every arm of every chosen card is trained in turn through bnviz.training.train, recorded in
the run store (so the runs show up in the dashboard), or reused when the store already has
a finished run of the identical config (same fingerprint). Arms whose dataset cannot be
loaded are reported as skipped with the reason; nothing here crashes on a missing dataset.

Output: `DIR/report.md` (a table of published vs our numbers with the verdict per card,
notes on where and why the numbers differ, one section per card with its figures and the
timing), figures under `DIR/reproduction/` (PNG through Plotly's static export, or
interactive HTML when that fails: the report says which) and `DIR/timing.json`. Copy
`report.md` to `docs/reproduction.md` and the `reproduction/` folder next to it: the
image links are relative and stay valid.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from bnviz import figures as bnfig
from bnviz import gallery
from bnviz.gallery import Arm, Experiment, Row
from bnviz.states import SKIPPED, RunState

REPORT_NAME = "report.md"
FIGURE_DIR = "reproduction"
FIGURE_WIDTH = 900
EXPORT_TIMEOUT_S = 180.0
REUSABLE = (RunState.SUCCEEDED, RunState.DIVERGED)  # finished runs whose result stands, in order of preference
DOWNLOADABLE = ("mnist", "fashion_mnist", "cifar10")


@dataclass
class ArmResult:
    experiment: str
    arm: Arm
    record: dict[str, Any]
    source: str  # trained | reused from the store | shared with another card | skipped
    seconds: float


@dataclass
class Section:
    experiment: Experiment
    rows: list[Row]
    held: bool | None
    sentence: str
    figures: list[tuple[str, go.Figure]]
    full_size: bool


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def _data_dir(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """BNVIZ_DATA_DIR set to `path` for the duration of the report."""
    if path is None:
        yield
        return
    from bnviz.datasets import ENV_DATA_DIR, clear_cache

    old = os.environ.get(ENV_DATA_DIR)
    os.environ[ENV_DATA_DIR] = str(Path(path).expanduser().resolve())
    clear_cache()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_DATA_DIR, None)
        else:
            os.environ[ENV_DATA_DIR] = old


def select(only: Sequence[str] | None) -> list[Experiment]:
    """The cards to run, in gallery order; unknown slugs raise UnknownExperiment (lists the slugs)."""
    if not only:
        return list(gallery.EXPERIMENTS.values())
    wanted = [gallery.get_experiment(slug).slug for slug in only]
    return [e for e in gallery.EXPERIMENTS.values() if e.slug in wanted]


class _Datasets:
    """Which datasets load here (checked once per dataset config) and what they hold."""

    def __init__(self) -> None:
        self.errors: dict[str, str | None] = {}
        self.found: dict[str, str] = {}  # dataset name -> "8,000 training / 2,000 test examples"
        self.failed: dict[str, str] = {}  # dataset name -> error message

    def problem(self, arm: Arm) -> str | None:
        from bnviz.datasets import DatasetError, load_dataset

        cfg = arm.config.dataset
        key = cfg.model_dump_json()
        if key not in self.errors:
            try:
                data = load_dataset(cfg)
            except DatasetError as exc:
                self.errors[key] = str(exc)
                self.failed.setdefault(cfg.name, str(exc))
            else:
                self.errors[key] = None
                if cfg.name in DOWNLOADABLE and cfg.name not in self.found:
                    if cfg.n_train is not None or cfg.n_test is not None:  # the whole set, for the report
                        data = load_dataset(cfg.model_copy(update={"n_train": None, "n_test": None}))
                    self.found[cfg.name] = f"{len(data.y_train):,} training / {len(data.y_test):,} test examples"
        return self.errors[key]


def _train_recorded(arm: Arm, name: str, store) -> dict[str, Any]:
    """Train with every event written to the store as it happens (the engine's one recorded path)."""
    from bnviz.recorded import CLI_OWNER, train_recorded

    run_id = store.create_run(arm.config, owner=CLI_OWNER, name=name, status=RunState.RUNNING)
    train_recorded(store, run_id, arm.config, save_model=False)
    return store.get_record(run_id)


def run_arms(experiments: Sequence[Experiment], *, fast: bool, seeds: int, store, fresh: bool = False,
             progress: Callable[[str], Any] = print,
             trainer: Callable[[Arm, str, Any], dict[str, Any]] | None = None) -> tuple[list[ArmResult], _Datasets]:
    """Train (or reuse) every arm of `experiments`, one after the other."""
    trainer = trainer or _train_recorded
    plan = [(exp, arm) for exp in experiments for arm in exp.arms(fast and not exp.report_full, seeds)]
    datasets = _Datasets()
    done: dict[str, tuple[dict[str, Any], str]] = {}
    results: list[ArmResult] = []
    trained_any = False
    for i, (exp, arm) in enumerate(plan, 1):
        started = time.perf_counter()
        fp = arm.config.fingerprint()
        if fp in done:
            record, first = done[fp]
            source = "skipped" if record.get("status") == SKIPPED else f"shared with {first}"
        elif (problem := datasets.problem(arm)) is not None:
            record = {"status": SKIPPED, "config": arm.config.to_dict(), "history": {}, "probes": [],
                      "summary": {"error": f"dataset unavailable — {problem}"}}
            source = "skipped"
        elif not fresh and (found := _reusable(store, fp)) is not None:
            record, source = found, "reused from the store"
        else:
            if trained_any:
                _clear_keras()
            record = trainer(arm, f"reproduce · {exp.slug} · {arm.key}", store)
            trained_any = True
            source = "trained"
        if fp not in done:
            done[fp] = (record, exp.slug)
        seconds = time.perf_counter() - started
        results.append(ArmResult(exp.slug, arm, record, source, seconds))
        progress(f"[{i}/{len(plan)}] {exp.slug} · {arm.key}: {_outcome(record)} ({source}, {seconds:.1f}s)")
    return results, datasets


def _reusable(store, fingerprint: str) -> dict[str, Any] | None:
    for status in REUSABLE:
        run_id = store.find_by_fingerprint(fingerprint, status=status)
        if run_id:
            return store.get_record(run_id)
    return None


def _clear_keras() -> None:
    """Free the previous models' graphs so dozens of runs in one process stay fast."""
    with contextlib.suppress(Exception):
        import keras

        keras.utils.clear_session()


def _outcome(record: dict[str, Any]) -> str:
    status = record.get("status")
    acc = gallery.final_value(record)
    return f"{status}, test accuracy {acc:.3f}" if acc is not None else str(status)


# --------------------------------------------------------------------------- figures


def _export_png(figs: Sequence[go.Figure], paths: Sequence[Path]) -> None:
    """All figures in one Kaleido session (one browser start)."""
    import plotly.io as pio

    pio.write_images(list(figs), [str(p) for p in paths], format="png", width=FIGURE_WIDTH, scale=1)


def _with_timeout(fn: Callable[[], None], timeout: float) -> None:
    error: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="bnviz-export", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the static export took longer than {timeout:.0f}s")
    if error:
        raise error[0]


def export_figures(items: Sequence[tuple[str, go.Figure]], folder: Path, fmt: str = "auto") -> tuple[list[Path], str]:
    """Write figures named by `items` (stem, figure) into `folder`; returns the paths and a note on
    the format: PNG through Plotly's static export (Kaleido + Chromium), or, when that is
    unavailable or fails, interactive HTML (sharing one plotly.min.js)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in list(folder.glob("*.png")) + list(folder.glob("*.html")):
        old.unlink()
    if not items:
        return [], "no figures"
    reason = ""
    if fmt in ("auto", "png"):
        paths = [folder / f"{stem}.png" for stem, _ in items]
        try:
            _with_timeout(lambda: _export_png([fig for _, fig in items], paths),
                          EXPORT_TIMEOUT_S + 5 * len(items))
            if all(p.is_file() and p.stat().st_size > 0 for p in paths):
                return paths, f"PNG ({FIGURE_WIDTH} px wide, Plotly static export)"
            reason = "the static export wrote no files"
        except Exception as exc:  # any export problem means "fall back to HTML"
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if fmt == "png":
            raise RuntimeError(f"PNG export failed: {reason}")
        for p in paths:
            p.unlink(missing_ok=True)
    paths = [folder / f"{stem}.html" for stem, _ in items]
    for path, (_, fig) in zip(paths, items):
        fig.write_html(str(path), include_plotlyjs="directory", full_html=True)
    note = "interactive HTML (open the links)"
    if reason:
        note += f"; PNG export was not possible here, so the report fell back to HTML ({reason})"
    return paths, note


# --------------------------------------------------------------------------- the report


def run_report(out_dir: str | os.PathLike[str], fast: bool = True, only: Sequence[str] | None = None,
               seeds: int = 1, data_dir: str | os.PathLike[str] | None = None, store=None,
               progress: Callable[[str], Any] = print, *, fresh: bool = False, figure_format: str = "auto",
               command: str | None = None) -> Path:
    """Run the gallery (or the cards named in `only`) and write `out_dir/report.md`; returns its path.

    `store`: the RunStore to reuse runs from and record new ones in (default: BNVIZ_HOME's).
    `fresh`: train every arm even when an identical finished run exists.
    `figure_format`: auto (PNG, else HTML), png (fail if PNG fails) or html.
    """
    return _report(out_dir, fast=fast, only=only, seeds=seeds, data_dir=data_dir, store=store, progress=progress,
                   fresh=fresh, figure_format=figure_format, command=command)[0]


def _report(out_dir, *, fast, only, seeds, data_dir, store, progress, fresh, figure_format,
            command) -> tuple[Path, list[ArmResult], float]:
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    if figure_format not in ("auto", "png", "html"):
        raise ValueError(f"figure_format must be auto, png or html, got {figure_format!r}")
    experiments = select(only)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_start = _load()
    own_store = store is None
    if own_store:
        from bnviz.store import RunStore

        store = RunStore()
    try:
        with _data_dir(data_dir):
            from bnviz.datasets import data_dir as current_data_dir

            results, datasets = run_arms(experiments, fast=fast, seeds=seeds, store=store, fresh=fresh,
                                         progress=progress)
            where = current_data_dir()
    finally:
        if own_store:
            store.close()
    train_s = time.perf_counter() - started

    sections = []
    for exp in experiments:
        by_arm: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            if r.experiment == exp.slug:
                by_arm.setdefault(r.arm.label, []).append(r.record)
        held, sentence = exp.verdict(by_arm)
        sections.append(Section(exp, exp.summarize(by_arm), held, sentence, exp.figures(by_arm),
                                full_size=exp.report_full or not fast))

    items, owners = [], []
    for n, section in enumerate(sections, 1):
        shown = [(title, fig) for title, fig in section.figures if not bnfig.is_empty_figure(fig)]
        for k, (title, fig) in enumerate(shown, 1):
            items.append((f"{n:02d}-{section.experiment.slug}-{k}", fig))
            owners.append((section.experiment.slug, title))
    progress(f"exporting {len(items)} figures...")
    paths, figure_note = export_figures(items, out / FIGURE_DIR,
                                        "html" if figure_format == "html" else figure_format)
    total_s = time.perf_counter() - started

    report = out / REPORT_NAME
    text = render(sections, results, datasets, fast=fast, seeds=seeds, figure_paths=paths, figure_owners=owners,
                  figure_note=figure_note, out=out, train_s=train_s, total_s=total_s, data_dir=where,
                  command=command or _command(fast, only, seeds, data_dir), load=(load_start, _load()))
    report.write_text(text)
    timing = {
        "total_s": round(total_s, 1), "training_s": round(train_s, 1), "fast": fast, "seeds": seeds,
        "arms": [{"experiment": r.experiment, "arm": r.arm.key, "source": r.source, "status": r.record.get("status"),
                  "seconds": round(r.seconds, 2), "run_id": r.record.get("id"),
                  "fingerprint": r.arm.config.fingerprint()} for r in results],
    }
    (out / "timing.json").write_text(json.dumps(timing, indent=2))
    progress(f"wrote {report} ({len(paths)} figures; {total_s / 60:.1f} min)")
    return report, results, total_s


def cli_command(args) -> int:
    """`python -m bnviz reproduce ...`; exit 1 when an arm failed (skipped arms are not failures)."""
    import sys

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report, results, total_s = _report(
        args.out, fast=args.fast, only=args.only, seeds=args.seeds, data_dir=args.data_dir, store=None,
        progress=progress, fresh=args.fresh, figure_format=args.figure_format, command=None)
    failed = [r for r in results if r.record.get("status") not in (*REUSABLE, SKIPPED)]
    print(f"{report} ({len(results)} arms, {total_s:.0f} s)")
    for r in failed:
        error = (r.record.get("summary") or {}).get("error")
        print(f"bnviz: {r.experiment} · {r.arm.key} {r.record.get('status')}: {error}", file=sys.stderr)
    return 1 if failed else 0


def _load() -> float | None:
    """1-minute load average (other work on the machine slows the runs down), None where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _command(fast: bool, only: Sequence[str] | None, seeds: int, data_dir: Any) -> str:
    parts = ["python -m bnviz reproduce"]
    if fast:
        parts.append("--fast")
    if only:
        parts += ["--only", *only]
    if seeds != 1:
        parts += ["--seeds", str(seeds)]
    if data_dir:
        parts += ["--data-dir", "DIR"]
    return " ".join(parts)


# --------------------------------------------------------------------------- Markdown


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _held(held: bool | None) -> str:
    return {True: "✓ yes", False: "✗ no", None: "— n/a"}[held]


def _pub(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _table_note(row: Row) -> str:
    if row.status == SKIPPED:
        return "skipped: dataset unavailable (see below)"
    return row.note


def render(sections: Sequence[Section], results: Sequence[ArmResult], datasets: _Datasets, *, fast: bool,
           seeds: int, figure_paths: Sequence[Path], figure_owners: Sequence[tuple[str, str]], figure_note: str,
           out: Path, train_s: float, total_s: float, data_dir: Path | None, command: str,
           load: tuple[float | None, float | None] = (None, None)) -> str:
    """The Markdown report (pure given its inputs)."""
    devices = sorted({str((r.record.get("summary") or {}).get("device")) for r in results
                      if (r.record.get("summary") or {}).get("device")})
    trained = sum(1 for r in results if r.source == "trained")
    reused = sum(1 for r in results if r.source.startswith(("reused", "shared")))
    skipped = sum(1 for r in results if r.source == "skipped")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    variant = "fast classroom variants" if fast else "full-size variants"
    lines = [
        f"# Reproduction report ({'fast' if fast else 'full'})",
        "",
        f"Generated by `{command}` on {when}: {len(sections)} experiments, {len(results)} arms "
        f"({trained} trained, {reused} reused or shared between cards, {skipped} skipped), "
        f"{seeds} seed{'s' if seeds != 1 else ''} per arm, {variant}.",
        f"Wall time **{total_s / 60:.1f} min** ({train_s / 60:.1f} min running arms) on "
        f"{', '.join(devices) or 'CPU'} with {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"TensorFlow {_version('tensorflow')}, Keras {_version('keras')}"
        + (f"; 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end"
           if None not in load else "") + f". Figures: {figure_note}.",
        "",
        "All numbers are **test accuracy at the end of training** (on the held-out test split). "
        "“Claim held” is the card's verdict, judged from our runs (see each card for the rule and the numbers).",
        "",
        "## Results",
        "",
        "| Experiment | Arm | Published | Ours | Claim held | Note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in sections:
        for row in s.rows:
            lines.append(f"| {_cell(s.experiment.title)} | {_cell(row.arm)} | {_pub(row.published)} | "
                         f"{_cell(row.ours_text)} | {_held(s.held)} | {_cell(_table_note(row))} |")
    lines += ["", "## Where our numbers differ from the published ones, and why", ""]
    lines += _differences(sections, datasets, fast=fast, seeds=seeds, data_dir=data_dir)
    lines += ["", "## The experiments", ""]
    by_slug: dict[str, list[tuple[Path, str]]] = {}
    for path, (slug, title) in zip(figure_paths, figure_owners):
        by_slug.setdefault(slug, []).append((path, title))
    for n, s in enumerate(sections, 1):
        e = s.experiment
        lines += [
            f"### {n}. {e.title}",
            "",
            f"`{e.slug}` · {'full size' if s.full_size else 'fast variant'}",
            "",
            f"**Question.** {e.question}",
            "",
            f"**Claim.** {e.claim} — *{e.source}*",
            "",
            f"**Setup.** {e.setup}" if e.setup else "",
            "",
            f"**Verdict: {_held(s.held)}.** {s.sentence}",
            "",
        ]
        for path, title in by_slug.get(e.slug, []):
            rel = path.relative_to(out).as_posix()
            lines.append(f"![{title}]({rel})" if path.suffix == ".png" else f"- [{title}]({rel}) (interactive)")
            lines.append("")
    lines += ["## Timing", "", "| Experiment | Arm | Status | Source | Seconds |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r.experiment} | {_cell(r.arm.key)} | {r.record.get('status')} | {_cell(r.source)} | "
                     f"{r.seconds:.1f} |")
    lines += ["", f"Total: {total_s:.0f} s ({total_s / 60:.1f} min), of which {train_s:.0f} s running arms "
              "(training, data loading, store writes) and the rest building and exporting figures.", ""]
    return "\n".join(line for line in _squeeze(lines))


def _squeeze(lines: list[str]) -> Iterator[str]:
    """Drop repeated blank lines."""
    blank = False
    for line in lines:
        if line == "" and blank:
            continue
        blank = line == ""
        yield line


def _differences(sections: Sequence[Section], datasets: _Datasets, *, fast: bool, seeds: int,
                 data_dir: Path | None) -> list[str]:
    out = []
    for name, what in sorted(datasets.found.items()):
        full = {"mnist": "60,000 training / 10,000 test", "cifar10": "50,000 training / 10,000 test"}.get(name)
        src = f" from `{data_dir}`" if data_dir else ""
        line = f"- **Data.** {name}: {what}{src}."
        if name == "mnist" and not what.startswith("60,000"):
            line += (f" The published MNIST results use {full} digits; here only the 10,000-digit MNIST test set "
                     "is available offline, split into the first 8,000 for training and the last 2,000 for "
                     "testing (bench/prepare_mnist.py). Every MNIST number below is therefore from fewer "
                     "training digits and a different, smaller test set.")
        out.append(line)
    for name, error in sorted(datasets.failed.items()):
        arms = [f"{s.experiment.slug} · {r.arm}" for s in sections for r in s.rows if r.status == SKIPPED
                and r.note and name in r.note]
        out.append(f"- **Skipped: dataset unavailable ({name}).** {len(arms) or 'Its'} arm"
                   f"{'s' if len(arms) != 1 else ''} could not run: `{' '.join(error.split())}`")
    full_cards = [s.experiment.slug for s in sections if s.full_size]
    if fast:
        line = ("- **Fewer epochs and examples (--fast).** Every card runs its fast classroom variant (see its "
                "Setup line and the “fast variant” notes in the table)")
        if full_cards:
            line += (" except " + ", ".join(f"`{c}`" for c in full_cards) + ", which runs at full size because "
                     "it is cheap (the circles tutorial takes about 20 s per arm for its 100 epochs on 2 CPU "
                     "cores), so its numbers are directly comparable with the published ones")
        out.append(line + ". Shorter training lowers accuracies and can flip comparisons whose effect shows only "
                   "late in training.")
    far = [(s, r) for s in sections for r in s.rows
           if r.ours is not None and r.published is not None and abs(r.ours - r.published) > gallery.TOLERANCE]
    near = [(s, r) for s in sections for r in s.rows
            if r.ours is not None and r.published is not None and abs(r.ours - r.published) <= gallery.TOLERANCE]
    if near:
        out.append("- **Within " + f"{gallery.TOLERANCE:.2f}" + " of the published number:** "
                   + "; ".join(f"{s.experiment.slug} · {r.arm} {r.ours:.3f} vs {r.published:.3f}" for s, r in near)
                   + ".")
    for s, r in far:
        why = r.note or "see the card"
        out.append(f"- **{s.experiment.slug} · {r.arm}: {r.ours:.3f} vs published {r.published:.3f} "
                   f"({r.ours - r.published:+.3f}).** {why}.")
    cold = [(s, r) for s in sections for r in s.rows if "warmed up" in r.note]
    if cold:
        out.append("- **BN moving averages not warmed up.** " + "; ".join(
            f"{s.experiment.slug} · {r.arm}" for s, r in cold)
            + ": a moving average with momentum m needs a few times 1/(1 − m) optimizer steps (a few hundred "
              "for Keras' default 0.99) to forget its initial values; with fewer steps inference-mode (test) "
              "accuracy is far below what the same weights reach with batch statistics. This is the "
              "train-vs-inference card's effect, not a bug.")
    if seeds == 1:
        out.append("- **Noise.** One seed per arm, so a difference of a point or two between arms (e.g. the three "
                   "circles arms) may be seed-to-seed noise rather than an effect. Run with `--seeds N` to get "
                   "mean ± std over N seeds (training.seed = base + i) and tell the two apart.")
    else:
        out.append(f"- **Noise.** Each arm ran with {seeds} seeds (training.seed = base + i); “±” is the sample "
                   "standard deviation over the seeds that finished.")
    out.append("- **Published numbers.** Only the tutorials state numbers (the presets' `published` field); the "
               "paper figures (Ioffe & Szegedy Fig. 1, §3.3) and the batch-size claim are qualitative, so those "
               "rows show “—” and the verdict tests the qualitative claim.")
    return out
