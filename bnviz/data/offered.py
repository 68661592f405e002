"""What a visitor may make the server read: the trust boundary for data named by a config.

A config that arrives from the web (the form, a `?cfg=` link, a gallery card) can name only a
built-in dataset, a file uploaded to this server (kept under `BNVIZ_HOME/uploads` by its content
hash) or a file inside the operator's data folder (`BNVIZ_DATA_DIR`). Anything else is refused
before it is touched: the path is checked as text, after resolving `..` and symbolic links, and the
refusal is the same whether or not the file exists, so a visitor cannot probe the server's disk.
The local CLI is not behind this boundary: its user is on their own machine.

What leaves the server (a run record's export, an "Edit a copy" link) names a file without the
server's paths (`shareable_path`): an upload as `uploads/<content hash>.<kind>`, a data-folder
file relative to that folder, anything else by its file name. Such a relative path comes back in
a link and is resolved here, against BNVIZ_HOME for `uploads/...` and against the data folder
otherwise (`resolve_offered`), then checked like any other.
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
    resolve_offered(path, home=home, data_dir=data_dir)


def resolve_offered(path: str | None, *, home: Path, data_dir: Path | None) -> str | None:
    """The path on this server that `path` names (a relative one from a shared link made absolute),
    or `NotOffered` when it is neither an upload nor in the data folder."""
    if not path:
        return path
    if "\x00" in path:
        raise NotOffered(REFUSED)
    absolute = _absolute(path, home=home, data_dir=data_dir)
    real = Path(os.path.realpath(absolute))  # `..` and links resolved: no escaping the folders
    uploads = Path(os.path.realpath(uploads_dir(home)))
    if real.parent == uploads and UPLOAD_NAME.fullmatch(real.name):
        return absolute
    if data_dir is not None and real.is_relative_to(Path(os.path.realpath(data_dir))):
        return absolute
    raise NotOffered(REFUSED)


def _absolute(path: str, *, home: Path, data_dir: Path | None) -> str:
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        return expanded
    if Path(expanded).parts[:1] == ("uploads",):
        return str(home / expanded)  # the same text the upload field stored: identical runs stay identical
    if data_dir is not None:
        return str(data_dir / expanded)
    raise NotOffered(REFUSED)


def shareable_path(path: str | None, *, data_dir: Path | None = None) -> str | None:
    """`path` as something that leaves the server may name it: no folder of the server's in it."""
    if not path:
        return path
    file = Path(path)
    if UPLOAD_NAME.fullmatch(file.name) and file.parent.name == "uploads":
        return f"uploads/{file.name}"  # the upload's content id: any server of this store resolves it
    if not file.is_absolute():
        return path if ".." not in file.parts else file.name
    if data_dir is not None:
        for folder in (Path(data_dir), Path(os.path.realpath(data_dir))):
            if file.is_relative_to(folder):
                return file.relative_to(folder).as_posix()
    return file.name
