"""Sorting, searching and counting functions of ``functorch_lite.numpy``.

``sort``/``argsort``/``lexsort`` lower to the multi-operand ``sort`` primitive (NaNs last, stable by default);
``searchsorted`` is a vectorised binary search with a fixed number of steps; ``nonzero``/``unique``/
``bincount`` build their results with one scatter each. Functions whose output shape depends on the data
(``nonzero``, ``argwhere``, ``flatnonzero``, ``unique``, ``bincount``) need concrete inputs unless given a
static ``size=`` (or ``length=``); under ``jit``/``make_jaxpr`` without it they raise
``ConcretizationTypeError``, as jax.numpy does.

Example:
    >>> fnp.sort(fnp.asarray([3, 1, 2]), descending=True)
    Array([3, 2, 1], dtype=int32)
    >>> fnp.nonzero(fnp.asarray([0, 5, 0, 7]), size=3, fill_value=-1)
    (Array([ 1,  3, -1], dtype=int32),)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..core.errors import ConcretizationTypeError
from ..core.trace import Tracer
from ..primitives import shape as sh
from ..primitives import sorting as srt
from ..primitives.common import canonical_axis
from ..primitives.indexing import GatherDimensionNumbers, GatherScatterMode, gather_p
from ._convert import asarray, convert, promote_dtypes
from ._shape import reshape

# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _concrete(x: Any) -> np.ndarray | None:
    """The NumPy value of ``x`` when it is known (an Array, or a tracer with a concrete value), else None."""
    if isinstance(x, Tracer):
        value = x.to_concrete()
        return None if value is None else np.asarray(value)
    return np.asarray(x)


def _needs_size(name: str, argument: str = "size") -> ConcretizationTypeError:
    return ConcretizationTypeError(
        f"Abstract tracer value encountered where a concrete value is expected: the shape of the result of "
        f"fnp.{name} depends on the values of its input, which are not known inside a transformation "
        f"(jit, make_jaxpr, vmap). Pass a static {argument}= argument to fnp.{name} to fix the output size "
        "(extra entries are filled), or call it outside the transformation."
    )


def _index_dtype() -> np.dtype:
    return dtypes.default_int()


def _iota(size: int, dtype: Any = None) -> Any:
    dtype = np.dtype(dtype or _index_dtype())
    return sh.iota_p.bind(dtype=dtype, shape=(int(size),), dimension=0, sharding=None)


def _broadcasted_iota(shape: tuple[int, ...], dimension: int, dtype: Any = None) -> Any:
    dtype = np.dtype(dtype or _index_dtype())
    return sh.iota_p.bind(dtype=dtype, shape=tuple(shape), dimension=dimension, sharding=None)


def _take_along_last(x: Any, idx: Any) -> Any:
    """``out[q..., r...] = x[r..., idx[q..., r...]]`` for ``x`` of shape ``R + (n,)`` and integer ``idx`` of shape
    ``Q + R``: one gather whose R dims are batching dims. Indices are clamped into range."""
    nr = x.ndim - 1
    nq = idx.ndim - nr
    indices = reshape(idx, tuple(idx.shape) + (1,))
    return gather_p.bind(
        x,
        indices,
        dimension_numbers=GatherDimensionNumbers(
            offset_dims=(),
            collapsed_slice_dims=(nr,),
            start_index_map=(nr,),
            operand_batching_dims=tuple(range(nr)),
            start_indices_batching_dims=tuple(range(nq, nq + nr)),
        ),
        slice_sizes=(1,) * x.ndim,
        indices_are_sorted=False,
        unique_indices=False,
        mode=GatherScatterMode.CLIP,
        fill_value=None,
    )


def _gather_1d(x: Any, idx: Any) -> Any:
    """``x[idx]`` for a 1-D ``x`` and an integer array ``idx`` of any shape (clamped into range)."""
    return gather_p.bind(
        x,
        reshape(idx, tuple(idx.shape) + (1,)),
        dimension_numbers=GatherDimensionNumbers(
            offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,)
        ),
        slice_sizes=(1,),
        indices_are_sorted=False,
        unique_indices=False,
        mode=GatherScatterMode.CLIP,
        fill_value=None,
    )


def _sort_axis(a: Any, axis: int | None, name: str) -> tuple[Any, int]:
    a = asarray(a)
    if axis is None:
        return reshape(a, (-1,)), 0
    if a.ndim == 0:
        raise ValueError(f"{name}: axis {axis} is out of bounds for array of dimension 0")
    return a, canonical_axis(name, int(axis), a.ndim)


def _check_order(order: Any, name: str) -> None:
    if order is not None:
        raise ValueError(
            f"fnp.{name}: the 'order' argument is not supported (there are no structured dtypes)."
        )


# ---------------------------------------------------------------------------------------------------
# sort / argsort / lexsort / partition
# ---------------------------------------------------------------------------------------------------


def sort(
    a: Any,
    axis: int | None = -1,
    *,
    kind: str | None = None,
    order: None = None,
    stable: bool = True,
    descending: bool = False,
) -> Any:
    """A sorted copy of ``a`` along ``axis`` (flattened when None). NaNs sort last (first when descending).

    Example: ``fnp.sort(fnp.asarray([[3, 1], [0, 2]]), axis=0)`` is ``[[0, 1], [3, 2]]``.
    """
    _check_order(order, "sort")
    a, axis = _sort_axis(a, axis, "sort")
    if descending:
        a = sh.rev_p.bind(a, dimensions=(axis,))
    (out,) = srt.sort_p.bind(a, dimension=axis, is_stable=bool(stable), num_keys=1)
    return sh.rev_p.bind(out, dimensions=(axis,)) if descending else out


def argsort(
    a: Any,
    axis: int | None = -1,
    *,
    kind: str | None = None,
    order: None = None,
    stable: bool = True,
    descending: bool = False,
) -> Any:
    """Indices that sort ``a`` along ``axis`` (equal elements keep their order, also when ``descending``).

    Example: ``fnp.argsort(fnp.asarray([3, 1, 2]))`` is ``[1, 2, 0]``.
    """
    _check_order(order, "argsort")
    a, axis = _sort_axis(a, axis, "argsort")
    iota = _broadcasted_iota(tuple(a.shape), axis)
    if descending:
        # Sorting the reversed array keeps later equal elements first; reversing the result puts them back
        # in their original order.
        a = sh.rev_p.bind(a, dimensions=(axis,))
        iota = sh.rev_p.bind(iota, dimensions=(axis,))
    _, perm = srt.sort_p.bind(a, iota, dimension=axis, is_stable=True, num_keys=1)
    return sh.rev_p.bind(perm, dimensions=(axis,)) if descending else perm


def lexsort(keys: Sequence[Any], axis: int = -1) -> Any:
    """Indices that sort by several keys, the *last* key being the primary one (as NumPy).

    Example: ``fnp.lexsort((fnp.asarray([1, 2, 3]), fnp.asarray([1, 0, 1])))`` is ``[1, 0, 2]``.
    """
    if isinstance(keys, (Array, Tracer)):
        keys = [keys[i] for i in range(keys.shape[0])] if keys.ndim else [keys]
    keys = [asarray(k) for k in keys]
    if not keys:
        raise TypeError("lexsort: need at least one key.")
    shapes = {tuple(k.shape) for k in keys}
    if len(shapes) != 1:
        raise ValueError(f"lexsort: all keys need the same shape, got {sorted(shapes)}.")
    if keys[0].ndim == 0:
        raise TypeError("lexsort: keys must be at least 1-dimensional.")
    axis = canonical_axis("lexsort", int(axis), keys[0].ndim)
    iota = _broadcasted_iota(tuple(keys[0].shape), axis)
    outs = srt.sort_p.bind(*keys[::-1], iota, dimension=axis, is_stable=True, num_keys=len(keys))
    return outs[-1]


def _check_kth(kth: int, a: Any, axis: int, name: str) -> None:
    n = a.shape[axis]
    if not isinstance(kth, (int, np.integer)):
        raise TypeError(f"{name}: kth must be a static integer, got {type(kth).__name__}.")
    if not -n <= int(kth) < n:
        raise ValueError(f"{name}: kth={kth} is out of bounds for an axis of size {n}.")


def partition(a: Any, kth: int, axis: int = -1) -> Any:
    """A copy with the element that would be at position ``kth`` of the sorted array there, smaller ones
    before it and larger ones after (this implementation fully sorts).

    Example: ``fnp.partition(fnp.asarray([5, 1, 4, 2]), 1)[1]`` is ``2``.
    """
    a, axis = _sort_axis(a, axis, "partition")
    _check_kth(kth, a, axis, "partition")
    return sort(a, axis)


def argpartition(a: Any, kth: int, axis: int = -1) -> Any:
    """Indices that partition ``a`` around its ``kth`` smallest element (a full argsort here).

    Example: ``fnp.argpartition(fnp.asarray([5, 1, 4, 2]), 1)[1]`` is ``3``.
    """
    a, axis = _sort_axis(a, axis, "argpartition")
    _check_kth(kth, a, axis, "argpartition")
    return argsort(a, axis)


# ---------------------------------------------------------------------------------------------------
# searchsorted / digitize
# ---------------------------------------------------------------------------------------------------


def _sorts_before(x: Any, y: Any) -> Any:
    """``x < y`` in sort order, where NaN is larger than everything (and equal to NaN)."""
    from ._math import isnan, less, logical_and, logical_not, logical_or

    lt = less(x, y)
    if x.dtype.kind not in "fc":
        return lt
    return logical_or(lt, logical_and(isnan(y), logical_not(isnan(x))))


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *, method: str = "scan") -> Any:
    """Indices where the elements of ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted.

    ``side='left'`` gives the first suitable position, ``'right'`` the last. A vectorised binary search
    (``ceil(log2(len(a) + 1))`` steps, each a gather and a compare over ``v``). Example:
    ``fnp.searchsorted(fnp.asarray([1, 2, 2, 3]), 2, side='right')`` is ``3``.
    """
    from ._math import add, bitwise_and, floor_divide, less, logical_not
    from ._math import where as select

    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise ValueError(f"searchsorted: unknown method {method!r}.")
    a = asarray(a)
    if a.ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-dimensional, got shape {a.shape}.")
    if sorter is not None:
        a = _gather_1d(a, asarray(sorter))
    a, v = promote_dtypes(a, asarray(v))
    n = a.shape[0]
    index_dtype = _index_dtype()
    lo = Array(np.zeros(v.shape, index_dtype), False)
    hi = Array(np.full(v.shape, n, index_dtype), False)
    if n == 0:
        return lo
    for _ in range(int(n).bit_length()):
        mid = floor_divide(add(lo, hi), 2)
        pivot = _gather_1d(a, mid)
        if side == "left":
            go_right = _sorts_before(pivot, v)
        else:
            go_right = logical_not(_sorts_before(v, pivot))
        active = less(lo, hi)
        lo = select(bitwise_and(active, go_right), add(mid, 1), lo)
        hi = select(bitwise_and(active, logical_not(go_right)), mid, hi)
    return lo


def digitize(x: Any, bins: Any, right: bool = False, *, method: str = "scan") -> Any:
    """Index of the bin of each element of ``x``; ``bins`` is 1-D and monotonic (either direction).

    Example: ``fnp.digitize(fnp.asarray([0.5, 1.5, 3.0]), fnp.asarray([1.0, 2.0, 3.0]))`` is ``[0, 1, 3]``.
    """
    from ._math import greater_equal, subtract
    from ._math import where as select

    x, bins = asarray(x), asarray(bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-dimensional, got shape {bins.shape}.")
    n = bins.shape[0]
    if n == 0:
        return Array(np.zeros(x.shape, _index_dtype()), False)
    side = "left" if right else "right"
    increasing = greater_equal(bins[n - 1], bins[0])
    up = searchsorted(bins, x, side=side, method=method)
    down = subtract(n, searchsorted(sh.rev_p.bind(bins, dimensions=(0,)), x, side=side, method=method))
    return select(increasing, up, down)


# ---------------------------------------------------------------------------------------------------
# nonzero / argwhere / flatnonzero
# ---------------------------------------------------------------------------------------------------


def _unravel(flat: Any, shape: tuple[int, ...]) -> list:
    from ._math import floor_divide, remainder

    if 0 in shape:  # an empty array has no nonzero elements: every output entry is a fill value
        return [flat] * len(shape)
    coords = []
    stride = int(np.prod(shape, dtype=np.int64))
    for size in shape:
        stride //= size
        c = floor_divide(flat, stride) if stride != 1 else flat
        coords.append(remainder(c, size))
    return coords


def _fill_values(fill_value: Any, ndim: int, name: str) -> list:
    if fill_value is None:
        return [0] * ndim
    if isinstance(fill_value, (tuple, list)):
        if len(fill_value) != ndim:
            raise ValueError(
                f"{name}: fill_value must be a scalar or a tuple of length {ndim} (one per dimension), "
                f"got length {len(fill_value)}."
            )
        return list(fill_value)
    return [fill_value] * ndim


def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> tuple:
    """Indices of the nonzero elements, one int array per dimension.

    ``size`` fixes the number of indices (required under ``jit``): extra ones are dropped, missing ones are
    ``fill_value`` (default 0; a tuple gives one value per dimension). Example:
    ``fnp.nonzero(fnp.asarray([[0, 1], [2, 0]]))`` is ``([0, 1], [1, 0])``.
    """
    from ._at import scatter_at
    from ._math import _as_bool, less
    from ._math import where as select
    from ._reductions import cumsum
    from ._reductions import sum as total

    a = asarray(a)
    if a.ndim == 0:
        raise ValueError(
            "Calling nonzero on 0d arrays is not allowed. Use fnp.atleast_1d(scalar).nonzero() instead."
        )
    mask = _as_bool(a)
    index_dtype = _index_dtype()
    if size is None:
        value = _concrete(mask)
        if value is None:
            raise _needs_size("nonzero")
        if fill_value is not None:
            raise ValueError("nonzero: fill_value needs size= as well.")
        return tuple(Array(np.asarray(i, dtype=index_dtype), False) for i in np.nonzero(value))
    size = int(size)
    fills = _fill_values(fill_value, a.ndim, "nonzero")
    flat = reshape(mask, (-1,))
    count = total(flat, dtype=index_dtype)
    slot = select(flat, cumsum(flat, dtype=index_dtype) - 1, size)  # unselected elements go out of range
    flat_index = scatter_at(
        Array(np.zeros((size,), index_dtype), False), slot, _iota(flat.shape[0]), "set", mode="drop"
    )
    valid = less(_iota(size), count)
    coords = _unravel(flat_index, tuple(a.shape))
    return tuple(select(valid, c, convert(asarray(f), index_dtype)) for c, f in zip(coords, fills))


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """Indices of the nonzero elements as an ``(N, a.ndim)`` array (``size`` fixes N, as in ``nonzero``).

    Example: ``fnp.argwhere(fnp.asarray([[0, 1], [2, 0]]))`` is ``[[0, 1], [1, 0]]``.
    """
    from ._shape import stack

    a = asarray(a)
    if a.ndim == 0:
        result = argwhere(reshape(a, (1,)), size=size, fill_value=fill_value)
        return result[:, :0]
    return stack(nonzero(a, size=size, fill_value=fill_value), axis=1)


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """Indices of the nonzero elements of the flattened array. Example: ``fnp.flatnonzero(fnp.asarray([0, 3, 4]))``
    is ``[1, 2]``."""
    return nonzero(reshape(asarray(a), (-1,)), size=size, fill_value=fill_value)[0]


# ---------------------------------------------------------------------------------------------------
# unique / bincount
# ---------------------------------------------------------------------------------------------------


def unique(
    ar: Any,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
    axis: int | None = None,
    *,
    equal_nan: bool = True,
    size: int | None = None,
    fill_value: Any = None,
    sorted: bool = True,
) -> Any:
    """The sorted unique elements of the flattened ``ar``, optionally with the index of each one's first
    occurrence, the inverse (input-shaped indices into the result) and the counts.

    ``size`` pads (with ``fill_value``, default the smallest unique value) or truncates the result to a static
    length, as needed under ``jit``. Example: ``fnp.unique(fnp.asarray([3, 1, 3]), return_counts=True)`` is
    ``([1, 3], [1, 2])``.
    """
    from ._at import scatter_at
    from ._creation import full
    from ._math import isnan, logical_and, logical_not, not_equal
    from ._math import where as select
    from ._reductions import cumsum
    from ._shape import concatenate

    if axis is not None:
        raise NotImplementedError("fnp.unique: axis= is not supported; only the flattened array (axis=None).")
    ar = asarray(ar)
    shape = tuple(ar.shape)
    flat = reshape(ar, (-1,))
    n = flat.shape[0]
    index_dtype = _index_dtype()
    if size is None:
        value = _concrete(flat)
        if value is None:
            raise _needs_size("unique")
        size = int(np.unique(value, equal_nan=equal_nan).size) if n else 0
    size = int(size)
    if n == 0:
        if size and fill_value is None:
            raise ValueError(
                "fnp.unique: for zero-sized input with nonzero size argument, fill_value must be specified"
            )
        values = full((size,), 0 if fill_value is None else fill_value, ar.dtype)
        zeros = Array(np.zeros((size,), index_dtype), False)
        extras = [zeros] * return_index + [Array(np.zeros(shape, index_dtype), False)] * return_inverse
        extras += [zeros] * return_counts
        return (values, *extras) if extras else values
    ordered, perm = srt.sort_p.bind(flat, _iota(n), dimension=0, is_stable=True, num_keys=1)
    if n > 1:
        head, tail = ordered[1:], ordered[:-1]
        differs = not_equal(head, tail)
        if equal_nan and flat.dtype.kind in "fc":
            differs = logical_and(differs, logical_not(logical_and(isnan(head), isnan(tail))))
        first = concatenate([Array(np.ones((1,), bool), False), differs])
    else:
        first = Array(np.ones((1,), bool), False)
    group = cumsum(first, dtype=index_dtype) - 1
    slot = select(first, group, size)  # only the first element of each group writes
    fill = ordered[0] if fill_value is None else convert(asarray(fill_value), ar.dtype)
    values = scatter_at(full((size,), fill, ar.dtype), slot, ordered, "set", mode="drop")
    extras = []
    if return_index:
        extras.append(scatter_at(full((size,), perm[0], index_dtype), slot, perm, "set", mode="drop"))
    if return_inverse:
        inverse = scatter_at(
            Array(np.zeros((n,), index_dtype), False), perm, group, "set", unique_indices=True
        )
        extras.append(reshape(inverse, shape))
    if return_counts:
        ones = Array(np.ones((n,), index_dtype), False)
        extras.append(
            scatter_at(Array(np.zeros((size,), index_dtype), False), group, ones, "add", mode="drop")
        )
    return (values, *extras) if extras else values


def bincount(x: Any, weights: Any = None, minlength: int = 0, *, length: int | None = None) -> Any:
    """Number of occurrences (or summed ``weights``) of each value in the non-negative int array ``x``.

    Negative values count as 0 and values >= the output length are dropped, as in jax.numpy. The output length is
    ``max(minlength, x.max() + 1)``; pass a static ``length=`` under ``jit``. Example:
    ``fnp.bincount(fnp.asarray([0, 1, 1, 3]))`` is ``[1, 2, 0, 1]``.
    """
    from ._at import scatter_at
    from ._math import maximum

    x = asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"bincount: x must have an integer type, got {x.dtype}.")
    if x.ndim != 1:
        raise ValueError(f"bincount: x must be 1-dimensional, got shape {x.shape}.")
    if x.dtype.kind == "b":
        x = convert(x, _index_dtype())
    if length is None:
        value = _concrete(x)
        if value is None:
            raise _needs_size("bincount", "length")
        length = max(int(minlength), int(value.max()) + 1 if value.size else 0)
    length = int(length)
    if weights is None:
        weights = Array(np.ones(x.shape, _index_dtype()), False)
    else:
        weights = asarray(weights)
        if weights.dtype == dtypes.bool_:
            weights = convert(weights, _index_dtype())
    from ._shape import broadcast_to

    weights = broadcast_to(weights, tuple(x.shape))
    zeros = Array(np.zeros((length,), weights.dtype), False)
    return scatter_at(zeros, maximum(x, 0), weights, "add", mode="drop")
