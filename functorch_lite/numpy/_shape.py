"""Shape manipulation, joining, splitting, padding and take for ``functorch_lite.numpy``.

Example:
    >>> fnp.stack([fnp.ones(2), fnp.zeros(2)]).shape
    (2, 2)
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..core.errors import ConcretizationTypeError, ShapeError
from ..core.trace import Tracer
from ..primitives import shape as sh
from ..primitives.common import canonical_axis
from ..primitives.indexing import GatherDimensionNumbers, GatherScatterMode, gather_p
from ._convert import asarray, convert, promote_dtypes


def _axis(axis: int, ndim: int, name: str) -> int:
    return canonical_axis(name, int(axis), ndim)


def reshape(a: Any, shape: int | Sequence[int], order: str = "C") -> Any:
    """Reshape, with one ``-1`` inferred. Example: ``fnp.reshape(fnp.arange(6), (2, -1))``."""
    a = asarray(a)
    if order != "C":
        raise NotImplementedError("fnp.reshape supports order='C' only.")
    shape = (shape,) if isinstance(shape, int) else tuple(int(d) for d in shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: only one dimension may be -1, got {shape}.")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or a.size % known:
            raise ShapeError(f"reshape: cannot reshape array of size {a.size} into shape {shape}.")
        shape = tuple(a.size // known if d == -1 else d for d in shape)
    if shape == tuple(a.shape):
        return a
    return sh.reshape_p.bind(a, new_sizes=shape, dimensions=None, sharding=None)


def ravel(a: Any, order: str = "C") -> Any:
    """Flatten to 1-D. Example: ``fnp.ravel(fnp.ones((2, 3))).shape`` is ``(6,)``."""
    return reshape(a, (-1,), order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """Permute axes (reverse them by default). Example: ``fnp.transpose(fnp.ones((2, 3))).shape`` is (3, 2)."""
    a = asarray(a)
    perm = (
        tuple(reversed(range(a.ndim))) if axes is None else tuple(_axis(i, a.ndim, "transpose") for i in axes)
    )
    if perm == tuple(range(a.ndim)):
        return a
    return sh.transpose_p.bind(a, permutation=perm)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Exchange two axes. Example: ``fnp.swapaxes(fnp.ones((2, 3)), 0, 1).shape`` is (3, 2)."""
    a = asarray(a)
    perm = list(range(a.ndim))
    i, j = _axis(axis1, a.ndim, "swapaxes"), _axis(axis2, a.ndim, "swapaxes")
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """Move axes to new positions. Example: ``fnp.moveaxis(fnp.ones((2, 3, 4)), 0, -1).shape`` is (3, 4, 2)."""
    a = asarray(a)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_axis(s, a.ndim, "moveaxis") for s in src]
    dst = [_axis(d, a.ndim, "moveaxis") for d in dst]
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def squeeze(a: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Remove size-1 axes (all of them, or ``axis``). Example: ``fnp.squeeze(fnp.ones((1, 3))).shape`` is (3,)."""
    a = asarray(a)
    if axis is None:
        dims = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = (axis,) if isinstance(axis, int) else axis
        dims = tuple(sorted(_axis(i, a.ndim, "squeeze") for i in axes))
    if not dims:
        return a
    return sh.squeeze_p.bind(a, dimensions=dims)


def expand_dims(a: Any, axis: int | Sequence[int]) -> Any:
    """Insert size-1 axes. Example: ``fnp.expand_dims(fnp.ones(3), 0).shape`` is (1, 3)."""
    a = asarray(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = a.ndim + len(axes)
    positions = sorted(_axis(i, ndim, "expand_dims") for i in axes)
    shape = list(a.shape)
    for p in positions:
        shape.insert(p, 1)
    kept = tuple(i for i in range(ndim) if i not in positions)
    return sh.broadcast_in_dim_p.bind(a, shape=tuple(shape), broadcast_dimensions=kept, sharding=None)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy's broadcast of shapes. Example: ``fnp.broadcast_shapes((3, 1), (4,))`` is (3, 4)."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError as e:
        raise ShapeError(f"shapes {', '.join(map(str, shapes))} cannot be broadcast together: {e}") from None


def broadcast_to(a: Any, shape: Sequence[int]) -> Any:
    """Broadcast ``a`` to ``shape`` with NumPy's rules. Example: ``fnp.broadcast_to(1.0, (2, 2))``."""
    a = asarray(a)
    shape = tuple(int(d) for d in shape)
    if tuple(a.shape) == shape:
        return a
    if len(shape) < a.ndim or broadcast_shapes(a.shape, shape) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast an array of shape {a.shape} to shape {shape}.")
    lead = len(shape) - a.ndim
    # Dims of size 1 that grow are squeezed away and re-created by broadcast_in_dim.
    keep = [i for i, d in enumerate(a.shape) if d == shape[lead + i]]
    if len(keep) != a.ndim:
        a = sh.squeeze_p.bind(a, dimensions=tuple(i for i in range(a.ndim) if i not in keep))
    return sh.broadcast_in_dim_p.bind(
        a, shape=shape, broadcast_dimensions=tuple(lead + i for i in keep), sharding=None
    )


def broadcast_arrays(*args: Any) -> list:
    """Broadcast all arguments to their common shape. Example: ``fnp.broadcast_arrays(x, 1.0)``."""
    arrays = [asarray(a) for a in args]
    shape = broadcast_shapes(*[a.shape for a in arrays])
    return [broadcast_to(a, shape) for a in arrays]


def concatenate(arrays: Sequence[Any], axis: int | None = 0, dtype: Any = None) -> Any:
    """Join arrays along an existing axis (cast to ``dtype`` if given).

    Example: ``fnp.concatenate([fnp.ones(2), fnp.zeros(3)])``.
    """
    if not len(arrays):
        raise ValueError("need at least one array to concatenate")
    arrays = promote_dtypes(*arrays)
    if dtype is not None:
        arrays = [convert(a, dtypes.canonicalize_dtype(dtype)) for a in arrays]
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    if arrays[0].ndim == 0:
        raise ShapeError("zero-dimensional arrays cannot be concatenated; use fnp.stack.")
    axis = _axis(axis, arrays[0].ndim, "concatenate")
    if len(arrays) == 1:
        return arrays[0]
    return sh.concatenate_p.bind(*arrays, dimension=axis)


def stack(arrays: Sequence[Any], axis: int = 0) -> Any:
    """Join arrays along a new axis. Example: ``fnp.stack([fnp.ones(2), fnp.zeros(2)]).shape`` is (2, 2)."""
    if not len(arrays):
        raise ValueError("need at least one array to stack")
    arrays = [asarray(a) for a in arrays]
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all input arrays must have the same shape, got {sorted(shapes)}.")
    axis = _axis(axis, arrays[0].ndim + 1, "stack")
    return concatenate([expand_dims(a, axis) for a in arrays], axis)


def atleast_1d(*arys: Any) -> Any:
    """View inputs with at least one dimension. Example: ``fnp.atleast_1d(1.0).shape`` is (1,)."""
    out = [reshape(a, (1,)) if asarray(a).ndim == 0 else asarray(a) for a in arys]
    return out[0] if len(out) == 1 else out


def shape(a: Any) -> tuple[int, ...]:
    """The shape of ``a``. Example: ``fnp.shape([[1, 2]])`` is (1, 2)."""
    return tuple(asarray(a).shape)


def ndim(a: Any) -> int:
    """The rank of ``a``. Example: ``fnp.ndim(1.0)`` is 0."""
    return asarray(a).ndim


def size(a: Any) -> int:
    """The number of elements of ``a``. Example: ``fnp.size(fnp.ones((2, 3)))`` is 6."""
    return builtins.int(math.prod(asarray(a).shape))
