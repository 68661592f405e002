"""The experiment gallery: arms build valid configs, and the answers never raise on partial results."""

from __future__ import annotations

import copy
import functools
import math

import plotly.graph_objects as go
import pytest

from bnviz import gallery
from bnviz.config import ExperimentConfig
from bnviz.gallery import EXPERIMENTS, SKIPPED, UnknownExperiment, aggregate_arm_metric, get_experiment
from tests.fakes import make_fake_record

IMAGE = ("mnist", "fashion_mnist", "cifar10")


def _without_seed(config: ExperimentConfig) -> dict:
    data = config.to_dict()
    data["training"].pop("seed")
    return data


@functools.cache
def _fake(seed: int, activation: str, blocks: int) -> dict:
    return make_fake_record(seed=seed, activation=activation, blocks=blocks)


def _finished(test_accuracy: float | None, *, seed: int = 0, status: str = "succeeded", activation: str = "relu",
              blocks: int = 2) -> dict:
    """A finished fake run (a few distinct ones are generated, then copied: generating is slow)."""
    record = copy.deepcopy(_fake(seed % 3, activation, blocks))
    record["status"] = status
    if test_accuracy is not None:
        record["summary"]["final"]["test_accuracy"] = test_accuracy
    if status == "diverged":
        record["summary"]["final"].pop("test_accuracy", None)
        record["summary"]["diverged_at"] = {"epoch": 2, "batch": 7}
    return record


def _skipped(reason: str = "dataset unavailable — cifar10 could not be loaded") -> dict:
    return {"status": SKIPPED, "config": None, "history": {}, "probes": [], "summary": {"error": reason}}


# --------------------------------------------------------------------------- the cards


def test_slugs_are_unique_and_lookup_names_the_choices():
    slugs = [e.slug for e in EXPERIMENTS.values()]
    assert len(slugs) == len(set(slugs)) == len(EXPERIMENTS) >= 11
    assert list(EXPERIMENTS) == slugs
    assert get_experiment("ioffe-fig1") is EXPERIMENTS["ioffe-fig1"]
    with pytest.raises(UnknownExperiment) as err:
        get_experiment("fig-one")
    assert "fig-one" in str(err.value) and "ioffe-fig1" in str(err.value) and "batch-size" in str(err.value)


@pytest.mark.parametrize("slug", list(EXPERIMENTS))
def test_every_arm_is_a_valid_config_in_fast_and_full_mode(slug):
    exp = EXPERIMENTS[slug]
    assert exp.title and exp.question and exp.claim and exp.source and exp.setup
    for fast in (True, False):
        arms = exp.arms(fast)
        assert arms, f"{slug} has no arms"
        labels = [a.label for a in arms]
        assert len(labels) == len(set(labels))
        for arm in arms:
            assert ExperimentConfig.from_dict(arm.config.to_dict()) == arm.config
            assert exp.arm_info(arm.label) is not None


@pytest.mark.parametrize("slug", list(EXPERIMENTS))
def test_seeds_replicate_each_arm_with_distinct_seeds_and_nothing_else_changed(slug):
    exp = EXPERIMENTS[slug]
    base = exp.arms(True)
    arms = exp.arms(True, seeds=3)
    assert len(arms) == 3 * len(base)
    for arm in base:
        replicas = [a for a in arms if a.label == arm.label]
        assert [a.seed for a in replicas] == [arm.seed, arm.seed + 1, arm.seed + 2]
        assert [a.replicate for a in replicas] == [0, 1, 2]
        assert len({a.key for a in replicas}) == 3
        assert all(_without_seed(a.config) == _without_seed(arm.config) for a in replicas)
        assert len({a.config.fingerprint() for a in replicas}) == 3
    with pytest.raises(ValueError):
        exp.arms(True, seeds=0)


@pytest.mark.parametrize("slug", list(EXPERIMENTS))
def test_fast_arms_are_small(slug):
    """The classroom variants must stay cheap on 2 CPU cores: bounded data x epochs and steps."""
    for arm in EXPERIMENTS[slug].arms(True):
        cfg = arm.config
        n_train = cfg.dataset.n_train
        if cfg.dataset.name in IMAGE:
            assert n_train is not None, f"{arm.label}: a fast image arm must not train on the whole set"
        n_train = n_train or 500
        epochs = cfg.training.epochs
        budget = 12_000 if cfg.model.family != "mlp" else 60_000  # CNN: about 20 s on 2 cores
        assert epochs * n_train <= budget, f"{slug} · {arm.label}: {epochs} epochs x {n_train} examples"
        steps = epochs * math.ceil(n_train / cfg.training.batch_size)
        assert steps <= 1_500, f"{slug} · {arm.label}: {steps} steps"


