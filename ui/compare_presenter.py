"""Compare in presenter mode (`/compare?runs=a,b&present=1`): a pair, e.g. with and without BN, on one
1920×1080 screen. Both loss curves, and both decision boundaries (2-D data) or both runs' histograms
at one network position; one large epoch counter that every chart shares: each run is cut at the
newest epoch all of them have reached, from one snapshot per run (`ui.live.at_epoch`). Every chart's
text is at least PROJECTOR_FONT_PX.
"""

from __future__ import annotations

import streamlit as st

from bnviz import figures
from bnviz.figures import boundary as fb
from bnviz.report import readings
from bnviz.states import is_active
from ui.boundary_view import boundaries_at
from ui.common import chart, projector_sized, shared_figure
from ui.live import at_epoch, read_views, shared_epoch, short_labels

CHART_PX = 700  # the title, the epoch counter and one row of charts: about 900 px of a 1080 px screen


def presenter_comparison(run_ids: tuple[str, ...], was_live: bool) -> None:
    views = read_views(run_ids)
    if len(views) < 2:
        return
    live = any(is_active(v.status) for v in views)
    if was_live and not live:
        st.rerun()  # all finished: redraw once without polling
    epoch = min(shared_epoch(v) for v in views)
    views = [at_epoch(v, epoch) for v in views]
    total = max(v.epochs_planned for v in views)
    st.markdown(f"<div class='bnviz-epoch'>Epoch {epoch} of {total}</div>", unsafe_allow_html=True)
    labels = short_labels(views)
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({v.run_id[:6]})" for label, v in zip(labels, views)]
    records = [v.record for v in views]
    version = (tuple(v.version for v in views), tuple(labels))
    left, right = st.columns([2, 3])

    def loss():  # its title names the epoch, as the boundaries' and the histograms' do
        figure = figures.compare_curves(records, labels, metric="loss", height=CHART_PX)
        return projector_sized(figure.update_layout(title_text=f"Loss to epoch {epoch}"))

    chart(left, shared_figure("p_cmp_loss", version, (epoch,), loss), "p_cmp_loss")
    if all(fb.boundary_epochs(r) for r in records):
        figure = shared_figure("p_cmp_boundary", version, (epoch,),
                               lambda: boundaries_at(views, labels, epoch, height=CHART_PX))
        chart(right, figure, "p_cmp_boundary")
        return
    blocks = sorted({b for r in records for b in figures.position_blocks(r) if b > 0}) or [0]
    kinds = sorted(set.intersection(*(set(figures.position_kinds(r, blocks[0])) for r in records)))
    if not kinds:
        right.info("The histograms appear with the first probe of every run.", icon=":material/hourglass_top:")
        return
    kind = readings.most_different_position(records, blocks[0], kinds) or kinds[0]

    def histograms():
        return projector_sized(figures.compare_histograms(records, labels, blocks[0], epoch, kind=kind,
                                                          height=CHART_PX))

    chart(right, shared_figure("p_cmp_hist", version, (epoch, kind), histograms), "p_cmp_hist")
