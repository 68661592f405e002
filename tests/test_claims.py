"""Verdicts from numbers: each card's verdict follows from synthetic stored numbers by its written rule."""

from __future__ import annotations

import copy
import dataclasses
import functools

import pytest

from bnviz.gallery import EXPERIMENTS
from bnviz.gallery import claims as cl
from tests.fakes import make_fake_record

JUDGED = [slug for slug, e in EXPERIMENTS.items() if e.claims]
OFFSETS = (0.0, 0.01, 0.02)  # three seeds


@functools.cache
def _base() -> dict:
    return make_fake_record(seed=0, activation="relu", blocks=2)


def _record(config: dict, accuracy: float, stored: dict[str, float]) -> dict:
    record = copy.deepcopy(_base())
    record["config"] = copy.deepcopy(config)
    record["summary"]["final"]["test_accuracy"] = accuracy
    record["summary"]["final"].update(stored)
    return record


def _stored(key: str):
    return lambda r: r["summary"]["final"].get(key)


def _card(slug: str):
    """The card with each non-accuracy claim reading a stored number (the rule under test, not the probes)."""
    exp = EXPERIMENTS[slug]
    claims = tuple(c if c.measure is None else dataclasses.replace(c, measure=_stored(f"m{k}"))
                   for k, c in enumerate(exp.claims))
    return dataclasses.replace(exp, claims=claims)


def _numbers(exp, *, first: str = "clear", seeds: int = 3) -> dict[str, list[dict]]:
    """Seeds per arm: every claim clearly holds, except the first one as `first` says:
    clear | overlap (interval contains the threshold) | stuck (one seed at chance) | reversed."""
    configs = {a.label: a.config.to_dict() for a in exp.build(False)}
    acc: dict[str, list[float]] = {}
    stored: dict[str, list[dict[str, float]]] = {label: [{} for _ in range(seeds)] for label in configs}
    for k, claim in enumerate(exp.claims):
        mode = first if k == 0 else "clear"
        t = claim.threshold
        if claim.kind == "near":
            spread = (-0.04, 0.0, 0.045) if mode == "overlap" else (-0.005, 0.0, 0.005)
            shift = 0.2 if mode == "reversed" else 0.0
            if claim.worse is None:  # near a published number
                pairs = [(claim.better, [claim.target + shift + s for s in spread[:seeds]])]
            else:  # near another arm: the other arm steady, this one around it
                base = [0.7] * seeds
                pairs = [(claim.better, [0.7 + shift + s for s in spread[:seeds]]), (claim.worse, base)]
        else:
            low = [0.6 + o for o in OFFSETS[:seeds]]
            if mode == "overlap":
                high = [v + t + d for v, d in zip(low, (-0.05, 0.06, 0.0))]
            elif mode == "reversed":
                high = [v - t - 0.2 for v in low]
            else:
                high = [v + t + 0.15 for v in low]
            pairs = [(claim.better, high), (claim.worse, low)]
        for label, values in pairs:
            if claim.measure is None:
                assert acc.get(label, values) == values, f"{exp.slug}: {label} has two accuracies"
                acc[label] = values
            else:
                for i, v in enumerate(values):
                    stored[label][i][f"m{k}"] = v
    lists = {label: [_record(configs[label], (acc.get(label) or [0.8] * seeds)[i], stored[label][i])
                     for i in range(seeds)] for label in configs}
    if first == "stuck":
        claim = exp.claims[0]
        label = claim.worse or claim.better
        record = lists[label][0]
        record["summary"]["final"]["test_accuracy"] = cl.chance(record)
    return lists


@pytest.mark.parametrize("slug", JUDGED)
def test_clear_numbers_over_seeds_are_reproduced(slug):
    exp = _card(slug)
    lists = _numbers(exp)
    verdict = exp.judgement(lists)
    assert verdict.outcome == cl.REPRODUCED, verdict.words
    assert all(r.outcome == cl.REPRODUCED for r in verdict.results)
    for result in verdict.results:
        assert all(a.seeds == 3 and a.broken_share == 0 and a.low is not None for a in result.arms)
        assert result.difference is not None and result.difference[1] <= result.difference[0] <= result.difference[2]
    held, sentence = exp.verdict(lists)
    assert held in (True, None) and sentence.startswith(("Reproduced", "Inconclusive"))


@pytest.mark.parametrize("slug", JUDGED)
def test_an_interval_that_contains_the_threshold_is_never_reproduced(slug):
    exp = _card(slug)
    verdict = exp.judgement(_numbers(exp, first="overlap"))
    assert verdict.results[0].outcome == cl.DEPENDS, verdict.results[0].words
    assert verdict.outcome == cl.DEPENDS and verdict.held is None
    _, low, high = verdict.results[0].difference
    t = exp.claims[0].threshold
    assert (low <= t <= high) if exp.claims[0].kind == "greater" else (low < -t or high > t)
    assert exp.verdict(_numbers(exp, first="overlap"))[0] is None


@pytest.mark.parametrize("slug", JUDGED)
def test_a_seed_stuck_at_chance_in_one_arm_makes_it_depend_on_the_seed(slug):
    exp = _card(slug)
    verdict = exp.judgement(_numbers(exp, first="stuck"))
    first = verdict.results[0]
    assert first.outcome == cl.DEPENDS and "1 of 3 seeds" in first.words, first.words
    stuck = next(a for a in first.arms if a.stuck)
    assert stuck.broken_share == pytest.approx(1 / 3)
    assert verdict.outcome == cl.DEPENDS and exp.verdict(_numbers(exp, first="stuck"))[0] is None


