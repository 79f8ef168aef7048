"""NumPy advanced indexing (integer arrays, boolean masks) lowered to one ``gather``.

Slices and ``None`` are applied first (basic indexing); then the advanced indices, broadcast together to a
shape B, select along their dimensions with a gather. B goes where NumPy puts it: in place when the advanced
indices are adjacent, in front otherwise. Out-of-bounds indices are clamped (JAX's rule for reads).

Example:
    >>> fnp.arange(12).reshape(3, 4)[fnp.asarray([2, 0]), 1:3]
    Array([[9, 10],
           [1, 2]], dtype=int32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import dtypes
from ..core.errors import NonConcreteBooleanIndexError
from ..core.trace import Tracer
from ..primitives.indexing import GatherDimensionNumbers, GatherScatterMode, gather_p
from ._convert import asarray, convert
from ._shape import broadcast_arrays, moveaxis, stack, transpose


def _is_advanced(item: Any) -> bool:
    return not (item is None or item is Ellipsis or isinstance(item, slice))


def _boolean_to_integer(item: Any) -> list:
    """A concrete boolean mask becomes one integer index array per masked dimension."""
    if isinstance(item, Tracer):
        concrete = item.to_concrete()
        if concrete is None:
            raise NonConcreteBooleanIndexError(
                f"Array boolean indices must be concrete; got a traced mask of type {item.aval.str_short()}. "
                "The result's shape would depend on the data. Use fnp.where(mask, x, fill) to keep the "
                "shape, or fnp.nonzero(mask, size=N) for a fixed number of indices."
            )
        item = concrete
    return [np.asarray(i, dtype=np.int64) for i in np.nonzero(np.asarray(item))]


def normalize_index(x: Any, index: Any) -> tuple[list, list[tuple[int, Any]], bool]:
    """Split an index into basic items (advanced ones replaced by full slices) and advanced (dim, array)
    pairs; also say whether the advanced indices are adjacent (NumPy keeps their dims in place then)."""
    from ._indexing import _expand_ellipsis

    items = list(index) if isinstance(index, tuple) else [index]
    expanded: list = []
    for item in items:
        if isinstance(item, list):
            item = np.asarray(item)
        is_bool = getattr(item, "dtype", None) is not None and np.dtype(item.dtype) == np.bool_
        if is_bool or isinstance(item, (bool, np.bool_)):
            if np.ndim(item) == 0:
                raise IndexError("scalar boolean indices are not supported; use fnp.where.")
            expanded.extend(_boolean_to_integer(item))
        else:
            expanded.append(item)
    expanded = _expand_ellipsis(tuple(expanded), x.ndim)
    basic, advanced, positions = [], [], []
    out_dim = 0
    for k, item in enumerate(expanded):
        if _is_advanced(item):
            advanced.append((out_dim, item))
            positions.append(k)
            basic.append(slice(None))
        else:
            basic.append(item)
        out_dim += 1
    adjacent = positions == list(range(positions[0], positions[0] + len(positions))) if positions else True
    return basic, advanced, adjacent


def advanced_getitem(x: Any, index: Any) -> Any:
    """``x[index]`` when the index holds integer arrays or boolean masks."""
    from ._indexing import _basic_getitem

    basic, advanced, adjacent = normalize_index(x, index)
    y = _basic_getitem(x, basic)
    dims = [d for d, _ in advanced]
    arrays = []
    for d, item in advanced:
        idx = asarray(item)
        if idx.dtype.kind not in "iu":
            raise IndexError(
                f"indices must be integers, slices, None, ..., or integer/boolean arrays; got {idx.dtype.name}."
            )
        idx = convert(idx, dtypes.int32) if idx.dtype != dtypes.int32 else idx
        size = y.shape[d]
        from ._math import add, less, where

        arrays.append(where(less(idx, 0), add(idx, size), idx))  # negative indices count from the end
    arrays = broadcast_arrays(*arrays)
    batch_shape = tuple(arrays[0].shape)
    rest = [i for i in range(y.ndim) if i not in dims]
    y = transpose(y, dims + rest)
    indices = stack(arrays, axis=-1)
    k = len(dims)
    out = gather_p.bind(
        y,
        indices,
        dimension_numbers=GatherDimensionNumbers(
            offset_dims=tuple(range(len(batch_shape), len(batch_shape) + len(rest))),
            collapsed_slice_dims=tuple(range(k)),
            start_index_map=tuple(range(k)),
        ),
        slice_sizes=(1,) * k + tuple(y.shape[k:]),
        indices_are_sorted=False,
        unique_indices=False,
        mode=GatherScatterMode.CLIP,
        fill_value=None,
    )
    first = dims[0]
    if adjacent and first and batch_shape:
        out = moveaxis(out, list(range(len(batch_shape))), list(range(first, first + len(batch_shape))))
    return out
