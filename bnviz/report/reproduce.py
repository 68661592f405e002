"""The reproduction report: run the gallery headless and write what came out, in Markdown.

    python -m bnviz reproduce [--fast | --full] [--backend auto|tensorflow|jax|torch] [--seeds N]
                              [--only SLUG ...] [--data-dir DIR] [--dry-run] --out DIR

Every arm of every chosen card is trained in turn through bnviz.jobs.recorded.train_recorded, recorded in
the run store (so the runs show up in the dashboard), or reused when the store already has
a finished run of the identical config (same fingerprint, which includes the backend), so an
interrupted run resumes where it stopped. Arms whose dataset cannot be
loaded are reported as skipped with the reason; nothing here crashes on a missing dataset.

Output: `DIR/report.md` (a table of published vs our numbers with the verdict per card,
notes on where and why the numbers differ, one section per card with its figures and the
timing), figures under `DIR/reproduction/` (PNG through Plotly's static export, or
interactive HTML when that fails: the report says which), `DIR/timing.json` and
`DIR/results.json` (the verdicts, rows and per-seed numbers as data: bnviz.report.results, which the
Learn page reads). Copy `report.md` to `docs/reproduction.md`, `results.json` to
`docs/reproduction.json` and the `reproduction/` folder next to them: the image links and figure
paths are relative and stay valid.

This module runs the report end to end and is the CLI's entry point; the parts live in
bnviz.report.arms (training or reusing arms), bnviz.report.figure_export (PNG or HTML files)
and bnviz.report.markdown (the text).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bnviz import figures as bnfig
from bnviz.gallery.claims import arm_numbers
from bnviz.report.arms import ArmResult, run_arms, select
from bnviz.report.figure_export import export_figures
from bnviz.report.markdown import Section, render
from bnviz.report.plan import TRAIN, make_plan, resolve_backend
from bnviz.report.results import RESULTS_NAME, card_result, make_results, write_results
from bnviz.states import RESULTS, SKIPPED

REPORT_NAME = "report.md"
FIGURE_DIR = "reproduction"


@contextlib.contextmanager
def _data_dir(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """BNVIZ_DATA_DIR set to `path` for the duration of the report."""
    if path is None:
        yield
        return
    from bnviz.data.loading import ENV_DATA_DIR, clear_cache

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


def run_report(out_dir: str | os.PathLike[str], fast: bool = True, only: Sequence[str] | None = None,
               seeds: int | None = None, data_dir: str | os.PathLike[str] | None = None, store=None,
               progress: Callable[[str], Any] = print, *, fresh: bool = False, figure_format: str = "auto",
               command: str | None = None, backend: str | None = None) -> Path:
    """Run the gallery (or the cards named in `only`) and write `out_dir/report.md`; returns its path.

    `store`: the RunStore to reuse runs from and record new ones in (default: BNVIZ_HOME's).
    `fresh`: train every arm even when an identical finished run exists.
    `figure_format`: auto (PNG, else HTML), png (fail if PNG fails) or html.
    `seeds`: None = each card's default (Experiment.default_seeds). `backend`: auto, or a backend every
    arm trains on; None keeps each config's own.
    """
    return _report(out_dir, fast=fast, only=only, seeds=seeds, data_dir=data_dir, store=store, progress=progress,
                   fresh=fresh, figure_format=figure_format, command=command, backend=resolve_backend(backend))[0]


def _report(out_dir, *, fast, only, seeds, data_dir, store, progress, fresh, figure_format,
            command, backend) -> tuple[Path, list[ArmResult], float]:
    if seeds is not None and seeds < 1:
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
            from bnviz.data.loading import data_dir as current_data_dir

            plan = make_plan(experiments, fast=fast, seeds=seeds, backend=backend, store=store, fresh=fresh)
            results, datasets = run_arms(experiments, fast=fast, seeds=seeds, store=store, fresh=fresh,
                                         progress=progress, plan=plan)
            where = current_data_dir()
    finally:
        if own_store:
            store.close()
    train_s = time.perf_counter() - started

    sections, by_card = [], {}
    for exp in experiments:
        by_arm: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            if r.experiment == exp.slug:
                by_arm.setdefault(r.arm.label, []).append(r.record)
        held, sentence = exp.verdict(by_arm)
        judgement = exp.judgement(by_arm)
        outcome = "" if not exp.claims else judgement.outcome
        if held is None and judgement.held is not None:  # the card found a reason not to trust the numbers
            outcome = "inconclusive (see the card)"
        arms = {label: arm_numbers(label, records) for label, records in by_arm.items()}
        by_card[exp.slug] = by_arm
        sections.append(Section(exp, exp.summarize(by_arm), held, sentence, exp.figures(by_arm),
                                full_size=exp.report_full or not fast, outcome=outcome, arms=arms))

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
    command = command or _command(fast, only, seeds, data_dir, backend)
    text = render(sections, results, datasets, fast=fast, seeds=plan.uniform_seeds(), figure_paths=paths,
                  figure_owners=owners, figure_note=figure_note, out=out, train_s=train_s, total_s=total_s,
                  data_dir=where, command=command,
                  load=(load_start, _load()))
    report.write_text(text)
    figures: dict[str, list[tuple[str, str]]] = {}
    for path, (slug, title) in zip(paths, owners):
        figures.setdefault(slug, []).append((title, path.relative_to(out).as_posix()))
    cards = [card_result(s.experiment, by_card[s.experiment.slug], rows=s.rows, held=s.held, sentence=s.sentence,
                         outcome=s.outcome, arms=s.arms, seeds=plan.seeds[s.experiment.slug], fast=fast,
                         figures=figures.get(s.experiment.slug, [])) for s in sections]
    write_results(out / RESULTS_NAME, make_results(
        cards, command=command, fast=fast))
    timing = {
        "total_s": round(total_s, 1), "training_s": round(train_s, 1), "fast": fast,
        "seeds": plan.uniform_seeds(), "seeds_per_card": plan.seeds,
        "backends": sorted({r.arm.config.training.backend for r in results}),
        "arms": [{"experiment": r.experiment, "arm": r.arm.key, "source": r.source, "status": r.record.get("status"),
                  "seconds": round(r.seconds, 2), "run_id": r.record.get("id"),
                  "fingerprint": r.arm.config.fingerprint()} for r in results],
    }
    (out / "timing.json").write_text(json.dumps(timing, indent=2))
    progress(f"wrote {report} ({len(paths)} figures; {total_s / 60:.1f} min)")
    return report, results, total_s


def cli_command(args) -> int:
    """`python -m bnviz reproduce ...`; exit 1 when an arm failed (skipped arms are not failures).

    The backend is resolved (and refused when not installed: exit 2) before anything trains."""
    import sys

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    backend = resolve_backend(args.backend)
    if args.dry_run:
        return _dry_run(args, backend)
    select(args.only)  # an unknown card is refused before Keras starts
    if backend is not None:  # before a dataset download can import Keras on another backend
        from bnviz.train.backends import activate

        activate(backend)
    report, results, total_s = _report(
        args.out, fast=args.fast, only=args.only, seeds=args.seeds, data_dir=args.data_dir, store=None,
        progress=progress, fresh=args.fresh, figure_format=args.figure_format, command=None, backend=backend)
    failed = [r for r in results if r.record.get("status") not in (*RESULTS, SKIPPED)]
    print(f"{report} ({len(results)} arms, {total_s:.0f} s)")
    for r in failed:
        error = (r.record.get("summary") or {}).get("error")
        print(f"bnviz: {r.experiment} · {r.arm.key} {r.record.get('status')}: {error}", file=sys.stderr)
    return 1 if failed else 0


def _dry_run(args, backend: str | None) -> int:
    """Print the plan (cards, arms × seeds, sizes, backend, what the store already holds); train nothing."""
    from bnviz.store import RunStore

    experiments = select(args.only)
    with RunStore() as store:
        plan = make_plan(experiments, fast=args.fast, seeds=args.seeds, backend=backend, store=store,
                         fresh=args.fresh)
    for line in plan.lines():
        print(line)
    print(f"dry run: nothing trained (without --dry-run: {plan.count(TRAIN)} arms train, the report goes to "
          f"{Path(args.out) / REPORT_NAME})")
    return 0


def _load() -> float | None:
    """1-minute load average (other work on the machine slows the runs down), None where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _command(fast: bool, only: Sequence[str] | None, seeds: int | None, data_dir: Any,
             backend: str | None = None) -> str:
    parts = ["python -m bnviz reproduce", "--fast" if fast else "--full"]
    if backend:
        parts += ["--backend", backend]
    if only:
        parts += ["--only", *only]
    if seeds is not None:
        parts += ["--seeds", str(seeds)]
    if data_dir:
        parts += ["--data-dir", "DIR"]
    return " ".join(parts)

