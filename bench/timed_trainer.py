"""bnviz.training.train, plus a log of when each epoch ended (for bench_browser_latency.py).

Used as BNVIZ_TRAINER=bench.timed_trainer:train with BNVIZ_EPOCH_LOG=FILE.
"""

from __future__ import annotations

import os
import time

from bnviz.callback import emit
from bnviz.training import train as real_train


def train(config, *, sink=None, **kwargs):
    log = os.environ["BNVIZ_EPOCH_LOG"]

    def timed(event):
        emit(sink, event)  # store first: the epoch is visible to readers from now on
        if event["type"] == "epoch":
            with open(log, "a") as f:
                f.write(f"{event['epoch']} {time.time():.4f}\n")

    return real_train(config, sink=timed, **kwargs)
