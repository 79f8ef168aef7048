"""Reductions, NaN-aware reductions, order statistics and cumulative functions of ``functorch_lite.numpy``.

Signatures, results and dtypes follow jax.numpy: ``axis`` (int, tuple or None), ``keepdims``, ``where=``
masks, ``initial=`` for ``max``/``min``; small integer and bool sums accumulate in the default integer type;
means, variances and quantiles of integers are computed in the default float type. Everything is built from
primitive binds and other ``fnp`` functions, so it works eagerly and under ``grad``/``jit``/``make_jaxpr``.

Example:
    >>> fnp.sum(fnp.ones((2, 3)), axis=1)
    Array([3., 3.], dtype=float32)
    >>> fnp.nanmedian(fnp.asarray([1.0, fnp.nan, 3.0]))
    Array(2., dtype=float32)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..primitives import reductions as red
from ..primitives.common import canonical_axis
from ._convert import asarray, convert, promote_dtypes
from ._math import multiply, subtract, true_divide
from ._shape import expand_dims, reshape

Axis = int | Sequence[int] | None


def _axes(axis: Axis, ndim: int, name: str) -> tuple[int, ...]:
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


def _check_out(out: Any, name: str) -> None:
    if out is not None:
        raise NotImplementedError(
            f"fnp.{name}: the 'out' argument is not supported (arrays are immutable); use the return value."
        )


def _const(value: Any, dtype: np.dtype) -> Array:
    """A strongly typed 0-d constant of ``dtype``."""
    return Array(np.asarray(value, dtype=dtype), False)


def _accumulation_dtype(x: Any, dtype: Any, promote_integers: bool = True) -> np.dtype:
    if dtype is not None:
        return dtypes.canonicalize_dtype(dtype)
    if x.dtype.kind == "b":
        return dtypes.default_int()
    if promote_integers and x.dtype.kind in "iu" and x.dtype.itemsize < dtypes.default_int().itemsize:
        return dtypes.default_int() if x.dtype.kind != "u" else np.dtype(f"u{dtypes.default_int().itemsize}")
    return x.dtype


def _mask(where: Any, shape: tuple[int, ...]) -> Any:
    """The ``where=`` argument as a bool array of ``shape``."""
    from ._math import _as_bool
    from ._shape import broadcast_to

    return broadcast_to(_as_bool(where), shape)


def _masked(a: Any, where: Any, fill: Any) -> Any:
    """``a`` with the elements outside ``where`` replaced by ``fill`` (a value of ``a``'s dtype)."""
    if where is None:
        return a
    from ._math import where as select

    return select(_mask(where, tuple(a.shape)), a, _const(fill, a.dtype))


def _reduce(
    prim: Any, a: Any, axis: Any, keepdims: bool, name: str, dtype: Any = None, promote: bool = True
) -> Any:
    a = asarray(a)
    # jax.numpy reductions return strongly typed results (and accumulate small ints in the default int).
    if dtype is not None or prim in (red.reduce_sum_p, red.reduce_prod_p):
        a = convert(a, _accumulation_dtype(a, dtype, promote), False)
    elif a.weak_type:
        a = convert(a, a.dtype, False)
    axes = _axes(axis, a.ndim, name)
    result = prim.bind(a, axes=axes) if axes else a
    return _keep(result, axes, a.ndim, keepdims)


def _divide(x: Any, y: Any) -> Any:
    """``true_divide`` without NumPy's divide-by-zero warnings: an empty or all-NaN slice gives NaN/inf
    silently, as in jax.numpy."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return true_divide(x, y)


def sum(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
    promote_integers: bool = True,
) -> Any:
    """Sum of elements over ``axis``. Example: ``fnp.sum(fnp.ones((2, 3)), axis=0)`` is ``[2., 2., 2.]``."""
    _check_out(out, "sum")
    a = asarray(a)
    a = _masked(a, where, 0)
    result = _reduce(red.reduce_sum_p, a, axis, keepdims, "sum", dtype, promote_integers)
    if initial is not None:
        from ._math import add

        result = add(result, convert(asarray(initial), result.dtype))
    return result


def prod(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
    promote_integers: bool = True,
) -> Any:
    """Product of elements over ``axis``. Example: ``fnp.prod(fnp.asarray([2.0, 3.0]))`` is ``6.``."""
    _check_out(out, "prod")
    a = asarray(a)
    a = _masked(a, where, 1)
    result = _reduce(red.reduce_prod_p, a, axis, keepdims, "prod", dtype, promote_integers)
    if initial is not None:
        result = multiply(result, convert(asarray(initial), result.dtype))
    return result


def _identity(dtype: np.dtype, largest: bool) -> Any:
    if dtype.kind == "f":
        return np.inf if largest else -np.inf
    if dtype.kind == "b":
        return largest
    info = np.iinfo(dtype)
    return info.max if largest else info.min


def _extremum(
    prim: Any, name: str, a: Any, axis: Axis, out: Any, keepdims: bool, initial: Any, where: Any
) -> Any:
    _check_out(out, name)
    a = asarray(a)
    axes = _axes(axis, a.ndim, name)
    if initial is None:
        if where is not None:
            raise ValueError(
                f"reduction operation {name} does not have an identity, so to use a where mask one has to "
                "specify 'initial'"
            )
        if builtins.any(a.shape[d] == 0 for d in axes):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
    is_max = prim is red.reduce_max_p
    a = _masked(a, where, _identity(a.dtype, largest=not is_max))
    result = _reduce(prim, a, axis, keepdims, name)
    if initial is not None:
        from ._math import maximum, minimum

        result = (maximum if is_max else minimum)(result, convert(asarray(initial), result.dtype))
    return result


def max(
    a: Any,
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Maximum over ``axis`` (NaN-propagating). Example: ``fnp.max(fnp.asarray([1.0, 3.0]))`` is ``3.``.

    ``where=`` needs ``initial=`` (max has no identity), as in jax.numpy.
    """
    return _extremum(red.reduce_max_p, "max", a, axis, out, keepdims, initial, where)


def min(
    a: Any,
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Minimum over ``axis`` (NaN-propagating). Example: ``fnp.min(fnp.asarray([1.0, 3.0]))`` is ``1.``."""
    return _extremum(red.reduce_min_p, "min", a, axis, out, keepdims, initial, where)


amax, amin = max, min


def _logical(prim: Any, name: str, a: Any, axis: Axis, out: Any, keepdims: bool, where: Any) -> Any:
    _check_out(out, name)
    a = asarray(a)
    if a.dtype != dtypes.bool_:
        from ._math import _as_bool

        a = _as_bool(a)
    a = _masked(a, where, prim is red.reduce_and_p)
    return _reduce(prim, a, axis, keepdims, name)


def all(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, *, where: Any = None) -> Any:
    """True if all elements over ``axis`` are truthy. Example: ``fnp.all(fnp.asarray([1, 0]))`` is False."""
    return _logical(red.reduce_and_p, "all", a, axis, out, keepdims, where)


def any(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, *, where: Any = None) -> Any:
    """True if any element over ``axis`` is truthy. Example: ``fnp.any(fnp.asarray([1, 0]))`` is True."""
    return _logical(red.reduce_or_p, "any", a, axis, out, keepdims, where)


def _count(axes: tuple[int, ...], shape: Sequence[int]) -> int:
    return int(np.prod([shape[i] for i in axes], dtype=np.int64))


def _inexact_dtype(a: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return dtypes.canonicalize_dtype(dtype)
    return a.dtype if a.dtype.kind in "fc" else dtypes.default_float()


def mean(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: Any = None,
) -> Any:
    """Arithmetic mean over ``axis``; integers average in float. Example: ``fnp.mean(fnp.arange(4))`` is 1.5.

    With ``where=`` only the selected elements count (an empty selection gives NaN).
    """
    _check_out(out, "mean")
    a = asarray(a)
    out_dtype = _inexact_dtype(a, dtype)
    a = convert(a, out_dtype, a.weak_type)
    axes = _axes(axis, a.ndim, "mean")
    if where is None:
        return _divide(sum(a, axes, keepdims=keepdims), float(_count(axes, a.shape)))
    mask = _mask(where, tuple(a.shape))
    total = sum(a, axes, keepdims=keepdims, where=mask)
    return _divide(total, sum(mask, axes, dtype=out_dtype, keepdims=keepdims))


_mean = mean  # var/std/nanvar take a ``mean=`` argument that shadows the function


def _real_dtype(dtype: np.dtype) -> np.dtype:
    return np.finfo(dtype).dtype if dtype.kind == "c" else dtype


def _squared_deviation(a: Any, centre: Any) -> Any:
    centred = subtract(a, centre)
    if a.dtype.kind == "c":
        from ._math import absolute

        magnitude = absolute(centred)
        return multiply(magnitude, magnitude)
    return multiply(centred, centred)


def _ddof(ddof: int | float, correction: int | float | None) -> int | float:
    if correction is None:
        return ddof
    if ddof != 0:
        raise ValueError("ddof and correction can't be provided simultaneously.")
    return correction


def var(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    ddof: int | float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: int | float | None = None,
) -> Any:
    """Variance over ``axis`` with ``ddof`` (or ``correction``) degrees of freedom removed.

    Example: ``fnp.var(fnp.asarray([1.0, 2.0, 3.0, 4.0]))`` is ``1.25``. A divisor <= 0 gives inf/NaN.
    """
    _check_out(out, "var")
    ddof = _ddof(ddof, correction)
    a = asarray(a)
    a = convert(a, _inexact_dtype(a, dtype), a.weak_type)
    axes = _axes(axis, a.ndim, "var")
    centre = mean if mean is not None else _mean(a, axes, keepdims=True, where=where)
    squares = _squared_deviation(a, centre)
    if where is None:
        divisor: Any = float(builtins.max(_count(axes, a.shape) - ddof, 0))
        return _divide(sum(squares, axes, keepdims=keepdims), divisor)
    from ._math import maximum

    mask = _mask(where, tuple(a.shape))
    count = sum(mask, axes, dtype=squares.dtype, keepdims=keepdims)
    divisor = maximum(subtract(count, ddof), 0)
    return _divide(sum(squares, axes, keepdims=keepdims, where=mask), divisor)


def std(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    ddof: int | float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: int | float | None = None,
) -> Any:
    """Standard deviation over ``axis``. Example: ``fnp.std(fnp.asarray([1.0, 3.0]))`` is ``1.``."""
    from ._math import sqrt

    return sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


def ptp(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """Range (maximum minus minimum) over ``axis``. Example: ``fnp.ptp(fnp.asarray([4, 1, 9]))`` is ``8``."""
    _check_out(out, "ptp")
    return subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def count_nonzero(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Number of nonzero elements over ``axis`` (default int). Example: ``fnp.count_nonzero(fnp.asarray([1, 0, 2]))``
    is ``2``."""
    from ._math import _as_bool

    return sum(_as_bool(a), axis, dtype=dtypes.default_int(), keepdims=keepdims)


def average(
    a: Any,
    axis: Axis = None,
    weights: Any = None,
    returned: bool = False,
    keepdims: bool = False,
) -> Any:
    """Weighted average over ``axis``; with ``returned=True`` also the sum of the weights.

    1-D ``weights`` of length ``a.shape[axis]`` apply along ``axis``. Example:
    ``fnp.average(fnp.asarray([1.0, 2.0]), weights=fnp.asarray([3.0, 1.0]))`` is ``1.25``.
    """
    a = asarray(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        from ._creation import full

        total = full(avg.shape, a.size // builtins.max(avg.size, 1), avg.dtype)
    else:
        from ._shape import broadcast_to, moveaxis

        weights = asarray(weights)
        a, weights = promote_dtypes(a, weights)
        if a.dtype.kind not in "fc":
            a, weights = convert(a, dtypes.default_float()), convert(weights, dtypes.default_float())
        if tuple(a.shape) != tuple(weights.shape):
            if axis is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            if not isinstance(axis, (int, np.integer)):
                raise TypeError("Single axis expected when shapes of a and weights differ.")
            if weights.ndim != 1:
                raise TypeError("1D weights expected when shapes of a and weights differ.")
            axis = canonical_axis("average", int(axis), a.ndim)
            if weights.shape[0] != a.shape[axis]:
                raise ValueError("Length of weights not compatible with specified axis.")
            weights = broadcast_to(weights, (1,) * (a.ndim - 1) + tuple(weights.shape))
            weights = moveaxis(weights, -1, axis)
        total = sum(weights, axis, keepdims=keepdims)
        avg = _divide(sum(multiply(a, weights), axis, keepdims=keepdims), total)
    if not returned:
        return avg
    if tuple(total.shape) != tuple(avg.shape):
        from ._shape import broadcast_to

        total = broadcast_to(total, avg.shape)
    return avg, total


# ---------------------------------------------------------------------------------------------------
# NaN-aware reductions
# ---------------------------------------------------------------------------------------------------


def _nan_to(a: Any, value: Any) -> Any:
    """``a`` with NaNs replaced by ``value`` (a no-op for non-float arrays)."""
    from ._math import isnan
    from ._math import where as select

    return select(isnan(a), _const(value, a.dtype), a) if a.dtype.kind in "fc" else a


def nansum(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Sum treating NaNs as zero. Example: ``fnp.nansum(fnp.asarray([1.0, fnp.nan]))`` is ``1.``."""
    return sum(_nan_to(asarray(a), 0), axis, dtype, out, keepdims, initial, where)


def nanprod(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Product treating NaNs as one. Example: ``fnp.nanprod(fnp.asarray([2.0, fnp.nan]))`` is ``2.``."""
    return prod(_nan_to(asarray(a), 1), axis, dtype, out, keepdims, initial, where)


def _nan_extremum(
    fn: Any, name: str, a: Any, axis: Axis, out: Any, keepdims: bool, initial: Any, where: Any
) -> Any:
    a = asarray(a)
    if a.dtype.kind not in "fc":
        return fn(a, axis, out, keepdims, initial, where)
    from ._math import isnan
    from ._math import where as select

    nan_mask = isnan(a)
    result = fn(_nan_to(a, _identity(a.dtype, largest=fn is min)), axis, out, keepdims, initial, where)
    return select(all(nan_mask, axis, keepdims=keepdims), _const(np.nan, result.dtype), result)


def nanmax(
    a: Any,
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Maximum ignoring NaNs (NaN where a slice is all NaN). Example: ``fnp.nanmax(fnp.asarray([fnp.nan, 2.0]))``."""
    return _nan_extremum(max, "nanmax", a, axis, out, keepdims, initial, where)


def nanmin(
    a: Any,
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Minimum ignoring NaNs (NaN where a slice is all NaN). Example: ``fnp.nanmin(fnp.asarray([fnp.nan, 2.0]))``."""
    return _nan_extremum(min, "nanmin", a, axis, out, keepdims, initial, where)


def _nan_count(a: Any, axes: tuple[int, ...], dtype: np.dtype, keepdims: bool, where: Any) -> Any:
    from ._math import isnan, logical_not

    return sum(logical_not(isnan(a)), axes, dtype=dtype, keepdims=keepdims, where=where)


def nanmean(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: Any = None,
) -> Any:
    """Mean of the non-NaN elements (NaN for an all-NaN slice). Example: ``fnp.nanmean(fnp.asarray([1.0, fnp.nan, 3.0]))``
    is ``2.``."""
    _check_out(out, "nanmean")
    a = asarray(a)
    if a.dtype.kind not in "fc":
        return mean(a, axis, dtype, keepdims=keepdims, where=where)
    a = convert(a, _inexact_dtype(a, dtype), a.weak_type)
    axes = _axes(axis, a.ndim, "nanmean")
    total = sum(_nan_to(a, 0), axes, keepdims=keepdims, where=where)
    return _divide(total, _nan_count(a, axes, _real_dtype(total.dtype), keepdims, where))


def nanvar(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    ddof: int | float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: int | float | None = None,
) -> Any:
    """Variance of the non-NaN elements; NaN where fewer than ``ddof + 1`` of them remain.

    Example: ``fnp.nanvar(fnp.asarray([1.0, fnp.nan, 3.0]))`` is ``1.``.
    """
    _check_out(out, "nanvar")
    ddof = _ddof(ddof, correction)
    a = asarray(a)
    if a.dtype.kind not in "fc":
        return var(a, axis, dtype, ddof=ddof, keepdims=keepdims, where=where, mean=mean)
    a = convert(a, _inexact_dtype(a, dtype), a.weak_type)
    axes = _axes(axis, a.ndim, "nanvar")
    centre = mean if mean is not None else nanmean(a, axes, keepdims=True, where=where)
    squares = _nan_to(_squared_deviation(a, centre), 0)
    total = sum(squares, axes, keepdims=keepdims, where=where)
    divisor = subtract(_nan_count(a, axes, total.dtype, keepdims, where), ddof)
    from ._math import greater
    from ._math import where as select

    return select(greater(divisor, 0), _divide(total, divisor), _const(np.nan, total.dtype))


def nanstd(
    a: Any,
    axis: Axis = None,
    dtype: Any = None,
    out: None = None,
    ddof: int | float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: int | float | None = None,
) -> Any:
    """Standard deviation of the non-NaN elements. Example: ``fnp.nanstd(fnp.asarray([1.0, fnp.nan, 3.0]))`` is ``1.``."""
    from ._math import sqrt

    return sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


# ---------------------------------------------------------------------------------------------------
# argmax / argmin
# ---------------------------------------------------------------------------------------------------


def _arg(prim: Any, a: Any, axis: Any, keepdims: bool, name: str) -> Any:
    a = asarray(a)
    ndim = a.ndim
    flat = axis is None
    if flat:
        a = reshape(a, (-1,))
        axis = 0
    axis = canonical_axis(name, int(axis), a.ndim)
    if a.shape[axis] == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    result = prim.bind(a, axes=(axis,), index_dtype=dtypes.default_int())
    if not keepdims:
        return result
    return reshape(result, (1,) * ndim) if flat else expand_dims(result, axis)


def argmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None) -> Any:
    """Index of the maximum (of the flattened array when ``axis`` is None). Example: ``fnp.argmax(x)``."""
    _check_out(out, "argmax")
    return _arg(red.argmax_p, a, axis, builtins.bool(keepdims), "argmax")


def argmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None) -> Any:
    """Index of the minimum (of the flattened array when ``axis`` is None). Example: ``fnp.argmin(x)``."""
    _check_out(out, "argmin")
    return _arg(red.argmin_p, a, axis, builtins.bool(keepdims), "argmin")


def _nan_arg(fn: Any, a: Any, axis: int | None, out: Any, keepdims: bool | None, name: str) -> Any:
    _check_out(out, name)
    a = asarray(a)
    if a.dtype.kind not in "fc":
        return fn(a, axis, keepdims=keepdims)
    from ._math import isnan
    from ._math import where as select

    nan_mask = isnan(a)
    result = fn(_nan_to(a, -np.inf if fn is argmax else np.inf), axis, keepdims=keepdims)
    all_nan = all(nan_mask, axis, keepdims=builtins.bool(keepdims))
    return select(all_nan, _const(-1, result.dtype), result)


def nanargmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None) -> Any:
    """Index of the maximum ignoring NaNs; ``-1`` for an all-NaN slice (as jax.numpy).

    Example: ``fnp.nanargmax(fnp.asarray([fnp.nan, 2.0, 1.0]))`` is ``1``.
    """
    return _nan_arg(argmax, a, axis, out, keepdims, "nanargmax")


def nanargmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None) -> Any:
    """Index of the minimum ignoring NaNs; ``-1`` for an all-NaN slice (as jax.numpy).

    Example: ``fnp.nanargmin(fnp.asarray([fnp.nan, 2.0, 1.0]))`` is ``2``.
    """
    return _nan_arg(argmin, a, axis, out, keepdims, "nanargmin")


# ---------------------------------------------------------------------------------------------------
# Quantiles
# ---------------------------------------------------------------------------------------------------

_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _quantile(a: Any, q: Any, axis: Axis, method: str, keepdims: bool, skip_nans: bool, name: str) -> Any:
    from ._math import add, ceil, clip, floor, isnan, less_equal, logical_not
    from ._math import equal as eq
    from ._math import where as select
    from ._shape import broadcast_to, transpose
    from ._sorting import _take_along_last, sort

    if method not in _QUANTILE_METHODS:
        raise ValueError(f"{name}: method={method!r} is not supported; use one of {_QUANTILE_METHODS}.")
    a, q = promote_dtypes(asarray(a), asarray(q))
    if a.dtype.kind == "c":
        raise TypeError(f"{name} does not support complex input (got {a.dtype}).")
    if a.dtype.kind != "f":
        a, q = convert(a, dtypes.default_float()), convert(q, dtypes.default_float())
    a = convert(a, a.dtype, False)
    axes = _axes(axis, a.ndim, name)
    kept = [d for d in range(a.ndim) if d not in axes]
    kept_shape = tuple(a.shape[d] for d in kept)
    n = _count(axes, a.shape)
    keep_shape = tuple(1 if d in axes else size for d, size in enumerate(a.shape))
    if kept + list(axes) != list(range(a.ndim)):
        a = transpose(a, kept + list(axes))
    x = reshape(a, kept_shape + (n,))
    q_shape = tuple(q.shape)
    out_shape = q_shape + kept_shape
    if n == 0:
        from ._creation import full

        result = full(out_shape, np.nan, a.dtype)
    else:
        nan_mask = isnan(x)
        ordered = sort(x, axis=-1)
        if skip_nans:
            count = sum(logical_not(nan_mask), -1)
            top: Any = convert(subtract(count, 1), a.dtype)
        else:
            top = float(n - 1)
        q_b = reshape(q, q_shape + (1,) * len(kept_shape))
        pos = broadcast_to(clip(multiply(q_b, top), 0, top), out_shape)
        low, high = floor(pos), ceil(pos)
        high_weight = subtract(pos, low)
        index_dtype = dtypes.default_int()
        if low.dtype.itemsize < 4:  # float16 positions: widen before the integer cast
            low, high = convert(low, np.dtype(np.float32)), convert(high, np.dtype(np.float32))
        v_low = _take_along_last(ordered, convert(low, index_dtype))
        v_high = _take_along_last(ordered, convert(high, index_dtype))
        if method == "linear":
            low_weight = subtract(1, high_weight)
            blend = add(multiply(v_low, low_weight), multiply(v_high, high_weight))
            result = select(eq(high_weight, 0), v_low, blend)
        elif method == "lower":
            result = v_low
        elif method == "higher":
            result = v_high
        elif method == "nearest":
            result = select(less_equal(high_weight, 0.5), v_low, v_high)
        else:
            result = multiply(add(v_low, v_high), 0.5)
        undefined = eq(count, 0) if skip_nans else any(nan_mask, -1)
        result = select(broadcast_to(undefined, out_shape), _const(np.nan, result.dtype), result)
    if keepdims:
        result = reshape(result, q_shape + keep_shape)
    return result


def quantile(
    a: Any,
    q: Any,
    axis: Axis = None,
    out: None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
) -> Any:
    """The ``q``-th quantile(s) over ``axis`` (``q`` in [0, 1], scalar or array; its dims come first).

    Methods: 'linear' (default), 'lower', 'higher', 'nearest' (ties go to the lower, as jax.numpy),
    'midpoint'. A slice holding a NaN gives NaN. Example: ``fnp.quantile(fnp.arange(5.0), 0.25)`` is ``1.``.
    """
    _check_out(out, "quantile")
    return _quantile(a, q, axis, method, keepdims, False, "quantile")


def nanquantile(
    a: Any,
    q: Any,
    axis: Axis = None,
    out: None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
) -> Any:
    """Like ``quantile`` ignoring NaNs (NaN for an all-NaN slice). Example: ``fnp.nanquantile(x, 0.5)``."""
    _check_out(out, "nanquantile")
    return _quantile(a, q, axis, method, keepdims, True, "nanquantile")


def percentile(
    a: Any,
    q: Any,
    axis: Axis = None,
    out: None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
) -> Any:
    """The ``q``-th percentile(s), ``q`` in [0, 100]. Example: ``fnp.percentile(fnp.arange(5.0), 50)`` is ``2.``."""
    _check_out(out, "percentile")
    return _quantile(a, _divide(q, 100.0), axis, method, keepdims, False, "percentile")


def nanpercentile(
    a: Any,
    q: Any,
    axis: Axis = None,
    out: None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
) -> Any:
    """Like ``percentile`` ignoring NaNs. Example: ``fnp.nanpercentile(x, 90)``."""
    _check_out(out, "nanpercentile")
    return _quantile(a, _divide(q, 100.0), axis, method, keepdims, True, "nanpercentile")


def median(
    a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False, keepdims: bool = False
) -> Any:
    """Median over ``axis`` (the midpoint of the two middle values for even counts).

    Example: ``fnp.median(fnp.asarray([3.0, 1.0, 2.0, 10.0]))`` is ``2.5``.
    """
    _check_out(out, "median")
    return _quantile(a, 0.5, axis, "midpoint", keepdims, False, "median")


def nanmedian(
    a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False, keepdims: bool = False
) -> Any:
    """Median ignoring NaNs (NaN for an all-NaN slice). Example: ``fnp.nanmedian(fnp.asarray([1.0, fnp.nan]))``
    is ``1.``."""
    _check_out(out, "nanmedian")
    return _quantile(a, 0.5, axis, "midpoint", keepdims, True, "nanmedian")


# ---------------------------------------------------------------------------------------------------
# Cumulative functions
# ---------------------------------------------------------------------------------------------------


def _cumulative(prim: Any, a: Any, axis: Any, dtype: Any, name: str) -> Any:
    a = asarray(a)
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    # jax.numpy keeps the input's dtype (small integers included); only bools accumulate in the default int.
    target = dtypes.canonicalize_dtype(dtype) if dtype is not None else a.dtype
    if target == dtypes.bool_:
        target = dtypes.default_int()
    a = convert(a, target, a.weak_type)
    return prim.bind(a, axis=canonical_axis(name, int(axis), a.ndim), reverse=False)


def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative sum (of the flattened array when ``axis`` is None). Example: ``fnp.cumsum(fnp.arange(4))``."""
    _check_out(out, "cumsum")
    return _cumulative(red.cumsum_p, a, axis, dtype, "cumsum")


def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative product. Example: ``fnp.cumprod(fnp.asarray([1, 2, 3]))`` is ``[1, 2, 6]``."""
    _check_out(out, "cumprod")
    return _cumulative(red.cumprod_p, a, axis, dtype, "cumprod")


def nancumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative sum treating NaNs as zero. Example: ``fnp.nancumsum(fnp.asarray([1.0, fnp.nan, 2.0]))`` is
    ``[1., 1., 3.]``."""
    _check_out(out, "nancumsum")
    return _cumulative(red.cumsum_p, _nan_to(asarray(a), 0), axis, dtype, "nancumsum")


def nancumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative product treating NaNs as one. Example: ``fnp.nancumprod(fnp.asarray([2.0, fnp.nan, 2.0]))`` is
    ``[2., 2., 4.]``."""
    _check_out(out, "nancumprod")
    return _cumulative(red.cumprod_p, _nan_to(asarray(a), 1), axis, dtype, "nancumprod")
