"""`python -m bnviz reproduce`'s flags: --fast/--full, --backend, per-card default seeds, --dry-run, resuming."""

from __future__ import annotations

import dataclasses

import pytest

from bnviz import gallery
from bnviz.cli import main
from bnviz.cli.commands import build_parser
from bnviz.gallery import Arm
from bnviz.report import arms as reproduce_arms
from bnviz.report.plan import REUSE, TRAIN, make_plan, resolve_backend
from bnviz.store import RunStore
from bnviz.train import backends
from tests.conftest import tiny_config

SMALL = ("tutorial-circles", "ioffe-fig1", "learning-rate", "saturation", "batch-size", "train-vs-inference",
         "circles-extensions", "scale-invariance", "noisy-bn")
CNN = ("tutorial-mnist-b", "tutorial-cifar10")


@pytest.fixture
def no_training(monkeypatch):
    """Any attempt to train fails the test."""
    def refuse(arm, name, store):
        raise AssertionError(f"trained {name}")

    monkeypatch.setattr(reproduce_arms, "_train_recorded", refuse)


@pytest.fixture
def installed(monkeypatch):
    """Pretend exactly these backends are installed."""
    def pretend(*names: str) -> None:
        monkeypatch.setattr(backends, "available_backends", lambda: names)
    return pretend


@pytest.fixture
def tiny_circles(monkeypatch, tmp_path):
    """The circles card with two 2-epoch tiny arms."""
    exp = gallery.get_experiment("tutorial-circles")
    build = lambda fast: [Arm("no BN", tiny_config(), group="circles", published=0.846),  # noqa: E731
                          Arm("BN after ReLU", tiny_config(**{"model.norm.placement": "after"}), group="circles",
                              published=0.848)]
    monkeypatch.setitem(gallery.EXPERIMENTS, exp.slug, dataclasses.replace(exp, build=build))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    return exp.slug


def test_fast_and_full_are_mutually_exclusive_and_full_is_the_default(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--fast", "--full"])
    assert exc.value.code == 2
    assert "argument --full: not allowed with argument --fast" in capsys.readouterr().err
    parser = build_parser()
    assert parser.parse_args(["reproduce"]).fast is False
    assert parser.parse_args(["reproduce", "--full"]).fast is False
    assert parser.parse_args(["reproduce", "--fast"]).fast is True
    args = parser.parse_args(["reproduce"])
    assert (args.backend, args.seeds, args.dry_run) == ("auto", None, False)
    with pytest.raises(SystemExit):
        parser.parse_args(["reproduce", "--backend", "numpy"])
    assert "invalid choice: 'numpy'" in capsys.readouterr().err


def test_auto_picks_jax_when_installed_else_tensorflow(installed):
    installed("tensorflow", "jax")
    assert resolve_backend("auto") == "jax"
    plan = make_plan([gallery.get_experiment("tutorial-circles")], fast=True, backend=resolve_backend("auto"))
    assert plan.arms and {p.arm.config.training.backend for p in plan.arms} == {"jax"}
    installed("tensorflow")
    assert resolve_backend("auto") == "tensorflow"
    assert resolve_backend(None) is None


def test_the_backend_is_part_of_the_fingerprint():
    exp = [gallery.get_experiment("tutorial-circles")]
    on_tf = make_plan(exp, fast=True, backend="tensorflow")
    on_jax = make_plan(exp, fast=True, backend="jax")
    assert {p.arm.config.fingerprint() for p in on_tf.arms}.isdisjoint(p.arm.config.fingerprint()
                                                                          for p in on_jax.arms)


def test_a_backend_that_is_not_installed_is_refused_before_anything_trains(installed, no_training, tmp_path, capsys):
    installed("tensorflow")
    code = main(["reproduce", "--fast", "--backend", "jax", "--only", "tutorial-circles", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "'jax' is not installed" in err and "installed: tensorflow" in err
    assert not (tmp_path / "r").exists()


def test_default_seeds_per_card():
    experiments = list(gallery.EXPERIMENTS.values())
    full = make_plan(experiments, fast=False).seeds
    assert all(full[slug] >= 5 for slug in SMALL) and all(full[slug] >= 3 for slug in CNN)
    assert set(make_plan(experiments, fast=True).seeds.values()) == {1}
    assert set(make_plan(experiments, fast=False, seeds=2).seeds.values()) == {2}
    circles = make_plan([gallery.get_experiment("tutorial-circles")], fast=False)
    assert len(circles.arms) == 5 * len(gallery.get_experiment("tutorial-circles").build(False))


def test_dry_run_prints_the_plan_and_trains_nothing(installed, no_training, tmp_path, capsys):
    installed("tensorflow", "jax")
    code = main(["reproduce", "--dry-run", "--only", "tutorial-circles", "tutorial-mnist-b",
                 "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0
    assert "plan: 2 cards, 21 arms (full-size variants) on jax" in out
    assert "tutorial-circles: 3 arms × 5 seeds = 15 runs; epochs 100, batch size 32, circles (500 training" in out
    assert "tutorial-mnist-b: 2 arms × 3 seeds = 6 runs; epochs 30, batch size 16, mnist (8,000 training" in out
    assert "0 reused from the store" in out and "nothing trained" in out
    assert not (tmp_path / "r").exists()
    with RunStore() as store:
        assert store.list_runs() == []


def test_a_second_invocation_reuses_every_finished_arm(tiny_circles, tmp_path, capsys):
    """Resumable: the second run trains nothing (real tiny training on TensorFlow, as the rest of the suite)."""
    argv = ["reproduce", "--fast", "--backend", "tensorflow", "--seeds", "2", "--only", tiny_circles,
            "--format", "html", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    first = capsys.readouterr().err
    assert first.count(": trained in ") == 4 and "(ETA " in first
    assert "[1/4] tutorial-circles · no BN · seed 3: trained in " in first
    report = (tmp_path / "r" / "report.md").read_text()
    assert "trained on the **tensorflow** Keras backend" in report

    main([*argv[:-2], "--dry-run"])
    assert "0 to train, 4 reused from the store" in capsys.readouterr().out

    assert main(argv) == 0
    second = capsys.readouterr().err
    assert ": trained in " not in second and ": training on " not in second
    assert second.count(": reused from the store (run ") == 4
    with RunStore() as store:
        assert len(store.list_runs()) == 4
    plan = make_plan([gallery.get_experiment(tiny_circles)], fast=True, seeds=2, backend="tensorflow")
    assert [p.action for p in plan.arms] == [TRAIN] * 4  # without a store nothing counts as reusable
    with RunStore() as store:
        assert [p.action for p in make_plan([gallery.get_experiment(tiny_circles)], fast=True, seeds=2,
                                            backend="tensorflow", store=store).arms] == [REUSE] * 4