def test_arms_shared_across_cards_have_the_same_fingerprint():
    """The Fig. 1 arms are points of the learning-rate sweep and of the weight-scale sweep: trained once."""
    fig1 = {a.config.fingerprint() for a in get_experiment("ioffe-fig1").arms(True)}
    lr = {a.config.fingerprint() for a in get_experiment("learning-rate").arms(True)}
    scale = {a.config.fingerprint() for a in get_experiment("scale-invariance").arms(True)}
    assert fig1 <= lr and fig1 <= scale
    modes = {a.config.fingerprint() for a in get_experiment("train-vs-inference").arms(True)}
    ext = {a.config.fingerprint() for a in get_experiment("circles-extensions").arms(True)}
    assert len(modes & ext) == 2  # BN after (momentum 0.99) and momentum 0


def test_the_circles_card_uses_the_tutorial_presets_and_their_published_numbers():
    from bnviz.presets import PRESETS

    exp = get_experiment("tutorial-circles")
    full = {a.label: a for a in exp.arms(False)}
    assert full["no BN"].config == PRESETS["seed001-circles-none"].config
    assert full["BN before ReLU"].published == 0.830
    assert [a.config.fingerprint() for a in exp.arms(True)] == [
        PRESETS[f"seed001-circles-{p}-fast"].config.fingerprint() for p in ("none", "after", "before")]
    assert exp.report_full


# --------------------------------------------------------------------------- aggregation


def test_aggregate_arm_metric_is_mean_and_sample_std_over_seeds():
    records = [_finished(v, seed=i) for i, v in enumerate((0.8, 0.9, 1.0))]
    agg = aggregate_arm_metric(records)
    assert agg["n"] == 3 and agg["missing"] == 0
    assert agg["mean"] == pytest.approx(0.9)
    assert agg["std"] == pytest.approx(0.1)  # ddof=1: sqrt((0.01 + 0 + 0.01) / 2)
    assert (agg["low"], agg["high"]) == (pytest.approx(0.8), pytest.approx(1.0))
    assert agg["values"] == pytest.approx([0.8, 0.9, 1.0])

    with_failures = records[:2] + [_finished(None, seed=5, status="diverged"), _skipped()]
    agg = aggregate_arm_metric(with_failures)
    assert agg["n"] == 2 and agg["missing"] == 2
    assert agg["mean"] == pytest.approx(0.85) and agg["std"] == pytest.approx(math.sqrt(0.005))

    single = aggregate_arm_metric([_finished(0.7)])
    assert single["mean"] == pytest.approx(0.7) and single["std"] == 0.0
    assert aggregate_arm_metric([])["mean"] is None


def test_multi_seed_rows_show_mean_plus_minus_std():
    exp = get_experiment("tutorial-circles")
    rows = {r.arm: r for r in exp.summarize({
        "no BN": [_finished(0.84, seed=0), _finished(0.86, seed=1)],
        "BN after ReLU": _finished(0.85),
        "BN before ReLU": None,
    })}
    row = rows["no BN"]
    assert row.ours == pytest.approx(0.85) and row.std == pytest.approx(0.0141421, rel=1e-4) and row.n == 2
    assert row.ours_text == "0.850 ± 0.014 (n=2)" and row.published == 0.846
    assert rows["BN after ReLU"].ours_text == "0.850"
    assert rows["BN before ReLU"].status == "missing" and rows["BN before ReLU"].ours is None


# --------------------------------------------------------------------------- answers on fake records


def _fake_lists(exp, *, seeds: int = 1) -> dict:
    """One finished fake record per arm (per seed), with a diverged, a skipped and a missing arm."""
    lists = {}
    arms = exp.build(True)
    for i, arm in enumerate(arms):
        act = arm.config.model.activation if arm.config.model.activation in ("relu", "sigmoid", "tanh") else "relu"
        lists[arm.label] = [_finished(0.5 + 0.04 * i, seed=10 * i + s, activation=act, blocks=3)
                            for s in range(seeds)]
    if len(arms) >= 3:
        lists[arms[0].label] = [_finished(None, status="diverged", blocks=3)]
        lists[arms[1].label] = [_skipped()]
        del lists[arms[2].label]
    return lists


