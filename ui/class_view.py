"""The teacher's class view on the Runs page: every run on the server grouped by who started it,
and the queue in the order it starts runs, where each waiting run can be moved or cancelled.

Only a teacher (the admin key) sees it. Owners are shown as short anonymous labels derived
from the owner (never the owner itself: it may be an email); run names as plain text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st

from bnviz.states import is_active
from ui import common, live
from ui.service import manager

OWNER_LABEL_CHARS = 5


def owner_label(owner: str | None) -> str:
    """A short label that tells owners apart without naming anyone (an owner may be an email)."""
    if not owner:
        return "nobody"
    return "person " + hashlib.sha256(f"bnviz-owner:{owner}".encode()).hexdigest()[:OWNER_LABEL_CHARS]


def class_view(rows: Sequence[dict]) -> None:
    """Teachers only: the queue (move up/down, cancel) and every run grouped by owner."""
    st.subheader("Class view", anchor=False)
    queue_panel({row["id"]: row for row in rows})
    runs_by_owner(rows)


def queue_panel(rows: dict[str, dict]) -> None:
    done = st.session_state.pop("_queue_note", None)
    if done:
        st.success(done, icon=":material/low_priority:")
    waiting = manager().queued()
    if not waiting:
        st.caption("No run is waiting to start.")
        return
    several = len({q.backend for q in waiting}) > 1
    st.markdown(f"**Queue:** {len(waiting)} waiting, in the order they start. Moving a run fixes the order of "
                "the runs waiting now; runs queued later wait behind them.")
    for q in waiting:
        row = rows.get(q.run_id, {})
        c0, c1, c2, c3, c4, c5 = st.columns([1, 6, 3, 1, 1, 1], vertical_alignment="center")
        c0.markdown(f"**{q.position}**")
        backend = f" · {q.backend}" if several else ""
        c1.markdown(f"{common.plain(row.get('name') or 'run')} · `{q.run_id}`{backend}")
        c2.markdown(common.plain(owner_label(q.owner)))
        last = q.position == sum(1 for o in waiting if o.backend == q.backend)
        c3.button("↑", key=f"q_up_{q.run_id}", help="Start it one place earlier", disabled=q.position == 1,
                  on_click=_move, args=(q.run_id, -1))
        c4.button("↓", key=f"q_down_{q.run_id}", help="Start it one place later", disabled=last,
                  on_click=_move, args=(q.run_id, 1))
        c5.button("✕", key=f"q_cancel_{q.run_id}", help="Cancel this run: it never starts",
                  on_click=_cancel, args=(q.run_id,))


def _move(run_id: str, steps: int) -> None:
    place = manager().move_in_queue(run_id, steps)
    st.session_state["_queue_note"] = (f"Moved to place {place}." if place is not None
                                       else "That run is no longer waiting.")


def _cancel(run_id: str) -> None:
    manager().cancel(run_id)
    live.forget(run_id)
    st.session_state["_queue_note"] = "Cancelled: it will not start."


def runs_by_owner(rows: Sequence[dict]) -> None:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(owner_label(row.get("owner")), []).append(row)
    st.markdown(f"**Runs by person:** {len(groups)} people, {len(rows)} runs.")
    for label, runs in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        active = sum(1 for r in runs if is_active(r["status"]))
        with st.expander(f"{common.plain(label)} · {len(runs)} runs · {active} active"):
            st.dataframe([{"name": r.get("name") or "", "status": str(r["status"]), "dataset": r.get("dataset"),
                           "done": f"{r.get('epochs_completed') or 0}/{r.get('epochs') or 0}",
                           "test acc.": r.get("test_accuracy"), "id": r["id"]} for r in runs],
                         hide_index=True, width="stretch")
