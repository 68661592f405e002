"""Learn: ready-made experiments, each one click from the result it is about."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from bnviz.gallery import EXPERIMENTS
from bnviz.states import MISSING, RunState, is_active
from ui import access, common, report_view, routes, shell
from ui.gallery import find_runs, launch, missing_data, records_by_arm


@dataclass(frozen=True)
class Choice:
    """What the page shows: the fast or full-size arms, how many seeds, and which card is open."""

    fast: bool
    seeds: int
    selected: str | None
    signed_in: bool = False
    teacher: bool = False


def page() -> None:
    common.apply_presenter_style()
    who = access.actor()
    st.title("Learn")
    st.caption("Claims about batch normalization from the tutorials and the paper, each one click from the "
               "evidence. Identical runs are shared: if anyone already ran an arm, its result shows up at once.")
    c1, c2 = st.columns([1, 1])
    fast = c1.toggle("Fast classroom variant", value=st.query_params.get("full") != "1",
                     help="Small data and few epochs: each card's arms finish in about a minute on a laptop CPU. "
                          "Off: the full-size experiment, as published.")
    seeds = c2.number_input("Seeds per arm", 1, 5, value=1,
                            help="Repeat every arm with different seeds and show the mean with a band, "
                                 "so you can tell an effect from noise.")
    if fast:
        st.query_params.pop("full", None)
    else:
        st.query_params["full"] = "1"
    selected = st.query_params.get("exp")
    if selected and selected not in EXPERIMENTS:
        common.friendly_error(f"There is no experiment called {selected[:60]!r}.", "Pick one of the cards below.")
        selected = None
    choice = Choice(fast, int(seeds), selected, who.signed_in, who.is_admin)
    if selected:
        routes.page_link("learn", "All experiments", icon=":material/arrow_back:")
        polling = any(is_active(r.status) for r in find_runs(EXPERIMENTS[selected], fast, choice.seeds))
        st.fragment(run_every=2.0 if polling else None)(_answer)(selected, choice, polling)
        with st.expander("Other experiments", icon=":material/school:"):
            _grid(choice)
    else:
        _grid(choice)


def _run_controls(slug: str, runs: list, key: str, choice: Choice) -> None:
    """The card's one button (launch the missing arms, then show the answer) and its progress."""
    exp = EXPERIMENTS[slug]
    done = sum(r.status in (RunState.SUCCEEDED, RunState.DIVERGED, RunState.FAILED) for r in runs)
    absent = missing_data(exp, choice.fast) if done < len(runs) else []
    if absent:
        titles = " and ".join(title for title, _ in absent)
        st.warning(f"**This server has no copy of {titles}**, so this card's runs cannot train here. "
                   "Ask whoever runs this server to add it.", icon=":material/cloud_off:")
        with st.expander("Details for whoever runs the server"):
            for _, detail in absent:
                st.caption(detail)
    failed = [r for r in runs if r.status == MISSING and r.failed]
    if failed and not absent:
        st.error(f"**{len(failed)} of {len(runs)} runs failed** the last time: {failed[0].failed}",
                 icon=":material/error:")
    b1, b2 = st.columns([1, 1])
    label = "Run it" if done < len(runs) else "Show the answer"
    if b1.button(f"{label} ({len(runs)} runs)", key=key, icon=":material/play_arrow:", disabled=bool(absent),
                 type="primary" if slug == choice.selected else "secondary", width="stretch"):
        try:
            launch(exp, runs, signed_in=choice.signed_in, teacher=choice.teacher)
        except ValueError as exc:  # the queue is full, or this visitor may not train here
            st.session_state["gallery_error"] = str(exc)
        st.query_params["exp"] = slug
        st.rerun()
    b2.progress(done / len(runs), text=f"{done}/{len(runs)} finished")


def _card(slug: str, choice: Choice) -> None:
    exp = EXPERIMENTS[slug]
    with st.container(border=True):
        st.markdown(f"#### {exp.title}")
        st.markdown(f"**{exp.question}**")
        st.caption(f"Claim: {exp.claim} — *{exp.source}*")
        report_view.on_card(slug)
        _run_controls(slug, find_runs(exp, choice.fast, choice.seeds), key=f"run_{slug}", choice=choice)


def _answer(slug: str, choice: Choice, was_live: bool) -> None:
    exp = EXPERIMENTS[slug]
    runs = find_runs(exp, choice.fast, choice.seeds)
    live = any(is_active(r.status) for r in runs)
    records = records_by_arm(runs)
    held, sentence = exp.verdict(records)
    st.subheader(exp.title)
    st.markdown(f"**{exp.question}** {exp.setup}")
    st.caption(f"Claim: {exp.claim} — *{exp.source}*")
    if exp.paper_figure:
        st.caption(f"The paper's figure: {exp.paper_figure}")
    report_view.on_answer(slug)
    st.markdown("##### On this server")
    st.caption(f"This server's own runs of the {'fast classroom' if choice.fast else 'full-size'} arms, "
               f"{choice.seeds} seed{'s' if choice.seeds != 1 else ''} per arm (the switches above), "
               "judged by the same rule.")
    if "gallery_error" in st.session_state:
        st.error(st.session_state.pop("gallery_error"), icon=":material/hourglass_top:")
    if any(r.status == MISSING for r in runs):
        _run_controls(slug, runs, key=f"answer_run_{slug}", choice=choice)
    if live:
        st.info(f"{sum(is_active(r.status) for r in runs)} of {len(runs)} runs are still training; "
                "this answer updates by itself.", icon=":material/hourglass_top:")
    icon = {True: ":material/check_circle:", False: ":material/cancel:", None: ":material/help:"}[held]
    (st.success if held else st.warning if held is False else st.info)(sentence, icon=icon)
    rows = exp.summarize(records)
    st.dataframe(pd.DataFrame([{"arm": r.arm, "published": "—" if r.published is None else f"{r.published:.3f}",
                                "ours": r.ours_text, "note": r.note} for r in rows]),
                 hide_index=True, width="stretch")
    for i, (_title, figure) in enumerate(exp.figures(records)):
        common.chart(st, figure, f"gallery_{slug}_{i}")
    with st.expander("Share this experiment", icon=":material/share:"):
        common.copy_link("Everyone who opens this link sees this card's runs and answer:",
                         routes.url("learn", exp=slug, full="" if choice.fast else "1"))
    ids = [r.run_id for r in runs if r.run_id]
    if len(ids) >= 2:
        routes.page_link("compare", "Open these runs in Compare", runs=",".join(ids[:12]))
    if was_live and not live:
        st.rerun()  # all arms finished: redraw once without polling


def _grid(choice: Choice) -> None:
    columns = st.columns(2)
    for i, slug in enumerate(EXPERIMENTS):
        with columns[i % 2]:
            _card(slug, choice)


shell.show(page)