@pytest.mark.parametrize("seeds", [1, 2])
@pytest.mark.parametrize("slug", list(EXPERIMENTS))
def test_summarize_verdict_and_figures_work_on_partial_fake_results(slug, seeds):
    exp = EXPERIMENTS[slug]
    lists = _fake_lists(exp, seeds=seeds)
    rows = exp.summarize(lists)
    assert {r.arm for r in rows} == set(lists)
    statuses = {r.status for r in rows}
    if len(exp.build(True)) >= 3:
        assert {"diverged", SKIPPED} <= statuses
        diverged = next(r for r in rows if r.status == "diverged")
        assert diverged.ours is None and "epoch 2" in diverged.note
        assert next(r for r in rows if r.status == SKIPPED).note.startswith("skipped: dataset unavailable")
    held, sentence = exp.verdict(lists)
    assert held in (True, False, None) and sentence.strip()
    assert "comparison failed" not in sentence
    figs = exp.figures(lists)
    assert figs and all(isinstance(t, str) and isinstance(f, go.Figure) for t, f in figs)
    assert not any("figure failed" in str(a.text) for _, f in figs for a in f.layout.annotations)


@pytest.mark.parametrize("slug", list(EXPERIMENTS))
def test_nothing_run_yet_or_everything_skipped_is_not_judged(slug):
    exp = EXPERIMENTS[slug]
    assert exp.verdict({})[0] is None
    held, sentence = exp.verdict({a.label: [_skipped()] for a in exp.build(True)})
    assert held is None and "dataset unavailable" in sentence
    assert all(r.ours_text == "skipped" for r in exp.summarize({a.label: _skipped() for a in exp.build(True)}))
    exp.figures({})


# --------------------------------------------------------------------------- verdicts and measurements


def _seeds(*values: float) -> list[dict]:
    return [_finished(v, seed=i) for i, v in enumerate(values)]


def test_circles_verdict_holds_within_a_few_points_of_the_tutorial():
    exp = get_experiment("tutorial-circles")
    good = {"no BN": _seeds(0.84, 0.845, 0.85), "BN after ReLU": _seeds(0.85, 0.848, 0.846),
            "BN before ReLU": _seeds(0.83, 0.828, 0.832)}
    for records in good.values():
        for r in records:
            r["config"]["training"]["epochs"] = 100
    held, sentence = exp.verdict(good)
    assert held is True and "0.848" in sentence and sentence.startswith("Reproduced")
    assert exp.verdict({k: v[:1] for k, v in good.items()})[0] is None  # one seed: not enough to judge
    bad = copy.deepcopy(good)
    for r in bad["BN before ReLU"]:
        r["summary"]["final"]["test_accuracy"] -= 0.13
    assert exp.verdict(bad)[0] is False
    short = copy.deepcopy(bad)
    short["BN before ReLU"][0]["config"]["training"]["epochs"] = 30  # the fast variant: inconclusive
    assert exp.verdict(short)[0] is None


def test_learning_rate_verdict_compares_the_highest_working_rate():
    exp = get_experiment("learning-rate")
    acc = {("no BN", 0.01): 0.11, ("no BN", 0.1): 0.27, ("no BN", 1): 0.92, ("no BN", 10): 0.26,
           ("BN before sigmoid", 0.01): 0.89, ("BN before sigmoid", 0.1): 0.93, ("BN before sigmoid", 1): 0.94,
           ("BN before sigmoid", 10): 0.95, ("BN before sigmoid", 100): 0.1}
    lists = {f"{g}, lr {lr:g}": _seeds(v, v + 0.005, v - 0.005) for (g, lr), v in acc.items()}
    lists["no BN, lr 100"] = [_finished(None, status="diverged")]
    held, sentence = exp.verdict(lists)
    assert held is True and "only 1 without BN" in sentence and "0.01–10 with BN" in sentence
    assert "diverged at lr 100" in sentence
    points = gallery.sweep_points(exp, lists)
    fig = gallery.sweep_figure(points, "t", "learning rate")
    assert any(t.name == "diverged / failed" for t in fig.data)
    assert fig.layout.xaxis.type == "log"


