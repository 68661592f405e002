"""How long `RunStore.version(run_id)` takes: the read every viewer's page polls once a second.

    python bench/bench_store_version.py [N]      # the store of BNVIZ_DATABASE_URL, else a temp SQLite

Prints the median, p90 and p99 of N calls (default 5000) on a store holding one finished run.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(n: int) -> None:
    from bnviz.store import RunStore
    from tests.fake_events import synthetic_events
    from tests.test_store import small_config

    with tempfile.TemporaryDirectory() as home, RunStore(home) as store:
        run_id = store.create_run(small_config().to_dict())
        for event in synthetic_events(3, blocks=1, per_block=2, steps=4, log_every=1):
            store.append_event(run_id, event)
        for _ in range(200):
            store.version(run_id)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            store.version(run_id)
            times.append(time.perf_counter() - start)
        times.sort()
        us = [t * 1e6 for t in (statistics.median(times), times[int(0.9 * n)], times[int(0.99 * n)])]
        where = getattr(store, "location", None) or store.db_path
        print(f"version(): median {us[0]:.0f} us, p90 {us[1]:.0f} us, p99 {us[2]:.0f} us ({n} calls, {where})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
