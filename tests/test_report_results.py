"""The reproduction report's results file (results.json, committed as docs/reproduction.json): it round-trips,
its verdicts are the cards' own rule over the same records, and the committed copy matches the committed report."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from bnviz import gallery
from bnviz.gallery import Arm
from bnviz.report import arms as reproduce_arms
from bnviz.report import reproduce
from bnviz.report.results import (
    DOCS_REPORT,
    DOCS_RESULTS,
    RESULTS_NAME,
    VERSION,
    ResultsError,
    load_results,
    write_results,
)
from tests.conftest import tiny_config

ACCURACY = {"no BN": 0.85, "BN after ReLU": 0.80, "BN before ReLU": 0.83}  # + 0.002 per seed


@pytest.fixture
def fake_circles(monkeypatch):
    """The circles card with tiny arms whose 'training' returns a made-up record at once; the records it made."""
    exp = gallery.get_experiment("tutorial-circles")
    made: dict[str, list[dict]] = {}

    def build(fast: bool) -> list[Arm]:
        return [Arm("no BN", tiny_config(), published=0.846),
                Arm("BN after ReLU", tiny_config(**{"model.norm.placement": "after"}), published=0.848),
                Arm("BN before ReLU", tiny_config(**{"model.norm.placement": "before"}), published=0.830)]

    def fake_trainer(arm, name, store):
        record = {"id": f"run-{arm.label}-{arm.seed}".replace(" ", "-"), "status": "succeeded",
                  "config": arm.config.to_dict(), "history": {"val_accuracy": [0.5, 0.6]}, "probes": [],
                  "summary": {"final": {"test_accuracy": ACCURACY[arm.label] + 0.002 * arm.seed}}}
        made.setdefault(arm.label, []).append(record)
        return record

    monkeypatch.setitem(gallery.EXPERIMENTS, exp.slug, dataclasses.replace(exp, build=build))
    monkeypatch.setattr(reproduce_arms, "_train_recorded", fake_trainer)
    return made


def test_results_round_trip_and_carry_the_cards_own_verdicts(fake_circles, tmp_path):
    out = tmp_path / "report"
    reproduce.run_report(out, fast=False, only=["tutorial-circles"], seeds=3, progress=lambda _: None,
                         figure_format="html")
    results = load_results(out / RESULTS_NAME)
    assert results.version == VERSION and results.variant == "full"
    assert "--full" in results.command and "--seeds 3" in results.command
    card = results.cards["tutorial-circles"]
    exp = gallery.get_experiment("tutorial-circles")
    held, sentence = exp.verdict(fake_circles)
    assert (card.held, card.sentence) == (held, sentence)
    assert card.held is False and card.verdict == "not reproduced"  # BN after ReLU ends 0.05 below 0.848
    assert card.seeds == 3 and card.variant == "full" and card.backends == ["tensorflow"]
    rows = exp.summarize(fake_circles)
    assert [(r.arm, r.published, r.ours_text, r.note) for r in card.rows] == \
        [(r.arm, r.published, r.ours_text, r.note) for r in rows]
    assert all(r.seeds == 3 and r.broken == 0 for r in card.rows)
    assert [s.value for s in card.per_seed["no BN"]] == [pytest.approx(0.85 + 0.002 * s) for s in (3, 4, 5)]
    assert [s.seed for s in card.per_seed["no BN"]] == [3, 4, 5]
    assert card.figures and all((out / f.path).is_file() for f in card.figures)
    text = (out / "report.md").read_text()
    assert "| Circles MLP: BN before or after the activation | ✗ not reproduced | 3 |" in text

    again = write_results(tmp_path / "copy.json", results)
    assert load_results(again) == results


@pytest.mark.parametrize(("text", "words"), [
    ("{not json", "could not be read"),
    ("[1, 2]", "a JSON object is expected"),
    (json.dumps({"version": 99, "cards": {}}), "version 99"),
    (json.dumps({"version": VERSION, "cards": {}}), "is not a results file of version"),
])
def test_an_unknown_shape_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(ResultsError, match=re.escape(words)) as caught:
        load_results(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ResultsError, match="no results file"):
        load_results(tmp_path / "absent.json")


def _verdict_table(markdown: str) -> dict[str, str]:
    """Card title -> verdict words, from the report's verdicts table."""
    table = markdown.split("| Experiment | Verdict | Seeds per arm |")[1].split("\n\n")[0]
    out = {}
    for line in table.splitlines()[2:]:
        title, verdict, _seeds = (cell.strip() for cell in line.strip("|").split(" | "))
        out[title] = verdict.split(" ", 1)[1]  # after ✓ / ✗ / —
    return out


def test_the_committed_results_match_the_committed_report():
    results = load_results(DOCS_RESULTS)
    assert results.variant == "full"
    verdicts = _verdict_table(DOCS_REPORT.read_text())
    assert verdicts, "the report has a verdicts table"
    by_title = {card.title: card for card in results.cards.values()}
    assert set(by_title) == set(verdicts)
    for title, words in verdicts.items():
        assert by_title[title].verdict == words, title
    for card in results.cards.values():
        assert card.slug in gallery.EXPERIMENTS and card.title == gallery.EXPERIMENTS[card.slug].title
        assert all((DOCS_RESULTS.parent / f.path).is_file() for f in card.figures), card.slug
        assert f"`{card.slug}` · full size" in DOCS_REPORT.read_text()
    assert results.cards["tutorial-cifar10"].held is None and not results.cards["tutorial-cifar10"].backends


def test_a_missing_image_set_is_said_plainly_with_what_is_here_instead():
    from bnviz.report.markdown import no_copy

    text = no_copy("cifar10", ["mnist"], ["tutorial-cifar10"])
    assert text == ("This server has no copy of CIFAR-10, and no CIFAR-like image set is available offline here (the "
                    "only images on this server are MNIST digits), so no stand-in is shown and the card "
                    "`tutorial-cifar10` is not judged.")
    partly = no_copy("mnist", [], [])  # a card that lost only some arms is still judged on the others
    assert "no downloadable image set has a copy here at all" in partly
    assert "the arms that need it are skipped" in partly
    report = DOCS_REPORT.read_text()
    assert report.count("This server has no copy of CIFAR-10, and no CIFAR-like image set") == 2  # notes and card
