"""No thread of the test process may still be computing when the interpreter exits.

Python 3.11 ends a daemon thread that wakes up during interpreter finalization with pthread_exit. In a
thread inside C++ code (numpy's np.unique under np.percentile, XLA, TensorFlow) that unwind reaches a
frame that may not be unwound, and the process aborts (exit 134) after every test passed. So at the
end of the session this plugin waits for threads that are busy (not parked in a wait, a select or a
queue), names each one it waited for, and fails the session if one is still busy after WAIT_S.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback

WAIT_S = 120.0

# Where a thread that is waiting for something sits (its innermost Python frame's file).
_PARKED = tuple(os.sep + name for name in (
    "threading.py", "queue.py", "selectors.py", "connection.py", "socket.py", "ssl.py", "subprocess.py",
    "popen_fork.py", "asyncio" + os.sep + "base_events.py", "concurrent" + os.sep + "futures" + os.sep + "_base.py",
))


def busy_threads() -> list[tuple[threading.Thread, str]]:
    """Live threads other than this one that are running code, with their stacks."""
    frames = sys._current_frames()
    found = []
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.ident not in frames:
            continue
        frame = frames[thread.ident]
        if frame.f_code.co_filename.endswith(_PARKED):
            continue
        found.append((thread, "".join(traceback.format_stack(frame, limit=6))))
    return found


def pytest_sessionfinish(session, exitstatus) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    deadline = time.monotonic() + WAIT_S
    waited: set[str] = set()
    before: set[str] = set()
    while (busy := busy_threads()) and time.monotonic() < deadline:
        now = {t.name for t, _ in busy}
        waited |= now & before  # busy twice in a row: computing, not a loop that woke up once
        before = now
        time.sleep(0.1)
    if reporter is not None and waited:
        reporter.write_line("thread_guard: waited for busy threads before exiting: " + ", ".join(sorted(waited)))
    if busy:
        for thread, stack in busy:
            text = f"thread_guard: thread {thread.name!r} is still busy after {WAIT_S:.0f} s:\n{stack}"
            if reporter is not None:
                reporter.write_line(text)
            else:
                print(text, file=sys.stderr)
        session.exitstatus = 1