def test_tutorial_pair_is_inconclusive_when_bn_moving_averages_are_cold():
    exp = get_experiment("tutorial-mnist-a")
    cold = _finished(0.11)  # 3 epochs x 20 steps at momentum 0.99: 45% warmed up
    cold["config"]["model"]["norm"]["momentum"] = 0.99
    held, sentence = exp.verdict({"no BN": _finished(0.81), "BN": cold})
    assert held is None and "warm" in sentence
    assert "warmed up" in exp.summarize({"no BN": _finished(0.81), "BN": cold})[1].note
    assert exp.verdict({"no BN": _finished(0.81), "BN": _finished(0.9)})[0] is None  # one seed
    assert exp.verdict({"no BN": _seeds(0.81, 0.8, 0.82), "BN": _seeds(0.9, 0.91, 0.89)})[0] is True


def test_median_drift_is_in_units_of_the_initial_band():
    def probe(epoch, p15, p50, p85):
        stats = {"p15": p15, "p50": p50, "p85": p85}
        return {"epoch": epoch, "positions": [{"layer": "dense3_act", "block": 3, "kind": "pre_activation",
                                               "stats": stats}]}

    record = {"probes": [probe(0, -1.0, 0.0, 1.0), probe(1, -1.0, 0.5, 1.5), probe(2, -2.0, -1.0, 0.0)]}
    assert gallery.median_drift(record, 3) == pytest.approx(0.5)
    assert gallery.last_block(record) == 3
    assert gallery.median_drift({"probes": [probe(0, -1, 0, 1)]}, 3) is None


def test_mode_gap_and_gradient_ratio_read_the_probes():
    record = make_fake_record(epochs=3)
    xs, ys = gallery.mode_gap(record)
    assert xs == [0, 1, 2, 3] and ys == pytest.approx([0.05] * 4)
    assert gallery.mean_gap(record) == pytest.approx(0.05)
    # fake gradients: dense1 = 0.5 / (2 + e), output = 1 / (e + 1): smallest ratio at epoch 0
    assert gallery.first_layer_ratio(record) == pytest.approx(0.25)
    assert set(gallery.gradients_by_layer(record)) == {"dense1", "dense2", "output"}
    sat = gallery.saturation_by_layer(make_fake_record(activation="tanh"))
    assert set(sat) == {"block 1", "block 2"} and all(0 <= v <= 1 for v in sat.values())


def test_bn_warmup_counts_steps_against_the_momentum():
    record = make_fake_record(epochs=3, steps_per_epoch=20, log_every=5)
    record["config"]["model"]["norm"]["momentum"] = 0.99
    assert gallery.bn_warmup(record) == pytest.approx(1 - 0.99**60)
    record["config"]["model"]["norm"]["placement"] = "none"
    assert gallery.bn_warmup(record) is None


def test_noisy_bn_card_reuses_the_fig1_runs_and_adds_only_the_noisy_arm():
    fig1 = {a.config.fingerprint() for a in get_experiment("ioffe-fig1").arms(True)}
    arms = {a.label: a for a in get_experiment("noisy-bn").arms(True)}
    assert list(arms) == ["no BN", "BN", "noisy BN"]
    assert {arms["no BN"].config.fingerprint(), arms["BN"].config.fingerprint()} == fig1
    noisy = arms["noisy BN"].config
    assert noisy.model.norm.noise > 0 and noisy.with_updates({"model.norm.noise": 0.0}) == arms["BN"].config


def test_batch_size_card_adds_group_norm_and_keeps_its_old_arms():
    arms = {a.label: a for a in get_experiment("batch-size").arms(True)}
    assert {a.group for a in arms.values()} == {"BatchNorm", "GroupNorm", "LayerNorm"}
    assert arms["GroupNorm, batch 2"].config.model.norm.kind == "group"
    # the arms it had keep their fingerprints (norm.groups and norm.noise at their defaults are left out),
    # so their stored runs are still found and reused
    assert arms["BatchNorm, batch 2"].config.fingerprint() == "091dc2ab1d834d2aed5bf3db776b2a76"
    assert arms["LayerNorm, batch 32"].config.fingerprint() == "c9820455ac89b249109b1d8fd633e829"
