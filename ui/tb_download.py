"""A download of runs as TensorBoard event files (a zip), for the Runs and Run pages."""

from __future__ import annotations

from collections.abc import Sequence

from bnviz.report.tensorboard import zip_bytes
from ui.service import store


def tensorboard_button(where, run_ids: Sequence[str], *, key: str = "tb_zip") -> None:
    """A download button: the runs' event files side by side, one folder per run."""
    ids = list(run_ids)
    name = f"bnviz-{ids[0]}-tensorboard.zip" if len(ids) == 1 else f"bnviz-{len(ids)}-runs-tensorboard.zip"
    where.download_button(
        "TensorBoard (zip)", lambda: zip_bytes([store().get_record(r) for r in ids]), file_name=name,
        mime="application/zip", icon=":material/insights:", key=key,
        help="Curves and the activation histograms before and after BN per block and epoch, as TensorBoard "
             "event files: unzip, then `tensorboard --logdir bnviz-tensorboard`. Several selected runs appear "
             "as separate runs.")
