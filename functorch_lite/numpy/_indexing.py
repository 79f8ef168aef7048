"""``x[index]`` with NumPy's semantics, lowered to the shape primitives.

Basic indexing (integers, slices with any step, ``None``, ``...``) becomes ``slice``/``rev``/``squeeze``/
``reshape``; a traced integer becomes a clamped ``dynamic_slice``. Out-of-bounds integers are clamped, as
JAX documents for reads.

Example:
    >>> fnp.arange(10)[8:2:-3]
    Array([8, 5], dtype=int32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.array import Array
from ..core.errors import ShapeError
from ..core.trace import Tracer, _context
from ..primitives import shape as sh
from ._convert import asarray
from ._shape import expand_dims

_BASIC = (int, slice)


def _eager_basic(x: Array, index: Any) -> Any:
    """The direct NumPy read for in-bounds basic indices, or None when the general path is needed."""
    value = x._value
    items = index if type(index) is tuple else (index,)
    if len(items) > value.ndim:
        return None
    for dim, item in enumerate(items):
        t = type(item)
        if t is int:
            if not -value.shape[dim] <= item < value.shape[dim]:
                return None
        elif t is not slice:
            return None
    return Array(value[index], x._weak)


def _expand_ellipsis(items: tuple, ndim: int) -> list:
    ellipses = [k for k, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for item in items if item is not None and item is not Ellipsis)
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed"
        )
    fill = [slice(None)] * (ndim - consumed)
    if not ellipses:
        return list(items) + fill
    k = ellipses[0]
    return list(items[:k]) + fill + list(items[k + 1 :])


def _is_integer_scalar(item: Any) -> bool:
    if isinstance(item, (bool, np.bool_)):
        return False
    if isinstance(item, (int, np.integer)):
        return True
    return isinstance(item, (Array, Tracer)) and item.ndim == 0 and item.dtype.kind in "iu"


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` for basic indices (ints, slices, None, Ellipsis) and traced integer scalars.

    Example: ``fnp.arange(6).reshape(2, 3)[:, ::-1]``.
    """
    if _context.trace is None and type(x) is Array:
        out = _eager_basic(x, index)
        if out is not None:
            return out
    x = asarray(x)
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice) or _is_integer_scalar(item)):
            from ._advanced_indexing import advanced_getitem

            return advanced_getitem(x, index)
    items = _expand_ellipsis(items, x.ndim)
    return _basic_getitem(x, items)


def _basic_getitem(x: Any, items: list) -> Any:
    starts, limits, strides = [], [], []
    reverse, squeeze, dynamic = [], [], []
    new_axes = []
    dim = 0
    out_position = 0
    for item in items:
        if item is None:
            new_axes.append(out_position)
            out_position += 1
            continue
        size = x.shape[dim]
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            count = len(range(start, stop, step))
            if step > 0:
                starts.append(start)
                limits.append(start + (count - 1) * step + 1 if count else start)
                strides.append(step)
            else:
                last = start + (count - 1) * step if count else 0
                starts.append(last if count else 0)
                limits.append(start + 1 if count else 0)
                strides.append(-step)
                reverse.append(dim)
            out_position += 1
        else:
            if size == 0:
                raise IndexError(f"index {item} is out of bounds for axis {dim} with size 0")
            if isinstance(item, Tracer):
                dynamic.append((dim, item))
                starts.append(0)
                limits.append(size)
            else:
                i = int(item)
                i = min(max(i + size if i < 0 else i, 0), size - 1)  # clamped, as JAX does for reads
                starts.append(i)
                limits.append(i + 1)
            strides.append(1)
            squeeze.append(dim)
        dim += 1
    if any(s != 0 for s in starts) or limits != list(x.shape) or any(s != 1 for s in strides):
        x = sh.slice_p.bind(
            x,
            start_indices=tuple(starts),
            limit_indices=tuple(limits),
            strides=None if all(s == 1 for s in strides) else tuple(strides),
        )
    if reverse:
        x = sh.rev_p.bind(x, dimensions=tuple(reverse))
    if dynamic:
        x = _dynamic_index(x, dynamic)
    if squeeze:
        x = sh.squeeze_p.bind(x, dimensions=tuple(squeeze))
    if new_axes:
        x = expand_dims(x, new_axes)
    return x


def _dynamic_index(x: Any, dynamic: list) -> Any:
    from ._math import add, less, where

    index_dtype = np.dtype("int32")
    starts = []
    sizes = list(x.shape)
    dims = dict(dynamic)
    for d in range(x.ndim):
        if d in dims:
            i = asarray(dims[d])
            i = where(less(i, 0), add(i, x.shape[d]), i)  # negative indices count from the end
            starts.append(i.astype(index_dtype) if i.dtype != index_dtype else i)
            sizes[d] = 1
        else:
            starts.append(Array(np.asarray(0, index_dtype)[()]))
    if any(s == 0 for s in x.shape):
        raise ShapeError("cannot index an empty dimension with a traced index.")
    return sh.dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes))
