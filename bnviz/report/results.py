"""The reproduction report's results as data: `results.json` next to `report.md`.

`reproduce` writes it (`DIR/results.json`; the committed copy of the full-size report is
`docs/reproduction.json`, beside `docs/reproduction.md`) so that the dashboard's Learn page can show
what the full-size report found without parsing Markdown: per card, the variant, seeds per arm,
backend, the verdict (held and its words), the summary rows, each seed's headline number and the
figures' paths (relative to the file's folder, like the report's image links).

The shape is `ReproductionResults`, versioned: `load_results` refuses a file of another version or
shape with a `ResultsError` (one line, no traceback), and the page then leaves that part out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bnviz.errors import UserError
from bnviz.gallery import Experiment, Row, final_value
from bnviz.gallery.claims import ArmNumbers
from bnviz.gallery.metrics import Record, config_of
from bnviz.states import RESULTS

VERSION = 1
RESULTS_NAME = "results.json"
# The committed full-size report, its figures and its results, in the repository's docs/.
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
DOCS_REPORT = DOCS_DIR / "reproduction.md"
DOCS_RESULTS = DOCS_DIR / "reproduction.json"


class ResultsError(UserError):
    """A results file that is missing, unreadable, of another version or of another shape."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedResult(_Model):
    """One seed of one arm: its final test accuracy (None unless it succeeded) and how it ended."""

    seed: int | None
    value: float | None
    status: str
    run_id: str | None = None


class ResultRow(_Model):
    """One row of the card's results table (Experiment.summarize), with the seeds that finished."""

    arm: str
    published: float | None
    ours: float | None
    ours_text: str
    note: str = ""
    status: str = "ok"
    seeds: int = 0  # finished seeds
    broken: int = 0  # of those, diverged or stuck at chance


class FigureFile(_Model):
    title: str
    path: str  # relative to the results file's folder, e.g. "reproduction/01-tutorial-circles-1.png"


class CardResult(_Model):
    """What the report found for one card."""

    slug: str
    title: str
    variant: Literal["full", "fast"]
    seeds: int  # seeds per arm the report asked for
    backends: list[str]  # of the arms that ran (empty when none did)
    held: bool | None
    verdict: str  # the verdict in words: reproduced, not reproduced, depends on the seed, not judged, ...
    sentence: str  # the rule's sentences (exp.verdict)
    rows: list[ResultRow]
    per_seed: dict[str, list[SeedResult]] = {}  # arm label -> one entry per seed
    figures: list[FigureFile] = []


class ReproductionResults(_Model):
    version: Literal[1] = VERSION
    generated_at: datetime
    command: str
    report: str = "report.md"  # the Markdown report beside this file
    variant: Literal["full", "fast"]
    cards: dict[str, CardResult]


def verdict_word(held: bool | None, outcome: str = "") -> str:
    """The verdict in words, as the report's verdicts table shows it (after its ✓ / ✗ / —)."""
    if held is True:
        return "reproduced"
    if held is False:
        return "not reproduced"
    return outcome or "n/a"


def card_result(exp: Experiment, by_arm: Mapping[str, Sequence[Record]], *, rows: Sequence[Row],
                held: bool | None, sentence: str, outcome: str, arms: Mapping[str, ArmNumbers], seeds: int,
                fast: bool, figures: Sequence[tuple[str, str]] = ()) -> CardResult:
    """One card's entry; `figures` are (title, path relative to the results file's folder)."""
    ran = [r for v in by_arm.values() for r in v if r.get("status") in RESULTS]
    backends = sorted({str(backend) for r in ran if (backend := (config_of(r).get("training") or {}).get("backend"))})
    out_rows = []
    for row in rows:
        numbers = arms.get(row.arm)
        out_rows.append(ResultRow(arm=row.arm, published=row.published, ours=row.ours, ours_text=row.ours_text,
                                  note=row.note, status=row.status, seeds=numbers.seeds if numbers else 0,
                                  broken=(numbers.diverged + numbers.stuck) if numbers else 0))
    per_seed = {label: [_seed(r, exp.metric) for r in records] for label, records in by_arm.items()}
    return CardResult(slug=exp.slug, title=exp.title, variant="fast" if fast else "full", seeds=seeds,
                      backends=backends, held=held, verdict=verdict_word(held, outcome), sentence=sentence,
                      rows=out_rows, per_seed=per_seed,
                      figures=[FigureFile(title=t, path=p) for t, p in figures])


def _seed(record: Record, metric: str) -> SeedResult:
    seed = (config_of(record).get("training") or {}).get("seed")
    value = final_value(record, metric)
    return SeedResult(seed=seed if isinstance(seed, int) else None,
                      value=None if value is None else round(value, 6), status=str(record.get("status")),
                      run_id=record.get("id"))


def make_results(cards: Sequence[CardResult], *, command: str, fast: bool,
                 generated_at: datetime | None = None) -> ReproductionResults:
    return ReproductionResults(generated_at=generated_at or datetime.now(UTC).replace(microsecond=0),
                               command=command, variant="fast" if fast else "full",
                               cards={c.slug: c for c in cards})


def write_results(path: str | os.PathLike[str], results: ReproductionResults) -> Path:
    path = Path(path)
    path.write_text(results.model_dump_json(indent=2) + "\n")
    return path


def load_results(path: str | os.PathLike[str]) -> ReproductionResults:
    """The results file at `path`; ResultsError (one line) when it is missing, not JSON, of another
    version or of another shape."""
    path = Path(path)
    try:
        data: Any = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"no results file at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path} could not be read: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path} is not a results file (a JSON object is expected)")
    if data.get("version") != VERSION:
        raise ResultsError(f"{path} has results version {data.get('version')!r}; this bnviz reads version {VERSION}")
    try:
        return ReproductionResults.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ResultsError(f"{path} is not a results file of version {VERSION}: {where}: {first['msg']} "
                           f"({exc.error_count()} problem{'s' if exc.error_count() != 1 else ''})") from None
