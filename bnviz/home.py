"""BNVIZ_HOME, the directory bnviz keeps its local files in (the SQLite store, models, uploads,
logs, JAX's compiled programs), in a module of its own so that training can find it without
importing the store and its database driver."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """BNVIZ_HOME, else ~/.bnviz."""
    raw = os.environ.get("BNVIZ_HOME", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".bnviz"
