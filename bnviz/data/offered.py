"""What a visitor may make the server read: the trust boundary for data named by a config.

A config that arrives from the web (the form, a `?cfg=` link, a gallery card) can name only a
built-in dataset, a file uploaded to this server (kept under `BNVIZ_HOME/uploads` by its content
hash) or a file inside the operator's data folder (`BNVIZ_DATA_DIR`). Anything else is refused
before it is touched: the path is checked as text, after resolving `..` and symbolic links, and the
refusal is the same whether or not the file exists, so a visitor cannot probe the server's disk.
The local CLI is not behind this boundary: its user is on their own machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bnviz.data.source import DatasetError

UPLOAD_NAME = re.compile(r"[0-9a-f]{24}\.(csv|npz)")  # how the dashboard stores an upload: content hash + kind
REFUSED = ("dataset.path: this server trains only on files uploaded to it or kept in its data folder; "
           "upload your file on the Experiment page")


class NotOffered(DatasetError):
    """A dataset path outside what this server offers to visitors."""


def uploads_dir(home: Path) -> Path:
    """Where the dashboard keeps uploaded files."""
    return home / "uploads"


def check_offered(path: str | None, *, home: Path, data_dir: Path | None) -> None:
    """Raise `NotOffered` unless `path` (a config's dataset path) is an upload or lies in the data folder."""
    if not path:
        return
    if "\x00" in path:
        raise NotOffered(REFUSED)
    real = Path(os.path.realpath(os.path.expanduser(path)))  # `..` and links resolved: no escaping the folders
    uploads = Path(os.path.realpath(uploads_dir(home)))
    if real.parent == uploads and UPLOAD_NAME.fullmatch(real.name):
        return
    if data_dir is not None and real.is_relative_to(Path(os.path.realpath(data_dir))):
        return
    raise NotOffered(REFUSED)
