"""Where training events go, and the exception that ends a fit() early; free of keras, so
modules that only pass events on import no framework (and cannot fix the Keras backend too early)."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

Sink = Callable[[dict[str, Any]], None] | queue.Queue


class StopRun(Exception):
    """Raised inside fit() to leave it at once (cancel or divergence)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def emit(sink: Sink | None, event: dict[str, Any]) -> None:
    if sink is None:
        return
    if isinstance(sink, queue.Queue):
        sink.put(event)
    else:
        sink(event)
