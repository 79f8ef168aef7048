"""A caching pool of output buffers for compiled plans.

A fresh large numpy array costs a page fault per 4 KiB page the first time it is written (about 4 ms
for 40 MB here). Each kernel output of a plan gets a ``Slot`` that remembers the buffers it handed out;
one is handed out again only when nothing else references it any more (its reference count is back to
the slot's own references), the way CuPy's and PyTorch's caching allocators recycle memory. A result the
caller still holds, or any view of it (views reference their base), is never reused, so semantics are
unchanged. Small buffers are not pooled: ``np.empty`` is cheap for them.

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
MAX_PER_SLOT = 2

_getrefcount = sys.getrefcount


class Slot:
    """Buffers of one shape and dtype for one step of one plan."""

    __slots__ = ("shape", "dtype", "buffers", "lock")

    def __init__(self, shape: tuple[int, ...], dtype: Any):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.buffers: list[np.ndarray] = []
        self.lock = threading.Lock()

    def take(self) -> np.ndarray:
        with self.lock:
            for b in self.buffers:
                # references: the list, the loop variable, getrefcount's argument
                if _getrefcount(b) == 3:
                    return b
            b = np.empty(self.shape, self.dtype)
            if len(self.buffers) < MAX_PER_SLOT:
                self.buffers.append(b)
            return b


def pooled(shape: tuple[int, ...], dtype: Any) -> bool:
    """Whether outputs of this size are worth pooling."""
    n = 1
    for d in shape:
        n *= d
    return n * np.dtype(dtype).itemsize >= MIN_POOLED_BYTES
