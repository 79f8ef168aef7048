"""A caching pool of output buffers for compiled plans.

A fresh large numpy array costs a page fault per 4 KiB page the first time it is written (about 4 ms
for 40 MB here). The kernel outputs of one shape and dtype in a plan share a ``Slot`` that remembers the
buffers it handed out; one is handed out again only when nothing else references it any more (its
reference count is back to the slot's own references), the way CuPy's and PyTorch's caching allocators
recycle memory. A result the caller still holds, or any view of it (views reference their base), is never
reused, so semantics are unchanged. The most recently handed out free buffer goes first: the plan drops
each intermediate after its last use, so a later step of the same call can write into memory an earlier
one just used, likely still in cache, and a plan keeps as many buffers as it has live at once rather than
one per step. Small buffers are not pooled: ``np.empty`` is cheap for them.

Example:
    >>> slot = Slot((1000, 1000), np.float32)
    >>> a = slot.take(); del a
    >>> b = slot.take()          # the same memory, already paged in
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

MIN_POOLED_BYTES = 1 << 16

_getrefcount = sys.getrefcount


class Slot:
    """Buffers of one shape and dtype for the steps of one plan that output them; it keeps at most
    ``capacity`` of them (one per such step, plus one for a result the caller holds)."""

    __slots__ = ("shape", "dtype", "buffers", "capacity", "lock")

    def __init__(self, shape: tuple[int, ...], dtype: Any, capacity: int = 2):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.buffers: list[np.ndarray] = []  # most recently handed out last
        self.capacity = capacity
        self.lock = threading.Lock()

    def take(self) -> np.ndarray:
        with self.lock:
            buffers = self.buffers
            for i in range(len(buffers) - 1, -1, -1):
                b = buffers[i]
                # references: the list, the local b, getrefcount's argument
                if _getrefcount(b) == 3:
                    if i != len(buffers) - 1:
                        buffers.append(buffers.pop(i))
                    return b
            b = np.empty(self.shape, self.dtype)
            if len(buffers) < self.capacity:
                buffers.append(b)
            return b


def pooled(shape: tuple[int, ...], dtype: Any) -> bool:
    """Whether outputs of this size are worth pooling."""
    n = 1
    for d in shape:
        n *= d
    return n * np.dtype(dtype).itemsize >= MIN_POOLED_BYTES
