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


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _slice_axis(a: Any, axis: int, start: int, stop: int) -> Any:
    """``a[..., start:stop, ...]`` along ``axis`` (static bounds, ``0 <= start <= stop <= size``)."""
    if start == 0 and stop == a.shape[axis]:
        return a
    starts = [0] * a.ndim
    limits = list(a.shape)
    starts[axis], limits[axis] = start, stop
    return sh.slice_p.bind(a, start_indices=tuple(starts), limit_indices=tuple(limits), strides=None)


def _rev(a: Any, axes: Sequence[int]) -> Any:
    axes = tuple(sorted(set(axes)))
    return sh.rev_p.bind(a, dimensions=axes) if axes else a


def _with_size(dims: Sequence[int], axis: int, size: int) -> tuple[int, ...]:
    out = list(dims)
    out[axis] = size
    return tuple(out)


def _concrete(x: Any) -> np.ndarray | None:
    """The NumPy value of static data or a concrete Array/tracer; None when it is only known at run time."""
    if isinstance(x, Tracer):
        x = x.to_concrete()
        if x is None:
            return None
    return np.asarray(x)


def _as_list(tup: Any, name: str) -> list:
    if isinstance(tup, (Array, Tracer)):
        if tup.ndim == 0:
            raise ValueError(f"fnp.{name} needs a sequence of arrays, got a 0-d array.")
        return [tup[i] for i in range(tup.shape[0])]
    arrays = list(tup)
    if not arrays:
        raise ValueError(f"fnp.{name} needs at least one array.")
    return arrays


# ---------------------------------------------------------------------------------------------------
# Rank promotion and stacking
# ---------------------------------------------------------------------------------------------------


