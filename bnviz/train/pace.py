"""How fast a run trains and when it will end.

Samples/s jumped between 2,003 and 55,566 (one epoch's first batches alone) and the first ETA of
a 90 s run said 6.6 min (the first batch's compilation counted as the pace of the run; issue 23).
`Pace` gives
- samples/s over the batch events of the last WINDOW_S seconds (at least MIN_MARKS of them), and
- the ETA from the pace since the first batch event (after compilation), probes and validation
  between batches included as they cost the run time too, smoothed so it counts down steadily; none
  ("estimating…") until MIN_MARKS events spanning `min_steps` batches (an epoch, up to 50) are in.
Pure Python with an injectable clock, so it is tested without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 10.0
MIN_MARKS = 5
MIN_STEPS = 50


def _now() -> float:
    return time.perf_counter()


class Pace:
    def __init__(self, clock: Callable[[], float] | None = None, *, min_steps: int = MIN_STEPS,
                 window_s: float = WINDOW_S, min_marks: int = MIN_MARKS) -> None:
        self._clock = clock or _now
        self._window_s = window_s
        self._min_marks = max(2, min_marks)
        self._min_steps = max(1, min_steps)
        self._marks: deque[tuple[float, int]] = deque()
        self._first: tuple[float, int] | None = None
        self._seen = 0
        self._eta: float | None = None

    def mark(self, step: int) -> None:
        """`step` batches of the run are done (counted over the whole run, not per epoch)."""
        now = self._clock()
        self._marks.append((now, step))
        self._first = self._first or (now, step)
        self._seen += 1
        while len(self._marks) > self._min_marks and now - self._marks[0][0] > self._window_s:
            self._marks.popleft()

    def samples_per_s(self, batch_size: int) -> float | None:
        """Examples per second over the recent window; None before two batch events."""
        if len(self._marks) < 2:
            return None
        (t0, s0), (t1, s1) = self._marks[0], self._marks[-1]
        return round((s1 - s0) / (t1 - t0) * batch_size, 1) if t1 > t0 and s1 > s0 else None

    def eta_s(self, remaining_steps: int) -> float | None:
        """Seconds left; 0 when done; None ("estimating…") until there are enough batches."""
        if remaining_steps <= 0:
            return 0.0
        if self._first is None or self._seen < self._min_marks:
            return None
        (t0, s0), (t1, s1) = self._first, self._marks[-1]
        if s1 - s0 < self._min_steps or t1 <= t0:
            return None
        raw = (t1 - t0) / (s1 - s0) * remaining_steps
        self._eta = raw if self._eta is None else 0.7 * self._eta + 0.3 * raw
        self._eta = min(self._eta, raw * 2 + 1)
        return round(self._eta, 1)
