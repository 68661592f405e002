"""The "Run record (JSON)" download: built when it is clicked, not on every rerun of the page.

An 80-epoch record is several MB. The page used to copy the whole record on every rerun, and the
click's own rerun could drop the file Streamlit was still making (issue 23). Now the button holds
only the run id; the record is read and made shareable when someone clicks, by the same export as
the CLI's (`RunStore.export_json`), so both downloads are the same file.
"""

from __future__ import annotations

from ui.service import manager


def record_json(run_id: str, viewer: str | None, is_admin: bool) -> bytes:
    """The run record as `viewer` may have it (`shared_record`: no identity, no server path), as JSON."""
    return manager().store.export_json(run_id, viewer=viewer, is_admin=is_admin).encode()


def record_button(where, run_id: str, viewer: str | None, is_admin: bool) -> None:
    where.download_button(
        "Run record (JSON)", lambda: record_json(run_id, viewer, is_admin), file_name=f"bnviz-{run_id}.json",
        mime="application/json", icon=":material/data_object:", on_click="ignore",
        help="Everything: config, history, every probe's histograms and statistics.")