def atleast_2d(*arys: Any) -> Any:
    """Inputs with at least two dimensions (1-D ``(N,)`` becomes ``(1, N)``).

    Example: ``fnp.atleast_2d(fnp.ones(3)).shape`` is ``(1, 3)``.
    """
    out = []
    for a in arys:
        a = asarray(a)
        out.append(reshape(a, (1,) * (2 - a.ndim) + tuple(a.shape)) if a.ndim < 2 else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Inputs with at least three dimensions: ``()`` -> ``(1, 1, 1)``, ``(N,)`` -> ``(1, N, 1)``,
    ``(M, N)`` -> ``(M, N, 1)``.

    Example: ``fnp.atleast_3d(fnp.ones((2, 3))).shape`` is ``(2, 3, 1)``.
    """
    out = []
    for a in arys:
        a = asarray(a)
        if a.ndim == 0:
            a = reshape(a, (1, 1, 1))
        elif a.ndim == 1:
            a = reshape(a, (1, a.shape[0], 1))
        elif a.ndim == 2:
            a = reshape(a, tuple(a.shape) + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def hstack(tup: Sequence[Any], dtype: Any = None) -> Any:
    """Join along the second axis (the first for 1-D inputs).

    Example: ``fnp.hstack([fnp.ones(2), fnp.zeros(1)])`` is ``[1., 1., 0.]``.
    """
    arrays = [atleast_1d(a) for a in _as_list(tup, "hstack")]
    return concatenate(arrays, 0 if arrays[0].ndim == 1 else 1, dtype)


def vstack(tup: Sequence[Any], dtype: Any = None) -> Any:
    """Join along the first axis after making inputs at least 2-D.

    Example: ``fnp.vstack([fnp.ones(2), fnp.zeros(2)]).shape`` is ``(2, 2)``.
    """
    return concatenate([atleast_2d(a) for a in _as_list(tup, "vstack")], 0, dtype)


def dstack(tup: Sequence[Any], dtype: Any = None) -> Any:
    """Join along the third axis after making inputs at least 3-D.

    Example: ``fnp.dstack([fnp.ones(2), fnp.zeros(2)]).shape`` is ``(1, 2, 2)``.
    """
    return concatenate([atleast_3d(a) for a in _as_list(tup, "dstack")], 2, dtype)


def column_stack(tup: Sequence[Any]) -> Any:
    """Join 1-D inputs as columns (2-D inputs as they are) along the second axis.

    Example: ``fnp.column_stack([fnp.ones(2), fnp.zeros(2)]).shape`` is ``(2, 2)``.
    """
    arrays = []
    for a in _as_list(tup, "column_stack"):
        a = asarray(a)
        arrays.append(reshape(a, (a.size, 1)) if a.ndim < 2 else a)
    return concatenate(arrays, 1)


def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` joined after ``arr`` along ``axis`` (both flattened when ``axis`` is None).

    Example: ``fnp.append(fnp.arange(2), 5)`` is ``[0, 1, 5]``.
    """
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


# ---------------------------------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------------------------------


def _split(name: str, ary: Any, indices_or_sections: Any, axis: int, equal: bool) -> list:
    ary = asarray(ary)
    axis = _axis(axis, ary.ndim, name)
    n = ary.shape[axis]
    spec = _concrete(indices_or_sections)
    if spec is None:
        raise ConcretizationTypeError(
            f"fnp.{name}: the split points must be static (Python ints), because they decide the output "
            "shapes; got a traced array. Fix: pass them as Python values or mark the argument static."
        )
    if spec.ndim == 0:
        sections = int(spec)
        if sections <= 0:
            raise ValueError(f"fnp.{name}: number sections must be larger than 0, got {sections}.")
        if equal and n % sections:
            raise ValueError(
                f"fnp.{name}: array split does not result in an equal division ({n} into {sections})."
            )
        each, extra = builtins.divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = np.cumsum([0] + sizes).tolist()
        pieces = list(zip(bounds[:-1], bounds[1:]))
    else:
        points = [0] + [int(i) for i in spec.ravel()] + [n]
        pieces = []
        for lo, hi in zip(points[:-1], points[1:]):
            start, stop, _ = builtins.slice(lo, hi).indices(n)  # NumPy's slicing: negatives, clipping
            pieces.append((start, builtins.max(start, stop)))
    return [_slice_axis(ary, axis, start, stop) for start, stop in pieces]


def split(ary: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list:
    """Split into equal sections (an int) or at the given indices (a sequence; NumPy's slicing rules).

    Example: ``fnp.split(fnp.arange(5), [1, 3])`` is ``[[0], [1, 2], [3, 4]]``.
    """
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list:
    """Like ``split``, but an int need not divide the axis: the first pieces get one element more.

    Example: ``[p.shape for p in fnp.array_split(fnp.arange(5), 3)]`` is ``[(2,), (2,), (1,)]``.
    """
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def hsplit(ary: Any, indices_or_sections: int | Sequence[int]) -> list:
    """``split`` along the second axis (the first for 1-D arrays).

    Example: ``fnp.hsplit(fnp.ones((2, 4)), 2)[0].shape`` is ``(2, 2)``.
    """
    a = asarray(ary)
    if a.ndim == 0:
        raise ValueError("fnp.hsplit only works on arrays of 1 or more dimensions.")
    return _split("hsplit", a, indices_or_sections, 1 if a.ndim > 1 else 0, equal=True)


def vsplit(ary: Any, indices_or_sections: int | Sequence[int]) -> list:
    """``split`` along the first axis. Example: ``fnp.vsplit(fnp.ones((4, 2)), 2)[0].shape`` is ``(2, 2)``."""
    a = asarray(ary)
    if a.ndim == 0:
        raise ValueError("fnp.vsplit only works on arrays of 1 or more dimensions.")
    return _split("vsplit", a, indices_or_sections, 0, equal=True)


def dsplit(ary: Any, indices_or_sections: int | Sequence[int]) -> list:
    """``split`` along the third axis. Example: ``fnp.dsplit(fnp.ones((1, 1, 4)), 2)[0].shape`` is (1, 1, 2)."""
    a = asarray(ary)
    if a.ndim < 3:
        raise ValueError("fnp.dsplit only works on arrays of 3 or more dimensions.")
    return _split("dsplit", a, indices_or_sections, 2, equal=True)


# ---------------------------------------------------------------------------------------------------
# Tiling, repeating, flipping, rolling
# ---------------------------------------------------------------------------------------------------


def tile(A: Any, reps: int | Sequence[int]) -> Any:
    """``A`` repeated ``reps`` times along each axis (one broadcast and one reshape).

    Example: ``fnp.tile(fnp.asarray([0, 1]), 2)`` is ``[0, 1, 0, 1]``.
    """
    a = asarray(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"fnp.tile: reps must be non-negative, got {reps}.")
    rank = builtins.max(a.ndim, len(reps))
    reps = (1,) * (rank - len(reps)) + reps
    dims = (1,) * (rank - a.ndim) + tuple(a.shape)
    a = reshape(a, dims)
    # (r0, d0, r1, d1, ...) with a's dims at the odd positions, then merge each (r, d) pair.
    interleaved = tuple(v for r, d in zip(reps, dims) for v in (r, d))
    a = sh.broadcast_in_dim_p.bind(
        a, shape=interleaved, broadcast_dimensions=tuple(range(1, 2 * rank, 2)), sharding=None
    )
    return reshape(a, tuple(r * d for r, d in zip(reps, dims)))


def repeat(a: Any, repeats: Any, axis: int | None = None, *, total_repeat_length: int | None = None) -> Any:
    """Repeat each element ``repeats`` times along ``axis`` (the flattened array when ``axis`` is None).

    ``repeats`` is an int or one count per element. Counts that are only known at run time (traced) need
    ``total_repeat_length``, the static output length: extra counts are cut off and a shortfall repeats the
    last element of ``a``, as in jax.numpy (concrete counts too).

    Example: ``fnp.repeat(fnp.asarray([1, 2]), [2, 1])`` is ``[1, 1, 2]``;
    ``fnp.repeat(fnp.asarray([1, 2, 3]), [0, 1, 0], total_repeat_length=3)`` is ``[2, 3, 3]``.
    """
    from ._math import less_equal
    from ._reductions import cumsum
    from ._reductions import sum as _sum

    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    else:
        axis = _axis(axis, a.ndim, "repeat")
    n = a.shape[axis]
    total = None if total_repeat_length is None else int(total_repeat_length)
    counts = _concrete(repeats)
    if counts is not None:
        if counts.size == 0:
            counts = counts.astype(np.int64)  # an empty list of counts
        if counts.dtype.kind not in "biu":
            raise ValueError(f"fnp.repeat: repeats must be integers, got {counts.dtype.name}.")
        if counts.ndim > 1 or (counts.ndim == 1 and counts.shape[0] not in (1, n)):
            raise ValueError(f"fnp.repeat: repeats of shape {counts.shape} do not match an axis of size {n}.")
        if np.any(counts < 0):
            raise ValueError("fnp.repeat: repeats may not contain negative values.")
        if counts.size == 1 and (total is None or total == n * int(counts.ravel()[0])):
            r = int(counts.ravel()[0])
            dims = tuple(a.shape)
            grown = broadcast_to(expand_dims(a, axis + 1), dims[: axis + 1] + (r,) + dims[axis + 1 :])
            return reshape(grown, _with_size(dims, axis, n * r))
        source = np.repeat(np.arange(n), np.broadcast_to(counts, (n,)))
        if total is not None:
            # A shortfall repeats a's last element (not the last repeated one), as jax.numpy and the traced
            # path below do.
            last = builtins.max(n - 1, 0)
            source = np.concatenate([source[:total], np.full(builtins.max(total - source.size, 0), last)])
        return take(a, Array(source.astype(dtypes.int32)), axis, mode="clip")
    if total is None:
        raise ConcretizationTypeError(
            "fnp.repeat: traced repeats need total_repeat_length, because the output length would depend "
            "on the data. Fix: pass total_repeat_length=..., or make repeats a static value."
        )
    r = broadcast_to(asarray(repeats), (n,))
    # Output position j reads the element whose cumulative count first exceeds j.
    ends = cumsum(r)
    positions = sh.iota_p.bind(dtype=ends.dtype, shape=(total, n), dimension=0, sharding=None)
    source = _sum(less_equal(ends, positions), axis=1)
    return take(a, source, axis, mode="clip")


def flip(m: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Reverse the order of elements along ``axis`` (all axes if None).

    Example: ``fnp.flip(fnp.arange(3))`` is ``[2, 1, 0]``.
    """
    m = asarray(m)
    if axis is None:
        return _rev(m, range(m.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return _rev(m, [_axis(i, m.ndim, "flip") for i in axes])


def fliplr(m: Any) -> Any:
    """Reverse the second axis. Example: ``fnp.fliplr(fnp.eye(2))`` is ``[[0, 1], [1, 0]]``."""
    m = asarray(m)
    if m.ndim < 2:
        raise ValueError(f"fnp.fliplr needs an array of at least 2 dimensions, got shape {tuple(m.shape)}.")
    return _rev(m, [1])


def flipud(m: Any) -> Any:
    """Reverse the first axis. Example: ``fnp.flipud(fnp.arange(3))`` is ``[2, 1, 0]``."""
    m = asarray(m)
    if m.ndim < 1:
        raise ValueError("fnp.flipud needs an array of at least 1 dimension, got a 0-d array.")
    return _rev(m, [0])


def _roll_dynamic(a: Any, shift: Any, axis: int) -> Any:
    """Roll by a traced scalar shift: slice a window of length n out of ``a`` joined to itself."""
    from ._math import remainder, subtract

    n = a.shape[axis]
    start = remainder(subtract(n, remainder(shift, n)), n)
    start = convert(start, dtypes.int32) if start.dtype != dtypes.int32 else start
    zero = Array(np.zeros((), dtypes.int32))
    starts = [start if d == axis else zero for d in range(a.ndim)]
    doubled = sh.concatenate_p.bind(a, a, dimension=axis)
    return sh.dynamic_slice_p.bind(doubled, *starts, slice_sizes=tuple(a.shape))


def roll(a: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Any:
    """Shift elements along ``axis`` cyclically (the flattened array when ``axis`` is None); ``shift``
    and ``axis`` may be tuples, paired up with broadcasting. Static shifts are two slices and a concatenate;
    traced shifts use a ``dynamic_slice``.

    Example: ``fnp.roll(fnp.arange(5), 2)`` is ``[3, 4, 0, 1, 2]``.
    """
    a = asarray(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), tuple(a.shape))
    axes = np.atleast_1d(np.asarray(axis))
    static = _concrete(shift)
    if static is None:
        s = asarray(shift)
        if s.dtype.kind not in "iu" or s.ndim > 1:
            raise ValueError(f"fnp.roll: shift must be integers, got {s.aval.str_short()}.")
        count = builtins.max(axes.size, 1 if s.ndim == 0 else s.shape[0])
        s = broadcast_to(s, (count,))
        for i, ax in enumerate(np.broadcast_to(axes, (count,))):
            ax = _axis(int(ax), a.ndim, "roll")
            if a.shape[ax]:
                a = _roll_dynamic(a, s[i], ax)
        return a
    total = [0] * a.ndim
    for s, ax in zip(*np.broadcast_arrays(np.atleast_1d(static), axes)):
        total[_axis(int(ax), a.ndim, "roll")] += int(s)
    for ax, s in enumerate(total):
        n = a.shape[ax]
        s = s % n if n else 0
        if s:
            a = sh.concatenate_p.bind(
                _slice_axis(a, ax, n - s, n), _slice_axis(a, ax, 0, n - s), dimension=ax
            )
    return a


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (from the first axis toward the second).

    Example: ``fnp.rot90(fnp.asarray([[1, 2], [3, 4]]))`` is ``[[2, 4], [1, 3]]``.
    """
    m = asarray(m)
    if m.ndim < 2:
        raise ValueError(f"fnp.rot90 needs an array of at least 2 dimensions, got shape {tuple(m.shape)}.")
    if len(axes) != 2:
        raise ValueError(f"fnp.rot90: axes must name two axes, got {axes}.")
    a0, a1 = (_axis(i, m.ndim, "rot90") for i in axes)
    if a0 == a1:
        raise ValueError(f"fnp.rot90: the axes must be different, got {axes}.")
    k = int(k) % 4
    if k == 0:
        return m
    if k == 2:
        return _rev(m, [a0, a1])
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(_rev(m, [a1]), perm)
    return _rev(transpose(m, perm), [a1])


# ---------------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------------

_PAD_MODES = ("constant", "empty", "edge", "reflect", "symmetric", "wrap")


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    widths = _concrete(pad_width)
    if widths is None:
        raise ConcretizationTypeError(
            "fnp.pad: pad_width must be static (Python ints), because it decides the output shape."
        )
    if widths.size == 0:
        widths = widths.astype(np.int64)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"fnp.pad: pad_width must be of integral type, got {pad_width!r}.")
    try:
        widths = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"fnp.pad: pad_width {pad_width!r} does not fit an array of rank {ndim}: use an int, (before, "
            "after), or one (before, after) per axis."
        ) from None
    if np.any(widths < 0):
        raise ValueError(f"fnp.pad: pad_width must be non-negative, got {pad_width!r}.")
    return [(int(lo), int(hi)) for lo, hi in widths]


def _pad_constant(a: Any, widths: list, constant_values: Any) -> Any:
    if np.ndim(constant_values) == 0:  # one value (possibly traced) for every side: a single pad
        value = convert(asarray(constant_values), a.dtype, a.weak_type)
        return sh.pad_p.bind(a, value, padding_config=tuple((lo, hi, 0) for lo, hi in widths))
    values = _concrete(constant_values)
    if values is None:
        raise ConcretizationTypeError(
            "fnp.pad: per-axis constant_values must be static; a scalar may be traced."
        )
    values = np.broadcast_to(values, (a.ndim, 2)).astype(a.dtype)
    for axis, ((lo, hi), (before, after)) in enumerate(zip(widths, values)):
        # Axis by axis, so that a later axis's values fill the corners (NumPy's order).
        for config, v in (((lo, 0, 0), before), ((0, hi, 0), after)):
            if config[0] or config[1]:
                padding = tuple(config if d == axis else (0, 0, 0) for d in range(a.ndim))
                a = sh.pad_p.bind(a, Array(np.asarray(v, a.dtype), a.weak_type), padding_config=padding)
    return a


def _pad_edge(a: Any, axis: int, lo: int, hi: int) -> Any:
    n = a.shape[axis]
    parts = []
    if lo:
        parts.append(broadcast_to(_slice_axis(a, axis, 0, 1), _with_size(a.shape, axis, lo)))
    parts.append(a)
    if hi:
        parts.append(broadcast_to(_slice_axis(a, axis, n - 1, n), _with_size(a.shape, axis, hi)))
    return concatenate(parts, axis)


def _pad_wrap(a: Any, axis: int, lo: int, hi: int) -> Any:
    n = a.shape[axis]
    before, after = -(-lo // n), -(-hi // n)
    tiled = concatenate([a] * (before + 1 + after), axis)
    start = before * n - lo
    return _slice_axis(tiled, axis, start, start + lo + n + hi)


def _pad_reflect(a: Any, axis: int, lo: int, hi: int, symmetric: bool, odd: bool) -> Any:
    """NumPy's reflection: repeated reflections of the current array, each at most one period long (so
    ``reflect_type='odd'``, which reflects about the current edge value, matches NumPy for wide pads)."""
    from ._math import multiply, subtract

    n = a.shape[axis]
    if n == 1:
        return _pad_edge(a, axis, lo, hi)  # NumPy's (legacy) behaviour for a single element

    def odd_reflection(chunk: Any, edge: Any) -> Any:
        out = subtract(multiply(edge, 2), chunk)
        return convert(out, a.dtype, a.weak_type) if out.dtype != a.dtype else out

    while lo or hi:
        length = a.shape[axis]
        period = length // n * n if symmetric else (length - 1) // (n - 1) * (n - 1)
        parts = [a]
        if lo:
            c = builtins.min(period, lo)
            chunk = _rev(_slice_axis(a, axis, 0, c) if symmetric else _slice_axis(a, axis, 1, c + 1), [axis])
            if odd:
                chunk = odd_reflection(chunk, _slice_axis(a, axis, 0, 1))
            parts.insert(0, chunk)
            lo -= c
        if hi:
            c = builtins.min(period, hi)
            end = length if symmetric else length - 1
            chunk = _rev(_slice_axis(a, axis, end - c, end), [axis])
            if odd:
                chunk = odd_reflection(chunk, _slice_axis(a, axis, length - 1, length))
            parts.append(chunk)
            hi -= c
        a = concatenate(parts, axis)
    return a


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """Pad an array, with NumPy's ``pad_width`` forms (an int, ``(before, after)``, or one pair per axis).

    Modes: ``'constant'`` (``constant_values``: a scalar, possibly traced, or per-axis pairs), ``'empty'``
    (zeros, as in jax.numpy), ``'edge'``, ``'reflect'`` / ``'symmetric'`` (``reflect_type='even'`` or
    ``'odd'``) and ``'wrap'``; pads wider than the array repeat the pattern as NumPy does. Everything is
    slices, reversals, concatenations and ``pad`` primitives, so it differentiates and stages.

    Example: ``fnp.pad(fnp.asarray([1, 2, 3]), 2, mode="reflect")`` is ``[3, 2, 1, 2, 3, 2, 1]``.
    """
    a = asarray(array)
    if callable(mode) or mode not in _PAD_MODES:
        raise NotImplementedError(
            f"fnp.pad: mode {mode!r} is not supported; use one of {', '.join(map(repr, _PAD_MODES))}."
        )
    allowed = {"constant": {"constant_values"}, "reflect": {"reflect_type"}, "symmetric": {"reflect_type"}}
    unexpected = set(kwargs) - allowed.get(mode, set())
    if unexpected:
        raise ValueError(f"fnp.pad: unsupported keyword arguments for mode {mode!r}: {sorted(unexpected)}.")
    widths = _pad_widths(pad_width, a.ndim)
    if mode in ("constant", "empty"):
        values = kwargs.get("constant_values", 0)
        if np.ndim(values) and _concrete(values) is not None:
            np.broadcast_to(_concrete(values), (a.ndim, 2))  # NumPy's error for a badly shaped value list
        if not any(lo or hi for lo, hi in widths):
            return a
        return _pad_constant(a, widths, kwargs.get("constant_values", 0))
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"fnp.pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}.")
    for axis, (lo, hi) in enumerate(widths):
        if not (lo or hi):
            continue
        if a.shape[axis] == 0:
            raise ValueError(f"fnp.pad: cannot apply {mode!r} padding to the empty axis {axis}.")
        if mode == "edge":
            a = _pad_edge(a, axis, lo, hi)
        elif mode == "wrap":
            a = _pad_wrap(a, axis, lo, hi)
        else:
            a = _pad_reflect(a, axis, lo, hi, mode == "symmetric", reflect_type == "odd")
    return a


# ---------------------------------------------------------------------------------------------------
# take, take_along_axis
# ---------------------------------------------------------------------------------------------------


def _index_array(indices: Any, name: str) -> Any:
    idx = asarray(indices)
    if idx.dtype.kind not in "biu":
        raise ValueError(f"fnp.{name}: indices must have an integer type, got {idx.dtype.name}.")
    if idx.dtype.itemsize < 4 or idx.dtype.kind == "b":  # room for idx + n without overflow
        idx = convert(idx, dtypes.int32)
    return idx


def _wrap_negative(idx: Any, n: int) -> Any:
    from ._math import add, less, where

    if idx.dtype.kind == "u":
        return idx
    return where(less(idx, 0), add(idx, n), idx)


def take(
    a: Any,
    indices: Any,
    axis: int | None = None,
    out: None = None,
    mode: str | None = None,
    unique_indices: bool = False,
    indices_are_sorted: bool = False,
    fill_value: Any = None,
) -> Any:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` when ``axis`` is None); the
    result has shape ``a.shape[:axis] + indices.shape + a.shape[axis + 1:]``.

    Out-of-bound indices follow ``mode``, as in jax.numpy: ``'fill'`` (the default; negative indices count
    from the end, others out of range give ``fill_value``: NaN for floats, the minimum for signed integers,
    the maximum for unsigned, True for bool), ``'clip'`` (clamped into range, negatives to 0) or ``'wrap'``
    (taken modulo the axis length).

    Example: ``fnp.take(fnp.asarray([10, 20, 30]), fnp.asarray([2, -1, 5]), mode="clip")`` is
    ``[30, 10, 30]``.
    """
    if out is not None:
        raise NotImplementedError("fnp.take: the 'out' argument is not supported (Arrays are immutable).")
    a = asarray(a)
    idx = _index_array(indices, "take")
    if axis is None:
        a, axis = ravel(a), 0
    else:
        axis = _axis(axis, a.ndim, "take")
    n = a.shape[axis]
    mode = "fill" if mode is None else mode
    if mode == "raise":
        raise NotImplementedError("fnp.take: mode='raise' is not supported (indices cannot be checked).")
    if mode not in ("fill", "clip", "wrap"):
        raise ValueError(f"fnp.take: invalid mode {mode!r}; use 'fill', 'clip' or 'wrap'.")
    if n == 0:
        if idx.size:
            raise IndexError("fnp.take: cannot take a non-empty selection from an empty axis.")
        dims = tuple(a.shape[:axis]) + tuple(idx.shape) + tuple(a.shape[axis + 1 :])
        return broadcast_to(Array(np.zeros((), a.dtype), a.weak_type), dims)
    if mode == "fill":
        idx = _wrap_negative(idx, n)
    elif mode == "wrap" and n:
        from ._math import remainder

        idx = remainder(idx, n)
    if fill_value is not None:
        fill_value = np.asarray(fill_value).item()
    rank = idx.ndim
    return gather_p.bind(
        a,
        reshape(idx, tuple(idx.shape) + (1,)),
        dimension_numbers=GatherDimensionNumbers(
            offset_dims=tuple(range(axis)) + tuple(range(axis + rank, a.ndim - 1 + rank)),
            collapsed_slice_dims=(axis,),
            start_index_map=(axis,),
        ),
        slice_sizes=_with_size(a.shape, axis, 1),
        indices_are_sorted=builtins.bool(indices_are_sorted),
        unique_indices=builtins.bool(unique_indices),
        mode=GatherScatterMode.FILL_OR_DROP if mode == "fill" else GatherScatterMode.CLIP,
        fill_value=fill_value,
    )


def take_along_axis(
    arr: Any, indices: Any, axis: int | None, mode: str | None = None, fill_value: Any = None
) -> Any:
    """``out[..., j, ...] = arr[..., indices[..., j, ...], ...]`` along ``axis``: ``indices`` has ``arr``'s
    rank, and the other axes broadcast against each other (``axis=None`` works on the flattened ``arr``
    with 1-D indices). Negative indices count from the end; ``mode`` is ``'fill'`` (the default, as in
    jax.numpy: out-of-range gives ``fill_value``) or ``'clip'``.

    Example: ``fnp.take_along_axis(x, fnp.argsort(x, axis=1), axis=1)`` sorts each row of ``x``.
    """
    arr = asarray(arr)
    idx = _index_array(indices, "take_along_axis")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"fnp.take_along_axis: indices must be 1D if axis=None, got shape {idx.shape}.")
        arr, axis = ravel(arr), 0
    if arr.ndim != idx.ndim:
        raise ValueError(
            f"fnp.take_along_axis: indices and arr must have the same number of dimensions; "
            f"{idx.ndim} vs. {arr.ndim}."
        )
    axis = _axis(axis, arr.ndim, "take_along_axis")
    mode = "fill" if mode is None else mode
    modes = {
        "fill": GatherScatterMode.FILL_OR_DROP,
        "clip": GatherScatterMode.CLIP,
        "promise_in_bounds": GatherScatterMode.PROMISE_IN_BOUNDS,
    }
    if mode not in modes:
        raise ValueError(f"fnp.take_along_axis: invalid mode {mode!r}; use 'fill' or 'clip'.")
    n = arr.shape[axis]
    others = tuple(d for d in range(arr.ndim) if d != axis)
    common = broadcast_shapes(*[[s for d, s in enumerate(x.shape) if d != axis] for x in (arr, idx)])
    arr = broadcast_to(arr, common[:axis] + (n,) + common[axis:])
    idx = broadcast_to(idx, common[:axis] + (idx.shape[axis],) + common[axis:])
    if n == 0:
        return broadcast_to(Array(np.zeros((), arr.dtype), arr.weak_type), idx.shape)
    if fill_value is not None:
        fill_value = np.asarray(fill_value).item()
    return gather_p.bind(
        arr,
        reshape(_wrap_negative(idx, n), tuple(idx.shape) + (1,)),
        dimension_numbers=GatherDimensionNumbers(
            offset_dims=(),
            collapsed_slice_dims=(axis,),
            start_index_map=(axis,),
            operand_batching_dims=others,
            start_indices_batching_dims=others,
        ),
        slice_sizes=(1,) * arr.ndim,
        indices_are_sorted=False,
        unique_indices=False,
        mode=modes[mode],
        fill_value=fill_value,
    )
