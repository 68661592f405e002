"""Fast classroom variants say every setting they change, and cards state the sizes their presets run."""

from __future__ import annotations

import re

import pytest

from bnviz.data import registry
from bnviz.gallery import EXPERIMENTS
from bnviz.presets import PRESETS, fast_changes, relevant_changes

FULL = [name for name in PRESETS if not name.endswith("-fast")]


def _text(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else f"{value:g}"


def _old(name: str, key: str) -> object:
    node: object = PRESETS[name].config
    for part in key.split("."):
        node = getattr(node, part)
    return node


@pytest.mark.parametrize("name", FULL)
def test_every_change_of_a_fast_variant_is_in_its_description_with_old_and_new_value(name):
    description = PRESETS[f"{name}-fast"].description
    changes = relevant_changes(PRESETS[name].config, fast_changes(name))
    assert changes and "classroom size: " in description
    for key, new in changes.items():
        old = _old(name, key)
        assert old != new, f"{name}: {key} is in the change table but does not change"
        if old is None:  # the whole split: the description names its size
            whole = getattr(registry.get(PRESETS[name].config.dataset.name), key.split(".")[-1])
            old_text = f"all {whole:,}"
        else:
            old_text = _text(old)
        assert f"{_text(new)}" in description and f"instead of {old_text}" in description, (key, description)
        assert re.search(rf"{re.escape(_text(new))}[^,;]* instead of {re.escape(old_text)}", description), key
        assert _old(f"{name}-fast", key) == new  # what it says is what it runs


def test_a_fast_variant_without_bn_names_no_bn_setting():
    """Tutorial A's fast arms lower BN's momentum; its arm without BN has nothing that would use it."""
    assert "momentum" not in PRESETS["seed000-mnist-none-fast"].description
    assert PRESETS["seed000-mnist-none-fast"].config.model.norm.momentum == 0.99


def test_the_mnist_a_fast_description_names_all_five_changes():
    text = PRESETS["seed000-mnist-bn-fast"].description
    for words in ("4,000 training examples instead of all 60,000", "3 epochs instead of 25",
                  "batch size 32 instead of 250", "BN momentum 0.9 instead of 0.99",
                  "1,000 test examples instead of all 10,000"):
        assert words in text


def _sizes(exp, fast: bool) -> set[str]:
    out = set()
    for arm in exp.build(fast):
        d, t = arm.config.dataset, arm.config.training
        for n in (d.n_train, d.n_test):
            if n is not None:
                out.add(f"{n:,}")
        entry = registry.get(d.name)
        out |= {f"{n:,}" for n in (entry.n_train, entry.n_test) if n}
        out.add(f"{t.epochs} epochs")
    return out


@pytest.mark.parametrize("slug", list(EXPERIMENTS))
def test_a_cards_stated_sizes_come_from_the_presets_it_runs(slug):
    exp = EXPERIMENTS[slug]
    known = _sizes(exp, True) | _sizes(exp, False)
    # 2,000 digits, 60,000 digits ...; update counts ("50,000 steps", "≈3,000") are not sizes
    for number in re.findall(r"(?<![≈\d,])(\d{1,3}(?:,\d{3})+)(?! steps)", exp.setup):
        assert number in known, f"{slug}: the setup says {number}, the arms run {sorted(known)}"
    for arm in exp.build(True):
        if arm.config.dataset.n_train is not None and arm.config.dataset.name != "circles":
            assert f"{arm.config.dataset.n_train:,}" in exp.setup, slug
    stated = set(re.findall(r"(\d+) epochs", exp.setup))
    runs = {str(a.config.training.epochs) for f in (True, False) for a in exp.build(f)}
    assert stated <= runs, (slug, stated, runs)
