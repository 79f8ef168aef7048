"""Per-call timer shared by the workloads.

Method: ``warmup`` untimed calls; then calls per repetition (``number``) are calibrated so that one
repetition lasts at least ``min_rep_s``; then ``reps`` timed repetitions. The per-call time of a
repetition is its wall time divided by ``number``; the result reports the median and the best of them.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

DEFAULT_REPS = 7
DEFAULT_MIN_REP_S = 0.02


def _run(fn: Callable[[], object], number: int) -> float:
    """Wall time of ``number`` calls of ``fn``, in seconds."""
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, number):
        fn()
    return time.perf_counter() - t0


def timeit(
    fn: Callable[[], object],
    *,
    warmup: int = 3,
    reps: int = DEFAULT_REPS,
    min_rep_s: float = DEFAULT_MIN_REP_S,
    max_number: int = 10_000_000,
) -> dict[str, Any]:
    """Time ``fn()`` per call; return ``median_s``, ``best_s``, ``worst_s``, ``reps``, ``number``."""
    for _ in range(warmup):
        fn()
    number = 1
    while True:
        dt = _run(fn, number)
        if dt >= min_rep_s or number >= max_number:
            break
        # Aim 20 % above the target so the next try usually suffices; at least double.
        guess = int(number * min_rep_s / max(dt, 1e-9) * 1.2) + 1
        number = min(max_number, max(2 * number, guess))
    times = [_run(fn, number) / number for _ in range(reps)]
    return {
        "median_s": statistics.median(times),
        "best_s": min(times),
        "worst_s": max(times),
        "reps": reps,
        "number": number,
    }


def quick_settings(quick: bool) -> dict[str, Any]:
    """Timer keyword arguments for ``--quick`` (3 short repetitions) or a full run (the defaults)."""
    if quick:
        return {"reps": 3, "min_rep_s": 0.005}
    return {"reps": DEFAULT_REPS, "min_rep_s": DEFAULT_MIN_REP_S}
