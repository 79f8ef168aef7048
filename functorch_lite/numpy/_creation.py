"""Array creation for ``functorch_lite.numpy``: zeros, ones, full, arange, linspace, eye, *_like.

Example:
    >>> fnp.zeros((2, 3)).dtype
    dtype('float32')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..primitives import shape as sh
from ._convert import asarray
from ._shape import broadcast_to


def _shape_tuple(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def full(shape: int | Sequence[int], fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with ``fill_value``. Example: ``fnp.full((2,), 7)``."""
    value = asarray(fill_value, dtype)
    if dtype is None and value.weak_type:
        value = asarray(np.asarray(value), value.dtype)  # a concrete fill gets a strong dtype, as in JAX
    return broadcast_to(value, _shape_tuple(shape))


def zeros(shape: int | Sequence[int], dtype: Any = None) -> Any:
    """An array of zeros (float32 by default). Example: ``fnp.zeros((2, 3))``."""
    return full(shape, 0, dtypes.canonicalize_dtype(dtype or dtypes.default_float()))


def ones(shape: int | Sequence[int], dtype: Any = None) -> Any:
    """An array of ones (float32 by default). Example: ``fnp.ones(3)``."""
    return full(shape, 1, dtypes.canonicalize_dtype(dtype or dtypes.default_float()))


def empty(shape: int | Sequence[int], dtype: Any = None) -> Any:
    """Like ``zeros`` (arrays are immutable, so uninitialised memory has no use). Example: ``fnp.empty(3)``."""
    return zeros(shape, dtype)


def zeros_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Zeros with ``a``'s shape and dtype. Example: ``fnp.zeros_like(x)``."""
    a = asarray(a)
    return full(a.shape if shape is None else shape, 0, dtype or a.dtype)


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Ones with ``a``'s shape and dtype. Example: ``fnp.ones_like(x)``."""
    a = asarray(a)
    return full(a.shape if shape is None else shape, 1, dtype or a.dtype)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """``fill_value`` with ``a``'s shape and dtype. Example: ``fnp.full_like(x, 2.0)``."""
    a = asarray(a)
    return full(a.shape if shape is None else shape, fill_value, dtype or a.dtype)


def empty_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Like ``zeros_like``. Example: ``fnp.empty_like(x)``."""
    return zeros_like(a, dtype, shape)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Any:
    """Evenly spaced values in ``[start, stop)`` (static bounds). Example: ``fnp.arange(3)`` is ``[0, 1, 2]``."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if dtype is None:
        python_ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = dtypes.default_int() if python_ints else dtypes.default_float()
    dtype = dtypes.canonicalize_dtype(dtype)
    values = np.arange(start, stop, step)
    if start == 0 and step == 1 and dtype.kind in "iu":
        return sh.iota_p.bind(dtype=dtype, shape=(values.size,), dimension=0, sharding=None)
    return asarray(values, dtype)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None) -> Any:
    """``num`` evenly spaced samples from ``start`` to ``stop``. Example: ``fnp.linspace(0, 1, 5)``."""
    values = np.linspace(np.asarray(start), np.asarray(stop), int(num), endpoint=endpoint)
    return asarray(values, dtype or dtypes.default_float())


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """The identity matrix (ones on diagonal ``k``). Example: ``fnp.eye(3)``."""
    return Array(np.eye(N, M, k, dtype=dtypes.canonicalize_dtype(dtype or dtypes.default_float())))


def identity(n: int, dtype: Any = None) -> Any:
    """The ``n`` x ``n`` identity. Example: ``fnp.identity(2)``."""
    return eye(n, dtype=dtype)