@pytest.mark.parametrize("slug", JUDGED)
def test_numbers_on_the_other_side_are_not_reproduced(slug):
    exp = _card(slug)
    verdict = exp.judgement(_numbers(exp, first="reversed"))
    assert verdict.results[0].outcome == cl.NOT_REPRODUCED and verdict.outcome == cl.NOT_REPRODUCED
    assert verdict.held is False


@pytest.mark.parametrize("slug", JUDGED)
def test_one_seed_is_not_enough_to_judge(slug):
    exp = _card(slug)
    lists = _numbers(exp, seeds=1)
    verdict = exp.judgement(lists)
    assert verdict.outcome == cl.ONE_SEED and verdict.held is None
    held, sentence = exp.verdict(lists)
    assert held is None and "not enough to judge" in sentence


def test_a_card_without_claims_is_never_judged_held():
    exp = EXPERIMENTS["circles-extensions"]
    assert not exp.claims
    lists = {a.label: [_record(a.config.to_dict(), 0.8, {})] * 3 for a in exp.build(True)}
    assert exp.verdict(lists)[0] is None


def test_diverged_seeds_count_as_chance_and_all_diverged_is_consistent():
    claim = cl.Claim("BN beats no BN", better="BN", worse="no BN")
    config = {"dataset": {"name": "mnist"}}
    good = [{"status": "succeeded", "config": config, "summary": {"final": {"test_accuracy": v}}}
            for v in (0.9, 0.91, 0.92)]
    broken = [{"status": "diverged", "config": config, "summary": {"final": {}}} for _ in range(3)]
    result = cl.judge_claim(claim, {"BN": good, "no BN": broken})
    assert result.outcome == cl.REPRODUCED  # every no-BN seed diverged: not seed-dependent
    assert result.arms[1].mean == pytest.approx(0.1) and result.arms[1].diverged == 3
    mixed = cl.judge_claim(claim, {"BN": good, "no BN": [*broken[:1], *good[:2]]})
    assert mixed.outcome == cl.DEPENDS


def test_t_quantiles_and_intervals_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 4, 5, 10, 30):
        assert cl.t95(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3)
    values = [0.8, 0.82, 0.85, 0.81]
    mean, low, high = cl.interval(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    assert (low, high) == pytest.approx((lo, hi), abs=1e-3)


def _arms(slug: str, values: dict[str, list[float]], key: str = "test_accuracy") -> dict[str, list[dict]]:
    """Records of card `slug`'s full-size arms, one per value, with `key` set to it (and test accuracy too)."""
    configs = {a.label: a.config.to_dict() for a in EXPERIMENTS[slug].build(False)}
    return {label: [_record(configs[label], v, {key: v}) for v in vs] for label, vs in values.items()}


def test_wu_he_card_bn_grows_at_small_batches_and_group_norm_stays_flat():
    exp = EXPERIMENTS["batch-size"]
    flat = {"BatchNorm, batch 32": [0.95, 0.955, 0.96], "BatchNorm, batch 2": [0.50, 0.55, 0.52],
            "GroupNorm, batch 32": [0.94, 0.945, 0.95], "GroupNorm, batch 2": [0.935, 0.94, 0.95],
            "LayerNorm, batch 2": [0.90, 0.91, 0.92]}
    verdict = exp.judgement(_arms("batch-size", flat))
    assert [r.outcome for r in verdict.results] == [cl.REPRODUCED] * 3, verdict.words
    assert "GroupNorm stays flat" in verdict.results[1].words
    # GroupNorm losing as much as BN at batch 2: the second claim is not reproduced
    dropping = {**flat, "GroupNorm, batch 2": [0.80, 0.81, 0.79]}
    verdict = exp.judgement(_arms("batch-size", dropping))
    assert verdict.results[1].outcome == cl.NOT_REPRODUCED and verdict.outcome == cl.NOT_REPRODUCED
    # BN flat too: the first claim is not reproduced
    verdict = exp.judgement(_arms("batch-size", {**flat, "BatchNorm, batch 2": [0.95, 0.95, 0.96]}))
    assert verdict.results[0].outcome == cl.NOT_REPRODUCED


def test_noisy_bn_card_judges_training_accuracy():
    exp = EXPERIMENTS["noisy-bn"]
    assert all(c.metric == "final training accuracy" for c in exp.claims)
    like_paper = {"no BN": [0.90, 0.905, 0.91], "BN": [0.97, 0.972, 0.975], "noisy BN": [0.965, 0.97, 0.968]}
    # the test accuracy stored beside it is the same number, but the claims read the training accuracy
    verdict = exp.judgement(_arms("noisy-bn", like_paper, key="accuracy"))
    assert verdict.outcome == cl.REPRODUCED, verdict.words
    assert exp.verdict(_arms("noisy-bn", like_paper, key="accuracy"))[0] is True
    hurt = {**like_paper, "noisy BN": [0.92, 0.925, 0.93]}  # the noise costs 5 points: not "about as well"
    verdict = exp.judgement(_arms("noisy-bn", hurt, key="accuracy"))
    assert verdict.results[0].outcome == cl.NOT_REPRODUCED and verdict.results[1].outcome == cl.REPRODUCED
    broken = {**like_paper, "noisy BN": [0.85, 0.86, 0.855]}  # worse than no BN
    assert exp.judgement(_arms("noisy-bn", broken, key="accuracy")).results[1].outcome == cl.NOT_REPRODUCED
    one_seed = {label: values[:1] for label, values in like_paper.items()}
    assert exp.judgement(_arms("noisy-bn", one_seed, key="accuracy")).outcome == cl.ONE_SEED
