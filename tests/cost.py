"""How the cost of a function grows with its input: the tests' complexity check.

Not a speed assertion. ``assert_linear`` runs the same function on an input
and on one ``factor`` times larger, in the same process a moment apart, and
compares the two CPU times (``time.process_time``: this process only, so
another job on the machine does not count) and the two allocation peaks
(tracemalloc). A linear function gives a ratio near ``factor``; a quadratic
one near ``factor**2``. The bound sits between them (``factor * slack``), so
the check holds on a slow or loaded machine and still fails on quadratic
code. The smaller input must cost a few milliseconds, or the ratio is noise:
``assert_linear`` grows it until it does.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Under this CPU time the timer's resolution and the call overhead dominate.
_MIN_SECONDS = 0.004
_REPEATS = 3
_ATTEMPTS = 3


@dataclass(frozen=True)
class Growth:
    small_size: int
    large_size: int
    cpu_ratio: float
    memory_ratio: float
    large_peak_bytes: int

    def __str__(self) -> str:
        return (f"size {self.small_size} -> {self.large_size}: cpu x{self.cpu_ratio:.1f}, "
                f"memory x{self.memory_ratio:.1f} (peak {self.large_peak_bytes} bytes)")


def cpu_seconds(fn: Callable[[Any], object], arg: Any, repeats: int = _REPEATS) -> float:
    """The least CPU time of ``repeats`` calls (the least is the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - start)
    return best


def peak_bytes(fn: Callable[[Any], object], arg: Any) -> int:
    """The allocation peak of one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn(arg)
        return max(1, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def size_of(arg: Any) -> int:
    return len(arg) if hasattr(arg, "__len__") else int(arg)


def growth(fn: Callable[[Any], object], make: Callable[[int], Any], n: int, *,
           factor: int = 8, max_n: int = 2**24) -> Growth:
    """Measure ``fn(make(n))`` against ``fn(make(factor * n))``; ``n`` is
    doubled first until the small call costs enough to be measured."""
    while cpu_seconds(fn, make(n), repeats=1) < _MIN_SECONDS and n * factor * 2 <= max_n:
        n *= 2
    small, large = make(n), make(n * factor)
    # Interleaved: a slow moment of the machine falls on both sizes alike.
    t_small = cpu_seconds(fn, small)
    t_large = cpu_seconds(fn, large)
    t_small = min(t_small, cpu_seconds(fn, small))
    m_small, m_large = peak_bytes(fn, small), peak_bytes(fn, large)
    return Growth(size_of(small), size_of(large), t_large / max(t_small, 1e-6),
                  m_large / m_small, m_large)


def assert_linear(fn: Callable[[Any], object], make: Callable[[int], Any], n: int, *,
                  factor: int = 8, slack: float = 3.0, memory: bool = True,
                  max_n: int = 2**24) -> Growth:
    """Fails when the cost of ``fn`` grows faster than linearly in the size
    ``make`` gives it. ``memory=False`` where the peak is not meaningful.

    A CPU ratio over the bound is measured again, up to ``_ATTEMPTS`` times:
    another process taking the core during the small run inflates one
    measurement, while quadratic code is over the bound every time."""
    bound = factor * slack
    for _ in range(_ATTEMPTS):
        found = growth(fn, make, n, factor=factor, max_n=max_n)
        if found.cpu_ratio < bound:
            break
    assert found.cpu_ratio < bound, f"CPU grows faster than linearly: {found}"
    if memory:
        assert found.memory_ratio < bound, f"memory grows faster than linearly: {found}"
    return found
