"""What the full-size reproduction report found, on the Learn page's cards.

The numbers come from the committed results file (`docs/reproduction.json`, written by
`python -m bnviz reproduce --full` beside `docs/reproduction.md`; read by bnviz.report.results), not from
this server's runs: a teacher on a fresh server sees the verdicts the report reached over its seeds.
The file is read once per server and never changes while it runs; a missing or unreadable file only
hides this part (one log line).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from bnviz.report import results as report_results
from bnviz.report.results import CardResult, ReproductionResults, ResultsError, load_results
from bnviz.settings import BACKENDS

log = logging.getLogger(__name__)
REPORT_DOC = "docs/reproduction.md"  # where the report lives in the repository, as the page names it
ICONS = {True: ":material/check_circle:", False: ":material/cancel:", None: ":material/help:"}


@st.cache_resource(show_spinner=False)
def _read(path: str) -> ReproductionResults | None:
    try:
        return load_results(path)
    except ResultsError as exc:
        log.warning("Learn: the full-size report's results are not shown (%s)", exc)
        return None


def results_path() -> Path:
    """The committed results file (bnviz.report.results.DOCS_RESULTS, read at call time)."""
    return report_results.DOCS_RESULTS


def report_card(slug: str) -> tuple[CardResult, ReproductionResults] | None:
    """The report's result for this card, or None (no file, unreadable, or the card is not in it)."""
    found = _read(str(results_path()))
    if found is None or slug not in found.cards:
        return None
    return found.cards[slug], found


def _heading(card: CardResult) -> str:
    return "What the full-size report found" if card.variant == "full" else "What the fast classroom report found"


def _where(card: CardResult, results: ReproductionResults, short: bool = False) -> str:
    seeds = f"{card.seeds} seed{'s' if card.seeds != 1 else ''} per arm"
    ran = (f"{seeds} on {', '.join(BACKENDS.get(b, b) for b in card.backends)}" if card.backends
           else f"{seeds} planned, none could run")
    if short:  # the grid card
        return f"The report's own runs, not this server's: {ran} · `{REPORT_DOC}`"
    return (f"The report's own runs, not this server's: {ran}, generated {results.generated_at:%Y-%m-%d} by "
            f"`python -m bnviz reproduce --{card.variant}`. The whole report, with every number and figure: "
            f"`{REPORT_DOC}`.")


def _rows(card: CardResult) -> pd.DataFrame:
    return pd.DataFrame([{"arm": r.arm, "published": "—" if r.published is None else f"{r.published:.3f}",
                          "ours (report)": r.ours_text, "seeds": r.seeds or "—",
                          "diverged or stuck": (f"{r.broken} of {r.seeds}" if r.broken else "none") if r.seeds
                          else "—", "note": r.note} for r in card.rows])


def _verdict_line(card: CardResult) -> str:
    mark = {True: "✓", False: "✗", None: "—"}[card.held]
    return f"{mark} {card.verdict}"


def on_card(slug: str) -> None:
    """The grid card's short form: the verdict in words, seeds and backend; the rows in an expander."""
    found = report_card(slug)
    if found is None:
        return
    card, results = found
    st.markdown(f"**{_heading(card)}:** {_verdict_line(card)}")
    st.caption(_where(card, results, short=True))
    with st.expander("The report's numbers", icon=":material/description:"):
        st.dataframe(_rows(card), hide_index=True, width="stretch")


def on_answer(slug: str) -> None:
    """The opened card's full form: the verdict with its sentences, the rows and the report's figures."""
    found = report_card(slug)
    if found is None:
        if _read(str(results_path())) is not None:
            st.caption(f"The full-size report (`{REPORT_DOC}`) does not include this card.")
        return
    card, results = found
    with st.container(border=True):
        st.markdown(f"##### {_heading(card)}")
        st.caption(_where(card, results))
        box = st.success if card.held else st.warning if card.held is False else st.info
        box(f"**The report's verdict: {card.verdict}.** {card.sentence}", icon=ICONS[card.held])
        st.dataframe(_rows(card), hide_index=True, width="stretch")
        folder = results_path().parent.resolve()
        figures = [(f.title, (folder / f.path).resolve()) for f in card.figures if f.path.endswith(".png")]
        figures = [(title, path) for title, path in figures if path.is_relative_to(folder) and path.is_file()]
        if figures:
            with st.expander("The report's figures", icon=":material/image:"):
                for title, path in figures:
                    st.image(str(path), caption=title)
