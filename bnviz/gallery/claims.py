"""Verdicts from numbers: each card's claim as written tests, judged over seeds.

A `Claim` is one written statement with its test: the metric (what is measured in each run),
the comparison between two arms (or between an arm and the published number), the threshold,
and one rule over seeds, the same for every card:

- Each arm's seeds give a mean and a 95% t-interval of that mean; a comparison of two arms gives
  the difference of the means with a 95% Welch t-interval.
- The whole interval on the claimed side of the threshold → **reproduced**; the whole interval
  on the other side → **not reproduced**; an interval that contains the threshold → **depends
  on the seed** (these seeds cannot tell an effect from noise).
- Some seeds of an arm diverge or stick at chance while others do not → **depends on the seed**.
- Fewer than 2 seeds in an arm → **one seed: not enough to judge** (never reproduced).

A diverged run has no final accuracy; for an accuracy claim it counts as chance accuracy (a
network that diverged predicts no better than guessing). A card's `Judgement` combines its
claims: reproduced only when every claim is; not reproduced when any claim is not. Pure: run
records (docs/run-record.md) in, a `Judgement` out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bnviz.gallery.metrics import METRIC, Record, config_of, final_value
from bnviz.states import RESULTS, RunState

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
DEPENDS = "depends on the seed"
ONE_SEED = "one seed: not enough to judge"
NOT_JUDGED = "not judged"
OUTCOMES = (REPRODUCED, NOT_REPRODUCED, DEPENDS, ONE_SEED, NOT_JUDGED)

STUCK_MARGIN = 0.05  # a run whose final test accuracy is within this of chance is stuck at chance
CONFIDENCE = 0.95
# Two-sided 95% quantiles of Student's t by degrees of freedom; between rows the smaller df
# (the wider interval) is used, above 30 the normal 1.96.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042}

Measure = Callable[[Record], float | None]


def t95(df: float) -> float:
    """The 97.5th percentile of Student's t with `df` degrees of freedom (conservative between table rows)."""
    if df > 30:
        return 1.96
    return _T95[max(k for k in _T95 if k <= max(1.0, df))]


@dataclass(frozen=True)
class Claim:
    """One written statement and its test.

    `better` minus `worse` (or `better` minus `target` for a claim about a published number)
    is compared with `threshold`: kind "greater" claims the difference is above it; kind "near"
    claims it lies within ±`threshold`."""

    statement: str  # what the source says, in a student's words
    better: str  # arm label
    worse: str | None = None  # arm label; None: compare with `target`
    target: float | None = None  # the published number a "near" claim compares with
    threshold: float = 0.0
    kind: str = "greater"  # greater | near
    metric: str = "final test accuracy"  # what `measure` measures, in words
    measure: Measure | None = None  # None: the final test accuracy (diverged = chance)

    @property
    def rule(self) -> str:
        """The test in words, e.g. "BN − no BN > 0 (95% interval over seeds)"."""
        other = self.worse if self.worse is not None else f"published {self.target:.3f}"
        if self.kind == "near":
            return f"|{self.better} − {other}| ≤ {self.threshold:g} in {self.metric} (95% interval over seeds)"
        return f"{self.better} − {other} > {self.threshold:g} in {self.metric} (95% interval over seeds)"


@dataclass(frozen=True)
class ArmNumbers:
    """One arm's numbers as the verdict uses them."""

    label: str
    published: float | None
    mean: float | None
    low: float | None  # 95% t-interval of the mean (None with fewer than 2 values)
    high: float | None
    seeds: int  # finished seeds (succeeded or diverged)
    diverged: int
    stuck: int  # finished but within STUCK_MARGIN of chance accuracy

    @property
    def broken_share(self) -> float:
        """Share of the finished seeds that diverged or stuck at chance."""
        return (self.diverged + self.stuck) / self.seeds if self.seeds else 0.0

    @property
    def text(self) -> str:
        if self.mean is None:
            return f"{self.label}: no value"
        band = f" (95% interval {self.low:.3f} to {self.high:.3f})" if self.low is not None else ""
        return f"{self.label} {self.mean:.3g}{band}, {self.seeds} seed{'s' if self.seeds != 1 else ''}"


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: str
    arms: tuple[ArmNumbers, ...]
    difference: tuple[float, float, float] | None  # mean, low, high of better − worse (or − target)
    words: str


@dataclass(frozen=True)
class Judgement:
    """A card's verdict: the outcome over all its claims, each claim's numbers, and the words."""

    outcome: str
    results: tuple[ClaimResult, ...]
    words: str

    @property
    def held(self) -> bool | None:
        return {REPRODUCED: True, NOT_REPRODUCED: False}.get(self.outcome)

    @property
    def arms(self) -> dict[str, ArmNumbers]:
        return {a.label: a for r in self.results for a in r.arms}


# --------------------------------------------------------------------------- numbers


def chance(record: Record) -> float | None:
    """1 / number of classes of the record's dataset; None when unknown."""
    from bnviz.data import registry

    name = (config_of(record).get("dataset") or {}).get("name")
    try:
        classes = registry.get(str(name)).classes
    except Exception:  # an unregistered or file dataset: nobody knows chance
        return None
    return 1.0 / classes if classes else None


def _value(record: Record, claim: Claim | None) -> float | None:
    if claim is not None and claim.measure is not None:
        if record.get("status") != RunState.SUCCEEDED:
            return None
        value = claim.measure(record)
        return value if value is not None and math.isfinite(value) else None
    if record.get("status") == RunState.DIVERGED:
        return chance(record)
    return final_value(record, METRIC)


