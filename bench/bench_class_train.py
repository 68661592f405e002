"""A class of students clicking Train at once, under the server's default limits.

    python bench/bench_class_train.py [--students 30] [--preset seed001-circles-after-fast]

One server (a JobManager with the dashboard's own local workers, BNVIZ_MAX_JOBS of them, on a
temporary BNVIZ_HOME) first trains the preset alone: that run's training wall time is the
baseline. Then `--students` owners submit the same preset at the same moment, each with a seed
of their own (identical configs would share one run), through the job API the Train button
calls, with the default caps (BNVIZ_MAX_QUEUED, BNVIZ_MAX_QUEUED_PER_OWNER). Printed: how many
were queued or refused, seconds from the clicks until every queued run had started and until
all had finished, the first-started run's training wall time against the run alone, and the
order runs started in by owner (round robin: no one's second run before everyone's first).
Take the figures as ratios, on an otherwise idle machine. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--preset", default="seed001-circles-after-fast")
    parser.add_argument("--runs-each", type=int, default=1, help="Train clicks per student (default 1)")
    args = parser.parse_args(argv)

    from bnviz.errors import UserError
    from bnviz.jobs import JobManager
    from bnviz.jobs.supervisor import LocalWorkers
    from bnviz.presets import get_preset
    from bnviz.states import RunState
    from bnviz.store import RunStore

    base = get_preset(args.preset).config
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        manager = JobManager(store, LocalWorkers(store)).start()
        try:
            alone = manager.submit(base.with_updates({"training.seed": 10_000}), owner="teacher", fresh=True)
            assert manager.wait(alone.run_id, timeout=1800) == RunState.SUCCEEDED
            alone_s = store.get_record(alone.run_id)["summary"]["wall_time_s"]

            queued: list[tuple[str, str]] = []
            refused: list[str] = []
            lock, go = threading.Lock(), threading.Event()

            def student(i: int) -> None:
                go.wait()
                for k in range(args.runs_each):
                    config = base.with_updates({"training.seed": i * 100 + k})
                    try:
                        result = manager.submit(config, owner=f"student-{i:02d}", name=f"student {i} #{k + 1}")
                    except UserError as exc:
                        with lock:
                            refused.append(str(exc))
                        continue
                    with lock:
                        queued.append((f"student-{i:02d}", result.run_id))

            threads = [threading.Thread(target=student, args=(i,)) for i in range(args.students)]
            for t in threads:
                t.start()
            clicked = time.time()
            go.set()
            for t in threads:
                t.join()
            started_at: dict[str, float] = {}  # run -> seconds after the clicks it was first seen off the queue
            all_done = None
            while all_done is None:
                rows = {r["id"]: r for r in store.list_runs(limit=None)}
                now = time.time() - clicked
                for _, run_id in queued:
                    if run_id in rows and rows[run_id]["status"] != RunState.QUEUED:
                        started_at.setdefault(run_id, now)
                if all(rows[r]["status"] not in (RunState.QUEUED, RunState.RUNNING) for _, r in queued if r in rows):
                    all_done = now
                time.sleep(0.1)
            all_started = max(started_at.values(), default=0.0)
            order = sorted(queued, key=lambda q: started_at.get(q[1], float("inf")))
            first = store.get_record(order[0][1])["summary"]["wall_time_s"] if order else None
        finally:
            manager.shutdown()
    result = {
        "students": args.students, "runs_each": args.runs_each, "queued": len(queued), "refused": len(refused),
        "refusal": refused[0] if refused else None, "all_started_s": round(all_started or 0.0, 1),
        "all_finished_s": round(all_done or 0.0, 1), "alone_train_s": alone_s, "first_train_s": first,
        "first_vs_alone": round(first / alone_s, 2) if first else None,
        "start_order_owners": [owner for owner, _ in order][:12],
    }
    print(f"{len(queued)} queued, {len(refused)} refused; every run started {result['all_started_s']} s after the "
          f"clicks, all finished after {result['all_finished_s']} s; the first run trained in {first} s "
          f"({result['first_vs_alone']}x the run alone, {alone_s} s)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
