"""Framework start-up for training: quiet logs, the backend's threads and GPU, the device's name.

What differs per backend lives in `bnviz.train.backends`; this module keeps the names other
modules import (`configure`, `env_int`).
"""

from __future__ import annotations

import os

from bnviz.config import BACKENDS, DEFAULT_BACKEND
from bnviz.train import backends  # importing it sets TensorFlow's C++ log level, before TensorFlow is imported

if "KERAS_BACKEND" not in os.environ:  # BNVIZ_BACKEND picks the process's backend; validated on use
    _wanted = os.environ.get("BNVIZ_BACKEND", "").strip()
    os.environ["KERAS_BACKEND"] = _wanted if _wanted in BACKENDS else DEFAULT_BACKEND


def configure(threads: int | None = None, backend: str | None = None) -> str:
    """Set the backend up once per process and say which device training will use ("CPU", "GPU (name)").

    `threads` (or env BNVIZ_TF_THREADS) caps the intra-op pool; the dashboard leaves a core
    to the web server so pages stay responsive while a job trains."""
    return backends.configure(threads, backend)


def env_int(name: str, default: int | None = None, low: int = 1, high: int = 1024) -> int | None:
    """A whole-number setting from the environment, or `default`; a bad value says what is allowed."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value
