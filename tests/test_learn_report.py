"""The Learn page shows what the full-size report found, from its results file, beside this server's runs;
a missing or corrupt file only hides that part (issue 22)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bnviz.report import results as report_results
from bnviz.report.results import CardResult, ResultRow, make_results, write_results
from tests.apptest_helpers import (
    fake_trainer_env,  # noqa: F401 - an autouse fixture
    open_app,
)

SLUG = "tutorial-circles"
HEADING = "What the full-size report found"
SENTENCE = "Reproduced. (1) a test sentence from the report's rule over seeds."


@pytest.fixture
def results_file(tmp_path, monkeypatch):
    """A small results file with one card (circles, reproduced over 5 seeds on JAX), as the page's source."""
    card = CardResult(slug=SLUG, title="Circles", variant="full", seeds=5, backends=["jax"], held=True,
                      verdict="reproduced", sentence=SENTENCE,
                      rows=[ResultRow(arm="no BN", published=0.846, ours=0.85, ours_text="0.850 ± 0.007 (n=5)",
                                      seeds=5)])
    path = write_results(tmp_path / "reproduction.json", make_results(
        [card], command="python -m bnviz reproduce --full", fast=False, generated_at=datetime(2026, 12, 7, tzinfo=UTC)))
    monkeypatch.setattr(report_results, "DOCS_RESULTS", path)
    return path


def _texts(at) -> list[str]:
    return [e.value for e in (*at.markdown, *at.caption, *at.success, *at.warning, *at.info)]


def test_a_card_shows_the_reports_verdict_beside_its_run_button(results_file):
    at = open_app("learn").run()
    assert not at.exception, at.exception
    texts = _texts(at)
    assert f"**{HEADING}:** ✓ reproduced" in texts
    assert any("5 seeds per arm on JAX" in t and "not this server's" in t and "docs/reproduction.md" in t
               for t in texts), texts
    assert sum(HEADING in t for t in texts) == 1  # only the card the file names
    assert any(b.key == f"run_{SLUG}" for b in at.button)  # "Run it" is still there

    at = open_app("learn", exp=SLUG).run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("**The report's verdict: reproduced.**") and SENTENCE in s.value
               for s in at.success)
    report = next(d.value for d in at.dataframe if "ours (report)" in d.value.columns)
    assert report["ours (report)"].tolist() == ["0.850 ± 0.007 (n=5)"]
    assert any(m.value == "##### On this server" for m in at.markdown)
    assert any(b.key == f"answer_run_{SLUG}" for b in at.button)
    # a card the report does not include says so on its open view
    at = open_app("learn", exp="learning-rate").run()
    assert not at.exception, at.exception
    assert any("does not include this card" in c.value for c in at.caption)


@pytest.mark.parametrize("content", [None, "{ not json", '{"version": 2, "cards": {}}'])
def test_a_missing_or_corrupt_file_hides_the_reports_part(tmp_path, monkeypatch, caplog, content):
    path = tmp_path / "reproduction.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setattr(report_results, "DOCS_RESULTS", path)
    with caplog.at_level(logging.WARNING, logger="ui.report_view"):
        for at in (open_app("learn").run(), open_app("learn", exp=SLUG).run()):
            assert not at.exception, at.exception
            assert not any(HEADING in t or "report's verdict" in t for t in _texts(at))
            assert any(b.key in (f"run_{SLUG}", f"answer_run_{SLUG}") for b in at.button)
    assert any("full-size report's results are not shown" in r.getMessage() for r in caplog.records)
