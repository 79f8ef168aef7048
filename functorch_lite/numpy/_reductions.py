"""Reductions and cumulative functions of ``functorch_lite.numpy`` (axis, keepdims, dtype).

Small integer and bool sums accumulate in the default integer type, as in jax.numpy.

Example:
    >>> fnp.sum(fnp.ones((2, 3)), axis=1)
    Array([3., 3.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..primitives import reductions as red
from ..primitives.common import canonical_axis
from ._convert import asarray, convert
from ._math import multiply, subtract, true_divide
from ._shape import expand_dims, reshape


def _axes(axis: int | Sequence[int] | None, ndim: int, name: str) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted(canonical_axis(name, int(a), ndim) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis}.")
    return out


def _keep(result: Any, axes: tuple[int, ...], ndim: int, keepdims: bool) -> Any:
    if not keepdims:
        return result
    shape = list(result.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(result, shape)


def _accumulation_dtype(x: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return dtypes.canonicalize_dtype(dtype)
    if x.dtype.kind == "b" or (x.dtype.kind in "iu" and x.dtype.itemsize < dtypes.default_int().itemsize):
        return dtypes.default_int() if x.dtype.kind != "u" else np.dtype(f"u{dtypes.default_int().itemsize}")
    return x.dtype


def _reduce(prim: Any, a: Any, axis: Any, keepdims: bool, name: str, dtype: Any = None) -> Any:
    a = asarray(a)
    # jax.numpy reductions return strongly typed results (and accumulate small ints in the default int).
    if dtype is not None or prim in (red.reduce_sum_p, red.reduce_prod_p):
        a = convert(a, _accumulation_dtype(a, dtype), False)
    elif a.weak_type:
        a = convert(a, a.dtype, False)
    axes = _axes(axis, a.ndim, name)
    result = prim.bind(a, axes=axes) if axes else a
    return _keep(result, axes, a.ndim, keepdims)


def sum(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, where: Any = None) -> Any:
    """Sum of elements over ``axis``. Example: ``fnp.sum(fnp.ones((2, 3)), axis=0)`` is ``[2., 2., 2.]``."""
    if where is not None:
        from ._math import where as select

        a = select(where, a, 0)
    return _reduce(red.reduce_sum_p, a, axis, keepdims, "sum", dtype)


def prod(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, where: Any = None) -> Any:
    """Product of elements over ``axis``. Example: ``fnp.prod(fnp.asarray([2.0, 3.0]))`` is ``6.``."""
    if where is not None:
        from ._math import where as select

        a = select(where, a, 1)
    return _reduce(red.reduce_prod_p, a, axis, keepdims, "prod", dtype)


def max(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis`` (NaN-propagating). Example: ``fnp.max(fnp.asarray([1.0, 3.0]))`` is ``3.``."""
    a = asarray(a)
    if a.size == 0 and axis is None:
        raise ValueError("zero-size array to reduction operation max which has no identity")
    return _reduce(red.reduce_max_p, a, axis, keepdims, "max")


def min(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Minimum over ``axis`` (NaN-propagating). Example: ``fnp.min(fnp.asarray([1.0, 3.0]))`` is ``1.``."""
    a = asarray(a)
    if a.size == 0 and axis is None:
        raise ValueError("zero-size array to reduction operation min which has no identity")
    return _reduce(red.reduce_min_p, a, axis, keepdims, "min")


amax, amin = max, min


def all(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """True if all elements over ``axis`` are truthy. Example: ``fnp.all(fnp.asarray([1, 0]))`` is False."""
    a = asarray(a)
    return _reduce(
        red.reduce_and_p, convert(a, dtypes.bool_) if a.dtype != dtypes.bool_ else a, axis, keepdims, "all"
    )


def any(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """True if any element over ``axis`` is truthy. Example: ``fnp.any(fnp.asarray([1, 0]))`` is True."""
    a = asarray(a)
    return _reduce(
        red.reduce_or_p, convert(a, dtypes.bool_) if a.dtype != dtypes.bool_ else a, axis, keepdims, "any"
    )


def mean(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis``; integers average in float. Example: ``fnp.mean(fnp.arange(4))`` is 1.5."""
    a = asarray(a)
    out_dtype = (
        dtypes.canonicalize_dtype(dtype)
        if dtype is not None
        else (a.dtype if a.dtype.kind in "fc" else dtypes.default_float())
    )
    a = convert(a, out_dtype, a.weak_type)
    axes = _axes(axis, a.ndim, "mean")
    count = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    return true_divide(sum(a, axes, keepdims=keepdims), float(count))


def var(a: Any, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Variance over ``axis`` with ``ddof`` degrees of freedom removed. Example: ``fnp.var(x, axis=0)``."""
    a = asarray(a)
    centred = subtract(a, mean(a, axis, dtype, keepdims=True))
    axes = _axes(axis, a.ndim, "var")
    count = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    return true_divide(sum(multiply(centred, centred), axes, keepdims=keepdims), float(count - ddof))


def std(a: Any, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis``. Example: ``fnp.std(x, axis=0)``."""
    from ._math import sqrt

    return sqrt(var(a, axis, dtype, ddof, keepdims))


def _arg(prim: Any, a: Any, axis: Any, keepdims: bool, name: str) -> Any:
    a = asarray(a)
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    axis = canonical_axis(name, int(axis), a.ndim)
    if a.shape[axis] == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    result = prim.bind(a, axes=(axis,), index_dtype=dtypes.default_int())
    return expand_dims(result, axis) if keepdims else result


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (of the flattened array when ``axis`` is None). Example: ``fnp.argmax(x)``."""
    return _arg(red.argmax_p, a, axis, keepdims, "argmax")


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (of the flattened array when ``axis`` is None). Example: ``fnp.argmin(x)``."""
    return _arg(red.argmin_p, a, axis, keepdims, "argmin")


def _cumulative(prim: Any, a: Any, axis: Any, dtype: Any, name: str) -> Any:
    a = asarray(a)
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    if prim in (red.cumsum_p, red.cumprod_p):
        a = convert(a, _accumulation_dtype(a, dtype), a.weak_type)
    return prim.bind(a, axis=canonical_axis(name, int(axis), a.ndim), reverse=False)


def cumsum(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """Cumulative sum (of the flattened array when ``axis`` is None). Example: ``fnp.cumsum(fnp.arange(4))``."""
    return _cumulative(red.cumsum_p, a, axis, dtype, "cumsum")


def cumprod(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """Cumulative product. Example: ``fnp.cumprod(fnp.asarray([1, 2, 3]))`` is ``[1, 2, 6]``."""
    return _cumulative(red.cumprod_p, a, axis, dtype, "cumprod")