def interval(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """Mean and its 95% t-interval (None, None with fewer than 2 values)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t95(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """mean(a) − mean(b) with a 95% Welch t-interval (both need 2 or more values)."""
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((v - ma) ** 2 for v in a) / (len(a) - 1) / len(a)
    vb = sum((v - mb) ** 2 for v in b) / (len(b) - 1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return ma - mb, ma - mb, ma - mb
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1) if va else 0) + (vb**2 / (len(b) - 1) if vb else 0))
    half = t95(df) * se
    return ma - mb, ma - mb - half, ma - mb + half


def arm_numbers(label: str, records: Sequence[Record], published: float | None = None,
                claim: Claim | None = None) -> ArmNumbers:
    """An arm's mean ± 95% interval of `claim`'s metric (final test accuracy without one), seeds, broken seeds."""
    return _arm(label, records, published, claim)[0]


def _arm(label: str, records: Sequence[Record], published: float | None,
         claim: Claim | None) -> tuple[ArmNumbers, list[float]]:
    finished = [r for r in records if r.get("status") in RESULTS]
    values = [v for v in (_value(r, claim) for r in finished) if v is not None]
    diverged = sum(1 for r in finished if r.get("status") == RunState.DIVERGED)
    stuck = 0
    for r in finished:
        acc, level = final_value(r, METRIC), chance(r)
        if r.get("status") == RunState.SUCCEEDED and acc is not None and level is not None \
                and acc <= level + STUCK_MARGIN:
            stuck += 1
    mean, low, high = interval(values) if values else (None, None, None)
    return ArmNumbers(label, published, mean, low, high, len(finished), diverged, stuck), values


# --------------------------------------------------------------------------- the rule


def judge_claim(claim: Claim, lists: Mapping[str, Sequence[Record]],
                published: Mapping[str, float | None] | None = None) -> ClaimResult:
    """Apply the rule to one claim."""
    published = published or {}
    labels = [claim.better] + ([claim.worse] if claim.worse is not None else [])
    numbers, values = [], []
    for label in labels:
        arm, vals = _arm(label, lists.get(label, []), published.get(label), claim)
        numbers.append(arm)
        values.append(vals)
    arms = tuple(numbers)

    def result(outcome: str, words: str, diff=None) -> ClaimResult:
        return ClaimResult(claim, outcome, arms, diff, f"{claim.statement}: {words}")

    if any(not v for v in values):
        missing = ", ".join(a.label for a, v in zip(arms, values) if not v)
        return result(NOT_JUDGED, f"not judged, no finished seed of {missing}.")
    uneven = [a for a in arms if 0 < a.broken_share < 1]
    if uneven:
        who = "; ".join(f"{a.diverged + a.stuck} of {a.seeds} seeds of {a.label} diverged or stuck at chance"
                        for a in uneven)
        return result(DEPENDS, f"depends on the seed: {who}, the others did not.")
    numbers_text = "; ".join(a.text for a in arms)
    if min(len(v) for v in values) < 2:
        return result(ONE_SEED, f"one seed: not enough to judge ({numbers_text}). Run 3 seeds or more "
                                "(\"Seeds per arm\" on the Learn page, --seeds in python -m bnviz reproduce) "
                                "to tell an effect from noise.")
    if claim.worse is not None:
        diff = difference(values[0], values[1])
        what = f"{claim.better} − {claim.worse}"
    else:
        mean, low, high = interval(values[0])
        diff = (mean - claim.target, low - claim.target, high - claim.target)
        what = f"{claim.better} − published {claim.target:.3f}"
    d, lo, hi = diff
    band = f"{what} = {d:+.3g} (95% interval {lo:+.3g} to {hi:+.3g}; {numbers_text})"
    t = claim.threshold
    if claim.kind == "near":
        if -t <= lo and hi <= t:
            return result(REPRODUCED, f"reproduced, {band} lies within ±{t:g}.", diff)
        if hi < -t or lo > t:
            return result(NOT_REPRODUCED, f"not reproduced, {band} lies outside ±{t:g}.", diff)
        return result(DEPENDS, f"depends on the seed, {band} reaches past ±{t:g}.", diff)
    if lo > t:
        return result(REPRODUCED, f"reproduced, {band} is above {t:g}.", diff)
    if hi < t:
        return result(NOT_REPRODUCED, f"not reproduced, {band} is below {t:g}.", diff)
    return result(DEPENDS, f"depends on the seed, {band} contains {t:g}: these seeds cannot tell an effect "
                           "from noise.", diff)


def judge(claims: Sequence[Claim], lists: Mapping[str, Sequence[Record]],
          published: Mapping[str, float | None] | None = None) -> Judgement:
    """A card's verdict over all its claims."""
    results = tuple(judge_claim(c, lists, published) for c in claims)
    outcomes = {r.outcome for r in results}
    if not results:
        outcome = NOT_JUDGED
    elif outcomes == {REPRODUCED}:
        outcome = REPRODUCED
    elif NOT_REPRODUCED in outcomes:
        outcome = NOT_REPRODUCED
    elif DEPENDS in outcomes:
        outcome = DEPENDS
    elif ONE_SEED in outcomes:
        outcome = ONE_SEED
    else:
        outcome = NOT_JUDGED
    head = {REPRODUCED: "Reproduced", NOT_REPRODUCED: "Not reproduced", DEPENDS: "Depends on the seed",
            ONE_SEED: "One seed: not enough to judge", NOT_JUDGED: "Not judged"}[outcome]
    if results:
        words = f"{head}. " + " ".join(f"({i}) {r.words}" for i, r in enumerate(results, 1))
    else:
        words = "Not judged: this card states no claim to test."
    return Judgement(outcome, results, words)
