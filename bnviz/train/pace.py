"""How fast a run trains and when it will end, from a window of its recent batches.

The rate of one epoch's first batches jumped (2,003 then 55,566 samples/s) and the first ETA of a
90 s run said 6.6 min (issue 23). `Pace` counts steps over the last WINDOW_S seconds of batch events
(at least MIN_MARKS of them, probes and validation between them included, as they cost the run time
too) and gives no ETA until it has MIN_MARKS events: the page says "estimating…" until then.
Pure Python with an injectable clock, so it is tested without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 10.0
MIN_MARKS = 5


class Pace:
    def __init__(self, clock: Callable[[], float] = time.perf_counter, window_s: float = WINDOW_S,
                 min_marks: int = MIN_MARKS) -> None:
        self._clock = clock
        self._window_s = window_s
        self._min_marks = max(2, min_marks)
        self._marks: deque[tuple[float, int]] = deque()
        self._seen = 0

    def mark(self, step: int) -> None:
        """`step` batches of the run are done (counted over the whole run, not per epoch)."""
        now = self._clock()
        self._marks.append((now, step))
        self._seen += 1
        while len(self._marks) > self._min_marks and now - self._marks[0][0] > self._window_s:
            self._marks.popleft()

    def steps_per_s(self) -> float | None:
        if len(self._marks) < 2:
            return None
        (t0, s0), (t1, s1) = self._marks[0], self._marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def samples_per_s(self, batch_size: int) -> float | None:
        rate = self.steps_per_s()
        return None if rate is None else round(rate * batch_size, 1)

    def eta_s(self, remaining_steps: int) -> float | None:
        """Seconds left at the window's pace; None ("estimating…") until MIN_MARKS batch events."""
        if remaining_steps <= 0:
            return 0.0
        rate = self.steps_per_s()
        if self._seen < self._min_marks or not rate:
            return None
        return round(remaining_steps / rate, 1)
